// SPDX-License-Identifier: Apache-2.0
// bench/ratelimit_live: a UDP flood from one source held to its rate by the
// rate limit, against the same flood dropped by a firewall rule, end to end
// on one core with rampartd running as users run it. An XDP_TX generator
// (BPF_F_TEST_XDP_LIVE_FRAMES, pinned to one CPU) sends a 64-byte UDP frame
// into a veth; B's XDP (native) runs, in turns, in every round:
//
//   drop      rampartd, the firewall denying the frame's port
//   limited   rampartd, the firewall allowing it and a rate limit policy of
//             1,000/s (token bucket) on its source: all but the bucket dropped
//   base      no rampartd: a program that counts the frame and drops it
//
// Rates come from rampartd's /metrics over the generator's time.
//
//   sudo build/bin/bench_ratelimit_live [frames per run] [rounds]
#include <cstdio>

#include "live_lab.hpp"
#include "log/logger.hpp"
#include "packet_builder.hpp"
#include "test_paths.hpp"

using namespace rampart::bench;

int main(int argc, char** argv) {
  rampart::log::Logger::global().configure(rampart::log::Level::warn, rampart::log::Format::text);
  const uint64_t frames = argc > 1 ? std::stoull(argv[1]) : 5'000'000;
  const size_t rounds = argc > 2 ? std::stoul(argv[2]) : 3;
  pin_to_cpu0();

  NetnsLab lab;
  Bpf gen(rampart::test::path::bpf() + "/xdp_gen_tx.bpf.o");
  Bpf local(rampart::test::path::bpf() + "/xdp_parse_pass.bpf.o");
  attach_a(lab, local.prog("xdp_parse_pass"));

  const auto frame = rampart::test::PacketBuilder()
                         .ipv4("192.0.2.1", "192.0.2.100")
                         .udp(1234, 9999)
                         .payload(22)
                         .build();
  const int gen_fd = gen.prog("xdp_gen_tx");
  const char* names[] = {"drop", "limited", "base"};
  std::vector<double> mpps[3];
  for (size_t round = 0; round < rounds; ++round) {
    for (int cfg = 0; cfg < 2; ++cfg) {
      const std::string plugins =
          cfg == 0 ? "  firewall: {default_policy: allow, rules: [{id: 1, action: deny, "
                     "protocol: udp, dst_port: \"9999\"}]}\n"
                   : "  firewall: {default_policy: allow, rules: []}\n"
                     "  ratelimit:\n"
                     "    policies: [{id: 1, prefixes: [192.0.2.0/24], algorithm: token_bucket,\n"
                     "                rate: 1000, burst: 1000, action: drop}]\n";
      Rampartd d(lab, names[cfg], "", plugins,
                 cfg == 0 ? "] ready plugins=firewall,metrics"
                          : "] ready plugins=firewall,metrics,ratelimit");
      const std::string series =
          cfg == 0 ? "rampart_kernel_packets_total{outcome=\"dropped\",program=\"xdp_firewall\""
                   : "rampart_kernel_packets_total{outcome=\"dropped\",program=\"xdp_ratelimit\"";
      const uint64_t before = Rampartd::value(d.scrape(), series);
      const double secs = generate(lab, gen_fd, frame, frames);
      const uint64_t done = Rampartd::value(d.scrape(), series) - before;
      mpps[cfg].push_back(static_cast<double>(done) / secs / 1e6);
      std::printf("round %zu %-8s %.3f Mpps dropped (%lu of %lu)\n", round, names[cfg],
                  mpps[cfg].back(), static_cast<unsigned long>(done),
                  static_cast<unsigned long>(frames));
    }
    attach(lab, local.prog("xdp_drop_count"));
    const uint32_t zero = 0;
    const uint64_t before = percpu_sum(local.map("floor_drops"), zero);
    const double secs = generate(lab, gen_fd, frame, frames);
    mpps[2].push_back(static_cast<double>(percpu_sum(local.map("floor_drops"), zero) - before) /
                      secs / 1e6);
    attach(lab, -1);
    std::printf("round %zu %-8s %.3f Mpps dropped\n", round, names[2], mpps[2].back());
  }
  const double drop = median(mpps[0]), limited = median(mpps[1]), base = median(mpps[2]);
  std::printf(
      "\nbench_ratelimit_live: %zu rounds of %lu frames, one CPU, native XDP on a veth\n"
      "  firewall drop          %.3f Mpps  %6.1f ns\n"
      "  rate limit drop        %.3f Mpps  %6.1f ns\n"
      "  base (count, drop)     %.3f Mpps  %6.1f ns\n"
      "  rate limit / firewall  %.2f of the drop rate; its own cost over the firewall's: %.1f ns\n",
      rounds, static_cast<unsigned long>(frames), drop, 1e3 / drop, limited, 1e3 / limited, base,
      1e3 / base, limited / drop, 1e3 / limited - 1e3 / drop);
  return 0;
}
