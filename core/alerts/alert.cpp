// SPDX-License-Identifier: Apache-2.0
#include "alerts/alert.hpp"

#include <rampart/sdk/plugin.hpp>

#include <Poco/Base64Decoder.h>
#include <Poco/JSON/Parser.h>

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <iterator>
#include <sstream>
#include <stdexcept>

namespace rampart::alerts {
namespace {

std::string copy_str(const rampart_str& s, size_t max = SIZE_MAX) {
  return s.ptr ? std::string(s.ptr, std::min(s.len, max)) : std::string();
}

// A name-like 1.12 field (category, app_proto, match_buffer) kept whole up
// to this; an engine's runaway string cannot grow every stored alert.
constexpr size_t kNameMax = 128;
constexpr size_t kSignatureMax = 1024;  // a rule's name (msg)
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

Enrichment enrichment_from(const Poco::JSON::Object::Ptr& o) {
  Enrichment e;
  if (!o) return e;
  e.country = o->optValue<std::string>("country", "");
  e.city = o->optValue<std::string>("city", "");
  e.asn = o->optValue<uint32_t>("asn", 0);
  e.as_org = o->optValue<std::string>("as_org", "");
  e.name = o->optValue<std::string>("name", "");
  e.reputation = o->optValue<int32_t>("reputation", -1);
  return e;
}

std::string unbase64(const std::string& text) {  // throws Poco::DataFormatException
  std::istringstream in(text);
  Poco::Base64Decoder dec(in);
  return std::string(std::istreambuf_iterator<char>(dec), {});
}

// An engine's context_json if it is a JSON object within the bound; ""
// otherwise (the alert is kept without it).
std::string checked_context(const rampart_str& s) {
  if (!s.ptr || s.len == 0 || s.len > RAMPART_ALERT_CONTEXT_MAX) return "";
  try {
    const auto v = Poco::JSON::Parser().parse(std::string(s.ptr, s.len));
    if (v.type() == typeid(Poco::JSON::Object::Ptr)) return std::string(s.ptr, s.len);
  } catch (const Poco::Exception&) {
  }
  return "";
}

// An address as to_json printed it, into `out`; its family (4 or 6).
uint8_t parse_address(const std::string& text, std::array<uint8_t, 16>& out) {
  if (inet_pton(AF_INET, text.c_str(), out.data()) == 1) return 4;
  if (inet_pton(AF_INET6, text.c_str(), out.data()) == 1) return 6;
  throw std::invalid_argument("not an address: '" + text + "'");
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
  if (a.struct_size >= RAMPART_FIELD_END(rampart_alert, mitre_tactic)) {
    r.technique_id = copy_str(a.mitre_technique_id);
    r.technique_name = copy_str(a.mitre_technique_name);
    r.tactic = copy_str(a.mitre_tactic);
  }
  if (a.struct_size >= RAMPART_FIELD_END(rampart_alert, match_excerpt)) {
    r.signature_id = a.signature_id;
    r.signature_rev = a.signature_rev;
    r.signature = copy_str(a.signature, kSignatureMax);
    r.category = copy_str(a.category, kNameMax);
    r.flow_id = a.flow_id;
    r.app_proto = copy_str(a.app_proto, kNameMax);
    r.match_buffer = copy_str(a.match_buffer, kNameMax);
    r.match_offset = r.match_buffer.empty() ? 0 : a.match_offset;
    r.match_excerpt = copy_str(a.match_excerpt, RAMPART_ALERT_EXCERPT_MAX);
    r.context = checked_context(a.context_json);
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
  sdk::set_signature(a, {r.signature_id, r.signature_rev, r.signature, r.category, r.flow_id,
                         r.app_proto, r.match_buffer, r.match_offset, r.match_excerpt, r.context});
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
  if (r.signature_id || !r.signature.empty() || !r.category.empty()) {
    Poco::JSON::Object::Ptr sig = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    sig->set("id", r.signature_id);
    sig->set("rev", r.signature_rev);
    sig->set("name", r.signature);
    sig->set("category", r.category);
    o->set("signature", sig);
  }
  if (r.flow_id) o->set("flow_id", r.flow_id);
  if (!r.app_proto.empty()) o->set("app_proto", r.app_proto);
  if (!r.match_buffer.empty() || !r.match_excerpt.empty()) {
    Poco::JSON::Object::Ptr m = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    m->set("buffer", r.match_buffer);
    m->set("offset", r.match_offset);
    m->set("excerpt_base64", sdk::base64(r.match_excerpt));
    o->set("match", m);
  }
  if (!r.context.empty())
    o->set("context", Poco::JSON::Parser().parse(r.context).extract<Poco::JSON::Object::Ptr>());
  if (r.suppressed) o->set("suppressed", r.suppressed);
  if (!r.suppressed_by.empty()) o->set("suppressed_by", r.suppressed_by);
  if (!r.src_info.empty()) o->set("src_geo", enrichment_json(r.src_info));
  if (!r.dst_info.empty()) o->set("dst_geo", enrichment_json(r.dst_info));
  return o;
}

AlertRecord from_json(const std::string& text) {
  Poco::JSON::Object::Ptr o;
  try {
    o = Poco::JSON::Parser().parse(text).extract<Poco::JSON::Object::Ptr>();
  } catch (const Poco::Exception& e) {
    throw std::invalid_argument("not an alert: " + e.displayText());
  }
  if (!o || !o->has("id")) throw std::invalid_argument("not an alert: no id");
  AlertRecord r;
  try {
    r.id = o->getValue<std::string>("id");
    r.time_ns = o->getValue<uint64_t>("time_ns");
    r.component = o->getValue<std::string>("component");
    if (!parse_severity(o->getValue<std::string>("severity"), r.severity))
      throw std::invalid_argument("unknown severity");
    r.action = o->optValue<std::string>("action", "alert") == "block" ? RAMPART_ALERT_ACTION_BLOCK
                                                                      : RAMPART_ALERT_ACTION_ALERT;
    r.rule_id = o->optValue<std::string>("rule_id", "");
    r.message = o->optValue<std::string>("message", "");
    if (o->has("src_ip")) {
      r.ip_family = parse_address(o->getValue<std::string>("src_ip"), r.src_addr);
      parse_address(o->getValue<std::string>("dst_ip"), r.dst_addr);
      r.src_port = o->getValue<uint16_t>("src_port");
      r.dst_port = o->getValue<uint16_t>("dst_port");
      r.protocol = o->getValue<uint8_t>("protocol");
    }
    r.vlan_id = o->optValue<uint16_t>("vlan_id", 0);
    if (const auto m = o->getObject("mitre")) {
      r.technique_id = m->optValue<std::string>("technique_id", "");
      r.technique_name = m->optValue<std::string>("technique_name", "");
      r.tactic = m->optValue<std::string>("tactic", "");
    }
    r.suppressed = o->optValue<uint32_t>("suppressed", 0);
    r.suppressed_by = o->optValue<std::string>("suppressed_by", "");
    r.src_info = enrichment_from(o->getObject("src_geo"));
    r.dst_info = enrichment_from(o->getObject("dst_geo"));
    if (const auto sig = o->getObject("signature")) {
      r.signature_id = sig->optValue<uint32_t>("id", 0);
      r.signature_rev = sig->optValue<uint32_t>("rev", 0);
      r.signature = sig->optValue<std::string>("name", "");
      r.category = sig->optValue<std::string>("category", "");
    }
    r.flow_id = o->optValue<uint64_t>("flow_id", 0);
    r.app_proto = o->optValue<std::string>("app_proto", "");
    if (const auto m = o->getObject("match")) {
      r.match_buffer = m->optValue<std::string>("buffer", "");
      r.match_offset = m->optValue<uint32_t>("offset", 0);
      r.match_excerpt = unbase64(m->optValue<std::string>("excerpt_base64", ""));
    }
    if (const auto c = o->getObject("context")) {
      std::ostringstream text;
      c->stringify(text);
      r.context = text.str();
    }
  } catch (const Poco::Exception& e) {
    throw std::invalid_argument("alert " + r.id + ": " + e.displayText());
  }
  return r;
}

}  // namespace rampart::alerts
