// SPDX-License-Identifier: Apache-2.0
#include "alert_json.hpp"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <arpa/inet.h>

#include <ctime>
#include <sstream>
#include <vector>

namespace rampart::sender {
namespace {

using sdk::Alert;

std::string text(std::string_view s) { return valid_utf8(s); }

// The enrichment fields that are known, as an object; null if none is.
Poco::JSON::Object::Ptr geo(const rampart_alert_enrichment* e) {
  if (e == nullptr) return nullptr;
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  const auto str = [&](const char* key, const rampart_str& s) {
    if (s.ptr != nullptr && s.len > 0) o->set(key, text(Alert::view(s)));
  };
  if (RAMPART_HAS_FIELD(e, rampart_alert_enrichment, country)) str("country", e->country);
  if (RAMPART_HAS_FIELD(e, rampart_alert_enrichment, city)) str("city", e->city);
  if (RAMPART_HAS_FIELD(e, rampart_alert_enrichment, asn) && e->asn != 0) o->set("asn", e->asn);
  if (RAMPART_HAS_FIELD(e, rampart_alert_enrichment, as_org)) str("as_org", e->as_org);
  if (RAMPART_HAS_FIELD(e, rampart_alert_enrichment, name)) str("name", e->name);
  if (RAMPART_HAS_FIELD(e, rampart_alert_enrichment, reputation) && e->reputation >= 0)
    o->set("reputation", e->reputation);
  return o->size() > 0 ? o : nullptr;
}

using Obj = Poco::JSON::Object::Ptr;
Obj object() { return new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER); }

Obj mitre_of(const Alert& alert) {
  if (alert.technique_id().empty() && alert.technique_name().empty() && alert.tactic().empty())
    return nullptr;
  Obj mitre = object();
  if (!alert.technique_id().empty()) mitre->set("technique_id", text(alert.technique_id()));
  if (!alert.technique_name().empty()) mitre->set("technique_name", text(alert.technique_name()));
  if (!alert.tactic().empty()) mitre->set("tactic", text(alert.tactic()));
  return mitre;
}

Obj match_of(const Alert& alert) {
  if (alert.match_buffer().empty() && alert.match_excerpt().empty()) return nullptr;
  Obj m = object();
  m->set("buffer", text(alert.match_buffer()));
  m->set("offset", alert.match_offset());
  m->set("excerpt_base64", sdk::base64(alert.match_excerpt()));
  return m;
}

std::string line_of(const Poco::JSON::Object& obj) {
  std::ostringstream os;
  obj.stringify(os);
  return os.str();
}

// EVE's "proto": the name Suricata prints for the IP protocol.
std::string eve_proto(uint8_t p) {
  switch (p) {
    case 6:
      return "TCP";
    case 17:
      return "UDP";
    case 1:
      return "ICMP";
    case 58:
      return "IPv6-ICMP";
    case 132:
      return "SCTP";
    default:
      return std::to_string(p);
  }
}

// EVE's timestamp: local-offset form, here always UTC ("+0000").
std::string eve_time(uint64_t time_ns) {
  std::string t = sdk::rfc3339(time_ns);  // "...T12:00:00.123456Z"
  t.pop_back();
  return t + "+0000";
}

}  // namespace

Poco::JSON::Object::Ptr context_of(const Alert& alert) {
  if (alert.context_json().empty()) return nullptr;
  try {
    return Poco::JSON::Parser()
        .parse(valid_utf8(alert.context_json()))
        .extract<Poco::JSON::Object::Ptr>();
  } catch (const Poco::Exception&) {
    return nullptr;  // (the host passes only objects it parsed)
  }
}

std::string_view action_name(uint32_t action) {
  return action == RAMPART_ALERT_ACTION_BLOCK ? "block" : "alert";
}

