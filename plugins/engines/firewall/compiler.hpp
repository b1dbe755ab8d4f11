// SPDX-License-Identifier: Apache-2.0
// Compiles a whole rule set into the XDP firewall's classifier tables
// (layouts in bpf/include/rampart/firewall.h): per field, a table from
// packet value to class, and per class the bitmap of rules that accept it.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "rampart/firewall.h"
#include "rule.hpp"

namespace rampart::firewall {

struct V4Table {
  bool present = false;         // false: no IPv4 prefix constrains this field
  uint32_t default_class = 0;   // class of every IPv4 address when !present
  std::vector<uint32_t> tbl16;  // 65536 entries
  std::vector<uint32_t> tbl8;   // groups * 256 entries
};

struct V6Entry {
  rampart_fw_lpm6_key key;
  uint32_t cls;
};

struct V6Table {
  bool present = false;
  uint32_t default_class = 0;
  std::vector<V6Entry> entries;  // one per distinct prefix, plus ::/0
};

// The tables a class can belong to (compile()'s per_field_classes).
enum class ClassField : uint8_t { src4, dst4, src6, dst6, proto, sport, dport, vlan };
inline constexpr int kClassFields = 8;

struct CompiledRuleset {
  uint32_t nrules = 0;       // end of the compiled positions (in priority order)
  uint32_t nwords = 4;       // even, the last RAMPART_FW_OVERFLOW_WORDS the overflow's
  uint32_t fields_used = 0;  // bit per rampart_fw_field
  Action default_action = Action::allow;
  uint32_t nclasses = 0;
  std::vector<uint64_t> bitmaps;  // nclasses * nwords, class-major
  V4Table src4, dst4;
  V6Table src6, dst6;
  std::vector<uint32_t> proto;  // RAMPART_FW_PROTO_ENTRIES
  std::vector<uint32_t> sport;  // RAMPART_FW_PORT_ENTRIES
  std::vector<uint32_t> dport;
  std::vector<uint32_t> vlan;          // RAMPART_FW_VLAN_ENTRIES
  std::vector<rampart_fw_rule> rules;  // by position
  std::vector<uint64_t> live;          // nwords: the positions that hold a rule
  uint32_t block_index = 0;  // rules ahead of the source blocklist (priority < its priority)
  uint64_t block_order = 0;  // rampart_fw_order(blocklist priority, 0)
  // Generations (RuleTables): the current one, and every slot's fw_set
  // entry and fw_live row as the kernel has them. Empty: generation 0 is
  // this set.
  uint32_t gen = 0;
  std::vector<rampart_fw_set> sets;  // RAMPART_FW_GENS
  std::vector<uint64_t> live_gens;   // RAMPART_FW_GENS * nwords
  // per_field_classes: the ClassField of each class (each in one field's
  // tables); empty when classes are shared across fields.
  std::vector<uint8_t> class_field;

  // Rule id at priority index i, for reading hit counters back.
  uint32_t rule_id(uint32_t index) const { return rules.at(index).id; }
};

class CompileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Sorts enabled rules by (priority, id) and builds every table. Throws
// Bitmap words a set of `nrules` enabled rules is compiled to: two per 128
// rules (at least two; even, so the kernel loop takes two words an
// iteration), then the overflow's words, empty.
uint32_t words_for(uint32_t nrules);

// CompileError on an invalid rule (naming its id and field), a duplicate id,
// or more than RAMPART_FW_MAX_RULES enabled rules. Rules with a priority
// below `blocklist_priority` are checked before the source blocklist.
// Equal bitmaps share one class across all fields, unless
// `per_field_classes` (what RuleTables changes in place).
//
// `room`: the tables' layout, so that RuleTables adopts the bitmaps as they
// are: rows of `row_words` words where the rules fit in them (the overflow's
// words last), and memory reserved for `classes` classes (growing a buffer
// of ~10 MiB by doubling copied it twice over), in `buffer` if it has room
// (memory reused: its pages are not faulted in again).
struct CompileRoom {
  uint32_t row_words = 0;  // even; 0: words_for(nrules)
  uint32_t classes = 0;
  std::vector<uint64_t> buffer;
};
CompiledRuleset compile(const std::vector<Rule>& rules, Action default_action,
                        int32_t blocklist_priority = 0, bool per_field_classes = false,
                        CompileRoom room = {});

// fw_set's entry for the set as `rs` holds it now.
rampart_fw_set set_of(const CompiledRuleset& rs);

// What the tables say about a packet: the position of the best matching
// rule among those the set's live positions hold, or kNoRule. The
// reference the kernel program must agree with.
inline constexpr uint32_t kNoRule = 0xffffffffu;
struct PacketFields {
  uint8_t family = 4;
  std::array<uint8_t, 16> src{}, dst{};
  uint8_t protocol = 0;
  uint8_t tcp_flags = 0;
  bool has_ports = false;
  uint16_t src_port = 0, dst_port = 0;
  uint16_t vlan_id = 0;
};
uint32_t classify(const CompiledRuleset& rs, const PacketFields& p);
// The same as generation `gen` sees it (rs.sets and rs.live_gens kept):
// its fw_set entry and fw_live row over the tables as they are now.
uint32_t classify(const CompiledRuleset& rs, const PacketFields& p, uint32_t gen);

// The same answer by testing every rule in order (slow; for tests): the
// index of the first matching rule, or kNoRule.
uint32_t classify_linear(const std::vector<Rule>& sorted_enabled_rules, const PacketFields& p);

// Enabled rules in priority order, as compile() numbers them.
std::vector<Rule> priority_order(const std::vector<Rule>& rules);

}  // namespace rampart::firewall
