// SPDX-License-Identifier: Apache-2.0
#include "alert_json.hpp"

#include <Poco/JSON/Object.h>

#include <arpa/inet.h>

#include <ctime>
#include <sstream>

namespace rampart::sender {
namespace {

using sdk::Alert;

std::string text(std::string_view s) { return valid_utf8(s); }

// Length of the valid UTF-8 sequence starting at s[i], or 0.
size_t sequence_length(std::string_view s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  if (c < 0x80) return 1;
  size_t n = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;  // no overlong forms
    if (c == 0xED) hi = 0x9F;  // no surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;  // nothing past U+10FFFF
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (size_t k = 2; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
  }
  return n;
}

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

}  // namespace

std::string_view action_name(uint32_t action) {
  return action == RAMPART_ALERT_ACTION_BLOCK ? "block" : "alert";
}

std::string valid_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const size_t n = sequence_length(s, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
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
  if (!alert.technique_id().empty() || !alert.technique_name().empty() || !alert.tactic().empty()) {
    Poco::JSON::Object::Ptr mitre = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    if (!alert.technique_id().empty()) mitre->set("technique_id", text(alert.technique_id()));
    if (!alert.technique_name().empty()) mitre->set("technique_name", text(alert.technique_name()));
    if (!alert.tactic().empty()) mitre->set("tactic", text(alert.tactic()));
    obj.set("mitre", mitre);
  }
  if (alert.signature_id() != 0 || !alert.category().empty()) {
    Poco::JSON::Object::Ptr sig = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    sig->set("id", alert.signature_id());
    sig->set("rev", alert.signature_rev());
    sig->set("category", text(alert.category()));
    obj.set("signature", sig);
  }
  if (alert.flow_id() != 0) obj.set("flow_id", alert.flow_id());
  if (!alert.app_proto().empty()) obj.set("app_proto", text(alert.app_proto()));
  if (!alert.match_buffer().empty() || !alert.match_excerpt().empty()) {
    Poco::JSON::Object::Ptr m = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    m->set("buffer", text(alert.match_buffer()));
    m->set("offset", alert.match_offset());
    m->set("excerpt_base64", sdk::base64(alert.match_excerpt()));
    obj.set("match", m);
  }
  if (alert.suppressed() > 0) obj.set("suppressed", alert.suppressed());
  if (auto g = geo(alert.src_info())) obj.set("src_geo", g);
  if (auto g = geo(alert.dst_info())) obj.set("dst_geo", g);
  std::ostringstream os;
  obj.stringify(os);
  return os.str();
}

}  // namespace rampart::sender
