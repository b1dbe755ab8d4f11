// SPDX-License-Identifier: Apache-2.0
// Policies as the kernel stage holds them: stable indexes into
// rl_policies, the prefix tables that lead there, and the program image
// the host installs (one instance per policy set, swapped in whole).
#pragma once

#include <rampart/sdk/plugin.hpp>

#include <map>
#include <utility>
#include <vector>

#include "countries.hpp"
#include "policy.hpp"

namespace rampart::ratelimit {

// The stage in the XDP chain: behind the firewall (100), before load
// balancing (300).
inline constexpr const char* kStageName = "ratelimit";
inline constexpr int32_t kStagePriority = 200;
// Maps every instance shares, kept across restarts: the sources' states
// (limits hold across a policy change or a restart), the counters, the
// event pacing and the ring.
inline constexpr const char* kPersistentMaps[] = {
    RAMPART_NAME(RAMPART_RL_MAP_STATE), RAMPART_NAME(RAMPART_RL_MAP_STATS),
    RAMPART_NAME(RAMPART_RL_MAP_POLICY_STATS), RAMPART_NAME(RAMPART_RL_MAP_PACE),
    RAMPART_NAME(RAMPART_RL_MAP_EVENTS)};
inline constexpr uint32_t kMaxPolicies = RAMPART_RL_MAX_POLICIES - 1;  // index 0: the default
inline constexpr uint32_t kMaxExempt = 1024;
// Networks of the countries' policies, per family (the country tables).
inline constexpr uint32_t kMaxCountryNetworks = 1u << 20;

// Names of the rl_stats entries, by enum rampart_rl_stat.
const std::vector<std::string>& stat_names();

// Where a policy sits in rl_policies, and its generation there.
struct Placement {
  uint32_t index = 0;
  uint8_t gen = 0;
  bool operator==(const Placement&) const = default;
};

// Where each policy goes: its id as the index for ids up to 1023, else the
// first free index from a hash of the id (ids taken in ascending order).
// The generation is a hash of the id and the shape (1..63). Both follow
// from the set alone, so a restart, or a change to other policies, leaves
// a policy where it was and its sources' states valid; a new shape (or
// another policy at a hashed id's index) starts its sources afresh, but
// for one chance in 63 that the generations agree (then its sources keep
// their counts for at most a slot). Throws PolicyError past kMaxPolicies.
std::map<uint32_t, Placement> place(const std::vector<const Policy*>& policies);
uint8_t generation(uint32_t id, uint64_t shape);

// A policy's shape: what its sources' states mean (algorithm and slot).
uint64_t shape_of(const Policy& p);

struct Placed {
  Placement at;
  const Policy* policy;
};

// The kernel's tables.
struct Tables {
  std::vector<rampart_rl_policy> policies;  // RAMPART_RL_MAX_POLICIES entries
  std::vector<std::pair<rampart_rl_lpm4_key, uint32_t>> src4, geo4;
  std::vector<std::pair<rampart_rl_lpm6_key, uint32_t>> src6, geo6;
};

// Every enabled policy at its index, each prefix leading to it, and the
// exempt prefixes to RAMPART_RL_EXEMPT; a country policy's countries'
// networks (from `geo`) in the country tables. Throws PolicyError naming
// the policy for a prefix or country two policies list (or a policy and
// the exempt list), a country policy without a database or for a country
// the database does not name, and past the tables' sizes.
Tables build_tables(const std::vector<Placed>& placed, const std::vector<net::Cidr>& exempt,
                    const geo::CountryNetworks* geo = nullptr);

struct StageSettings {
  uint32_t max_sources = 262144;  // rl_state entries, v4 and v6 together
  uint32_t event_rate = 1000;     // over-limit records a second per CPU; 0: all
  uint32_t event_source = 2;      // the registered source (RAMPART_SOURCE_XDP_RATELIMIT)
  uint32_t ncpus = 1;             // possible CPUs
  bool test_clock = false;        // rampart_clock_from_map (tests only)
};
inline constexpr uint32_t kMinSources = 1024, kMaxSources = 16777216;

// The instance the host installs for `t`. The image reads the tables in
// place: `t` must outlive the install.
sdk::ProgramImage program_image(const Tables& t, const StageSettings& s);

}  // namespace rampart::ratelimit
