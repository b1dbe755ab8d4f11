// SPDX-License-Identifier: Apache-2.0
// bench/api/write_latency: how long a rule written over REST takes to be
// in effect in the kernel. A 201/204 comes only after the engine compiled
// the set and swapped it into its XDP stage, so the request's latency
// is the time to effect. N writes, one at a time on a kept-alive
// connection, alternating create and delete of one rule on top of a
// standing set; prints median, p90, p99 and max in ms.
//
// With the pin root of rampartd's datapath, the time to effect is also
// taken from the kernel's side: a thread runs a probe packet (UDP from the
// written rule's source to its port) through the pinned XDP root with
// BPF_PROG_TEST_RUN, over and over, and a write is in effect at the first
// probe whose verdict is the new one (drop after a create, pass after a
// delete).
//
// Between writes, the same connection asks GET /readyz (no write, no
// store): the floor a write's latency stands on here (the HTTP stack and
// this machine's scheduling), printed and set beside the writes' as ratios.
//
// With `blocklist` last, the writes are entries of the blocklist domain
// ({"prefix": "192.0.2.<host>"}) instead of rules: the probe is dropped by
// the source blocklist once an entry is in effect.
//
//   RAMPART_TOKEN=<admin or operator key> write_latency <port> [writes=1000] [pin root]
//       [rules|blocklist]
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <bpf/bpf.h>
#include <linux/bpf.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "packet_builder.hpp"

