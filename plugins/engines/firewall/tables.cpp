// SPDX-License-Identifier: Apache-2.0
#include "tables.hpp"

#include <cstring>

namespace rampart::firewall {
namespace {

template <class T>
std::vector<uint8_t> bytes(const T& v) {
  std::vector<uint8_t> out(sizeof(T));
  std::memcpy(out.data(), &v, sizeof(T));
  return out;
}

template <class T>
MapImage dense(const std::string& name, const std::vector<T>& values) {
  MapImage m;
  m.name = name;
  // A map needs one entry at least; an empty table is never read.
  m.max_entries = std::max<uint32_t>(1, static_cast<uint32_t>(values.size()));
  m.dense.resize(values.size() * sizeof(T));
  if (!values.empty()) std::memcpy(m.dense.data(), values.data(), m.dense.size());
  return m;
}

MapImage lpm(const std::string& name, const V6Table& t) {
  MapImage m;
  m.name = name;
  m.max_entries = std::max<uint32_t>(1, static_cast<uint32_t>(t.entries.size()));
  for (const auto& e : t.entries) m.entries.emplace_back(bytes(e.key), bytes(e.cls));
  return m;
}

}  // namespace

TableSet to_tables(const CompiledRuleset& rs) {
  TableSet t;
  auto set = [&](const char* name, uint32_t v) { t.settings[name] = bytes(v); };
  set("nwords", rs.nwords);
  set("nrules", rs.nrules);
  set("fields_used", rs.fields_used);
  set("default_action", static_cast<uint32_t>(rs.default_action));
  set("has_v4_src", rs.src4.present);
  set("has_v4_dst", rs.dst4.present);
  set("has_v6_src", rs.src6.present);
  set("has_v6_dst", rs.dst6.present);
  set("v4_src_default", rs.src4.default_class);
  set("v4_dst_default", rs.dst4.default_class);
  set("v6_src_default", rs.src6.default_class);
  set("v6_dst_default", rs.dst6.default_class);

  t.maps.push_back(dense("fw_src4_tbl16", rs.src4.tbl16));
  t.maps.push_back(dense("fw_src4_tbl8", rs.src4.tbl8));
  t.maps.push_back(dense("fw_dst4_tbl16", rs.dst4.tbl16));
  t.maps.push_back(dense("fw_dst4_tbl8", rs.dst4.tbl8));
  t.maps.push_back(lpm("fw_src6", rs.src6));
  t.maps.push_back(lpm("fw_dst6", rs.dst6));
  t.maps.push_back(dense("fw_sport", rs.sport));
  t.maps.push_back(dense("fw_dport", rs.dport));
  t.maps.push_back(dense("fw_proto", rs.proto));
  t.maps.push_back(dense("fw_vlan", rs.vlan));
  MapImage bitmaps = dense("fw_bitmaps", rs.bitmaps);
  bitmaps.max_entries = std::max<uint32_t>(1, rs.nclasses);
  bitmaps.value_size = rs.nwords * 8;
  t.maps.push_back(std::move(bitmaps));
  t.maps.push_back(dense("fw_rules", rs.rules));
  MapImage hits;
  hits.name = "fw_hits";
  hits.max_entries = std::max<uint32_t>(1, rs.nrules);
  t.maps.push_back(std::move(hits));
  return t;
}

}  // namespace rampart::firewall
