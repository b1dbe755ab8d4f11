// SPDX-License-Identifier: Apache-2.0
// bench/ids_live: tc_ids' events drained and dispatched by rampartd, as
// users run it. An XDP_TX generator (BPF_F_TEST_XDP_LIVE_FRAMES, pinned to
// CPU 0) sends UDP frames with a 64-byte payload into a veth; B's XDP
// passes them (the firewall allowing all), TC ingress runs tc_ids sampling
// every flow, and rampartd's ids engine, with the three ET Open files
// loaded, decodes each event, puts it in its flow and matches it. Rates
// come from rampartd's /metrics: events the kernel wrote (`sent`), those
// it had no room for (`ring_full`, `shed_*`) and those the engine decoded,
// over the time from the first frame until the engine caught up.
//
//   sudo build/bin/bench_ids_live [frames per run] [rounds] [et-open dir]
#include <cstdio>
#include <thread>

#include "live_lab.hpp"
#include "log/logger.hpp"
#include "packet_builder.hpp"
#include "test_paths.hpp"

using namespace rampart::bench;

int main(int argc, char** argv) {
  rampart::log::Logger::global().configure(rampart::log::Level::warn, rampart::log::Format::text);
  const uint64_t frames = argc > 1 ? std::stoull(argv[1]) : 3'000'000;
  const size_t rounds = argc > 2 ? std::stoul(argv[2]) : 3;
  const std::string et = argc > 3 ? argv[3] : rampart::test::path::et_open_dir();
  pin_to_cpu0();
  NetnsLab lab;
  Bpf gen(rampart::test::path::bpf() + "/xdp_gen_tx.bpf.o");
  Bpf local(rampart::test::path::bpf() + "/xdp_parse_pass.bpf.o");
  attach_a(lab, local.prog("xdp_parse_pass"));
  const auto frame = rampart::test::PacketBuilder()
                         .ipv4("192.0.2.1", "192.0.2.100")
                         .udp(1234, 9999)
                         .payload(64)
                         .build();
  std::string files;
  for (const char* f : {"emerging-scan.rules", "emerging-dos.rules", "emerging-shellcode.rules"})
    if (!et.empty()) files += (files.empty() ? "" : ", ") + et + "/" + f;
  const std::string plugins =
      "  firewall: {default_policy: allow, rules: []}\n"
      "  ids:\n"
      "    rule_files: [" +
      files +
      "]\n"
      "    sampling: {rate: 100}\n"
      "    capture: 128\n"
      "    ring_mb: 16\n"
      "    egress: false\n";
  const std::string k = "rampart_kernel_packets_total{outcome=\"";
  std::vector<double> rates, shares, cpu_per_event, gen_rates;
  for (size_t round = 0; round < rounds; ++round) {
    Rampartd d(lab, "ids", "", plugins, "] ready plugins=firewall,ids,metrics");
    auto kernel = [&](const std::string& text, const char* action) {
      return Rampartd::value(text, k + action + "\",program=\"tc_ids\"");
    };
    const std::string decoded = "rampart_ids_events_total{outcome=\"decoded\",plugin=\"ids\"}";
    const auto t0 = d.scrape();
    const uint64_t sent0 = kernel(t0, "sent"), dec0 = Rampartd::value(t0, decoded);
    const uint64_t lost0 =
        kernel(t0, "ring_full") + kernel(t0, "shed_new") + kernel(t0, "shed_rate");
    const double cpu0 = d.cpu();
    const auto start = std::chrono::steady_clock::now();
    const double gen_secs = generate(lab, gen.prog("xdp_gen_tx"), frame, frames);
    // Until the engine has decoded everything the kernel wrote.
    std::string text;
    for (int i = 0; i < 500; ++i) {
      text = d.scrape();
      if (Rampartd::value(text, decoded) - dec0 >= kernel(text, "sent") - sent0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const uint64_t sent = kernel(text, "sent") - sent0;
    const uint64_t done = Rampartd::value(text, decoded) - dec0;
    const uint64_t lost =
        kernel(text, "ring_full") + kernel(text, "shed_new") + kernel(text, "shed_rate") - lost0;
    rates.push_back(static_cast<double>(done) / secs / 1e6);
    shares.push_back(static_cast<double>(lost) / static_cast<double>(sent + lost));
    cpu_per_event.push_back((d.cpu() - cpu0) / static_cast<double>(done) * 1e9);
    gen_rates.push_back(static_cast<double>(frames) / gen_secs / 1e6);
    std::printf(
        "round %zu: %lu events written (frames sent at %.3f M/s), %lu decoded, %lu left "
        "out, %.2f s: %.3f M/s, rampartd %.0f ns CPU an event\n",
        round, static_cast<unsigned long>(sent), gen_rates.back(), static_cast<unsigned long>(done),
        static_cast<unsigned long>(lost), secs, rates.back(), cpu_per_event.back());
  }
  std::printf(
      "\nbench_ids_live: %zu rounds of %lu frames, %s\n"
      "  frames through XDP and TC    %.3f M/s (the generator's pace, CPU 0)\n"
      "  events decoded and matched   %.3f M/s (median)\n"
      "  left out (ring full, shed)   %.1f %% of the sampled packets\n"
      "  rampartd CPU per event       %.0f ns (all its threads)\n",
      rounds, static_cast<unsigned long>(frames),
      files.empty() ? "no rules" : "ET Open scan+dos+shellcode loaded", median(gen_rates),
      median(rates), 100 * median(shares), median(cpu_per_event));
  return 0;
}
