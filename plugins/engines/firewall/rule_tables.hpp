// SPDX-License-Identifier: Apache-2.0
// The classifier's tables kept current rule by rule. compile() builds a
// whole set; a write of one rule then changes only what that rule touches:
// its bit in the classes of the values it accepts (a class shared with
// values it does not accept is split first), the table entries that move to
// a split class, and its entry in fw_rules. The host is told which bytes
// changed (ABI 1.8 change lists), so it writes those and compares nothing
// else. docs/firewall.md, "Rule changes", has the design.
#pragma once

#include <array>
#include <cstdint>
#include <map>
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
  // what it needs with room (TableCapacity::fit).
  RuleTables(const std::vector<Rule>& rules, Action default_action, int32_t blocklist_priority,
             const TableCapacity& want = {});

  // Replaces the rule `before` (null: none; a disabled one: none) by
  // `after` (null or disabled: none), with `after` checked as compile()
  // checks it (CompileError, nothing changed). Returns false when the
  // change does not fit these tables: another field comes into use (a new
  // program), or a capacity runs out (rules, classes, IPv4 groups, IPv6
  // prefixes). The tables are then unusable: build them again from the
  // whole set, which gives them room.
  bool change(const Rule* before, const Rule* after);

  // The tables as the kernel reads them: bitmaps `capacity().nwords` wide,
  // fw_rules indexed by a rule's position (with holes: an id of 0), nrules
  // the end of the positions in use.
  const CompiledRuleset& set() const { return rs_; }
  const TableCapacity& capacity() const { return cap_; }
  uint32_t rule_count() const { return static_cast<uint32_t>(label_of_.size()); }
  bool has(uint32_t id) const { return label_of_.count(id) != 0; }  // enabled, in the tables

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
  using Bits = std::vector<uint64_t>;
  using V6Key = std::pair<std::array<uint8_t, 16>, uint8_t>;

  void adopt(CompiledRuleset rs, const TableCapacity& cap);
  bool place(const Rule& r, uint32_t& label);
  void shift(uint32_t from, uint32_t to);  // the rules at [from, to) one up, or (to, from] one down
  void remove(uint32_t label);             // its bit and fw_rules entry
  bool add(const Rule& r, uint32_t label);
  bool slots_v4(ClassField f, const Cidr& c, std::vector<Slot>& out);
  bool slots_v6(ClassField f, const Cidr& c, std::vector<Slot>& out);
  void slots_range(Array a, uint32_t lo, uint32_t hi, std::vector<Slot>& out);
  bool split(ClassField f, const std::vector<Slot>& slots, uint32_t label);
  bool new_class(ClassField f, uint32_t from, uint32_t& cls);
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
  int32_t blocklist_priority_ = 0;
  std::vector<uint32_t> refs_;                              // table entries naming each class
  std::vector<uint32_t> free_;                              // classes named by none
  std::map<std::pair<int32_t, uint32_t>, uint32_t> order_;  // (priority, id) -> position
  std::unordered_map<uint32_t, uint32_t> label_of_;         // id -> position
  std::vector<bool> used_;                                  // positions taken
  uint32_t v4_prefixes_[2] = {0, 0};                        // src, dst
  std::map<V6Key, uint32_t> v6_index_[2];                   // prefix -> entry
  std::map<V6Key, uint32_t> v6_uses_[2];                    // prefix -> rules with it
  bool broken_ = false;
  // Since clear_changes():
  bool all_ = true;
  std::vector<uint32_t> dirty_[kArrays + 1];                // entries; [kArrays]: fw_rules
  std::vector<std::pair<uint64_t, uint64_t>> dirty_words_;  // bitmaps: (word, count)
  bool v6_dirty_[2] = {true, true};
};

}  // namespace rampart::firewall
