// SPDX-License-Identifier: Apache-2.0
// Alert enrichment: GeoIP for both addresses, the name passive DNS saw for
// them (published by engines through name_publish) and that name's
// reputation (reputation_publish). Everything is an in-memory lookup: the
// alert path never waits on the network or the disk.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "alerts/alert.hpp"

namespace rampart::alerts {

// Fills the GeoIP fields of `out` for one address (family 4 or 6).
using GeoLookup = std::function<void(uint8_t family, const uint8_t* addr, Enrichment& out)>;

class Enricher {
 public:
  static constexpr size_t kMaxNames = 200000;  // entries kept per table at most

  // Replaces the GeoIP source (reload); empty: none.
  void set_geo(GeoLookup geo);
  void publish_name(uint8_t family, const uint8_t* addr, std::string_view name,
                    std::chrono::seconds ttl);
  void publish_reputation(std::string_view name, int32_t score, std::chrono::seconds ttl);
  void enrich(AlertRecord& alert) const;

 private:
  using TimePoint = std::chrono::steady_clock::time_point;
  struct Name {
    std::string name;
    TimePoint until;
  };
  struct Score {
    int32_t score;
    TimePoint until;
  };
  void enrich_one(uint8_t family, const std::array<uint8_t, 16>& addr, Enrichment& out,
                  TimePoint now) const;
  template <class Map>
  static void make_room(Map& map, TimePoint now);

  mutable std::shared_mutex mu_;
  std::shared_ptr<const GeoLookup> geo_;
  std::unordered_map<std::string, Name> names_;  // key: family byte + address bytes
  std::unordered_map<std::string, Score> scores_;
};

}  // namespace rampart::alerts
