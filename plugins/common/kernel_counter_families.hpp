// SPDX-License-Identifier: Apache-2.0
// The kernel counter families the in-tree engines share (docs/metrics.md
// "Kernel"), so that one family means one thing whichever program feeds
// it. Each family's series sum to something; counters that do not sum
// with others are families of their own (Host::export_counter_families).
#pragma once

#include <rampart/sdk/host.hpp>

#include <cstdint>
#include <utility>
#include <vector>

namespace rampart::counters {

using Family = rampart::sdk::Host::CounterFamily;

// Every packet the program handled, counted once by what became of it.
inline Family packets(std::vector<uint32_t> entries) {
  return {"rampart_kernel_packets_total",
          "Packets a kernel program handled, by outcome: each packet counted once, so the sum "
          "over outcome is every packet the program handled",
          "outcome", std::move(entries)};
}

// Every packet the program dropped, counted once by why.
inline Family drops(std::vector<uint32_t> entries) {
  return {"rampart_kernel_drops_total",
          "Packets a kernel program dropped, by reason: each drop counted once, so the sum over "
          "reason is every packet it dropped",
          "reason", std::move(entries)};
}

// Events (ring buffer records) the program did not deliver, by why: the
// ring was full, or its event budget was spent.
inline Family events_lost(std::vector<uint32_t> entries) {
  return {"rampart_kernel_events_lost_total",
          "Events a kernel program did not deliver to rampartd, by reason (events_dropped: the "
          "ring was full; events_limited: the program's event budget was spent)",
          "reason", std::move(entries)};
}

}  // namespace rampart::counters
