// SPDX-License-Identifier: Apache-2.0
// A rate limit policy for tests: an algorithm, a rate, its burst (buckets)
// or window in ms (windows), an id and the prefixes it holds.
#pragma once

#include <string>
#include <vector>

#include "policy.hpp"

namespace rampart::test {

inline ratelimit::Policy rl_policy(ratelimit::Algorithm a, uint32_t rate, uint32_t burst_or_window,
                                   uint32_t id = 7, const std::vector<const char*>& prefixes = {}) {
  ratelimit::Policy p;
  p.id = id;
  p.algorithm = a;
  p.rate = rate;
  if (p.bucket())
    p.burst = burst_or_window;
  else
    p.window_ms = burst_or_window;
  for (const char* s : prefixes) {
    std::string err;
    p.prefixes.push_back(*net::parse_cidr(s, err));
  }
  return p;
}

}  // namespace rampart::test
