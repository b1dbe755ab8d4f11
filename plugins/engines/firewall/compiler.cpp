// SPDX-License-Identifier: Apache-2.0
#include "compiler.hpp"

#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <unordered_map>

namespace rampart::firewall {
namespace {

using Bitmap = std::vector<uint64_t>;

void set_bit(Bitmap& b, uint32_t i) { b[i / 64] |= 1ull << (i % 64); }

// A bitmap's hash: the XOR of a fixed random word per set bit (Zobrist
// hashing), so a sweep that flips one rule's bit between two intervals
// updates it at once instead of hashing the whole bitmap again (at 4,096
// rules a compile interns ~16,000 bitmaps of 544 bytes).
uint64_t bit_word(uint64_t i) {
  uint64_t z = (i + 1) * 0x9e3779b97f4a7c15ull;  // splitmix64
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
uint64_t hash_of(const Bitmap& b) {
  uint64_t h = 0;
  for (size_t w = 0; w < b.size(); ++w) {
    for (uint64_t bits = b[w]; bits; bits &= bits - 1)
      h ^= bit_word(w * 64 + static_cast<uint64_t>(__builtin_ctzll(bits)));
  }
  return h;
}

// A bitmap swept across intervals, with its hash kept up to date.
struct SweptBitmap {
  Bitmap bits;
  uint64_t hash;
  explicit SweptBitmap(const Bitmap& start) : bits(start), hash(hash_of(start)) {}
  void set(uint32_t i, bool on) {
    const uint64_t m = 1ull << (i % 64);
    if (((bits[i / 64] & m) != 0) == on) return;
    bits[i / 64] ^= m;
    hash ^= bit_word(i);
  }
};

// Interns bitmaps: equal bitmaps share one class across all fields.
// Per field (ClassField) when `per_field`: a class then belongs to one
// field's tables, which lets RuleTables change it in place.
class ClassPool {
 public:
  ClassPool(bool per_field, std::vector<uint64_t> buffer, size_t reserve_words)
      : per_field_(per_field), storage_(std::move(buffer)) {
    storage_.clear();
    storage_.reserve(reserve_words);
  }
  void field(ClassField f) { field_ = f; }
  uint32_t intern(const Bitmap& b) { return intern(b, hash_of(b)); }
  // `hash`: hash_of(b), kept by the caller. One bitmap in several fields
  // (per_field) is several classes under one hash, told apart by owner.
  uint32_t intern(const Bitmap& b, uint64_t hash) {
    const auto [first, last] = ids_.equal_range(hash);
    for (auto it = first; it != last; ++it) {
      const uint32_t id = it->second;
      if ((!per_field_ || owner_[id] == static_cast<uint8_t>(field_)) &&
          std::equal(b.begin(), b.end(), storage_.begin() + size_t(id) * b.size()))
        return id;
    }
    const uint32_t id = size_++;
    ids_.emplace(hash, id);
    storage_.insert(storage_.end(), b.begin(), b.end());
    if (per_field_) owner_.push_back(static_cast<uint8_t>(field_));
    return id;
  }
  uint32_t size() const { return size_; }
  std::vector<uint64_t> take() { return std::move(storage_); }
  std::vector<uint8_t> take_owners() { return std::move(owner_); }

 private:
  bool per_field_;
  ClassField field_ = ClassField::src4;
  uint32_t size_ = 0;
  std::unordered_multimap<uint64_t, uint32_t> ids_;  // hash -> classes
  std::vector<uint64_t> storage_;                    // size_ bitmaps, one after another
  std::vector<uint8_t> owner_;
};

// Elementary intervals of an integer domain [0, size): each rule accepts
// [lo, hi] or everything. Returns, per domain value, its class.
std::vector<uint32_t> classify_domain(
    uint64_t size, const Bitmap& always,
    const std::vector<std::pair<uint32_t, PortRange>>& constrained, ClassPool& pool) {
  // value -> rules starting / ending (exclusive) there
  std::map<uint64_t, std::vector<std::pair<uint32_t, bool>>> edges;
  edges[0];
  for (const auto& [rule, r] : constrained) {
    edges[r.lo].push_back({rule, true});
    edges[uint64_t(r.hi) + 1].push_back({rule, false});
  }
  std::vector<uint32_t> out(size);
  SweptBitmap cur(always);
  for (auto it = edges.begin(); it != edges.end() && it->first < size; ++it) {
    for (const auto& [rule, start] : it->second) cur.set(rule, start);
    const uint32_t cls = pool.intern(cur.bits, cur.hash);
    const uint64_t end =
        std::next(it) == edges.end() ? size : std::min<uint64_t>(std::next(it)->first, size);
    std::fill(out.begin() + it->first, out.begin() + end, cls);
  }
  return out;
}

uint32_t v4_value(const std::array<uint8_t, 16>& a) {
  return uint32_t(a[0]) << 24 | uint32_t(a[1]) << 16 | uint32_t(a[2]) << 8 | a[3];
}

// IPv4: sweep the prefixes as intervals, then lay the result out as
// DIR-16-8-8 (rampart/firewall.h).
V4Table build_v4(const Bitmap& always, const std::vector<std::pair<uint32_t, Cidr>>& prefixes,
                 ClassPool& pool) {
  V4Table t;
  if (prefixes.empty()) {
    t.default_class = pool.intern(always);
    return t;
  }
  t.present = true;
  std::map<uint64_t, std::vector<std::pair<uint32_t, bool>>> edges;
  edges[0];
  for (const auto& [rule, c] : prefixes) {
    const uint64_t lo = v4_value(c.addr);
    const uint64_t span = uint64_t(1) << (32 - c.prefix_len);
    edges[lo].push_back({rule, true});
    edges[lo + span].push_back({rule, false});
  }
  std::vector<uint32_t> starts, classes;
  SweptBitmap cur(always);
  for (const auto& [at, changes] : edges) {
    if (at > 0xffffffffull) break;
    for (const auto& [rule, start] : changes) cur.set(rule, start);
    starts.push_back(static_cast<uint32_t>(at));
    classes.push_back(pool.intern(cur.bits, cur.hash));
  }
  auto index_of = [&](uint32_t a) {
    return static_cast<size_t>(std::upper_bound(starts.begin(), starts.end(), a) - starts.begin() -
                               1);
  };
  // True when [lo, hi] lies inside one interval; sets cls.
  auto uniform = [&](uint32_t lo, uint32_t hi, uint32_t& cls) {
    const size_t i = index_of(lo);
    cls = classes[i];
    return i + 1 == starts.size() || starts[i + 1] > hi;
  };
  t.tbl16.resize(65536);
  for (uint32_t b16 = 0; b16 < 65536; ++b16) {
    const uint32_t lo = b16 << 16;
    uint32_t cls;
    if (uniform(lo, lo | 0xffff, cls)) {
      t.tbl16[b16] = cls;
      continue;
    }
    const uint32_t g = static_cast<uint32_t>(t.tbl8.size() / 256);
    t.tbl16[b16] = RAMPART_FW_V4_GROUP | g;
    t.tbl8.resize(t.tbl8.size() + 256);
    for (uint32_t b8 = 0; b8 < 256; ++b8) {
      const uint32_t lo2 = lo | b8 << 8;
      if (uniform(lo2, lo2 | 0xff, cls)) {
        t.tbl8[g * 256 + b8] = cls;
        continue;
      }
      const uint32_t g2 = static_cast<uint32_t>(t.tbl8.size() / 256);
      t.tbl8[g * 256 + b8] = RAMPART_FW_V4_GROUP | g2;
      t.tbl8.resize(t.tbl8.size() + 256);
      for (uint32_t b = 0; b < 256; ++b) t.tbl8[g2 * 256 + b] = classes[index_of(lo2 | b)];
    }
  }
  return t;
}

// IPv6: an LPM entry per distinct prefix; the class of prefix P is every rule
// whose prefix contains P (they are all prefixes of P) plus the wildcards.
V6Table build_v6(const Bitmap& always, const std::vector<std::pair<uint32_t, Cidr>>& prefixes,
                 ClassPool& pool) {
  V6Table t;
  t.default_class = pool.intern(always);
  if (prefixes.empty()) return t;
  t.present = true;
  std::map<std::pair<std::array<uint8_t, 16>, uint8_t>, std::vector<uint32_t>> by_prefix;
  for (const auto& [rule, c] : prefixes) by_prefix[{c.addr, c.prefix_len}].push_back(rule);
  by_prefix[{{}, 0}];  // ::/0 so every address finds an entry
  for (const auto& [p, own] : by_prefix) {
    Bitmap b = always;
    Cidr self{6, p.first, p.second};
    for (uint8_t len = 0; len <= p.second; ++len) {
      Cidr anc = self;
      anc.prefix_len = len;
      for (unsigned bit = len; bit < 128; ++bit) anc.addr[bit / 8] &= ~(0x80 >> (bit % 8));
      const auto it = by_prefix.find({anc.addr, len});
      if (it != by_prefix.end()) {
        for (uint32_t r : it->second) set_bit(b, r);
      }
    }
    V6Entry e{};
    e.key.prefixlen = p.second;
    std::memcpy(e.key.addr, p.first.data(), 16);
    e.cls = pool.intern(b);
    t.entries.push_back(e);
  }
  return t;
}

bool flags_match(const Rule& r, uint8_t flags) {
  return !r.tcp_flags || (flags & r.tcp_flags->mask) == r.tcp_flags->value;
}

bool rule_matches(const Rule& r, const PacketFields& p) {
  auto addr_ok = [&](const std::optional<Cidr>& c, const std::array<uint8_t, 16>& a) {
    if (!c) return true;
    if (c->family != p.family) return false;
    Cidr host{p.family, a, static_cast<uint8_t>(p.family == 4 ? 32 : 128)};
    return c->contains(host);
  };
  auto port_ok = [&](const std::optional<PortRange>& pr, uint16_t v) {
    return !pr || (p.has_ports && v >= pr->lo && v <= pr->hi);
  };
  return addr_ok(r.src, p.src) && addr_ok(r.dst, p.dst) &&
         (r.protocol == kAnyProtocol || r.protocol == p.protocol) &&
         (!r.tcp_flags || (p.protocol == 6 && flags_match(r, p.tcp_flags))) &&
         port_ok(r.src_port, p.src_port) && port_ok(r.dst_port, p.dst_port) &&
         (!r.vlan_id || *r.vlan_id == p.vlan_id);
}

}  // namespace

std::vector<Rule> priority_order(const std::vector<Rule>& rules) {
  std::vector<Rule> out;
  for (const auto& r : rules) {
    if (r.enabled) out.push_back(r);
  }
  std::stable_sort(out.begin(), out.end(), [](const Rule& a, const Rule& b) {
    return a.priority != b.priority ? a.priority < b.priority : a.id < b.id;
  });
  return out;
}

uint32_t words_for(uint32_t nrules) {
  return std::max<uint32_t>(2, ((nrules + 127) / 128) * 2) + RAMPART_FW_OVERFLOW_WORDS;
}

CompiledRuleset compile(const std::vector<Rule>& all, Action default_action,
                        int32_t blocklist_priority, bool per_field_classes, CompileRoom room) {
  std::set<uint32_t> ids;
  for (const auto& r : all) {
    if (auto why = validate(r); !why.empty()) {
      throw CompileError("rule " + std::to_string(r.id) + ": " + why);
    }
    if (!ids.insert(r.id).second)
      throw CompileError("rule " + std::to_string(r.id) + ": duplicate id");
  }
  const std::vector<Rule> rules = priority_order(all);
  if (rules.size() > RAMPART_FW_MAX_RULES) {
    throw CompileError("too many enabled rules: " + std::to_string(rules.size()) + " (at most " +
                       std::to_string(RAMPART_FW_MAX_RULES) + ")");
  }
  CompiledRuleset rs;
  rs.default_action = default_action;
  rs.nrules = static_cast<uint32_t>(rules.size());
  rs.block_index = static_cast<uint32_t>(std::count_if(
      rules.begin(), rules.end(), [&](const Rule& r) { return r.priority < blocklist_priority; }));
  rs.block_order = rampart_fw_order(blocklist_priority, 0);
  rs.nwords = words_for(rs.nrules);
  if (room.row_words > rs.nwords && room.row_words % 2 == 0 &&
      room.row_words <= RAMPART_FW_MAX_WORDS)
    rs.nwords = room.row_words;
  ClassPool pool(per_field_classes, std::move(room.buffer), size_t(room.classes) * rs.nwords);
  const Bitmap empty(rs.nwords, 0);

  // Per field: the rules without a constraint on it (in every class), and
  // the constrained ones.
  Bitmap any_src4 = empty, any_src6 = empty, any_dst4 = empty, any_dst6 = empty;
  Bitmap any_sport = empty, any_dport = empty, any_vlan = empty;
  std::vector<std::pair<uint32_t, Cidr>> src4, src6, dst4, dst6;
  std::vector<std::pair<uint32_t, PortRange>> sports, dports, vlans;
  for (uint32_t i = 0; i < rs.nrules; ++i) {
    const Rule& r = rules[i];
    rs.rules.push_back({r.id, static_cast<uint32_t>(r.action), rampart_fw_order(r.priority, r.id)});
    // An address constraint of one family excludes the other family.
    if (!r.src) {
      set_bit(any_src4, i);
      set_bit(any_src6, i);
    } else {
      (r.src->family == 4 ? src4 : src6).push_back({i, *r.src});
      rs.fields_used |= 1u << RAMPART_FW_F_SRC;
    }
    if (!r.dst) {
      set_bit(any_dst4, i);
      set_bit(any_dst6, i);
    } else {
      (r.dst->family == 4 ? dst4 : dst6).push_back({i, *r.dst});
      rs.fields_used |= 1u << RAMPART_FW_F_DST;
    }
    if (r.src_port) {
      sports.push_back({i, *r.src_port});
      rs.fields_used |= 1u << RAMPART_FW_F_SPORT;
    } else {
      set_bit(any_sport, i);
    }
    if (r.dst_port) {
      dports.push_back({i, *r.dst_port});
      rs.fields_used |= 1u << RAMPART_FW_F_DPORT;
    } else {
      set_bit(any_dport, i);
    }
    if (r.vlan_id) {
      vlans.push_back({i, PortRange{*r.vlan_id, *r.vlan_id}});
      rs.fields_used |= 1u << RAMPART_FW_F_VLAN;
    } else {
      set_bit(any_vlan, i);
    }
    if (r.protocol != kAnyProtocol || r.tcp_flags) rs.fields_used |= 1u << RAMPART_FW_F_PROTO;
  }

  pool.field(ClassField::src4);
  rs.src4 = build_v4(any_src4, src4, pool);
  pool.field(ClassField::dst4);
  rs.dst4 = build_v4(any_dst4, dst4, pool);
  pool.field(ClassField::src6);
  rs.src6 = build_v6(any_src6, src6, pool);
  pool.field(ClassField::dst6);
  rs.dst6 = build_v6(any_dst6, dst6, pool);

  // Ports: 65536 values plus the "no ports" entry, which only rules
  // without a port constraint accept.
  pool.field(ClassField::sport);
  rs.sport = classify_domain(65536, any_sport, sports, pool);
  rs.sport.push_back(pool.intern(any_sport));
  pool.field(ClassField::dport);
  rs.dport = classify_domain(65536, any_dport, dports, pool);
  rs.dport.push_back(pool.intern(any_dport));
  pool.field(ClassField::vlan);
  rs.vlan = classify_domain(RAMPART_FW_VLAN_ENTRIES, any_vlan, vlans, pool);

  // Protocol and TCP flags: key proto << 8 | flags. Flags matter for TCP only.
  pool.field(ClassField::proto);
  rs.proto.assign(RAMPART_FW_PROTO_ENTRIES, 0);
  for (uint32_t proto = 0; proto < 256; ++proto) {
    auto bitmap_for = [&](uint8_t flags) {
      Bitmap b = empty;
      for (uint32_t i = 0; i < rs.nrules; ++i) {
        const Rule& r = rules[i];
        if ((r.protocol == kAnyProtocol || r.protocol == static_cast<int>(proto)) &&
            (!r.tcp_flags || (proto == 6 && flags_match(r, flags)))) {
          set_bit(b, i);
        }
      }
      return b;
    };
    if (proto == 6) {
      for (uint32_t f = 0; f < 256; ++f) rs.proto[proto << 8 | f] = pool.intern(bitmap_for(f));
    } else {
      const uint32_t cls = pool.intern(bitmap_for(0));
      std::fill(rs.proto.begin() + (proto << 8), rs.proto.begin() + (proto << 8) + 256, cls);
    }
  }

  rs.live.assign(rs.nwords, 0);
  for (uint32_t i = 0; i < rs.nrules; ++i) rs.live[i / 64] |= 1ull << (i % 64);
  rs.nclasses = pool.size();
  rs.bitmaps = pool.take();
  rs.class_field = pool.take_owners();
  return rs;
}

rampart_fw_set set_of(const CompiledRuleset& rs) {
  rampart_fw_set set{};
  set.nrules = rs.nrules;
  set.default_action = static_cast<uint32_t>(rs.default_action);
  set.block_index = rs.block_index;
  set.block_order = rs.block_order;
  const uint32_t ov = rs.nwords - RAMPART_FW_OVERFLOW_WORDS;
  for (uint32_t w = ov; w < rs.nwords && w < rs.live.size(); ++w) {
    for (uint64_t m = rs.live[w]; m; m &= m - 1) {
      const uint32_t at = w * 64 + static_cast<uint32_t>(__builtin_ctzll(m));
      if (at < rs.rules.size() && rs.rules[at].order < rs.block_order) ++set.overflow_first;
    }
  }
  set.has_v4_src = rs.src4.present;
  set.has_v4_dst = rs.dst4.present;
  set.has_v6_src = rs.src6.present;
  set.has_v6_dst = rs.dst6.present;
  set.v4_src_default = rs.src4.default_class;
  set.v4_dst_default = rs.dst4.default_class;
  set.v6_src_default = rs.src6.default_class;
  set.v6_dst_default = rs.dst6.default_class;
  return set;
}

namespace {

// classify() with the generation's view: which address tables to look in,
// their defaults, and the positions it holds.
uint32_t classify_as(const CompiledRuleset& rs, const PacketFields& p, const rampart_fw_set& set,
                     const uint64_t* live) {
  auto bitmap = [&](uint32_t cls) { return &rs.bitmaps.at(size_t(cls) * rs.nwords); };
  auto v4 = [&](const V4Table& t, bool present, uint32_t default_class,
                const std::array<uint8_t, 16>& a) {
    if (!present) return default_class;
    const uint32_t x = v4_value(a);
    uint32_t e = t.tbl16.at(x >> 16);
    if (e & RAMPART_FW_V4_GROUP)
      e = t.tbl8.at((e & ~RAMPART_FW_V4_GROUP) * 256 + ((x >> 8) & 0xff));
    if (e & RAMPART_FW_V4_GROUP) e = t.tbl8.at((e & ~RAMPART_FW_V4_GROUP) * 256 + (x & 0xff));
    return e;
  };
  auto v6 = [&](const V6Table& t, bool present, uint32_t default_class,
                const std::array<uint8_t, 16>& a) {
    if (!present) return default_class;
    int best = -1;
    uint32_t cls = default_class;
    for (const auto& e : t.entries) {
      Cidr c{6, {}, static_cast<uint8_t>(e.key.prefixlen)};
      std::memcpy(c.addr.data(), e.key.addr, 16);
      if (c.contains(Cidr{6, a, 128}) && int(e.key.prefixlen) > best) {
        best = e.key.prefixlen;
        cls = e.cls;
      }
    }
    return cls;
  };
  std::vector<const uint64_t*> maps;
  if (rs.fields_used & (1u << RAMPART_FW_F_SRC))
    maps.push_back(bitmap(p.family == 4 ? v4(rs.src4, set.has_v4_src, set.v4_src_default, p.src)
                                        : v6(rs.src6, set.has_v6_src, set.v6_src_default, p.src)));
  if (rs.fields_used & (1u << RAMPART_FW_F_DST))
    maps.push_back(bitmap(p.family == 4 ? v4(rs.dst4, set.has_v4_dst, set.v4_dst_default, p.dst)
                                        : v6(rs.dst6, set.has_v6_dst, set.v6_dst_default, p.dst)));
  if (rs.fields_used & (1u << RAMPART_FW_F_PROTO))
    maps.push_back(bitmap(rs.proto.at(uint32_t(p.protocol) << 8 | p.tcp_flags)));
  if (rs.fields_used & (1u << RAMPART_FW_F_SPORT))
    maps.push_back(bitmap(rs.sport.at(p.has_ports ? p.src_port : RAMPART_FW_PORT_NONE)));
  if (rs.fields_used & (1u << RAMPART_FW_F_DPORT))
    maps.push_back(bitmap(rs.dport.at(p.has_ports ? p.dst_port : RAMPART_FW_PORT_NONE)));
  if (rs.fields_used & (1u << RAMPART_FW_F_VLAN)) maps.push_back(bitmap(rs.vlan.at(p.vlan_id)));
  auto word = [&](uint32_t w) {
    uint64_t m = live[w];
    for (const auto* b : maps) m &= b[w];
    return m;
  };
  // The compiled positions in order, then the overflow by order.
  const uint32_t ov = rs.nwords - RAMPART_FW_OVERFLOW_WORDS;
  uint32_t best = kNoRule;
  for (uint32_t w = 0; w < ov && w * 64 < set.nrules; ++w) {
    if (const uint64_t m = word(w)) {
      const uint32_t at = w * 64 + static_cast<uint32_t>(__builtin_ctzll(m));
      if (at < set.nrules) best = at;
      break;
    }
  }
  for (uint32_t w = ov; w < rs.nwords; ++w) {
    for (uint64_t m = word(w); m; m &= m - 1) {
      const uint32_t at = w * 64 + static_cast<uint32_t>(__builtin_ctzll(m));
      if (best == kNoRule || rs.rules.at(at).order < rs.rules.at(best).order) best = at;
    }
  }
  return best;
}

}  // namespace

uint32_t classify(const CompiledRuleset& rs, const PacketFields& p) {
  return classify_as(rs, p, set_of(rs), rs.live.data());
}

uint32_t classify(const CompiledRuleset& rs, const PacketFields& p, uint32_t gen) {
  return classify_as(rs, p, rs.sets.at(gen), &rs.live_gens.at(size_t(gen) * rs.nwords));
}

uint32_t classify_linear(const std::vector<Rule>& rules, const PacketFields& p) {
  for (uint32_t i = 0; i < rules.size(); ++i) {
    if (rule_matches(rules[i], p)) return i;
  }
  return kNoRule;
}

}  // namespace rampart::firewall
