// SPDX-License-Identifier: Apache-2.0
// Auto-block by country (docs/ddos.md): while a flood is on, the sources
// of its dropped packets (sampled by xdp_ddos) are counted by country; a
// country whose part of the flood's rate passes its threshold has its
// networks written to the firewall's blocklist, for a while, never one the
// host needs. The pieces here are the engine's arithmetic, apart from its
// threads and the host, so that tests hold them to made-up samples.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "cidr.hpp"
#include "json_body.hpp"

namespace rampart::ddos {

struct AutoBlockSettings {
  std::string country_db;                    // empty: auto-block off
  std::map<std::string, double> thresholds;  // country code -> packets a second
  double default_threshold = 0;              // countries not listed; 0: never blocked
  uint32_t for_s = 3600;                     // how long an entry stays listed
  uint32_t max_networks = 256;               // per country blocked, largest first
  uint32_t min_samples = 16;                 // before a country's share is believed
  std::vector<net::Cidr> never;              // networks never listed (besides the host's own)

  bool enabled() const { return !country_db.empty(); }
  // The country's threshold; 0 when it is never blocked.
  double threshold(const std::string& country) const;
};

// The `ddos` rule domain: a country's threshold, or every other
// country's ("default"), in packets a second of its part of a flood.
struct Threshold {
  uint64_t id = 0;
  std::string country;  // ISO 3166-1 alpha-2, or "default"
  uint32_t rate = 0;
  bool operator==(const Threshold&) const = default;
};

// A bad threshold body or set: what() is "<field>: <why>".
// A bad threshold body or set: the message starts with the field.
using ThresholdError = json::BodyError;

inline constexpr uint32_t kMaxThresholdRate = 10000000;

// A body of the domain (JSON); `id` is the rule's (0: the body's own).
Threshold threshold_from_json(const std::string& body, uint64_t id);
std::string threshold_to_json(const Threshold& t);
const char* threshold_schema_json();
// A set's thresholds into `s`; a country given twice is refused.
void set_thresholds(AutoBlockSettings& s, const std::vector<Threshold>& set);

// The sampled sources of one protection's flood over the last `window`, by
// country ("" for sources the database places nowhere), at most `cap` kept.
class SourceTally {
 public:
  using Clock = std::chrono::nanoseconds;  // any monotonic time
  explicit SourceTally(Clock window = std::chrono::seconds(3), size_t cap = 4096)
      : window_(window), cap_(cap) {}

  void add(Clock now, std::string country);
  void clear() { samples_.clear(); }

  struct Share {
    std::string country;
    size_t samples = 0;
    double share = 0;  // of every sample in the window, unknown sources included
  };
  // The known countries' shares, largest first (ties by code); samples
  // older than the window are let go first.
  std::vector<Share> shares(Clock now);
  size_t total(Clock now);

 private:
  void expire(Clock now);
  Clock window_;
  size_t cap_;
  std::deque<std::pair<Clock, std::string>> samples_;
};

// The countries to block at a flood rate of `rate` packets a second: each
// with at least min_samples samples whose share of the rate is over its
// threshold, with that rate, largest first.
std::vector<std::pair<std::string, double>> countries_over(
    const AutoBlockSettings& s, double rate, const std::vector<SourceTally::Share>& shares);

// Of a country's networks, those to list: none that overlaps a network of
// `never` (either containing the other), the largest first, at most `max`.
struct ChosenNetworks {
  std::vector<net::Cidr> networks;
  size_t spared = 0;  // left out for overlapping `never`
  size_t cut = 0;     // left out past `max`
};
ChosenNetworks choose_networks(std::vector<net::Cidr> networks, const std::vector<net::Cidr>& never,
                               size_t max);

}  // namespace rampart::ddos
