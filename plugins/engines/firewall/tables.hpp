// SPDX-License-Identifier: Apache-2.0
// A compiled rule set as a program image: the classifier instance's maps,
// sized and filled, and its load-time settings. The host loads it as one
// program instance and swaps it into the firewall's stage atomically.
#pragma once

#include <rampart/sdk/plugin.hpp>

#include "blocklist.hpp"
#include "compiler.hpp"

#include <string>
#include <vector>

namespace rampart::firewall {

// The firewall's stage in the XDP chain, and where it runs: before rate
// limiting (200) and load balancing (300).
inline constexpr const char* kStageName = "firewall";
inline constexpr int32_t kStagePriority = 100;
// Maps every rule set's instance shares, kept across restarts: the event
// ring, the verdict counters (enum rampart_fw_stat), the reject pacing and
// the per-rule hits by position (a rule keeps its position across writes,
// so its count goes on; the engine settles positions that change hands).
inline constexpr const char* kPersistentMaps[] = {
    RAMPART_NAME(RAMPART_FW_MAP_EVENTS), RAMPART_NAME(RAMPART_FW_MAP_STATS),
    RAMPART_NAME(RAMPART_FW_MAP_PACE), RAMPART_NAME(RAMPART_FW_MAP_HITS)};
// Verdict events a second per CPU unless the setting event_rate says
// otherwise: a flood of denied packets then costs rampartd a few percent of
// a core, not all of one (docs/performance.md).
inline constexpr uint32_t kDefaultEventRate = 10000;
// Names of the fw_stats entries, by enum rampart_fw_stat.
inline const std::vector<std::string>& stat_names() {
  static const std::vector<std::string> names = {
      "seen",           "passed", "dropped",     "rejected",    "logged",        "errors",
      "events_dropped", "not_ip", "reject_sent", "blocklisted", "events_limited"};
  static_assert(RAMPART_FW_STAT_MAX == 11, "name every fw_stats entry");
  return names;
}

// The sizes of a classifier instance's tables. A rule set that fits the
// live instance's capacity has its shape, so the host swaps its tables
// into a spare instance instead of loading a program (docs/firewall.md,
// "Rule changes").
struct TableCapacity {                    // all 0: none yet
  uint32_t nwords = 0;                    // bitmap words per class (even); rules: nwords * 64
  uint32_t nclasses = 0;                  // bitmaps
  uint32_t src4_tbl8 = 0, dst4_tbl8 = 0;  // IPv4 second-level entries
  uint32_t src6 = 0, dst6 = 0;            // IPv6 prefixes
  // Room for `rs`: this capacity where `rs` fits it and needs at least a
  // quarter of it (a much smaller set gives memory back), else what `rs`
  // needs rounded up to a power of two.
  TableCapacity fit(const CompiledRuleset& rs) const;
  // The bitmap width fit() keeps for a set of `nrules` enabled rules, or 0
  // where it would not keep this one (it grows or shrinks).
  uint32_t kept_words(uint32_t nrules) const;
  // Whether `rs` fits this capacity as it is.
  bool holds(const CompiledRuleset& rs) const;
  // What these tables grow into next, for tables that use `used` of them:
  // each dimension more than half full grows to twice its size (at least
  // what fit() would give it), the rest stay; equal to this capacity while
  // every dimension is at most half full. Half: a set growing under a
  // write storm fills the other half while the instance is loaded in the
  // background, and dimensions that grow together (words and classes, when
  // each rule brings its own values) are caught by one prediction.
  TableCapacity ahead(const TableCapacity& used) const;
  bool operator==(const TableCapacity&) const = default;
};

// The bytes of each rule table that may differ from the image installed
// last (RuleTables records them): (offset, length), sorted and merged.
struct RuleTableChanges {
  bool all = true;  // unknown: compare everything
  std::vector<std::pair<uint64_t, uint64_t>> src4_tbl16, src4_tbl8, dst4_tbl16, dst4_tbl8, proto,
      sport, dport, vlan, bitmaps, rules, live, set, gen;
  bool src6 = true, dst6 = true;  // keyed maps: changed or not
};

// With a blocklist, its tables go into the same instance: one swap
// replaces rules and blocklist together. The tables are made `capacity`
// large (at least what `rs` needs: default, exactly fit()). The image reads
// `rs` and the blocklist in place, so both must outlive it; the class
// bitmaps, laid out to the capacity's width, go in `scratch` when given
// (kept by the caller across installs: no fresh pages per rule change),
// else in the image.
// ABI 1.8: says in `image` what changed since the last image installed:
// in the rule set's tables what `rules` recorded (null: unknown), and in
// the blocklist's what it recorded (null: no blocklist, or unknown). The
// hit counters are not listed: a new instance counts from 0.
void list_changes(sdk::ProgramImage& image, const RuleTableChanges* rules,
                  const Blocklist::Changes* blocklist);

// Whether an install with these changes may be written into the live
// instance (RAMPART_PROGRAM_IN_PLACE): rule changes and blocklist blocks
// made where no packet reads; not tables built afresh, nor changed IPv6
// blocklist keys (a hash the host writes whole).
bool writable_in_place(const RuleTableChanges& rules, const Blocklist::Changes* blocklist);

sdk::ProgramImage to_program_image(const CompiledRuleset& rs,
                                   const CompiledBlocklist* blocklist = nullptr,
                                   const TableCapacity& capacity = {},
                                   std::vector<uint64_t>* scratch = nullptr);

// The same at exactly `capacity` (which `rs` fits): RuleTables' tables,
// whose bitmaps are already that wide, are read in place.
sdk::ProgramImage program_image_at(const CompiledRuleset& rs, const CompiledBlocklist* blocklist,
                                   const TableCapacity& capacity,
                                   std::vector<uint64_t>* scratch = nullptr);

}  // namespace rampart::firewall
