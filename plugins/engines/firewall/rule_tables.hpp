// SPDX-License-Identifier: Apache-2.0
// The classifier's tables kept current rule by rule, in place under
// traffic. compile() builds a whole set; a write of one rule then changes
// only what that rule touches, and only where no live generation looks:
// a free position of the overflow, its bit in the classes of the values it
// accepts (a class shared with values it does not accept is split first),
// the table entries that move to a split class, its entry in fw_rules;
// then the next generation names the positions in use. The host is told
// which bytes changed (ABI 1.8 change lists), so it writes those (in place,
// ABI 1.9) and compares nothing else. docs/firewall.md, "Rule changes",
// has the design.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "compiler.hpp"
#include "tables.hpp"

namespace rampart::firewall {

class RuleTables {
 public:
  RuleTables() = default;
  // The enabled rules of `rules` compiled at once (compile()'s checks and
  // errors), laid out at `want`'s capacity where the set fits it, else at
  // `ahead` where it fits that (the capacity an instance was prepared for),
  // else at what it needs with room (TableCapacity::fit). They are
  // generation 0. `buffer`: memory for the class bitmaps, reused (see
  // take_buffer).
  RuleTables(const std::vector<Rule>& rules, Action default_action, int32_t blocklist_priority,
             const TableCapacity& want = {}, const TableCapacity& ahead = {},
             std::vector<uint64_t> buffer = {});

  // The class bitmaps' memory of tables being thrown away, for the next
  // whole compile: ~16 MiB at 4,096 rules whose pages are touched already
  // (a fresh buffer's page faults were a tenth of an import's CPU here).
  std::vector<uint64_t> take_buffer() && { return std::move(rs_.bitmaps); }

  // Replaces the rule `before` (null: none; a disabled one: none) by
  // `after` (null or disabled: none), with `after` checked as compile()
  // checks it (CompileError, nothing changed). Nothing a live generation
  // reads changes: `before` leaves the next generation's positions (its
  // position, class rows and IPv6 prefix stay as they are until reclaimed),
  // `after` takes a free position of the overflow, and its bit goes into
  // class rows there (new classes where a class must be split; the table
  // entries then name those, which every live generation reads alike).
  // Returns false when the change does not fit these tables: another field
  // comes into use (a new program), or a capacity runs out (the overflow's
  // positions, classes, IPv4 groups, IPv6 prefixes). The tables are then
  // unusable: build them again from the whole set, which compacts them.
  bool change(const Rule* before, const Rule* after);

  // Generations. flip() makes the changes since the last flip the next
  // generation: its fw_set entry and fw_live row, and fw_gen naming it, are
  // listed as changed (nothing when nothing changed; tables built whole
  // stay generation 0). Its slot must be free: the ticket
  // next_slot_ticket() returns (0: none) must have passed first.
  uint64_t next_slot_ticket() const;
  void flip();
  // The tables are in the kernel; the generation flip() left stopped being
  // current at `ticket` (a grace period begun after it ended: no packet
  // reads it). What the changes since the last installed() let go goes
  // back to use once `ticket` passed, at reclaim().
  void installed(uint64_t ticket);
  // Whether installed() has a use for a ticket: a generation left, or
  // something let go. (Asking for one starts a grace period, which a
  // spare asked for just after then waits behind.)
  bool wants_ticket() const { return flipped_ || !letting_go_.empty(); }
  // Takes back what retired at tickets that `passed`: positions of the
  // overflow (their bits cleared in every class; a compiled position is not
  // taken again before the next whole compile, and no generation's live row
  // names it, so its bits stay), classes, IPv6 prefixes no rule uses. Writes
  // only what no live generation reads, so call it before changes.
  template <class Passed>
  void reclaim(Passed&& passed) {
    while (!retired_.empty() && passed(retired_.front().ticket)) {
      take_back(retired_.front());
      retired_.pop_front();
    }
  }

  // The tables as the kernel reads them: bitmaps `capacity().nwords` wide,
  // fw_rules indexed by position, nrules the end of the compiled positions.
  const CompiledRuleset& set() const { return rs_; }
  const TableCapacity& capacity() const { return cap_; }
  // What the tables use of their capacity: the words the rules would be
  // compiled to, the classes, IPv4 groups' entries and IPv6 prefixes taken
  // (some may be free again once compacted: never less than a rebuild).
  TableCapacity used() const;
  // The capacity these tables grow into next (TableCapacity::ahead): an
  // instance of that shape, prepared now, is the one the write that
  // outgrows them takes.
  TableCapacity ahead() const { return cap_.ahead(used()); }
  uint32_t rule_count() const { return static_cast<uint32_t>(label_of_.size()); }
  bool has(uint32_t id) const { return label_of_.count(id) != 0; }  // enabled, in the tables
  // The id of the rule at `position` in the newest generation, 0 if none.
  uint32_t id_at(uint32_t position) const;
  uint32_t positions() const { return cap_.nwords * 64; }
  // The positions whose id_at() may differ since clear_changes() (a rule
  // placed, removed or taken back there), each once, ascending; nullopt
  // when every position may (built whole since).
  std::optional<std::vector<uint32_t>> moved() const;

