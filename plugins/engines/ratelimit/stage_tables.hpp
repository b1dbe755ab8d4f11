// SPDX-License-Identifier: Apache-2.0
// Policies as the kernel stage holds them: stable indexes into
// rl_policies, the prefix tables that lead there, and the program image
// the host installs (one instance per policy set, swapped in whole).
#pragma once

#include <rampart/sdk/plugin.hpp>

#include <chrono>
#include <map>
#include <utility>
#include <vector>

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

// Names of the rl_stats entries, by enum rampart_rl_stat.
const std::vector<std::string>& stat_names();

// Where a policy sits in rl_policies, and its generation there.
struct Placement {
  uint32_t index = 0;
  uint8_t gen = 0;
  bool operator==(const Placement&) const = default;
};

// Indexes for policy ids. A policy keeps its index, so its sources keep
// their state, while its shape (algorithm and slot length) holds; a new
// shape is a new generation, which starts its sources afresh. A freed
// index is reused only after `quarantine` (a source still tagged with it
// rolls into the prefix tables within its slot, at most 60 s) and with a
// new generation.
class Indexes {
 public:
  using Clock = std::chrono::steady_clock;
  explicit Indexes(Clock::duration quarantine = std::chrono::seconds(120))
      : quarantine_(quarantine) {}
  // Policy `id` (0: the default, always index 0) of `shape`. Throws
  // PolicyError when every index is taken.
  Placement place(uint32_t id, uint64_t shape, Clock::time_point now);
  // Frees the index of every id not in `keep`.
  void keep_only(const std::vector<uint32_t>& keep, Clock::time_point now);
  std::optional<Placement> find(uint32_t id) const;

 private:
  struct Entry {
    Placement at;
    uint64_t shape;
  };
  uint8_t next_gen(uint32_t index);
  Clock::duration quarantine_;
  std::map<uint32_t, Entry> by_id_;
  std::map<uint32_t, uint8_t> last_gen_;         // index -> generation it last had
  std::map<uint32_t, Clock::time_point> freed_;  // index -> when it was freed
};

// A policy's shape: what its sources' states mean (algorithm and slot).
uint64_t shape_of(const Policy& p);

struct Placed {
  Placement at;
  const Policy* policy;
};

// The kernel's tables.
struct Tables {
  std::vector<rampart_rl_policy> policies;  // RAMPART_RL_MAX_POLICIES entries
  std::vector<std::pair<rampart_rl_lpm4_key, uint32_t>> src4;
  std::vector<std::pair<rampart_rl_lpm6_key, uint32_t>> src6;
};

// Every enabled policy at its index, each prefix leading to it, and the
// exempt prefixes to RAMPART_RL_EXEMPT. Throws PolicyError naming the
// policy for a prefix two policies list (or a policy and the exempt list)
// and past RAMPART_RL_MAX_PREFIXES.
Tables build_tables(const std::vector<Placed>& placed, const std::vector<net::Cidr>& exempt);

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

// CPUs the kernel may run on (/sys/devices/system/cpu/possible), which a
// merge reads; 0 if unreadable.
uint32_t possible_cpus();

}  // namespace rampart::ratelimit
