// SPDX-License-Identifier: Apache-2.0
#include "alerts/alert.hpp"

#include <rampart/sdk/plugin.hpp>

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <ctime>

namespace rampart::alerts {
namespace {

std::string copy_str(const rampart_str& s) {
  return s.ptr ? std::string(s.ptr, s.len) : std::string();
}
rampart_str view(const std::string& s) { return rampart_str{s.data(), s.size()}; }

void fill(rampart_alert_enrichment& out, const Enrichment& e) {
  out.struct_size = sizeof(out);
  out.asn = e.asn;
  out.country = view(e.country);
  out.city = view(e.city);
  out.as_org = view(e.as_org);
  out.name = view(e.name);
  out.reputation = e.reputation;
}

Poco::JSON::Object::Ptr enrichment_json(const Enrichment& e) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  if (!e.country.empty()) o->set("country", e.country);
  if (!e.city.empty()) o->set("city", e.city);
  if (e.asn) o->set("asn", e.asn);
  if (!e.as_org.empty()) o->set("as_org", e.as_org);
  if (!e.name.empty()) o->set("name", e.name);
  if (e.reputation >= 0) o->set("reputation", e.reputation);
  return o;
}

}  // namespace

AlertRecord AlertRecord::from_abi(const rampart_alert& a) {
  AlertRecord r;
  if (a.struct_size < RAMPART_FIELD_END(rampart_alert, message))
    return r;  // smaller than v1.0: nothing usable
  r.severity = std::min<uint32_t>(a.severity, RAMPART_SEVERITY_CRITICAL);
  r.action = a.action == RAMPART_ALERT_ACTION_BLOCK ? RAMPART_ALERT_ACTION_BLOCK
                                                    : RAMPART_ALERT_ACTION_ALERT;
  r.ip_family = (a.ip_family == 4 || a.ip_family == 6) ? a.ip_family : 0;
  r.protocol = a.protocol;
  r.vlan_id = a.vlan_id;
  std::memcpy(r.src_addr.data(), a.src_addr, 16);
  std::memcpy(r.dst_addr.data(), a.dst_addr, 16);
  r.src_port = a.src_port;
  r.dst_port = a.dst_port;
  r.time_ns = a.time_ns;
  r.rule_id = copy_str(a.rule_id);
  r.message = copy_str(a.message);
  if (RAMPART_HAS_FIELD(&a, rampart_alert, mitre_tactic)) {
    r.technique_id = copy_str(a.mitre_technique_id);
    r.technique_name = copy_str(a.mitre_technique_name);
    r.tactic = copy_str(a.mitre_tactic);
  }
  return r;
}

std::string AlertRecord::src_ip() const { return sdk::address_text(ip_family, src_addr.data()); }
std::string AlertRecord::dst_ip() const { return sdk::address_text(ip_family, dst_addr.data()); }

AlertView::AlertView(const AlertRecord& r) {
  rampart_alert& a = alert_;
  a.struct_size = sizeof(a);
  a.severity = r.severity;
  a.action = r.action;
  a.ip_family = r.ip_family;
  a.protocol = r.protocol;
  a.vlan_id = r.vlan_id;
  std::memcpy(a.src_addr, r.src_addr.data(), 16);
  std::memcpy(a.dst_addr, r.dst_addr.data(), 16);
  a.src_port = r.src_port;
  a.dst_port = r.dst_port;
  a.time_ns = r.time_ns;
  a.id = view(r.id);
  a.component = view(r.component);
  a.rule_id = view(r.rule_id);
  a.message = view(r.message);
  a.mitre_technique_id = view(r.technique_id);
  a.mitre_technique_name = view(r.technique_name);
  a.mitre_tactic = view(r.tactic);
  a.suppressed = r.suppressed;
  if (!r.src_info.empty()) {
    fill(src_, r.src_info);
    a.src_info = &src_;
  }
  if (!r.dst_info.empty()) {
    fill(dst_, r.dst_info);
    a.dst_info = &dst_;
  }
}

bool parse_severity(const std::string& text, uint32_t& out) {
  for (uint32_t i = 0; i <= RAMPART_SEVERITY_CRITICAL; ++i) {
    if (text == sdk::severity_name(i)) {
      out = i;
      return true;
    }
  }
  return false;
}

Poco::JSON::Object::Ptr to_json(const AlertRecord& r) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  o->set("id", r.id);
  o->set("time", sdk::rfc3339(r.time_ns));
  o->set("time_ns", r.time_ns);
  o->set("component", r.component);
  o->set("severity", std::string(sdk::severity_name(r.severity)));
  o->set("action", r.action == RAMPART_ALERT_ACTION_BLOCK ? "block" : "alert");
  o->set("rule_id", r.rule_id);
  o->set("message", r.message);
  if (r.ip_family) {
    o->set("src_ip", r.src_ip());
    o->set("dst_ip", r.dst_ip());
    o->set("src_port", r.src_port);
    o->set("dst_port", r.dst_port);
    o->set("protocol", r.protocol);
  }
  if (r.vlan_id) o->set("vlan_id", r.vlan_id);
  if (!r.technique_id.empty() || !r.tactic.empty()) {
    Poco::JSON::Object::Ptr m = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    m->set("technique_id", r.technique_id);
    m->set("technique_name", r.technique_name);
    m->set("tactic", r.tactic);
    o->set("mitre", m);
  }
  if (r.suppressed) o->set("suppressed", r.suppressed);
  if (!r.suppressed_by.empty()) o->set("suppressed_by", r.suppressed_by);
  if (!r.src_info.empty()) o->set("src_geo", enrichment_json(r.src_info));
  if (!r.dst_info.empty()) o->set("dst_geo", enrichment_json(r.dst_info));
  return o;
}

}  // namespace rampart::alerts
