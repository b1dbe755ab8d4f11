// SPDX-License-Identifier: Apache-2.0
#include "attack_tracker.hpp"

#include <algorithm>

namespace rampart::ddos {

const char* phase_name(Phase p) {
  switch (p) {
    case Phase::detecting:
      return "detecting";
    case Phase::active:
      return "active";
    case Phase::mitigating:
      return "mitigating";
    case Phase::ended:
      return "ended";
    default:
      return "normal";
  }
}

AttackStep AttackTracker::step(Phase to, std::chrono::nanoseconds now) {
  phase_ = to;
  return AttackStep{
      to, ewma_, peak_, seen_now_ - seen_at_begin_, acted_now_ - acted_at_begin_, now - began_};
}

std::optional<AttackStep> AttackTracker::sample(std::chrono::nanoseconds now, uint64_t seen,
                                                uint64_t acted) {
  if (!primed_ || now <= last_ || seen < last_seen_ || acted < last_acted_) {
    // The first sample, or counters that went back (a new stage's maps):
    // a new baseline.
    primed_ = true;
    last_ = now;
    last_seen_ = seen;
    last_acted_ = acted;
    return std::nullopt;
  }
  const uint64_t prev_seen = last_seen_, prev_acted = last_acted_;
  const double secs = std::chrono::duration<double>(now - last_).count();
  const double rate = static_cast<double>(seen - last_seen_) / secs;
  const bool acting = acted > last_acted_;
  ewma_ = o_.alpha * rate + (1 - o_.alpha) * ewma_;
  last_ = now;
  last_seen_ = seen;
  last_acted_ = acted;
  seen_now_ = seen;
  acted_now_ = acted;
  const bool over = ewma_ > o_.threshold;
  if (over && under_) over_since_ = now;
  if (!over && !under_) under_since_ = now;
  under_ = !over;
  switch (phase_) {
    case Phase::normal:
    case Phase::ended:
      if (!over) {
        phase_ = Phase::normal;
        return std::nullopt;
      }
      began_ = now;
      peak_ = ewma_;
      seen_at_begin_ = prev_seen;  // this sample's packets are the attack's first
      acted_at_begin_ = prev_acted;
      return step(Phase::detecting, now);
    case Phase::detecting:
      peak_ = std::max(peak_, ewma_);
      if (!over) {
        phase_ = Phase::normal;  // a burst, not an attack
        return std::nullopt;
      }
      if (now - over_since_ >= o_.confirm) return step(Phase::active, now);
      return std::nullopt;
    case Phase::active:
    case Phase::mitigating:
      peak_ = std::max(peak_, ewma_);
      if (!over && now - under_since_ >= o_.hold) return step(Phase::ended, now);
      if (phase_ == Phase::active && acting) return step(Phase::mitigating, now);
      return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace rampart::ddos
