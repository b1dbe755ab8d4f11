// SPDX-License-Identifier: Apache-2.0
// Gives the heap memory a drained burst leaves behind back to the kernel.
//
// glibc keeps freed memory for reuse and returns it on its own only from
// the top of a heap; after a flood of small allocations has drained, a few
// live ones scattered through the heap pin nearly all of it. Measured with
// tests/unit/event_flood_test (docs/performance.md): 331 MiB resident after
// the flood drained, 43 MiB before; MALLOC_ARENA_MAX=1 or 2 and a zero trim
// threshold changed nothing, one malloc_trim(0) brought it to 28 MiB in
// about 75 ms.
//
// A queue that can hold a burst owns a BurstTrim and reports its depth
// after each push (grew) and each pop (shrank). When it empties after
// having held at least `burst` items since it was last empty, the thread
// that emptied it calls malloc_trim(0). Requiring a burst that large keeps
// the cost in proportion: the trim walks the free memory the burst left,
// after the consumer has already worked through that many items; a queue
// that stays short never trims.
//
// malloc_trim(0) releases the free pages inside every arena's bins, but
// not the top of a worker thread's arena: that shrinks only when a free()
// merges into it with more than the trim threshold on top. Under load the
// flood's small records, freed by the store's thread into the workers'
// fastbins, were merged into such a top by the trim itself, and tens of
// MiB stayed there (the flood test failed ~1 run in 40 on a loaded
// machine: 65-73 MiB after, 27-35 MiB before; malloc_info showed 47 MiB
// in one arena's top). So the first BurstTrim sets the allocator's policy
// for the process: no fastbins (a small free merges with its neighbours at
// once, and a merge into a top past the threshold gives it back; tcache
// still serves small sizes; bench_alerts within 2-4 %), and fixed mmap and
// trim thresholds of kAllocatorThreshold (glibc otherwise raises them up
// to 32/64 MiB whenever a large mmapped block is freed).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace rampart::runtime {

class BurstTrim {
 public:
  static constexpr int kAllocatorThreshold = 1 << 20;

  explicit BurstTrim(size_t burst);
  BurstTrim(const BurstTrim&) = delete;
  BurstTrim& operator=(const BurstTrim&) = delete;

  // Depth after a push; from any thread, lock-free.
  void grew(size_t depth) noexcept {
    size_t seen = high_water_.load(std::memory_order_relaxed);
    while (depth > seen &&
           !high_water_.compare_exchange_weak(seen, depth, std::memory_order_relaxed)) {
    }
  }
  // Depth after a pop; trims (on this thread) when a burst has drained.
  void shrank(size_t depth) noexcept;

  // Most items held since the queue was last empty.
  size_t high_water() const noexcept { return high_water_.load(std::memory_order_relaxed); }
  // malloc_trim calls made by every BurstTrim in the process.
  static uint64_t trims() noexcept { return trims_.load(std::memory_order_relaxed); }

 private:
  const size_t burst_;
  std::atomic<size_t> high_water_{0};
  static std::atomic<uint64_t> trims_;
};

}  // namespace rampart::runtime
