// SPDX-License-Identifier: Apache-2.0
// A lab of two network namespaces joined by a veth pair, made by the test
// and removed by it (on failure too). Side A (198.18.0.1 and .3, 2001:db8::1)
// sends, side B (198.18.0.2, 2001:db8::2) runs rampartd. Traffic never
// leaves these namespaces.
#pragma once

#include <future>
#include <string>

namespace rampart::test {

struct Counts {
  size_t udp = 0, tcp = 0, icmp = 0;
};

class NetnsLab {
 public:
  NetnsLab();
  ~NetnsLab();
  NetnsLab(const NetnsLab&) = delete;
  NetnsLab& operator=(const NetnsLab&) = delete;

  const std::string& ns_a() const { return ns_a_; }
  const std::string& ns_b() const { return ns_b_; }
  const std::string& if_a() const { return if_a_; }
  const std::string& if_b() const { return if_b_; }
  const std::string& tag() const { return tag_; }

  // Returns once both ends of the pair are operationally up, throwing after
  // 5 s. The kernel reports carrier late (link events are batched), and
  // until then the first IPv6 neighbour solicitation is lost: the first
  // connection waits out a 1 s retransmission. Again after attaching XDP
  // to an end, which changes the peer's features.
  void wait_until_up() const;

  // Creates a socket inside namespace `ns`.
  int socket_in(const std::string& ns, int domain, int type, int protocol) const;

  // Sends n UDP datagrams (to port 9999), n TCP SYNs (connects to 9998) and
  // n ICMP echo requests from 198.18.0.1 to 198.18.0.2, then a marker from
  // 198.18.0.3; counts, on B's interface, what arrived from .1 before the
  // marker did. The marker is not subject to the test's rules.
  Counts send_and_count(size_t n, uint16_t udp_port = 9999) const;

  // Runs f on a thread inside namespace `ns` and returns its result.
  template <class F>
  auto in_ns(const std::string& ns, F f) const {
    return std::async(std::launch::async,
                      [&] {
                        enter(ns);
                        return f();
                      })
        .get();
  }
  static void enter(const std::string& ns);  // setns the calling thread

  // Output of a shell command, throwing if it fails.
  static std::string sh(const std::string& cmd);

 private:
  std::string tag_, ns_a_, ns_b_, if_a_, if_b_;
};

}  // namespace rampart::test
