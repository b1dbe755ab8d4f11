// SPDX-License-Identifier: Apache-2.0
#include "stage.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace rampart::ids {

std::string check(const StageSettings& s) {
  if (s.capture > RAMPART_IDS_MAX_CAPTURE)
    return "capture must be at most " + std::to_string(RAMPART_IDS_MAX_CAPTURE) + " bytes";
  if (s.ring_bytes < (64u << 10) || (s.ring_bytes & (s.ring_bytes - 1)) != 0)
    return "the ring must be a power of two of at least 64 KiB";
  if (s.shed_pct > 100 || s.followed_pct > 100 || s.shed_pct > s.followed_pct)
    return "shed_pct must be at most followed_pct, both 0-100";
  if (s.shed_shift > 16) return "shed_shift must be at most 16";
  if (s.followed_flows < 1024 || s.followed_flows > (1u << 24))
    return "followed_flows must be 1024-16777216";
  for (uint32_t r : s.rates) {
    if (r > RAMPART_IDS_RATE_SCALE) return "a rate is over 100%";
  }
  for (const auto& [net, tier] : s.tiers) {
    if (tier == 0 || tier >= RAMPART_IDS_TIERS)
      return "tier of " + net::format_cidr(net) + " must be 1-" +
             std::to_string(RAMPART_IDS_TIERS - 1);
  }
  return "";
}

uint32_t rate_ppm(double percent) {
  const double ppm = std::round(std::clamp(percent, 0.0, 100.0) * 10'000.0);
  return static_cast<uint32_t>(ppm);
}

sdk::ProgramImage tc_image(const StageSettings& s) {
  sdk::ProgramImage p;
  p.object = RAMPART_NAME(RAMPART_IDS_PROGRAM);
  p.program = RAMPART_NAME(RAMPART_IDS_PROGRAM);
  p.slot = kTcStage;
  p.hook = s.egress ? RAMPART_PROGRAM_TC_EGRESS : RAMPART_PROGRAM_TC_INGRESS;
  p.priority = kTcPriority;
  for (const char* m : kPersistentMaps) {
    auto image = sdk::MapImage::persistent(m);
    if (std::strcmp(m, RAMPART_NAME(RAMPART_IDS_MAP_EVENTS)) == 0) image.max_entries = s.ring_bytes;
    if (std::strcmp(m, RAMPART_NAME(RAMPART_IDS_MAP_FOLLOWED)) == 0)
      image.max_entries = s.followed_flows;
    p.maps.push_back(std::move(image));
  }
  uint32_t max_rate = 0;
  for (uint32_t r : s.rates) max_rate = std::max(max_rate, r);
  p.set<uint32_t>(RAMPART_NAME(RAMPART_IDS_SET_EVENT_SOURCE), s.event_source);
  p.set<uint32_t>(RAMPART_NAME(RAMPART_IDS_SET_EGRESS), s.egress ? 1 : 0);
  p.set<uint32_t>(RAMPART_NAME(RAMPART_IDS_SET_MAX_RATE), max_rate);
  p.set<uint32_t>(RAMPART_NAME(RAMPART_IDS_SET_TIERED), s.tiers.empty() ? 0 : 1);
  p.set<uint32_t>(RAMPART_NAME(RAMPART_IDS_SET_CAPTURE), s.capture);
  p.set<uint64_t>(RAMPART_NAME(RAMPART_IDS_SET_SEED), s.seed);
  p.set<uint32_t>(RAMPART_NAME(RAMPART_IDS_SET_SHED_PCT), s.shed_pct);
  p.set<uint32_t>(RAMPART_NAME(RAMPART_IDS_SET_SHED_SHIFT), s.shed_shift);
  p.set<uint32_t>(RAMPART_NAME(RAMPART_IDS_SET_FOLLOWED_PCT), s.followed_pct);

  sdk::MapImage rates;
  rates.name = RAMPART_NAME(RAMPART_IDS_MAP_RATES);
  rates.set_dense(std::vector<uint32_t>(s.rates.begin(), s.rates.end()));
  p.maps.push_back(std::move(rates));
  sdk::MapImage t4, t6;
  t4.name = RAMPART_NAME(RAMPART_IDS_MAP_TIERS4);
  t6.name = RAMPART_NAME(RAMPART_IDS_MAP_TIERS6);
  for (const auto& [net, tier] : s.tiers) {
    if (net.family == 4) {
      rampart_ids_lpm4_key k{net.prefix_len, 0};
      std::memcpy(&k.addr, net.addr.data(), 4);
      t4.add(k, tier);
    } else {
      rampart_ids_lpm6_key k{net.prefix_len, {}};
      std::memcpy(k.addr, net.addr.data(), 16);
      t6.add(k, tier);
    }
  }
  if (t4.count) p.maps.push_back(std::move(t4));
  if (t6.count) p.maps.push_back(std::move(t6));
  return p;
}

}  // namespace rampart::ids
