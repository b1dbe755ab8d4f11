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
  p.object = "xdp_firewall";
  p.program = "xdp_firewall";
  // A stage of the XDP chain, ahead of the engines that see only what the
  // firewall lets through; it keeps filtering while rampartd restarts.
  p.slot = kStageName;
  p.hook = RAMPART_PROGRAM_XDP;
  p.priority = kStagePriority;
  p.flags = RAMPART_PROGRAM_KEEP_ON_EXIT;
  for (const char* m : kPersistentMaps) p.maps.push_back(sdk::MapImage::persistent(m));
  p.set<uint32_t>("nwords", rs.nwords);
  p.set<uint32_t>("nrules", rs.nrules);
  p.set<uint32_t>("fields_used", rs.fields_used);
  p.set<uint32_t>("default_action", static_cast<uint32_t>(rs.default_action));
  p.set<uint32_t>("has_v4_src", rs.src4.present);
  p.set<uint32_t>("has_v4_dst", rs.dst4.present);
  p.set<uint32_t>("has_v6_src", rs.src6.present);
  p.set<uint32_t>("has_v6_dst", rs.dst6.present);
  p.set<uint32_t>("v4_src_default", rs.src4.default_class);
  p.set<uint32_t>("v4_dst_default", rs.dst4.default_class);
  p.set<uint32_t>("v6_src_default", rs.src6.default_class);
  p.set<uint32_t>("v6_dst_default", rs.dst6.default_class);

  p.maps.push_back(dense("fw_src4_tbl16", rs.src4.tbl16));
  p.maps.push_back(dense("fw_src4_tbl8", rs.src4.tbl8));
  p.maps.push_back(dense("fw_dst4_tbl16", rs.dst4.tbl16));
  p.maps.push_back(dense("fw_dst4_tbl8", rs.dst4.tbl8));
  p.maps.push_back(lpm("fw_src6", rs.src6));
  p.maps.push_back(lpm("fw_dst6", rs.dst6));
  p.maps.push_back(dense("fw_sport", rs.sport));
  p.maps.push_back(dense("fw_dport", rs.dport));
  p.maps.push_back(dense("fw_proto", rs.proto));
  p.maps.push_back(dense("fw_vlan", rs.vlan));
  sdk::MapImage bitmaps = dense("fw_bitmaps", rs.bitmaps);
  bitmaps.max_entries = std::max<uint32_t>(1, rs.nclasses);
  bitmaps.value_size = rs.nwords * 8;
  p.maps.push_back(std::move(bitmaps));
  p.maps.push_back(dense("fw_rules", rs.rules));
  sdk::MapImage hits;
  hits.name = "fw_hits";
  hits.max_entries = std::max<uint32_t>(1, rs.nrules);
  p.maps.push_back(std::move(hits));

  p.set<uint32_t>("block_index", rs.block_index);
  if (bl && bl->has_v4) {
    p.set<uint32_t>("block_v4", 1);
    p.maps.push_back(dense("fw_block4_any", bl->any));
    p.maps.push_back(dense("fw_block4_l1", bl->l1));
    p.maps.push_back(dense("fw_block4_tbl8", bl->tbl8));
  }
  if (bl && !bl->v6.empty()) {
    std::array<uint8_t, RAMPART_FW_BLOCK6_LENS> lens{};
    std::copy(bl->v6_lens.begin(), bl->v6_lens.end(), lens.begin());
    p.set<uint32_t>("block6_nlens", static_cast<uint32_t>(bl->v6_lens.size()));
    p.set("block6_lens", lens);
    sdk::MapImage m;
    m.name = "fw_block6";
    m.max_entries = static_cast<uint32_t>(bl->v6.size());
    for (const auto& k : bl->v6) m.add(k, uint8_t{1});
    p.maps.push_back(std::move(m));
  }
  return p;
}

}  // namespace rampart::firewall
