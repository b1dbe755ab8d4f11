// SPDX-License-Identifier: Apache-2.0
#include "tables.hpp"

#include <algorithm>
#include <array>
#include <map>

namespace rampart::firewall {
namespace {

// A table of `capacity` entries (at least one, and at least the values'),
// its values read in place from the compiled set or blocklist, which
// outlive the install: megabytes not copied per rule change.
template <class T>
sdk::MapImage borrowed(const std::string& name, const std::vector<T>& values,
                       uint32_t capacity = 0) {
  sdk::MapImage m;
  m.name = name;
  m.max_entries = std::max({1u, capacity, static_cast<uint32_t>(values.size())});
  m.borrow_dense(values);
  return m;
}

// The same, its values copied (built here, gone when this returns).
template <class T>
sdk::MapImage dense(const std::string& name, const std::vector<T>& values, uint32_t capacity = 0) {
  sdk::MapImage m = borrowed(name, values, capacity);
  m.set_dense(values);
  return m;
}

sdk::MapImage lpm(const std::string& name, const V6Table& t, uint32_t capacity) {
  sdk::MapImage m;
  m.name = name;
  m.max_entries = std::max({1u, capacity, static_cast<uint32_t>(t.entries.size())});
  for (const auto& e : t.entries) m.add(e.key, e.cls);
  return m;
}

uint32_t pow2_at_least(uint32_t n, uint32_t floor) {
  uint32_t p = floor;
  while (p < n) p *= 2;
  return p;
}

// The current size while `need` fits it and is at least a quarter of it;
// else a power of two with half as much again as `need` of room, so that
// the writes that follow keep the shape.
uint32_t keep_or_grow(uint32_t current, uint32_t need, uint32_t floor) {
  if (current >= need && current >= floor && current / 4 <= std::max(need, floor)) return current;
  return pow2_at_least(need + need / 2, floor);
}

}  // namespace

TableCapacity TableCapacity::fit(const CompiledRuleset& rs) const {
  TableCapacity c;
  c.nwords = std::min<uint32_t>(keep_or_grow(nwords, rs.nwords, 4), RAMPART_FW_MAX_WORDS);
  // Floors: a few KiB each, room for the first dozens of rules.
  c.nclasses = keep_or_grow(nclasses, rs.nclasses, 64);
  c.src4_tbl8 = keep_or_grow(src4_tbl8, static_cast<uint32_t>(rs.src4.tbl8.size()), 4096);
  c.dst4_tbl8 = keep_or_grow(dst4_tbl8, static_cast<uint32_t>(rs.dst4.tbl8.size()), 4096);
  c.src6 = keep_or_grow(src6, static_cast<uint32_t>(rs.src6.entries.size()), 64);
  c.dst6 = keep_or_grow(dst6, static_cast<uint32_t>(rs.dst6.entries.size()), 64);
  return c;
}

uint32_t TableCapacity::kept_words(uint32_t nrules) const {
  const uint32_t need = words_for(nrules);
  return nwords && keep_or_grow(nwords, need, 4) == nwords ? nwords : 0;
}

bool TableCapacity::holds(const CompiledRuleset& rs) const {
  return rs.nwords <= nwords && rs.nclasses <= nclasses && rs.src4.tbl8.size() <= src4_tbl8 &&
         rs.dst4.tbl8.size() <= dst4_tbl8 && rs.src6.entries.size() <= src6 &&
         rs.dst6.entries.size() <= dst6;
}

TableCapacity TableCapacity::ahead(const TableCapacity& used) const {
  // Half full: twice the size (at least what fit() gives `use`).
  const auto next = [](uint32_t current, uint32_t use, uint32_t floor) {
    if (use <= current / 2) return current;
    return std::max(current * 2, pow2_at_least(use + use / 2, floor));
  };
  TableCapacity c;
  c.nwords = std::min<uint32_t>(next(nwords, used.nwords, 4), RAMPART_FW_MAX_WORDS);
  c.nclasses = next(nclasses, used.nclasses, 64);
  c.src4_tbl8 = next(src4_tbl8, used.src4_tbl8, 4096);
  c.dst4_tbl8 = next(dst4_tbl8, used.dst4_tbl8, 4096);
  c.src6 = next(src6, used.src6, 64);
  c.dst6 = next(dst6, used.dst6, 64);
  return c;
}

void list_changes(sdk::ProgramImage& image, const RuleTableChanges* rules,
                  const Blocklist::Changes* bl) {
  using Ranges = std::vector<std::pair<uint64_t, uint64_t>>;
  static const Ranges none;
  const bool listed = bl && !bl->all;
  const bool known = rules && !rules->all;
  // Each map's list, or null: not listed (compared whole). The hit
  // counters are never listed.
  const std::map<std::string, const Ranges*> lists = {
      {RAMPART_NAME(RAMPART_FW_MAP_BLOCK4_ANY), listed ? &bl->any : nullptr},
      {RAMPART_NAME(RAMPART_FW_MAP_BLOCK4_L1), listed ? &bl->l1 : nullptr},
      {RAMPART_NAME(RAMPART_FW_MAP_BLOCK4_TBL8), listed ? &bl->tbl8 : nullptr},
      {RAMPART_NAME(RAMPART_FW_MAP_BLOCK6), listed && !bl->v6 ? &none : nullptr},
      {RAMPART_NAME(RAMPART_FW_MAP_SRC4_TBL16), known ? &rules->src4_tbl16 : nullptr},
      {RAMPART_NAME(RAMPART_FW_MAP_SRC4_TBL8), known ? &rules->src4_tbl8 : nullptr},
      {RAMPART_NAME(RAMPART_FW_MAP_DST4_TBL16), known ? &rules->dst4_tbl16 : nullptr},
      {RAMPART_NAME(RAMPART_FW_MAP_DST4_TBL8), known ? &rules->dst4_tbl8 : nullptr},
      {RAMPART_NAME(RAMPART_FW_MAP_SRC6), known && !rules->src6 ? &none : nullptr},
      {RAMPART_NAME(RAMPART_FW_MAP_DST6), known && !rules->dst6 ? &none : nullptr},
      {RAMPART_NAME(RAMPART_FW_MAP_SPORT), known ? &rules->sport : nullptr},
      {RAMPART_NAME(RAMPART_FW_MAP_DPORT), known ? &rules->dport : nullptr},
      {RAMPART_NAME(RAMPART_FW_MAP_PROTO), known ? &rules->proto : nullptr},
      {RAMPART_NAME(RAMPART_FW_MAP_VLAN), known ? &rules->vlan : nullptr},
      {RAMPART_NAME(RAMPART_FW_MAP_BITMAPS), known ? &rules->bitmaps : nullptr},
      {RAMPART_NAME(RAMPART_FW_MAP_RULES), known ? &rules->rules : nullptr},
      {RAMPART_NAME(RAMPART_FW_MAP_LIVE), known ? &rules->live : nullptr},
      {RAMPART_NAME(RAMPART_FW_MAP_SET), known ? &rules->set : nullptr},
      {RAMPART_NAME(RAMPART_FW_MAP_GEN), known ? &rules->gen : nullptr},
  };
  for (auto& m : image.maps) {
    if (m.flags & RAMPART_MAP_PERSISTENT) continue;
    const auto it = lists.find(m.name);
    if (it != lists.end() && it->second) m.list_changes(*it->second);
  }
}

bool writable_in_place(const RuleTableChanges& rules, const Blocklist::Changes* blocklist) {
  return !rules.all && (!blocklist || (!blocklist->all && !blocklist->v6));
}

sdk::ProgramImage to_program_image(const CompiledRuleset& rs, const CompiledBlocklist* bl,
                                   const TableCapacity& want, std::vector<uint64_t>* scratch) {
  // At least what the set needs, whatever was asked.
  return program_image_at(rs, bl, want.fit(rs), scratch);
}

sdk::ProgramImage program_image_at(const CompiledRuleset& rs, const CompiledBlocklist* bl,
                                   const TableCapacity& cap, std::vector<uint64_t>* scratch) {
  sdk::ProgramImage p;
  p.object = RAMPART_NAME(RAMPART_FW_OBJECT);
  p.program = RAMPART_NAME(RAMPART_FW_PROGRAM);
  // A stage of the XDP chain, ahead of the engines that see only what the
  // firewall lets through; it keeps filtering while rampartd restarts.
  p.slot = kStageName;
  p.hook = RAMPART_PROGRAM_XDP;
  p.priority = kStagePriority;
  p.flags = RAMPART_PROGRAM_KEEP_ON_EXIT;
  for (const char* m : kPersistentMaps) p.maps.push_back(sdk::MapImage::persistent(m));
  // The program's settings: its shape, with the capacity.
  p.set<uint32_t>(RAMPART_NAME(RAMPART_FW_SET_NWORDS), cap.nwords);
  p.set<uint32_t>(RAMPART_NAME(RAMPART_FW_SET_FIELDS_USED), rs.fields_used);
  // The maps in the order a write in place must reach the kernel
  // (RAMPART_PROGRAM_IN_PLACE): what no live generation reads yet (class
  // rows, positions, the next generation's fw_set entry and fw_live row),
  // then the table entries that name new classes (groups before the
  // entries that point to them), last fw_gen, which makes it current.
  //
  // Each class's bitmap padded from the set's words to the capacity's (the
  // classes past the set's are left to the host: zeros); read in place
  // when they are that wide already.
  std::vector<uint64_t> local;
  std::vector<uint64_t>& words = scratch ? *scratch : local;
  const bool wide = rs.nwords == cap.nwords;
  if (!wide) {
    words.resize(size_t(rs.nclasses) * cap.nwords);
    for (uint32_t c = 0; c < rs.nclasses; ++c) {
      const auto from = rs.bitmaps.begin() + size_t(c) * rs.nwords;
      const auto to = words.begin() + size_t(c) * cap.nwords;
      std::copy_n(from, rs.nwords, to);
      std::fill(to + rs.nwords, to + cap.nwords, 0);
    }
  }
  sdk::MapImage bitmaps = wide      ? borrowed(RAMPART_NAME(RAMPART_FW_MAP_BITMAPS), rs.bitmaps)
                          : scratch ? borrowed(RAMPART_NAME(RAMPART_FW_MAP_BITMAPS), words)
                                    : dense(RAMPART_NAME(RAMPART_FW_MAP_BITMAPS), words);
  bitmaps.value_size = cap.nwords * 8;
  bitmaps.max_entries = cap.nclasses;
  p.maps.push_back(std::move(bitmaps));
  p.maps.push_back(borrowed(RAMPART_NAME(RAMPART_FW_MAP_RULES), rs.rules, cap.nwords * 64));
  // Generations: RuleTables keeps every slot as the kernel has it; a set
  // compiled alone is generation 0.
  sdk::MapImage live;
  if (wide && !rs.live_gens.empty()) {
    live = borrowed(RAMPART_NAME(RAMPART_FW_MAP_LIVE), rs.live_gens);
  } else {
    std::vector<uint64_t> rows(size_t(RAMPART_FW_GENS) * cap.nwords, 0);
    std::copy_n(rs.live.begin(), std::min<size_t>(rs.live.size(), cap.nwords), rows.begin());
    live = dense(RAMPART_NAME(RAMPART_FW_MAP_LIVE), rows);
  }
  live.value_size = cap.nwords * 8;
  live.max_entries = RAMPART_FW_GENS;
  p.maps.push_back(std::move(live));
  if (rs.sets.size() == RAMPART_FW_GENS) {
    p.maps.push_back(borrowed(RAMPART_NAME(RAMPART_FW_MAP_SET), rs.sets));
  } else {
    std::vector<rampart_fw_set> sets(RAMPART_FW_GENS, rampart_fw_set{});
    sets[0] = set_of(rs);
    p.maps.push_back(dense(RAMPART_NAME(RAMPART_FW_MAP_SET), sets));
  }

  // A level-16 table as soon as the field is in use, whether or not IPv4
  // prefixes are listed today (fw_set says whether to look).
  // (RuleTables keeps every level-16 table filled; an unused one is not
  // the program's.)
  static const std::vector<uint32_t> unused;
  const auto tbl16 = [&](int field, const V4Table& t) {
    return borrowed(field == RAMPART_FW_F_SRC ? RAMPART_NAME(RAMPART_FW_MAP_SRC4_TBL16)
                                              : RAMPART_NAME(RAMPART_FW_MAP_DST4_TBL16),
                    rs.fields_used & (1u << field) ? t.tbl16 : unused,
                    rs.fields_used & (1u << field) ? 65536u : 1u);
  };
  p.maps.push_back(borrowed(RAMPART_NAME(RAMPART_FW_MAP_SRC4_TBL8), rs.src4.tbl8, cap.src4_tbl8));
  p.maps.push_back(tbl16(RAMPART_FW_F_SRC, rs.src4));
  p.maps.push_back(borrowed(RAMPART_NAME(RAMPART_FW_MAP_DST4_TBL8), rs.dst4.tbl8, cap.dst4_tbl8));
  p.maps.push_back(tbl16(RAMPART_FW_F_DST, rs.dst4));
  p.maps.push_back(lpm(RAMPART_NAME(RAMPART_FW_MAP_SRC6), rs.src6, cap.src6));
  p.maps.push_back(lpm(RAMPART_NAME(RAMPART_FW_MAP_DST6), rs.dst6, cap.dst6));
  p.maps.push_back(borrowed(RAMPART_NAME(RAMPART_FW_MAP_SPORT), rs.sport, RAMPART_FW_PORT_ENTRIES));
  p.maps.push_back(borrowed(RAMPART_NAME(RAMPART_FW_MAP_DPORT), rs.dport, RAMPART_FW_PORT_ENTRIES));
  p.maps.push_back(
      borrowed(RAMPART_NAME(RAMPART_FW_MAP_PROTO), rs.proto, RAMPART_FW_PROTO_ENTRIES));
  p.maps.push_back(borrowed(RAMPART_NAME(RAMPART_FW_MAP_VLAN), rs.vlan, RAMPART_FW_VLAN_ENTRIES));

  if (bl && bl->has_v4) {
    p.set<uint32_t>(RAMPART_NAME(RAMPART_FW_SET_BLOCK_V4), 1);
    // New blocks, then the entries that point to them, then the bits
    // that send packets there (Blocklist).
    p.maps.push_back(borrowed(RAMPART_NAME(RAMPART_FW_MAP_BLOCK4_TBL8), bl->tbl8,
                              static_cast<uint32_t>(bl->tbl8_capacity)));
    p.maps.push_back(borrowed(RAMPART_NAME(RAMPART_FW_MAP_BLOCK4_L1), bl->l1));
    p.maps.push_back(borrowed(RAMPART_NAME(RAMPART_FW_MAP_BLOCK4_ANY), bl->any));
  }
  if (bl && !bl->v6.empty()) {
    std::array<uint8_t, RAMPART_FW_BLOCK6_LENS> lens{};
    std::copy(bl->v6_lens.begin(), bl->v6_lens.end(), lens.begin());
    p.set<uint32_t>(RAMPART_NAME(RAMPART_FW_SET_BLOCK6_NLENS),
                    static_cast<uint32_t>(bl->v6_lens.size()));
    p.set(RAMPART_NAME(RAMPART_FW_SET_BLOCK6_LENS), lens);
    sdk::MapImage m;
    m.name = RAMPART_NAME(RAMPART_FW_MAP_BLOCK6);
    m.max_entries = static_cast<uint32_t>(bl->v6.size());
    for (const auto& k : bl->v6) m.add(k, uint8_t{1});
    p.maps.push_back(std::move(m));
  }
  p.maps.push_back(dense(RAMPART_NAME(RAMPART_FW_MAP_GEN), std::vector<uint32_t>{rs.gen}));
  return p;
}

}  // namespace rampart::firewall
