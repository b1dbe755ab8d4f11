// SPDX-License-Identifier: Apache-2.0
#include "tables.hpp"

#include <array>

namespace rampart::firewall {
namespace {

template <class T>
sdk::MapImage dense(const std::string& name, const std::vector<T>& values) {
  sdk::MapImage m;
  m.name = name;
  // A map needs one entry at least; an empty table is never read.
  m.max_entries = std::max<uint32_t>(1, static_cast<uint32_t>(values.size()));
  m.set_dense(values);
  return m;
}

sdk::MapImage lpm(const std::string& name, const V6Table& t) {
  sdk::MapImage m;
  m.name = name;
  m.max_entries = std::max<uint32_t>(1, static_cast<uint32_t>(t.entries.size()));
  for (const auto& e : t.entries) m.add(e.key, e.cls);
  return m;
}

}  // namespace

sdk::ProgramImage to_program_image(const CompiledRuleset& rs, const CompiledBlocklist* bl) {
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
  p.set<uint32_t>(RAMPART_NAME(RAMPART_FW_SET_NWORDS), rs.nwords);
  p.set<uint32_t>(RAMPART_NAME(RAMPART_FW_SET_NRULES), rs.nrules);
  p.set<uint32_t>(RAMPART_NAME(RAMPART_FW_SET_FIELDS_USED), rs.fields_used);
  p.set<uint32_t>(RAMPART_NAME(RAMPART_FW_SET_DEFAULT_ACTION),
                  static_cast<uint32_t>(rs.default_action));
  p.set<uint32_t>(RAMPART_NAME(RAMPART_FW_SET_HAS_V4_SRC), rs.src4.present);
  p.set<uint32_t>(RAMPART_NAME(RAMPART_FW_SET_HAS_V4_DST), rs.dst4.present);
  p.set<uint32_t>(RAMPART_NAME(RAMPART_FW_SET_HAS_V6_SRC), rs.src6.present);
  p.set<uint32_t>(RAMPART_NAME(RAMPART_FW_SET_HAS_V6_DST), rs.dst6.present);
  p.set<uint32_t>(RAMPART_NAME(RAMPART_FW_SET_V4_SRC_DEFAULT), rs.src4.default_class);
  p.set<uint32_t>(RAMPART_NAME(RAMPART_FW_SET_V4_DST_DEFAULT), rs.dst4.default_class);
  p.set<uint32_t>(RAMPART_NAME(RAMPART_FW_SET_V6_SRC_DEFAULT), rs.src6.default_class);
  p.set<uint32_t>(RAMPART_NAME(RAMPART_FW_SET_V6_DST_DEFAULT), rs.dst6.default_class);

  p.maps.push_back(dense(RAMPART_NAME(RAMPART_FW_MAP_SRC4_TBL16), rs.src4.tbl16));
  p.maps.push_back(dense(RAMPART_NAME(RAMPART_FW_MAP_SRC4_TBL8), rs.src4.tbl8));
  p.maps.push_back(dense(RAMPART_NAME(RAMPART_FW_MAP_DST4_TBL16), rs.dst4.tbl16));
  p.maps.push_back(dense(RAMPART_NAME(RAMPART_FW_MAP_DST4_TBL8), rs.dst4.tbl8));
  p.maps.push_back(lpm(RAMPART_NAME(RAMPART_FW_MAP_SRC6), rs.src6));
  p.maps.push_back(lpm(RAMPART_NAME(RAMPART_FW_MAP_DST6), rs.dst6));
  p.maps.push_back(dense(RAMPART_NAME(RAMPART_FW_MAP_SPORT), rs.sport));
  p.maps.push_back(dense(RAMPART_NAME(RAMPART_FW_MAP_DPORT), rs.dport));
  p.maps.push_back(dense(RAMPART_NAME(RAMPART_FW_MAP_PROTO), rs.proto));
  p.maps.push_back(dense(RAMPART_NAME(RAMPART_FW_MAP_VLAN), rs.vlan));
  sdk::MapImage bitmaps = dense(RAMPART_NAME(RAMPART_FW_MAP_BITMAPS), rs.bitmaps);
  bitmaps.max_entries = std::max<uint32_t>(1, rs.nclasses);
  bitmaps.value_size = rs.nwords * 8;
  p.maps.push_back(std::move(bitmaps));
  p.maps.push_back(dense(RAMPART_NAME(RAMPART_FW_MAP_RULES), rs.rules));
  sdk::MapImage hits;
  hits.name = RAMPART_NAME(RAMPART_FW_MAP_HITS);
  hits.max_entries = std::max<uint32_t>(1, rs.nrules);
  p.maps.push_back(std::move(hits));

  p.set<uint32_t>(RAMPART_NAME(RAMPART_FW_SET_BLOCK_INDEX), rs.block_index);
  if (bl && bl->has_v4) {
    p.set<uint32_t>(RAMPART_NAME(RAMPART_FW_SET_BLOCK_V4), 1);
    p.maps.push_back(dense(RAMPART_NAME(RAMPART_FW_MAP_BLOCK4_ANY), bl->any));
    p.maps.push_back(dense(RAMPART_NAME(RAMPART_FW_MAP_BLOCK4_L1), bl->l1));
    p.maps.push_back(dense(RAMPART_NAME(RAMPART_FW_MAP_BLOCK4_TBL8), bl->tbl8));
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
  return p;
}

}  // namespace rampart::firewall