  // What changed since clear_changes() (since built: everything).
  RuleTableChanges changes() const;
  void clear_changes();

 private:
  enum Array : uint8_t { kSrc16, kSrc8, kDst16, kDst8, kProto, kSport, kDport, kVlan, kArrays };
  struct Slot {
    uint32_t* cls;
    Array table;  // kArrays: not an array entry (an IPv6 prefix, or a default)
    uint32_t index;
  };
  using V6Key = std::pair<std::array<uint8_t, 16>, uint8_t>;
  // What one install let go, back in use once its ticket passed.
  struct Retired {
    uint64_t ticket = 0;
    std::vector<uint32_t> positions, classes;
    std::vector<std::pair<int, V6Key>> prefixes;  // (field, prefix) no rule used
    bool empty() const { return positions.empty() && classes.empty() && prefixes.empty(); }
  };

  void adopt(CompiledRuleset rs, const TableCapacity& cap);
  bool place(uint32_t& label);
  void remove(uint32_t label);
  bool add(const Rule& r, uint32_t label);
  void take_back(const Retired& r);
  bool slots_v4(ClassField f, const Cidr& c, std::vector<Slot>& out);
  bool slots_v6(ClassField f, const Cidr& c, std::vector<Slot>& out);
  void slots_range(Array a, uint32_t lo, uint32_t hi, std::vector<Slot>& out);
  bool split(ClassField f, const std::vector<Slot>& slots, uint32_t label);
  bool new_class(ClassField f, uint32_t from, uint32_t& cls);
  void set_bit(uint32_t cls, uint32_t label);
  void release(uint32_t cls);
  void group_of(uint32_t* entry, Array at, uint32_t index, std::vector<uint32_t>& tbl8, Array a8,
                bool& ok, uint32_t& group);
  void touch(Array a, uint32_t index) { dirty_[a].push_back(index); }
  void touch_words(uint32_t cls, uint32_t first, uint32_t n);
  void refresh_set();
  V4Table& v4(ClassField f) { return f == ClassField::src4 ? rs_.src4 : rs_.dst4; }
  V6Table& v6(ClassField f) { return f == ClassField::src6 ? rs_.src6 : rs_.dst6; }

  CompiledRuleset rs_;
  TableCapacity cap_;
  std::vector<uint32_t> refs_;  // table entries naming each class
  std::vector<uint32_t> free_;  // classes named by none, read by none
  // Each class's overflow words as its row holds them: what take_back()
  // scans, where the rows themselves are a cache line apart each (at 10,000
  // rules, 20,000 rows: milliseconds a write).
  std::vector<std::array<uint64_t, RAMPART_FW_OVERFLOW_WORDS>> overflow_;
  std::unordered_map<uint32_t, uint32_t> label_of_;  // id -> position
  std::vector<bool> used_;                           // positions held or not yet taken back
  uint32_t v4_prefixes_[2] = {0, 0};                 // src, dst
  std::map<V6Key, uint32_t> v6_index_[2];            // prefix -> entry
  std::map<V6Key, uint32_t> v6_uses_[2];             // prefix -> rules with it
  std::map<V6Key, uint32_t> v6_retiring_[2];         // prefix -> Retired naming it
  bool broken_ = false;
  // Generations.
  bool changed_ = false;  // since the last flip
  bool flipped_ = false;  // since the last installed()
  uint32_t left_ = 0;     // the generation the last flip left
  std::array<uint64_t, RAMPART_FW_GENS> slot_ticket_{};
  Retired letting_go_;  // since the last installed()
  std::deque<Retired> retired_;
  // Since clear_changes():
  bool all_ = true;
  std::vector<uint32_t> dirty_[kArrays + 1];                // entries; [kArrays]: fw_rules
  std::vector<uint32_t> moved_;                             // positions (moved())
  std::vector<std::pair<uint64_t, uint64_t>> dirty_words_;  // bitmaps: (word, count)
  bool v6_dirty_[2] = {true, true};
  bool gen_dirty_ = false;  // fw_set, fw_live and fw_gen at rs_.gen
};

}  // namespace rampart::firewall
