// SPDX-License-Identifier: Apache-2.0
// A rate limit policy as operators write it (the REST domain `ratelimit`,
// the config's `policies` and `default_policy`) and its kernel form.
// Every error names the field at fault.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "cidr.hpp"
#include "rampart/ratelimit.h"

namespace rampart::ratelimit {

enum class Algorithm : uint8_t {
  token_bucket = RAMPART_RL_TOKEN_BUCKET,
  leaky_bucket = RAMPART_RL_LEAKY_BUCKET,
  fixed_window = RAMPART_RL_FIXED_WINDOW,
  sliding_window = RAMPART_RL_SLIDING_WINDOW,
};
enum class Action : uint8_t { drop = RAMPART_RL_DROP, alert = RAMPART_RL_ALERT };

constexpr uint32_t kMaxPrefixesPerPolicy = 64;
constexpr uint32_t kMaxCountriesPerPolicy = 64;
constexpr uint32_t kMinWindowMs = 10, kMaxWindowMs = 60000;
constexpr uint32_t kMaxDescription = 256;

struct Policy {
  uint32_t id = 0;                     // 0: the default policy
  std::vector<net::Cidr> prefixes;     // sources it holds (none for the default)
  std::vector<std::string> countries;  // or: the sources of these countries (ISO 3166-1 alpha-2)
  Algorithm algorithm = Algorithm::token_bucket;
  uint32_t rate = 0;       // packets per second, 1..RAMPART_RL_MAX_RATE
  uint32_t burst = 0;      // buckets: 1..RAMPART_RL_MAX_BURST (absent: the rate)
  uint32_t window_ms = 0;  // windows: kMinWindowMs..kMaxWindowMs (absent: 1000)
  Action action = Action::drop;
  bool enabled = true;
  std::string description;
  int64_t expires_at = 0;  // seconds since the epoch; 0: never

  bool bucket() const {
    return algorithm == Algorithm::token_bucket || algorithm == Algorithm::leaky_bucket;
  }
  bool operator==(const Policy&) const = default;
};

// A bad policy; field() names the offending field ("" for the body).
class PolicyError : public std::runtime_error {
 public:
  PolicyError(std::string field, const std::string& what)
      : std::runtime_error(field.empty() ? what : field + ": " + what), field_(std::move(field)) {}
  const std::string& field() const { return field_; }

 private:
  std::string field_;
};

// Parses and checks one body (JSON). `id`, if non-zero, must match the
// body's id when present and fills it when absent. `is_default`: the
// config's default_policy, which has no id and no prefixes.
Policy policy_from_json(const std::string& body, uint64_t id = 0, bool is_default = false);
std::string policy_to_json(const Policy& p);
// The JSON Schema (OpenAPI 3.0 subset) of a policy body.
const char* policy_schema_json();

std::string_view algorithm_name(Algorithm a);
std::string_view action_name(Action a);
std::optional<Algorithm> parse_algorithm(std::string_view s);
std::optional<Action> parse_action(std::string_view s);

// The slot length the kernel counts in: the window for windows; for
// buckets burst / rate / 2 within [1 ms, 1 s], fitted so a slot's refill
// in 24.8 fixed point is exact to a nanosecond of the slot.
uint64_t period_ns(const Policy& p);
// What rl_policies holds for `p`, generation `gen` (1..RAMPART_RL_GEN_MAX).
rampart_rl_policy kernel_policy(const Policy& p, uint8_t gen);
// Packets a window admits: rate x window, rounded down (at least 1 for a
// valid policy).
uint32_t window_limit(const Policy& p);

}  // namespace rampart::ratelimit
