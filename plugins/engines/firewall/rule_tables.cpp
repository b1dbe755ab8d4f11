// SPDX-License-Identifier: Apache-2.0
#include "rule_tables.hpp"

#include <algorithm>
#include <string>

namespace rampart::firewall {
namespace {

constexpr uint32_t kGroup = RAMPART_FW_V4_GROUP;

uint32_t v4_value(const Cidr& c) {
  return uint32_t(c.addr[0]) << 24 | uint32_t(c.addr[1]) << 16 | uint32_t(c.addr[2]) << 8 |
         c.addr[3];
}

std::array<uint8_t, 16> masked(std::array<uint8_t, 16> a, unsigned len) {
  for (unsigned bit = len; bit < 128; ++bit) a[bit / 8] &= ~(0x80 >> (bit % 8));
  return a;
}

// Sorted, merged (offset, length) byte ranges of elements of `size` bytes.
std::vector<std::pair<uint64_t, uint64_t>> ranges(std::vector<uint32_t> idx, uint64_t size) {
  std::sort(idx.begin(), idx.end());
  std::vector<std::pair<uint64_t, uint64_t>> out;
  for (size_t i = 0; i < idx.size();) {
    size_t j = i + 1;
    while (j < idx.size() && idx[j] <= idx[j - 1] + 1) ++j;
    out.emplace_back(idx[i] * size, (uint64_t(idx[j - 1]) - idx[i] + 1) * size);
    i = j;
  }
  return out;
}

// What a rule accepts of a field: every value, none, or some table entries.
enum class Takes { all, none, some };

}  // namespace

RuleTables::RuleTables(const std::vector<Rule>& rules, Action default_action,
                       int32_t blocklist_priority, const TableCapacity& want,
                       const TableCapacity& ahead, std::vector<uint64_t> buffer) {
  // Compiled straight into the tables' layout where the rules fit the
  // width they have (adopt() then moves the bitmaps rather than copying).
  const auto enabled = static_cast<uint32_t>(
      std::count_if(rules.begin(), rules.end(), [](const Rule& r) { return r.enabled; }));
  CompileRoom room{want.kept_words(enabled), std::max(want.nclasses, ahead.nclasses),
                   std::move(buffer)};
  CompiledRuleset rs = compile(rules, default_action, blocklist_priority, true, std::move(room));
  const TableCapacity cap = !want.holds(rs) && ahead.holds(rs) ? ahead : want.fit(rs);
  adopt(std::move(rs), cap);
  for (const auto& r : rules) {
    if (!r.enabled) continue;
    if (r.src && r.src->family == 4) ++v4_prefixes_[0];
    if (r.dst && r.dst->family == 4) ++v4_prefixes_[1];
    if (r.src && r.src->family == 6) ++v6_uses_[0][{r.src->addr, r.src->prefix_len}];
    if (r.dst && r.dst->family == 6) ++v6_uses_[1][{r.dst->addr, r.dst->prefix_len}];
  }
  refresh_set();
  rs_.sets.assign(RAMPART_FW_GENS, rampart_fw_set{});
  rs_.sets[0] = set_of(rs_);
  rs_.live_gens.assign(size_t(RAMPART_FW_GENS) * cap_.nwords, 0);
  std::copy(rs_.live.begin(), rs_.live.end(), rs_.live_gens.begin());
}

TableCapacity RuleTables::used() const {
  TableCapacity u;
  u.nwords = words_for(rule_count());
  u.nclasses = rs_.nclasses;
  u.src4_tbl8 = static_cast<uint32_t>(rs_.src4.tbl8.size());
  u.dst4_tbl8 = static_cast<uint32_t>(rs_.dst4.tbl8.size());
  u.src6 = static_cast<uint32_t>(rs_.src6.entries.size());
  u.dst6 = static_cast<uint32_t>(rs_.dst6.entries.size());
  return u;
}

void RuleTables::adopt(CompiledRuleset rs, const TableCapacity& cap) {
  cap_ = cap;
  const uint32_t w = cap.nwords;
  // Bitmaps at the capacity's width, read by the image in place, with room
  // reserved for the capacity's classes: a class added later must not copy
  // every row to a larger buffer on a writer's path (tens of MiB at 10,000
  // rules; the pages reserved are not touched until used).
  // Compiled at this width (CompileRoom): taken as they are.
  if (rs.nwords != w) {
    std::vector<uint64_t> bits;
    bits.reserve(size_t(std::max(cap.nclasses, rs.nclasses)) * w);
    bits.resize(size_t(rs.nclasses) * w, 0);
    for (uint32_t c = 0; c < rs.nclasses; ++c) {
      std::copy_n(rs.bitmaps.begin() + size_t(c) * rs.nwords, rs.nwords,
                  bits.begin() + size_t(c) * w);
    }
    rs.bitmaps = std::move(bits);
  } else {
    rs.bitmaps.reserve(size_t(std::max(cap.nclasses, rs.nclasses)) * w);
  }
  overflow_.assign(rs.nclasses, {});
  for (uint32_t c = 0; c < rs.nclasses; ++c) {
    std::copy_n(rs.bitmaps.begin() + size_t(c) * w + (w - RAMPART_FW_OVERFLOW_WORDS),
                RAMPART_FW_OVERFLOW_WORDS, overflow_[c].begin());
  }
  rs.live.resize(w, 0);
  rs.nwords = w;
  // Every level-16 table filled and every IPv6 table with ::/0, so that a
  // prefix can be added to a field that had none.
  for (V4Table* t : {&rs.src4, &rs.dst4}) {
    if (t->tbl16.empty()) t->tbl16.assign(65536, t->default_class);
  }
  for (V6Table* t : {&rs.src6, &rs.dst6}) {
    if (t->entries.empty()) t->entries.push_back({rampart_fw_lpm6_key{}, t->default_class});
  }
  for (int f = 0; f < 2; ++f) {
    const V6Table& t = f == 0 ? rs.src6 : rs.dst6;
    for (uint32_t i = 0; i < t.entries.size(); ++i) {
      std::array<uint8_t, 16> a;
      std::copy_n(t.entries[i].key.addr, 16, a.begin());
      v6_index_[f][{a, static_cast<uint8_t>(t.entries[i].key.prefixlen)}] = i;
    }
  }
  const uint32_t nrules = rs.nrules;
  rs.rules.resize(size_t(w) * 64, rampart_fw_rule{});
  used_.assign(size_t(w) * 64, false);
  label_of_.reserve(nrules + 64);
  for (uint32_t i = 0; i < nrules; ++i) {
    used_[i] = true;
    label_of_[rs.rules[i].id] = i;
  }
  // Who names each class.
  refs_.assign(rs.nclasses, 0);
  for (const V4Table* t : {&rs.src4, &rs.dst4}) {
    ++refs_[t->default_class];
    for (uint32_t e : t->tbl16)
      if (!(e & kGroup)) ++refs_[e];
    for (uint32_t e : t->tbl8)
      if (!(e & kGroup)) ++refs_[e];
  }
  for (const V6Table* t : {&rs.src6, &rs.dst6}) {
    for (const auto& e : t->entries) ++refs_[e.cls];
  }
  for (const auto* t : {&rs.proto, &rs.sport, &rs.dport, &rs.vlan}) {
    for (uint32_t e : *t) ++refs_[e];
  }
  for (uint32_t c = 0; c < rs.nclasses; ++c) {
    if (!refs_[c]) free_.push_back(c);
  }
  rs_ = std::move(rs);
}

bool RuleTables::change(const Rule* before, const Rule* after) {
  if (broken_) return false;
  if (before && !before->enabled) before = nullptr;
  if (after && !after->enabled) after = nullptr;
  if (after) {
    if (auto why = validate(*after); !why.empty())
      throw CompileError("rule " + std::to_string(after->id) + ": " + why);
    if (!before && label_of_.count(after->id))
      throw CompileError("rule " + std::to_string(after->id) + ": duplicate id");
    if (!before && label_of_.size() + 1 > RAMPART_FW_MAX_RULES) {
      throw CompileError("too many enabled rules: " + std::to_string(label_of_.size() + 1) +
                         " (at most " + std::to_string(RAMPART_FW_MAX_RULES) + ")");
    }
    uint32_t fields = 0;
    if (after->src) fields |= 1u << RAMPART_FW_F_SRC;
    if (after->dst) fields |= 1u << RAMPART_FW_F_DST;
    if (after->protocol != kAnyProtocol || after->tcp_flags) fields |= 1u << RAMPART_FW_F_PROTO;
    if (after->src_port) fields |= 1u << RAMPART_FW_F_SPORT;
    if (after->dst_port) fields |= 1u << RAMPART_FW_F_DPORT;
    if (after->vlan_id) fields |= 1u << RAMPART_FW_F_VLAN;
    if (fields & ~rs_.fields_used) return !(broken_ = true);  // another program
  }
  if (before && !label_of_.count(before->id)) return !(broken_ = true);
  // Room first, so that a change that does not fit changes nothing the
  // live generations read (the caller rebuilds).
  uint32_t label = 0;
  if (after && !place(label)) return !(broken_ = true);
  changed_ = true;
  if (before) {
    remove(label_of_.at(before->id));
    // Its prefixes' counts; an IPv6 prefix no rule names any more leaves
    // with its position (until then live generations read its entry).
    for (const auto& [c, f] : {std::pair{before->src, 0}, std::pair{before->dst, 1}}) {
      if (!c) continue;
      if (c->family == 4) {
        --v4_prefixes_[f];
        continue;
      }
      const V6Key key{c->addr, c->prefix_len};
      if (--v6_uses_[f][key] > 0) continue;
      v6_uses_[f].erase(key);
      if (key.second == 0) continue;  // ::/0 stays
      letting_go_.prefixes.emplace_back(f, key);
      ++v6_retiring_[f][key];
    }
  }
  if (after && !add(*after, label)) return !(broken_ = true);
  refresh_set();
  return true;
}

// A position of the overflow no generation holds.
bool RuleTables::place(uint32_t& label) {
  const uint32_t end = cap_.nwords * 64;
  for (uint32_t p = end - RAMPART_FW_OVERFLOW_WORDS * 64; p < end; ++p) {
    if (!used_[p]) {
      label = p;
      return true;
    }
  }
  return false;
}

// Out of the next generation. Its bits, fw_rules entry and prefixes stay
// for the generations that hold it, until taken back.
void RuleTables::remove(uint32_t label) {
  rs_.live[label / 64] &= ~(1ull << (label % 64));
  label_of_.erase(rs_.rules[label].id);
  letting_go_.positions.push_back(label);
  moved_.push_back(label);
}

void RuleTables::take_back(const Retired& r) {
  const uint32_t w = cap_.nwords, ov = w - RAMPART_FW_OVERFLOW_WORDS;
  // Positions of the overflow: their bits cleared in every class, found
  // through each class's copy of its overflow words. A compiled position
  // is never placed again before the next whole compile, and no live row
  // names it: its bits stay where they are.
  std::array<uint64_t, RAMPART_FW_OVERFLOW_WORDS> clear{};
  bool any = false;
  for (uint32_t label : r.positions) {
    rs_.rules[label] = rampart_fw_rule{};
    touch(kArrays, label);
    moved_.push_back(label);
    used_[label] = false;
    if (label / 64 < ov) continue;
    clear[label / 64 - ov] |= 1ull << (label % 64);
    any = true;
  }
  for (uint32_t c = 0; any && c < rs_.nclasses; ++c) {
    for (uint32_t k = 0; k < RAMPART_FW_OVERFLOW_WORDS; ++k) {
      if (!(overflow_[c][k] & clear[k])) continue;
      overflow_[c][k] &= ~clear[k];
      rs_.bitmaps[size_t(c) * w + ov + k] = overflow_[c][k];
      touch_words(c, ov + k, 1);
    }
  }
  for (uint32_t c : r.classes) free_.push_back(c);
  // Prefixes no rule used when they retired, nor since: no live generation
  // holds a rule with them, so their entries' classes agree with their
  // ancestors' wherever a live generation looks.
  for (const auto& [f, key] : r.prefixes) {
    if (--v6_retiring_[f][key] > 0) continue;
    v6_retiring_[f].erase(key);
    if (v6_uses_[f].count(key)) continue;  // in use again
    const auto at = v6_index_[f].find(key);
    if (at == v6_index_[f].end()) continue;
    V6Table& t = v6(f == 0 ? ClassField::src6 : ClassField::dst6);
    const uint32_t i = at->second;
    release(t.entries[i].cls);
    v6_index_[f].erase(at);
    if (i + 1 != t.entries.size()) {
      t.entries[i] = t.entries.back();
      std::array<uint8_t, 16> a;
      std::copy_n(t.entries[i].key.addr, 16, a.begin());
      v6_index_[f][{a, static_cast<uint8_t>(t.entries[i].key.prefixlen)}] = i;
    }
    t.entries.pop_back();
    v6_dirty_[f] = true;
  }
}

bool RuleTables::add(const Rule& r, uint32_t label) {
  rs_.rules[label] = {r.id, static_cast<uint32_t>(r.action), rampart_fw_order(r.priority, r.id)};
  used_[label] = true;
  touch(kArrays, label);
  moved_.push_back(label);
  label_of_[r.id] = label;
  rs_.live[label / 64] |= 1ull << (label % 64);

  Takes takes[kClassFields];
  std::vector<Slot> slots[kClassFields];
  bool ok = true;
  auto address = [&](const std::optional<Cidr>& c, ClassField f4, ClassField f6) {
    const int i4 = static_cast<int>(f4), i6 = static_cast<int>(f6);
    if (!c) {
      takes[i4] = takes[i6] = Takes::all;
    } else if (c->family == 4) {
      takes[i4] = Takes::some;
      takes[i6] = Takes::none;
      ok = ok && slots_v4(f4, *c, slots[i4]);
      ++v4_prefixes_[f4 == ClassField::src4 ? 0 : 1];
    } else {
      takes[i4] = Takes::none;
      takes[i6] = Takes::some;
      ok = ok && slots_v6(f6, *c, slots[i6]);
      ++v6_uses_[f6 == ClassField::src6 ? 0 : 1][{c->addr, c->prefix_len}];
    }
  };
  address(r.src, ClassField::src4, ClassField::src6);
  address(r.dst, ClassField::dst4, ClassField::dst6);
  auto range = [&](ClassField f, Array a, const std::optional<PortRange>& p) {
    const int i = static_cast<int>(f);
    takes[i] = p ? Takes::some : Takes::all;
    if (p) slots_range(a, p->lo, p->hi, slots[i]);
  };
  range(ClassField::sport, kSport, r.src_port);
  range(ClassField::dport, kDport, r.dst_port);
  range(ClassField::vlan, kVlan,
        r.vlan_id ? std::optional(PortRange{*r.vlan_id, *r.vlan_id}) : std::nullopt);
  const int proto = static_cast<int>(ClassField::proto);
  takes[proto] = r.protocol == kAnyProtocol && !r.tcp_flags ? Takes::all : Takes::some;
  if (!r.tcp_flags && r.protocol != kAnyProtocol) {
    slots_range(kProto, uint32_t(r.protocol) << 8, uint32_t(r.protocol) << 8 | 0xff, slots[proto]);
  } else if (r.tcp_flags && (r.protocol == kAnyProtocol || r.protocol == 6)) {
    for (uint32_t f = 0; f < 256; ++f) {
      if ((f & r.tcp_flags->mask) == r.tcp_flags->value)
        slots[proto].push_back({&rs_.proto[6u << 8 | f], kProto, 6u << 8 | f});
    }
  }
  if (!ok) return false;

  // The fields it does not constrain: its bit in every class of theirs.
  for (uint32_t c = 0; c < rs_.nclasses; ++c) {
    if (refs_[c] && takes[rs_.class_field[c]] == Takes::all) set_bit(c, label);
  }
  for (int f = 0; f < kClassFields; ++f) {
    if (takes[f] == Takes::some && !split(static_cast<ClassField>(f), slots[f], label))
      return false;
  }
  return true;
}

void RuleTables::slots_range(Array a, uint32_t lo, uint32_t hi, std::vector<Slot>& out) {
  std::vector<uint32_t>& t = a == kProto   ? rs_.proto
                             : a == kSport ? rs_.sport
                             : a == kDport ? rs_.dport
                                           : rs_.vlan;
  for (uint32_t i = lo; i <= hi; ++i) out.push_back({&t[i], a, i});
}

// The group an IPv4 entry points to, made from its class if it is one
// (256 entries of that class) where the capacity has room.
void RuleTables::group_of(uint32_t* entry, Array at, uint32_t index, std::vector<uint32_t>& tbl8,
                          Array a8, bool& ok, uint32_t& group) {
  const uint32_t e = *entry;
  if (e & kGroup) {
    group = e & ~kGroup;
    return;
  }
  const uint32_t cap = a8 == kSrc8 ? cap_.src4_tbl8 : cap_.dst4_tbl8;
  if (tbl8.size() + 256 > cap) {
    ok = false;
    return;
  }
  group = static_cast<uint32_t>(tbl8.size() / 256);
  *entry = kGroup | group;  // before the resize: `entry` may be in tbl8
  touch(at, index);
  tbl8.resize(tbl8.size() + 256, e);
  refs_[e] += 255;
  for (uint32_t i = 0; i < 256; ++i) touch(a8, group * 256 + i);
}

bool RuleTables::slots_v4(ClassField f, const Cidr& c, std::vector<Slot>& out) {
  V4Table& t = v4(f);
  const Array a16 = f == ClassField::src4 ? kSrc16 : kDst16;
  const Array a8 = f == ClassField::src4 ? kSrc8 : kDst8;
  const uint32_t a = v4_value(c), len = c.prefix_len;
  // Every class entry under group g.
  auto leaves = [&](auto&& self, uint32_t g) -> void {
    for (uint32_t i = g * 256; i < g * 256 + 256; ++i) {
      if (t.tbl8[i] & kGroup)
        self(self, t.tbl8[i] & ~kGroup);
      else
        out.push_back({&t.tbl8[i], a8, i});
    }
  };
  if (len <= 16) {
    for (uint32_t i = a >> 16; i < (a >> 16) + (1u << (16 - len)); ++i) {
      if (t.tbl16[i] & kGroup)
        leaves(leaves, t.tbl16[i] & ~kGroup);
      else
        out.push_back({&t.tbl16[i], a16, i});
    }
    return true;
  }
  bool ok = true;
  uint32_t g = 0;
  group_of(&t.tbl16[a >> 16], a16, a >> 16, t.tbl8, a8, ok, g);
  if (!ok) return false;
  const uint32_t b = (a >> 8) & 0xff;
  if (len <= 24) {
    for (uint32_t i = g * 256 + b; i < g * 256 + b + (1u << (24 - len)); ++i) {
      if (t.tbl8[i] & kGroup)
        leaves(leaves, t.tbl8[i] & ~kGroup);
      else
        out.push_back({&t.tbl8[i], a8, i});
    }
    return true;
  }
  uint32_t g2 = 0;
  group_of(&t.tbl8[g * 256 + b], a8, g * 256 + b, t.tbl8, a8, ok, g2);
  if (!ok) return false;
  for (uint32_t i = g2 * 256 + (a & 0xff); i < g2 * 256 + (a & 0xff) + (1u << (32 - len)); ++i)
    out.push_back({&t.tbl8[i], a8, i});
  return true;
}

bool RuleTables::slots_v6(ClassField f, const Cidr& c, std::vector<Slot>& out) {
  V6Table& t = v6(f);
  const int fi = f == ClassField::src6 ? 0 : 1;
  auto& index = v6_index_[fi];
  const V6Key key{c.addr, c.prefix_len};
  if (!index.count(key)) {
    if (t.entries.size() + 1 > (fi == 0 ? cap_.src6 : cap_.dst6)) return false;
    // Its class so far: its longest listed ancestor's (::/0 at least).
    uint32_t cls = 0;
    for (int len = c.prefix_len - 1; len >= 0; --len) {
      const auto it = index.find({masked(c.addr, len), static_cast<uint8_t>(len)});
      if (it != index.end()) {
        cls = t.entries[it->second].cls;
        break;
      }
    }
    V6Entry e{};
    e.key.prefixlen = c.prefix_len;
    std::copy(c.addr.begin(), c.addr.end(), e.key.addr);
    e.cls = cls;
    ++refs_[cls];
    index[key] = static_cast<uint32_t>(t.entries.size());
    t.entries.push_back(e);
    v6_dirty_[fi] = true;
  }
  // The listed prefixes inside it, itself included.
  std::array<uint8_t, 16> last = c.addr;
  for (unsigned bit = c.prefix_len; bit < 128; ++bit) last[bit / 8] |= 0x80 >> (bit % 8);
  for (auto it = index.lower_bound({c.addr, 0}); it != index.end() && it->first.first <= last;
       ++it) {
    if (it->first.second >= c.prefix_len)
      out.push_back({&t.entries[it->second].cls, kArrays, it->second});
  }
  return true;
}

// The rule at `label` accepts the entries `slots` of field f: a class all
// of whose entries are among them takes the bit in place; one named also
// elsewhere is copied, the copy takes the bit and these entries.
bool RuleTables::split(ClassField f, const std::vector<Slot>& slots, uint32_t label) {
  std::unordered_map<uint32_t, uint32_t> named, moved;
  for (const auto& s : slots) ++named[*s.cls];
  for (const auto& [c, n] : named) {
    uint32_t to = c;
    if (n != refs_[c]) {
      if (!new_class(f, c, to)) return false;
      refs_[to] = n;
      refs_[c] -= n;
      moved[c] = to;
    }
    set_bit(to, label);
  }
  if (moved.empty()) return true;
  for (const auto& s : slots) {
    const auto it = moved.find(*s.cls);
    if (it == moved.end()) continue;
    *s.cls = it->second;
    if (s.table != kArrays)
      touch(s.table, s.index);
    else
      v6_dirty_[f == ClassField::src6 ? 0 : 1] = true;
  }
  return true;
}

bool RuleTables::new_class(ClassField f, uint32_t from, uint32_t& cls) {
  const uint32_t w = cap_.nwords;
  if (!free_.empty()) {
    cls = free_.back();
    free_.pop_back();
  } else if (rs_.nclasses < cap_.nclasses) {
    cls = rs_.nclasses++;
    rs_.bitmaps.resize(size_t(rs_.nclasses) * w);
    refs_.push_back(0);
    rs_.class_field.push_back(0);
    overflow_.emplace_back();
  } else {
    return false;
  }
  std::copy_n(rs_.bitmaps.begin() + size_t(from) * w, w, rs_.bitmaps.begin() + size_t(cls) * w);
  overflow_[cls] = overflow_[from];
  rs_.class_field[cls] = static_cast<uint8_t>(f);
  touch_words(cls, 0, w);
  return true;
}

// The rule at `label` in class `cls`.
void RuleTables::set_bit(uint32_t cls, uint32_t label) {
  const uint32_t w = cap_.nwords, word = label / 64, ov = w - RAMPART_FW_OVERFLOW_WORDS;
  const uint64_t bit = 1ull << (label % 64);
  rs_.bitmaps[size_t(cls) * w + word] |= bit;
  if (word >= ov) overflow_[cls][word - ov] |= bit;
  touch_words(cls, word, 1);
}

// Named by none: free once no packet can still have read an entry naming it.
void RuleTables::release(uint32_t cls) {
  if (--refs_[cls] == 0) letting_go_.classes.push_back(cls);
}

void RuleTables::touch_words(uint32_t cls, uint32_t first, uint32_t n) {
  dirty_words_.emplace_back(uint64_t(cls) * cap_.nwords + first, n);
}

// What fw_set says beyond the compiled positions (nrules and block_index
// stay: rules written since are in the overflow, ordered by rule).
void RuleTables::refresh_set() {
  rs_.src4.present = v4_prefixes_[0] > 0;
  rs_.dst4.present = v4_prefixes_[1] > 0;
  rs_.src6.present = !v6_uses_[0].empty();
  rs_.dst6.present = !v6_uses_[1].empty();
  const V6Key root{{}, 0};
  rs_.src6.default_class = rs_.src6.entries[v6_index_[0].at(root)].cls;
  rs_.dst6.default_class = rs_.dst6.entries[v6_index_[1].at(root)].cls;
}

uint64_t RuleTables::next_slot_ticket() const {
  return all_ ? 0 : slot_ticket_[(rs_.gen + 1) % RAMPART_FW_GENS];
}

void RuleTables::flip() {
  if (!changed_) return;
  changed_ = false;
  if (!all_) {  // written whole, the tables are generation 0 still
    left_ = rs_.gen;
    flipped_ = true;
    rs_.gen = (rs_.gen + 1) % RAMPART_FW_GENS;
    gen_dirty_ = true;
  }
  rs_.sets[rs_.gen] = set_of(rs_);
  std::copy(rs_.live.begin(), rs_.live.end(),
            rs_.live_gens.begin() + size_t(rs_.gen) * cap_.nwords);
}

void RuleTables::installed(uint64_t ticket) {
  if (flipped_) slot_ticket_[left_] = ticket;
  flipped_ = false;
  if (letting_go_.empty()) return;
  letting_go_.ticket = ticket;
  retired_.push_back(std::move(letting_go_));
  letting_go_ = {};
}

uint32_t RuleTables::id_at(uint32_t position) const {
  if (position >= positions() || !(rs_.live[position / 64] >> (position % 64) & 1)) return 0;
  return rs_.rules[position].id;
}

RuleTableChanges RuleTables::changes() const {
  RuleTableChanges c;
  c.all = all_;
  if (all_) return c;
  auto of = [&](Array a) { return ranges(dirty_[a], sizeof(uint32_t)); };
  c.src4_tbl16 = of(kSrc16);
  c.src4_tbl8 = of(kSrc8);
  c.dst4_tbl16 = of(kDst16);
  c.dst4_tbl8 = of(kDst8);
  c.proto = of(kProto);
  c.sport = of(kSport);
  c.dport = of(kDport);
  c.vlan = of(kVlan);
  c.rules = ranges(dirty_[kArrays], sizeof(rampart_fw_rule));
  auto words = dirty_words_;
  std::sort(words.begin(), words.end());
  for (const auto& [first, n] : words) {
    if (!c.bitmaps.empty() && first * 8 <= c.bitmaps.back().first + c.bitmaps.back().second) {
      auto& [off, len] = c.bitmaps.back();
      len = std::max(off + len, (first + n) * 8) - off;
    } else {
      c.bitmaps.emplace_back(first * 8, n * 8);
    }
  }
  c.src6 = v6_dirty_[0];
  c.dst6 = v6_dirty_[1];
  if (gen_dirty_) {
    const uint64_t g = rs_.gen, row = uint64_t(cap_.nwords) * 8;
    c.live = {{g * row, row}};
    c.set = {{g * sizeof(rampart_fw_set), sizeof(rampart_fw_set)}};
    c.gen = {{0, sizeof(uint32_t)}};
  }
  return c;
}

std::optional<std::vector<uint32_t>> RuleTables::moved() const {
  if (all_) return std::nullopt;
  std::vector<uint32_t> out = moved_;
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

void RuleTables::clear_changes() {
  all_ = false;
  moved_.clear();
  for (auto& d : dirty_) d.clear();
  dirty_words_.clear();
  v6_dirty_[0] = v6_dirty_[1] = false;
  gen_dirty_ = false;
}

}  // namespace rampart::firewall
