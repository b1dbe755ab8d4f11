// SPDX-License-Identifier: Apache-2.0
// ns per packet of programs under BPF_PROG_TEST_RUN, for the per-packet
// benches: the kernel's own timer (which stops while the task is
// preempted, so another busy process does not count), the mean of 9 runs
// without the 2 lowest and 2 highest. Each run's figure is a whole number
// of ns (1.5 % of a 65 ns packet, too coarse for the ratios recorded); runs
// jitter by a ns or more, so the mean of several resolves fractions. The
// programs take turns, run by run, so a slow spell of the machine falls on
// each of them alike.
#pragma once

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <vector>

namespace rampart::bench {

// `tc`: the programs are TC classifiers (given a zeroed __sk_buff, as
// test_run needs); `between`: called after each run (to drain a ring).
inline std::vector<double> measure_together(const std::vector<int>& fds,
                                            const std::vector<uint8_t>& frame, int repeat,
                                            bool tc = false,
                                            const std::function<void()>& between = {}) {
  constexpr int kRuns = 9, kTrim = 2;
  std::vector<std::vector<double>> runs(fds.size());
  std::vector<uint8_t> out(frame.size() + 256);
  for (int i = 0; i < kRuns; ++i) {
    for (size_t p = 0; p < fds.size(); ++p) {
      LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(), .data_out = out.data(),
                  .data_size_in = static_cast<uint32_t>(frame.size()),
                  .data_size_out = static_cast<uint32_t>(out.size()), .repeat = repeat);
      __sk_buff skb{};
      if (tc) {
        opts.ctx_in = &skb;
        opts.ctx_size_in = sizeof skb;
      }
      if (bpf_prog_test_run_opts(fds[p], &opts) != 0) {
        std::perror("test_run");
        std::exit(1);
      }
      runs[p].push_back(opts.duration);
      if (between) between();
    }
  }
  std::vector<double> ns;
  for (auto& r : runs) {
    std::sort(r.begin(), r.end());
    double sum = 0;
    for (int i = kTrim; i < kRuns - kTrim; ++i) sum += r[i];
    ns.push_back(sum / (kRuns - 2 * kTrim));
  }
  return ns;
}

}  // namespace rampart::bench
