// SPDX-License-Identifier: Apache-2.0
// Which senders get an alert: dedup (one delivery per fingerprint and
// window; the next delivery carries how many were suppressed), throttling
// (token buckets per source address and per rule) and routes (severity x
// component -> senders). Suppressed alerts are still stored and streamed:
// the router gates delivery only. Time comes from a clock the tests drive.
#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "alerts/alert.hpp"
#include "alerts/settings.hpp"

namespace rampart::alerts {

using Clock = std::function<std::chrono::steady_clock::time_point()>;
Clock steady_clock();

struct Decision {
  bool deliver = false;
  std::string suppressed_by;         // why not: dedup, throttle_source, throttle_rule, unrouted
  uint32_t suppressed_before = 0;    // duplicates since the previous delivery (on deliver)
  bool all_senders = false;          // no routes configured
  std::vector<std::string> senders;  // else these
};

class Router {
 public:
  Router(RouterSettings settings, Clock clock);

  // Counts and decides; thread-safe.
  Decision decide(const AlertRecord& alert);
  // New settings; dedup windows and buckets already running are kept.
  void update(const RouterSettings& settings);

  // The fingerprint dedup compares: component, rule, addresses, protocol
  // and destination port (not the message, which may carry a source port
  // or a counter).
  static std::string fingerprint(const AlertRecord& alert);

 private:
  using TimePoint = std::chrono::steady_clock::time_point;
  struct Seen {
    TimePoint until;
    uint32_t suppressed = 0;
  };
  struct Bucket {
    double tokens = 0;
    TimePoint at;
  };
  bool take(std::unordered_map<std::string, Bucket>& buckets, const std::string& key,
            const RateLimit& limit, TimePoint now);
  void forget_expired(TimePoint now);

  std::mutex mu_;
  RouterSettings s_;
  Clock clock_;
  std::unordered_map<std::string, Seen> seen_;
  std::unordered_map<std::string, Bucket> by_source_, by_rule_;
};

}  // namespace rampart::alerts
