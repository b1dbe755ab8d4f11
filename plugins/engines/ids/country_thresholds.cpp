// SPDX-License-Identifier: Apache-2.0
#include "country_thresholds.hpp"

namespace rampart::ids {

CountryThresholds::CountryThresholds(const std::vector<CountryThreshold>& set, size_t max_keys)
    : counts_(max_keys) {
  for (const auto& t : set) {
    if (t.hits <= 1) continue;  // every match alerts: nothing to count
    Threshold th;
    th.type = Threshold::Type::detection_filter;  // every match after the first hits - 1
    th.track = Threshold::Track::by_src;
    th.count = t.hits - 1;
    th.seconds = t.seconds;
    for (const auto& c : t.countries) by_country_[c] = th;
  }
}

bool CountryThresholds::allow(uint32_t sid, const Packet& pkt, std::string_view country,
                              Thresholds::Clock::time_point now) {
  const auto t = by_country_.find(country);
  if (t == by_country_.end()) return true;
  Rule r;  // the counting key: this sid, the packet's source
  r.sid = sid;
  r.threshold = t->second;
  return counts_.allow(r, pkt, now);
}

}  // namespace rampart::ids