std::string alert_json(const Alert& alert) {
  const rampart_alert& a = *alert.raw;
  Poco::JSON::Object obj(Poco::JSON_PRESERVE_KEY_ORDER);
  obj.set("timestamp", sdk::rfc3339(a.time_ns));
  obj.set("timestamp_ns", a.time_ns);
  obj.set("event_type", "alert");
  obj.set("alert_id", text(alert.id()));
  obj.set("component", text(alert.component()));
  obj.set("severity", std::string(sdk::severity_name(a.severity)));
  obj.set("action", std::string(action_name(a.action)));
  obj.set("rule_id", text(alert.rule_id()));
  obj.set("message", text(alert.message()));
  if (a.ip_family == 4 || a.ip_family == 6) {
    obj.set("src_ip", alert.src_ip());
    obj.set("dst_ip", alert.dst_ip());
    obj.set("src_port", static_cast<unsigned>(a.src_port));
    obj.set("dst_port", static_cast<unsigned>(a.dst_port));
    obj.set("proto", static_cast<unsigned>(a.protocol));
  }
  if (a.vlan_id != 0) obj.set("vlan_id", static_cast<unsigned>(a.vlan_id));
  if (auto mitre = mitre_of(alert)) obj.set("mitre", mitre);
  if (alert.signature_id() != 0 || !alert.signature().empty() || !alert.category().empty()) {
    Poco::JSON::Object::Ptr sig = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    sig->set("id", alert.signature_id());
    sig->set("rev", alert.signature_rev());
    sig->set("name", text(alert.signature()));
    sig->set("category", text(alert.category()));
    obj.set("signature", sig);
  }
  if (alert.flow_id() != 0) obj.set("flow_id", alert.flow_id());
  if (!alert.app_proto().empty()) obj.set("app_proto", text(alert.app_proto()));
  if (auto m = match_of(alert)) obj.set("match", m);
  if (auto c = context_of(alert)) obj.set("context", c);
  if (alert.suppressed() > 0) obj.set("suppressed", alert.suppressed());
  if (auto g = geo(alert.src_info())) obj.set("src_geo", g);
  if (auto g = geo(alert.dst_info())) obj.set("dst_geo", g);
  return line_of(obj);
}

std::string eve_json(const Alert& alert) {
  const rampart_alert& a = *alert.raw;
  Poco::JSON::Object obj(Poco::JSON_PRESERVE_KEY_ORDER);
  obj.set("timestamp", eve_time(a.time_ns));
  if (alert.flow_id() != 0) obj.set("flow_id", alert.flow_id());
  obj.set("event_type", "alert");
  if (a.ip_family == 4 || a.ip_family == 6) {
    obj.set("src_ip", alert.src_ip());
    obj.set("src_port", static_cast<unsigned>(a.src_port));
    obj.set("dest_ip", alert.dst_ip());
    obj.set("dest_port", static_cast<unsigned>(a.dst_port));
    obj.set("proto", eve_proto(a.protocol));
  }
  if (a.vlan_id != 0) {
    Poco::JSON::Array vlan;
    vlan.add(static_cast<unsigned>(a.vlan_id));
    obj.set("vlan", vlan);
  }
  if (!alert.app_proto().empty()) obj.set("app_proto", text(alert.app_proto()));

  Obj al = object();
  al->set("action", a.action == RAMPART_ALERT_ACTION_BLOCK ? "blocked" : "allowed");
  al->set("gid", alert.signature_id() != 0 ? 1 : 0);
  al->set("signature_id", alert.signature_id());
  al->set("rev", alert.signature_rev());
  al->set("signature", text(alert.signature().empty() ? alert.message() : alert.signature()));
  al->set("category", text(alert.category()));
  al->set("severity", a.severity >= RAMPART_SEVERITY_HIGH     ? 1
                      : a.severity == RAMPART_SEVERITY_MEDIUM ? 2
                                                              : 3);
  if (!alert.technique_id().empty() || !alert.tactic().empty()) {
    Obj meta = object();
    const auto one = [&](const char* key, std::string_view v) {
      if (v.empty()) return;
      Poco::JSON::Array list;
      list.add(text(v));
      meta->set(key, list);
    };
    one("mitre_technique_id", alert.technique_id());
    one("mitre_technique_name", alert.technique_name());
    one("mitre_tactic_name", alert.tactic());
    al->set("metadata", meta);
  }
  obj.set("alert", al);

  // The engine's sections (flow, http, tls, dns ...) where EVE has them;
  // a name EVE already uses above is not overwritten.
  if (auto c = context_of(alert)) {
    std::vector<std::string> names;
    c->getNames(names);
    for (const auto& n : names) {
      if (n != "rampart" && !obj.has(n)) obj.set(n, c->get(n));
    }
  }

  Obj r = object();
  r->set("alert_id", text(alert.id()));
  r->set("component", text(alert.component()));
  r->set("rule_id", text(alert.rule_id()));
  r->set("severity", std::string(sdk::severity_name(a.severity)));
  r->set("message", text(alert.message()));
  if (auto mitre = mitre_of(alert)) r->set("mitre", mitre);
  if (alert.suppressed() > 0) r->set("suppressed", alert.suppressed());
  if (auto m = match_of(alert)) r->set("match", m);
  if (auto g = geo(alert.src_info())) r->set("src_geo", g);
  if (auto g = geo(alert.dst_info())) r->set("dst_geo", g);
  obj.set("rampart", r);
  return line_of(obj);
}

Format format_setting(const sdk::Config& cfg) {
  const auto f = cfg.get<std::string>("format", "rampart");
  if (f == "rampart") return Format::rampart;
  if (f == "eve") return Format::eve;
  throw cfg.invalid("format", "expected rampart or eve, got '" + valid_utf8(f) + "'");
}

std::string format_alert(Format format, const Alert& alert) {
  return format == Format::eve ? eve_json(alert) : alert_json(alert);
}

}  // namespace rampart::sender
