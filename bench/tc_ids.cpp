// SPDX-License-Identifier: Apache-2.0
// bench/tc_ids: ns/packet of tc_ids under BPF_PROG_TEST_RUN (the kernel's
// timer, repeat >= 1,000,000, trimmed mean of 9 runs taken in turns with
// the floor's), beside tc_parse_pass: the same header parse and one per-CPU
// counter, nothing else. The goal: an unsampled packet costs at most 1.5x
// the floor. Measured: unsampled with no tiers, unsampled with country
// tiers installed (the hash decides before any tier is looked up), and a
// sampled packet (the flow followed, the event written; the ring drained
// between runs).
//
//   sudo build/bin/bench_tc_ids [repeat]
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "ids_program.hpp"
#include "packet_builder.hpp"
#include "test_paths.hpp"
#include "test_run_timing.hpp"

namespace {

using rampart::test::IdsProgram;
using rampart::test::PacketBuilder;

int g_repeat = 1000000;

rampart::ids::StageSettings settings(double percent) {
  rampart::ids::StageSettings s;
  s.rates[0] = rampart::ids::rate_ppm(percent);
  s.seed = 42;
  s.capture = 512;
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1) g_repeat = std::atoi(argv[1]);
  bpf_object* floor_obj =
      bpf_object__open_file((rampart::test::path::bpf() + "/tc_parse_pass.bpf.o").c_str(), nullptr);
  if (!floor_obj || bpf_object__load(floor_obj) != 0) {
    std::fprintf(stderr, "cannot load tc_parse_pass.bpf.o\n");
    return 1;
  }
  const int floor_fd =
      bpf_program__fd(bpf_object__find_program_by_name(floor_obj, "tc_parse_pass"));
  const auto tcp = PacketBuilder()
                       .ipv4("198.51.100.7", "192.0.2.10")
                       .tcp(40001, 443, 0x10)
                       .payload(std::string(200, 'x'))
                       .build();

  IdsProgram none(settings(0));
  auto tiered_settings = settings(0.001);  // a flow's hash is almost never under it
  std::string err;
  for (int i = 0; i < 4096; ++i) {  // a country's worth of networks in tier 1
    const auto c = rampart::net::parse_cidr(
        "10." + std::to_string(i / 16) + "." + std::to_string((i % 16) * 16) + ".0/20", err);
    if (c) tiered_settings.tiers.emplace_back(*c, 1);
  }
  tiered_settings.rates[1] = rampart::ids::rate_ppm(0.001);
  IdsProgram tiered(tiered_settings);
  IdsProgram all(settings(100));

  using rampart::bench::measure_together;
  const auto unsampled =
      measure_together({floor_fd, none.program_fd(), tiered.program_fd()}, tcp, g_repeat, true);
  const auto sampled =
      measure_together({floor_fd, all.program_fd()}, tcp, g_repeat, true, [&] { all.drain(); });
  std::printf("tc_ids per packet, BPF_PROG_TEST_RUN, repeat %d, trimmed mean of 9\n", g_repeat);
  std::printf("%-44s %8s %8s\n", "program", "ns/pkt", "x floor");
  auto row = [](const char* what, double ns, double floor) {
    std::printf("%-44s %8.1f %8.2f\n", what, ns, ns / floor);
  };
  row("tc_parse_pass (floor: parse + a counter)", unsampled[0], unsampled[0]);
  row("tc_ids, unsampled (no tiers)", unsampled[1], unsampled[0]);
  row("tc_ids, unsampled (4,096 tier networks)", unsampled[2], unsampled[0]);
  row("tc_ids, sampled (event of 200 B written)", sampled[1], sampled[0]);
  bpf_object__close(floor_obj);
  return 0;
}
