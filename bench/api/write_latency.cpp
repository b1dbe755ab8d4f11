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

void print(const char* what, int writes, std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  auto at = [&](double q) {
    return ms[std::min(ms.size() - 1, static_cast<size_t>(q * ms.size()))];
  };
  std::printf("%s: %d writes, median %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms\n", what,
              writes, at(0.5), at(0.9), at(0.99), ms.back());
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
  std::vector<double> kernel_ms;
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
    const auto t0 = std::chrono::steady_clock::now();
    if (create) {
      req.setContentType("application/json");
      req.setContentLength(static_cast<std::streamsize>(body.size()));
      session.sendRequest(req) << body;
    } else {
      session.sendRequest(req);
    }
    Poco::Net::HTTPResponse res;
    std::ostringstream sink;
    Poco::StreamCopier::copyStream(session.receiveResponse(res), sink);
    const double dt =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (res.getStatus() != (create ? 201 : 204)) {
      std::fprintf(stderr, "write %d: HTTP %d %s\n", i, static_cast<int>(res.getStatus()),
                   sink.str().c_str());
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
  }
  print(blocklist ? "blocklist entry writes answered (each after it is in effect)"
                  : "rule writes answered (each after it is in effect)",
        writes, ms);
  if (probe) print("   seen from the kernel's side (probe packet)", writes, kernel_ms);
  return 0;
}
