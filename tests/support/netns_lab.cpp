// SPDX-License-Identifier: Apache-2.0
#include "netns_lab.hpp"

#include "poll.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <future>
#include <stdexcept>
#include <thread>
#include <vector>

namespace rampart::test {
namespace {

sockaddr_in v4(const char* ip, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip, &a.sin_addr);
  return a;
}

uint16_t checksum(const void* data, size_t len) {
  uint32_t sum = 0;
  const auto* p = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i + 1 < len; i += 2) sum += uint32_t(p[i]) << 8 | p[i + 1];
  if (len & 1) sum += uint32_t(p[len - 1]) << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return htons(static_cast<uint16_t>(~sum));
}

}  // namespace

std::string NetnsLab::sh(const std::string& cmd) {
  std::array<char, 4096> buf{};
  std::string out;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) throw std::runtime_error("popen failed: " + cmd);
  while (fgets(buf.data(), buf.size(), p)) out += buf.data();
  if (pclose(p) != 0) throw std::runtime_error("command failed: " + cmd + "\n" + out);
  return out;
}

NetnsLab::NetnsLab() {
  static int seq = 0;
  tag_ = "rp-" + std::to_string(getpid()) + "-" + std::to_string(seq++);
  ns_a_ = tag_ + "-a";
  ns_b_ = tag_ + "-b";
  const std::string id = std::to_string(getpid() % 100000) + std::to_string(seq);
  if_a_ = "rpa" + id;
  if_b_ = "rpb" + id;
  try {
    sh("ip netns add " + ns_a_);
    sh("ip netns add " + ns_b_);
    sh("ip link add " + if_a_ + " netns " + ns_a_ + " type veth peer name " + if_b_ + " netns " +
       ns_b_);
    sh("ip -n " + ns_a_ + " addr add 198.18.0.1/24 dev " + if_a_);
    sh("ip -n " + ns_a_ + " addr add 198.18.0.3/24 dev " + if_a_);
    sh("ip -n " + ns_b_ + " addr add 198.18.0.2/24 dev " + if_b_);
    sh("ip -n " + ns_a_ + " -6 addr add 2001:db8::1/64 dev " + if_a_ + " nodad");
    sh("ip -n " + ns_b_ + " -6 addr add 2001:db8::2/64 dev " + if_b_ + " nodad");
    for (const auto& [ns, dev] : {std::pair{ns_a_, if_a_}, std::pair{ns_b_, if_b_}}) {
      sh("ip -n " + ns + " link set lo up");
      sh("ip -n " + ns + " link set " + dev + " up");
    }
    wait_until_up();
  } catch (...) {
    this->~NetnsLab();
    throw;
  }
}

NetnsLab::~NetnsLab() {
  // Deleting the namespaces deletes the veth pair with them.
  (void)system(("ip netns del " + ns_a_ + " 2>/dev/null").c_str());
  (void)system(("ip netns del " + ns_b_ + " 2>/dev/null").c_str());
}

void NetnsLab::wait_until_up() const {
  const auto up = [](const std::string& ns, const std::string& dev) {
    return sh("ip -n " + ns + " -o link show dev " + dev).find(" state UP ") != std::string::npos;
  };
  if (!poll_until([&] { return up(ns_a_, if_a_) && up(ns_b_, if_b_); }, std::chrono::seconds(5)))
    throw std::runtime_error("the lab's veth pair did not come up: " + if_a_ + ", " + if_b_);
}

void NetnsLab::enter(const std::string& ns) {
  const int nsfd = open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
  if (nsfd < 0 || setns(nsfd, CLONE_NEWNET) != 0) throw std::runtime_error("setns " + ns);
  close(nsfd);
}

int NetnsLab::socket_in(const std::string& ns, int domain, int type, int protocol) const {
  // setns on a throwaway thread: the socket belongs to the namespace it was
  // created in, and this thread's namespace stays untouched.
  return std::async(std::launch::async,
                    [&] {
                      const int nsfd = open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
                      if (nsfd < 0 || setns(nsfd, CLONE_NEWNET) != 0)
                        throw std::runtime_error("setns " + ns);
                      close(nsfd);
                      const int fd = socket(domain, type | SOCK_CLOEXEC, protocol);
                      if (fd < 0)
                        throw std::runtime_error("socket in " + ns + ": " + std::strerror(errno));
                      return fd;
                    })
      .get();
}

