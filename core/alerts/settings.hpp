// SPDX-License-Identifier: Apache-2.0
// The `alerts:` section of rampartd's configuration (parsed, with errors
// naming file:line, in config/config.cpp). Everything here is hot
// reloadable.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rampart::alerts {

// A token bucket: `rate` per second, up to `burst` at once; rate 0 is off.
struct RateLimit {
  double rate = 0;
  double burst = 0;
  bool operator==(const RateLimit&) const = default;
};

// Alerts of at least `min_severity` from one of `components` (empty: any)
// go to `senders`.
struct Route {
  uint32_t min_severity = 0;
  std::vector<std::string> components;
  std::vector<std::string> senders;
  bool operator==(const Route&) const = default;
};

struct RouterSettings {
  double dedup_window_s = 60;   // 0: no dedup
  RateLimit per_source;         // per source address
  RateLimit per_rule;           // per component + rule id
  std::vector<Route> routes;    // none: every alert to every sender
  size_t max_tracked = 100000;  // fingerprints / buckets remembered at most
  bool operator==(const RouterSettings&) const = default;
};

struct DeliverySettings {
  size_t queue = 1000;            // per sender; when full the oldest is dropped
  unsigned breaker_failures = 5;  // consecutive failures that open the breaker
  double breaker_open_s = 30;     // how long it stays open before a probe
  bool operator==(const DeliverySettings&) const = default;
};

struct StoreSettings {
  double max_age_s = 30 * 86400.0;  // 0: keep forever
  uint64_t max_count = 1000000;     // 0: no limit
  bool operator==(const StoreSettings&) const = default;
};

struct GeoIpPaths {
  std::string country, city, asn;  // "" = not configured
  bool operator==(const GeoIpPaths&) const = default;
};

struct AlertSettings {
  StoreSettings store;
  GeoIpPaths geoip;
  RouterSettings router;
  DeliverySettings delivery;
  bool operator==(const AlertSettings&) const = default;
};

}  // namespace rampart::alerts
