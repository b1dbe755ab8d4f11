// SPDX-License-Identifier: Apache-2.0
// Per-country alert thresholds (the `country_thresholds` setting): a source
// of a listed country alerts on a rule only from its `hits`-th match of that
// rule within `seconds`, and on every match after it in that window, so the
// usual noise from a country is not an alert while a source that keeps at it
// is. Sources of other countries alert on every match (as the rule's own
// threshold lets them). Counted per source address and sid like a rule's
// `detection_filter: track by_src` (matcher.hpp's Thresholds, a table of its
// own), bounded the same way.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "matcher.hpp"

namespace rampart::ids {

struct CountryThreshold {
  std::vector<std::string> countries;
  uint32_t hits = 1;
  uint32_t seconds = 60;
};

class CountryThresholds {
 public:
  explicit CountryThresholds(const std::vector<CountryThreshold>& set, size_t max_keys = 65536);

  // Whether any country has a threshold (else allow() is always true and
  // no country need be looked up).
  bool active() const { return !by_country_.empty(); }
  // Whether the match of `sid` on `pkt` (from its source, of country
  // `country`, "" unknown) at `now` alerts.
  bool allow(uint32_t sid, const Packet& pkt, std::string_view country,
             Thresholds::Clock::time_point now);

 private:
  std::map<std::string, Threshold, std::less<>> by_country_;
  Thresholds counts_;
};

}  // namespace rampart::ids
