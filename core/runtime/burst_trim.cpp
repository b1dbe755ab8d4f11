// SPDX-License-Identifier: Apache-2.0
#include "runtime/burst_trim.hpp"

#include <malloc.h>

#include <mutex>

namespace rampart::runtime {

std::atomic<uint64_t> BurstTrim::trims_{0};

BurstTrim::BurstTrim(size_t burst) : burst_(burst) {
  static std::once_flag fixed;
  std::call_once(fixed, [] {
    mallopt(M_MMAP_THRESHOLD, kAllocatorThreshold);
    mallopt(M_TRIM_THRESHOLD, kAllocatorThreshold);
    mallopt(M_MXFAST, 0);
  });
}

void BurstTrim::shrank(size_t depth) noexcept {
  if (depth != 0) return;
  // Only the thread that takes the mark trims, once per burst.
  if (high_water_.load(std::memory_order_relaxed) == 0) return;
  if (high_water_.exchange(0, std::memory_order_relaxed) < burst_) return;
  malloc_trim(0);
  trims_.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace rampart::runtime