namespace {

using Clock = std::chrono::steady_clock;

// Verdicts of the probe for the source 192.0.2.<host>, run back to back:
// the first time each verdict is seen after arm().
class Probe {
 public:
  explicit Probe(int root_fd) : fd_(root_fd), thread_([this] { run(); }) {}
  ~Probe() {
    stop_ = true;
    thread_.join();
  }
  void arm(int host, uint32_t verdict) {
    auto frame = rampart::test::PacketBuilder()
                     .ipv4("192.0.2." + std::to_string(host), "198.51.100.1")
                     .udp(4000, 9999)
                     .build();
    std::lock_guard lock(mu_);
    frame_ = std::move(frame);
    ++generation_;
    want_ = verdict;
    seen_ = {};
    armed_ = true;
  }
  // When the armed verdict was first seen (waits up to a second for it).
  std::optional<Clock::time_point> seen() {
    const auto until = Clock::now() + std::chrono::seconds(1);
    while (Clock::now() < until) {
      {
        std::lock_guard lock(mu_);
        if (seen_) return seen_;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    return std::nullopt;
  }

 private:
  void run() {
    std::vector<uint8_t> frame, out;
    uint64_t generation = 0;  // of the frame copied here
    while (!stop_) {
      uint32_t want = 0;
      {
        std::lock_guard lock(mu_);
        if (armed_ && !seen_) {
          if (generation != generation_) {
            frame = frame_;  // once per write, not per probe
            generation = generation_;
          }
          want = want_;
        } else {
          frame.clear();
        }
      }
      if (frame.empty()) {
        generation = 0;
        std::this_thread::sleep_for(std::chrono::microseconds(20));
        continue;
      }
      out.resize(frame.size() + 256);
      LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(), .data_out = out.data(),
                  .data_size_in = static_cast<uint32_t>(frame.size()),
                  .data_size_out = static_cast<uint32_t>(out.size()), .repeat = 1);
      if (bpf_prog_test_run_opts(fd_, &opts) != 0) continue;
      const auto at = Clock::now();
      {
        std::lock_guard lock(mu_);
        if (armed_ && generation_ == generation && !seen_ && opts.retval == want) seen_ = at;
      }
      // A pause between probes: a probe spinning on one of two cores
      // delays rampartd's threads by scheduler ticks (p99 4-5 ms here where
      // the answered writes alone give 1.8 ms); this costs ~0.1 ms of
      // resolution.
      std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
  }
  const int fd_;
  std::mutex mu_;
  std::vector<uint8_t> frame_;  // the armed probe
  uint64_t generation_ = 0;     // of frame_: one a write
  uint32_t want_ = 0;
  bool armed_ = false;
  std::optional<Clock::time_point> seen_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

struct Quantiles {
  double p50, p90, p99, max;
};

Quantiles print(const char* what, int count, const char* unit, std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  auto at = [&](double q) {
    return ms[std::min(ms.size() - 1, static_cast<size_t>(q * ms.size()))];
  };
  const Quantiles q{at(0.5), at(0.9), at(0.99), ms.back()};
  std::printf("%s: %d %s, median %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms\n", what, count,
              unit, q.p50, q.p90, q.p99, q.max);
  return q;
}

// One request on the kept-alive session: its status, and the time taken.
std::pair<int, double> roundtrip(Poco::Net::HTTPClientSession& session, Poco::Net::HTTPRequest& req,
                                 const std::string* body, std::string& answer) {
  const auto t0 = Clock::now();
  if (body) {
    req.setContentType("application/json");
    req.setContentLength(static_cast<std::streamsize>(body->size()));
    session.sendRequest(req) << *body;
  } else {
    session.sendRequest(req);
  }
  Poco::Net::HTTPResponse res;
  std::ostringstream sink;
  Poco::StreamCopier::copyStream(session.receiveResponse(res), sink);
  answer = sink.str();
  return {static_cast<int>(res.getStatus()),
          std::chrono::duration<double, std::milli>(Clock::now() - t0).count()};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: write_latency <port> [writes]\n");
    return 2;
  }
  const auto port = static_cast<uint16_t>(std::stoi(argv[1]));
  const int writes = argc > 2 ? std::stoi(argv[2]) : 1000;
  const char* token = std::getenv("RAMPART_TOKEN");
  std::unique_ptr<Probe> probe;
  if (argc > 3) {
    const int root = bpf_obj_get((std::string(argv[3]) + "/progs/xdp_root").c_str());
    if (root < 0) {
      std::fprintf(stderr, "no XDP root pinned under %s\n", argv[3]);
      return 1;
    }
    probe = std::make_unique<Probe>(root);
  }
  const bool blocklist = argc > 4 && std::string(argv[4]) == "blocklist";
  const std::string path = blocklist ? "/api/v1/blocklist/rules" : "/api/v1/firewall/rules";
  std::vector<double> kernel_ms, floor_ms;
  Poco::Net::HTTPClientSession session("127.0.0.1", port);
  session.setKeepAlive(true);
  std::vector<double> ms;
  for (int i = 0; i < writes; ++i) {
    const bool create = i % 2 == 0;
    Poco::Net::HTTPRequest req(create ? "POST" : "DELETE", create ? path : path + "/900000",
                               Poco::Net::HTTPMessage::HTTP_1_1);
    if (token) req.set("Authorization", std::string("Bearer ") + token);
    const std::string host = std::to_string(i % 250);
    const std::string body =
        blocklist
            ? R"({"id":900000,"prefix":"192.0.2.)" + host + R"(","owner":"bench"})"
            : R"({"id":900000,"priority":1,"action":"deny","protocol":"udp","src_ip":"192.0.2.)" +
                  host + R"(/32","dst_port":"9999"})";
    // The create's source is dropped once in effect; after the delete, the
    // source of the create before it passes again.
    if (probe) probe->arm((create ? i : i - 1) % 250, create ? XDP_DROP : XDP_PASS);
    const auto t0 = Clock::now();
    std::string answer;
    const auto [status, dt] = roundtrip(session, req, create ? &body : nullptr, answer);
    if (status != (create ? 201 : 204)) {
      std::fprintf(stderr, "write %d: HTTP %d %s\n", i, status, answer.c_str());
      return 1;
    }
    ms.push_back(dt);
    if (probe) {
      const auto seen = probe->seen();
      if (!seen) {
        std::fprintf(stderr, "write %d: answered, but the kernel never gave the new verdict\n", i);
        return 1;
      }
      kernel_ms.push_back(std::chrono::duration<double, std::milli>(*seen - t0).count());
    }
    Poco::Net::HTTPRequest ready("GET", "/readyz", Poco::Net::HTTPMessage::HTTP_1_1);
    const auto [ready_status, ready_ms] = roundtrip(session, ready, nullptr, answer);
    if (ready_status != 200) {
      std::fprintf(stderr, "GET /readyz: HTTP %d %s\n", ready_status, answer.c_str());
      return 1;
    }
    floor_ms.push_back(ready_ms);
  }
  const auto w = print(blocklist ? "blocklist entry writes answered (each after it is in effect)"
                                 : "rule writes answered (each after it is in effect)",
                       writes, "writes", ms);
  if (probe) print("   seen from the kernel's side (probe packet)", writes, "writes", kernel_ms);
  const auto f = print("   floor: GET /readyz between the writes", writes, "requests", floor_ms);
  std::printf("   writes / floor: median %.1fx, p99 %.1fx; p99 above the floor's %.2f ms\n",
              w.p50 / f.p50, w.p99 / f.p99, w.p99 - f.p99);
  return 0;
}
