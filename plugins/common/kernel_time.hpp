// SPDX-License-Identifier: Apache-2.0
// Kernel timestamps (bpf_ktime_get_ns: CLOCK_MONOTONIC) as wall-clock time,
// for the alerts engines make from their programs' records. Header-only.
#pragma once

#include <cstdint>
#include <ctime>

namespace rampart::kernel_time {

// CLOCK_REALTIME nanoseconds of a CLOCK_MONOTONIC timestamp (one taken
// before now: a record's).
inline uint64_t realtime_of(uint64_t monotonic_ns) {
  timespec mono{}, real{};
  clock_gettime(CLOCK_MONOTONIC, &mono);
  clock_gettime(CLOCK_REALTIME, &real);
  const auto ns = [](const timespec& t) {
    return static_cast<uint64_t>(t.tv_sec) * 1000000000ull + static_cast<uint64_t>(t.tv_nsec);
  };
  const uint64_t now_mono = ns(mono);
  return ns(real) - (now_mono > monotonic_ns ? now_mono - monotonic_ns : 0);
}

}  // namespace rampart::kernel_time
