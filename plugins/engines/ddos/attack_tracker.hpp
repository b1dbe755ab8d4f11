// SPDX-License-Identifier: Apache-2.0
// An attack's lifecycle for one protection, from the stage's counters
// sampled every 100 ms (docs/ddos.md, "Attacks"):
//
//   normal -> detecting   the rate's EWMA goes over the threshold
//   detecting -> active   ... and stays over it for `confirm`
//   detecting -> normal   ... or falls back under it before that
//   active -> mitigating  the kernel acts on it (drops, cookies)
//   active|mitigating -> ended   the EWMA stays under the threshold for `hold`
//   ended -> normal       (at once: ended is a step, not a state to stay in)
//
// Pure logic, driven by the caller's clock: the engine feeds it samples,
// the tests feed it made-up ones.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace rampart::ddos {

enum class Phase { normal = 0, detecting = 1, active = 2, mitigating = 3, ended = 4 };
const char* phase_name(Phase p);

struct AttackStep {
  Phase to;
  double rate;                     // the EWMA, packets a second
  double peak;                     // the highest EWMA of this attack
  uint64_t packets;                // seen since it began (detecting)
  uint64_t mitigated;              // dropped or answered by the kernel since it began
  std::chrono::nanoseconds since;  // since it began
};

class AttackTracker {
 public:
  struct Options {
    double threshold = 1000;  // packets a second
    std::chrono::nanoseconds confirm = std::chrono::seconds(1);
    std::chrono::nanoseconds hold = std::chrono::seconds(10);
    double alpha = 0.5;  // weight of a new 100 ms sample
  };
  explicit AttackTracker(Options o) : o_(o) {}

  // A sample at `now`: the protection's counters (packets seen, packets
  // the kernel acted on), both monotonic. The first sample only sets the
  // baseline. Returns the step taken, if any.
  std::optional<AttackStep> sample(std::chrono::nanoseconds now, uint64_t seen, uint64_t acted);

  Phase phase() const { return phase_; }
  double rate() const { return ewma_; }
  void set_threshold(double t) { o_.threshold = t; }

 private:
  AttackStep step(Phase to, std::chrono::nanoseconds now);
  Options o_;
  Phase phase_ = Phase::normal;
  bool primed_ = false;
  std::chrono::nanoseconds last_{0}, over_since_{0}, under_since_{0}, began_{0};
  uint64_t last_seen_ = 0, last_acted_ = 0, seen_at_begin_ = 0, acted_at_begin_ = 0;
  uint64_t seen_now_ = 0, acted_now_ = 0;
  double ewma_ = 0, peak_ = 0;
  bool under_ = true;
};

}  // namespace rampart::ddos
