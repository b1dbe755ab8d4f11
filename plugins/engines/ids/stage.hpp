// SPDX-License-Identifier: Apache-2.0
// tc_ids as the IDS engine installs it (rampart/ids.h): its settings, and
// the program image made of them, one per hook (ingress, egress), both
// sharing the ring, the followed flows and the counters.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <rampart/sdk/plugin.hpp>

#include "cidr.hpp"
#include "rampart/ids.h"

namespace rampart::ids {

inline constexpr const char* kTcStage = "tc_ids";
// After the DDoS engine's tc_ddos (100): a connection it makes is followed
// from its first packet the stack sees.
inline constexpr int32_t kTcPriority = 300;
inline constexpr const char* kPersistentMaps[] = {RAMPART_NAME(RAMPART_IDS_MAP_EVENTS),
                                                  RAMPART_NAME(RAMPART_IDS_MAP_FOLLOWED),
                                                  RAMPART_NAME(RAMPART_IDS_MAP_STATS)};

struct StageSettings {
  uint32_t event_source = 0;
  bool egress = false;
  uint32_t capture = 512;  // payload bytes per event, <= RAMPART_IDS_MAX_CAPTURE
  uint64_t seed = 0;       // the flow hash's key
  uint32_t shed_pct = 50, shed_shift = 2, followed_pct = 80;
  uint32_t ring_bytes = 4u << 20;                     // a power of two, >= 64 KiB
  uint32_t followed_flows = 65536;                    // ids_followed's size
  std::array<uint32_t, RAMPART_IDS_TIERS> rates{};    // ppm of flows; [0]: the default tier
  std::vector<std::pair<net::Cidr, uint32_t>> tiers;  // network -> tier (1..RAMPART_IDS_TIERS-1)
};

// "" when the settings can be installed, else what is wrong with them.
std::string check(const StageSettings& s);

// The image for `s.egress`'s hook. The settings must pass check().
sdk::ProgramImage tc_image(const StageSettings& s);

// A rate in percent (0-100, fractions allowed) in parts per million.
uint32_t rate_ppm(double percent);

}  // namespace rampart::ids
