// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: arbitrary bytes as a rate limit policy body (what the
// REST API receives for the domain `ratelimit`). Parsing must return a
// policy within every stated bound or throw PolicyError with a message; a
// parsed policy must survive a round trip through JSON unchanged, and its
// kernel form must hold what the kernel's arithmetic relies on.
#include <cstddef>
#include <cstdint>
#include <string>

#include "policy.hpp"
#include "stage_tables.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace rl = rampart::ratelimit;
  const std::string body(reinterpret_cast<const char*>(data), size);
  rl::Policy p;
  try {
    p = rl::policy_from_json(body, 9);
  } catch (const rl::PolicyError& e) {
    if (std::string(e.what()).empty()) __builtin_trap();
    return 0;
  }
  if (p.id != 9) __builtin_trap();  // a body that names another id is refused
  if (p.prefixes.empty() || p.prefixes.size() > rl::kMaxPrefixesPerPolicy) __builtin_trap();
  if (p.rate < 1 || p.rate > RAMPART_RL_MAX_RATE) __builtin_trap();
  if (p.description.size() > rl::kMaxDescription) __builtin_trap();
  if (!(rl::policy_from_json(rl::policy_to_json(p), 9) == p)) __builtin_trap();
  const auto k = rl::kernel_policy(p, 1);
  // What ratelimit_algo.h's arithmetic assumes: a slot, a limit, and for
  // buckets a refill whose product with a slot's nanoseconds fits 64 bits.
  if (k.period_ns == 0 || k.limit == 0) __builtin_trap();
  if (p.bucket() &&
      (k.refill_q8 == 0 || k.period_ns > 1000000000ull || k.limit > RAMPART_RL_MAX_BURST))
    __builtin_trap();
  if (!p.bucket() && k.period_ns > 60000000000ull) __builtin_trap();
  const auto t = rl::build_tables({{{1, 1}, &p}}, {});
  if (t.src4.size() + t.src6.size() != (p.enabled ? p.prefixes.size() : 0)) __builtin_trap();
  return 0;
}