Counts NetnsLab::send_and_count(size_t n, uint16_t udp_port) const {
  // B: everything that reaches the interface after XDP.
  const int cap = socket_in(ns_b_, AF_PACKET, SOCK_RAW, htons(ETH_P_IP));
  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_IP);
  sll.sll_ifindex = std::async(std::launch::async, [&] {
                      const int nsfd = open(("/run/netns/" + ns_b_).c_str(), O_RDONLY | O_CLOEXEC);
                      setns(nsfd, CLONE_NEWNET);
                      close(nsfd);
                      return static_cast<int>(if_nametoindex(if_b_.c_str()));
                    }).get();
  if (bind(cap, reinterpret_cast<sockaddr*>(&sll), sizeof sll) != 0)
    throw std::runtime_error("bind AF_PACKET");

  // A: senders bound to .1, the marker bound to .3.
  const int udp = socket_in(ns_a_, AF_INET, SOCK_DGRAM, 0);
  const auto src1 = v4("198.18.0.1", 0), src3 = v4("198.18.0.3", 0),
             dst_udp = v4("198.18.0.2", udp_port);
  bind(udp, reinterpret_cast<const sockaddr*>(&src1), sizeof src1);
  const int icmp = socket_in(ns_a_, AF_INET, SOCK_RAW, IPPROTO_ICMP);
  bind(icmp, reinterpret_cast<const sockaddr*>(&src1), sizeof src1);
  const int marker = socket_in(ns_a_, AF_INET, SOCK_DGRAM, 0);
  bind(marker, reinterpret_cast<const sockaddr*>(&src3), sizeof src3);
  const auto dst_marker = v4("198.18.0.2", 9990);

  // Reads B's capture until the marker arrives; counts what came from .1.
  auto count_until_marker = [&](Counts& c) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    auto next_marker = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() < deadline) {
      // Re-sent until seen: the first may wait on neighbour resolution.
      if (std::chrono::steady_clock::now() >= next_marker) {
        sendto(marker, "m", 1, 0, reinterpret_cast<const sockaddr*>(&dst_marker),
               sizeof dst_marker);
        next_marker += std::chrono::milliseconds(100);
      }
      pollfd pfd{cap, POLLIN, 0};
      if (poll(&pfd, 1, 50) <= 0) continue;
      uint8_t frame[2048];
      const ssize_t len = recv(cap, frame, sizeof frame, 0);
      if (len < static_cast<ssize_t>(sizeof(ether_header) + sizeof(iphdr))) continue;
      iphdr ip;
      std::memcpy(&ip, frame + sizeof(ether_header), sizeof ip);  // SOCK_RAW: from the MAC header
      const uint32_t src = ntohl(ip.saddr);
      if (src == 0xc6120003) return true;
      if (src == 0xc6120001) {
        if (ip.protocol == IPPROTO_UDP) ++c.udp;
        if (ip.protocol == IPPROTO_TCP) ++c.tcp;
        if (ip.protocol == IPPROTO_ICMP) ++c.icmp;
      }
    }
    return false;
  };

  Counts warmup;
  if (!count_until_marker(warmup))
    throw std::runtime_error("the marker never arrived: is the lab broken?");
  std::vector<int> tcps;
  for (size_t i = 0; i < n; ++i) {
    sendto(udp, "rampart", 7, 0, reinterpret_cast<const sockaddr*>(&dst_udp), sizeof dst_udp);
    icmphdr echo{};
    echo.type = ICMP_ECHO;
    echo.un.echo.id = htons(0x5250);
    echo.un.echo.sequence = htons(static_cast<uint16_t>(i));
    echo.checksum = checksum(&echo, sizeof echo);
    const auto dst = v4("198.18.0.2", 0);
    sendto(icmp, &echo, sizeof echo, 0, reinterpret_cast<const sockaddr*>(&dst), sizeof dst);
    const int t = socket_in(ns_a_, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    bind(t, reinterpret_cast<const sockaddr*>(&src1), sizeof src1);
    const auto dst_tcp = v4("198.18.0.2", 9998);
    connect(t, reinterpret_cast<const sockaddr*>(&dst_tcp), sizeof dst_tcp);  // one SYN
    tcps.push_back(t);
  }
  Counts c;
  if (!count_until_marker(c))
    throw std::runtime_error("the marker never arrived after the traffic");
  for (int t : tcps) close(t);
  for (int fd : {cap, udp, icmp, marker}) close(fd);
  return c;
}

}  // namespace rampart::test
