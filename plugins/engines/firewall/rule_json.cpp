// SPDX-License-Identifier: Apache-2.0
#include "rule_json.hpp"

#include <Poco/Exception.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <optional>
#include <set>
#include <sstream>

namespace rampart::firewall {
namespace {

// A JSON integer as int64; nullopt when it does not fit (above 2^63 - 1).
std::optional<int64_t> as_int64(const Poco::Dynamic::Var& v) {
  try {
    return v.convert<int64_t>();
  } catch (const Poco::RangeException&) {
    return std::nullopt;
  }
}

using Poco::JSON::Object;

const std::set<std::string> kFields = {"id",      "priority",  "action",   "protocol",
                                       "src_ip",  "dst_ip",    "src_port", "dst_port",
                                       "vlan_id", "tcp_flags", "enabled",  "description"};

std::string text(const Object& o, const std::string& key) {
  const auto v = o.get(key);
  if (v.isString()) return v.extract<std::string>();
  if (v.isInteger() && (key == "src_port" || key == "dst_port")) {
    const auto n = as_int64(v);
    return n ? std::to_string(*n) : v.toString();  // out of range: the port parser says so
  }
  throw RuleError(key, "expected a string");
}

int64_t integer(const Object& o, const std::string& key, int64_t lo, int64_t hi) {
  const auto v = o.get(key);
  if (!v.isInteger()) throw RuleError(key, "expected an integer");
  const auto fits = as_int64(v);
  const int64_t x = fits ? *fits : hi;
  if (!fits || x < lo || x > hi)
    throw RuleError(key, "must be " + std::to_string(lo) + "-" + std::to_string(hi));
  return x;
}

template <class T>
T need(std::optional<T> v, const std::string& field, const std::string& err) {
  if (!v) throw RuleError(field, err);
  return *v;
}

}  // namespace

Rule rule_from_json(const std::string& body, uint64_t id) {
  Object::Ptr o;
  try {
    Poco::JSON::Parser parser;
    o = parser.parse(body).extract<Object::Ptr>();
  } catch (const Poco::Exception& e) {
    throw RuleError("", "body is not a JSON object: " + e.displayText());
  } catch (const std::exception& e) {
    throw RuleError("", std::string("body is not a JSON object: ") + e.what());
  }
  if (!o) throw RuleError("", "body is not a JSON object");
  for (const auto& [k, v] : *o) {
    if (!kFields.count(k)) throw RuleError(k, "unknown field");
  }
  Rule r;
  std::string err;
  if (o->has("id")) {
    r.id = static_cast<uint32_t>(integer(*o, "id", 1, 0xffffffffLL));
    if (id && r.id != id)
      throw RuleError("id", "does not match the rule's id " + std::to_string(id));
  } else if (id) {
    if (id > 0xffffffffULL) throw RuleError("id", "must be 1-4294967295");
    r.id = static_cast<uint32_t>(id);
  } else {
    throw RuleError("id", "required");
  }
  r.priority = o->has("priority")
                   ? static_cast<int32_t>(integer(*o, "priority", INT32_MIN, INT32_MAX))
                   : static_cast<int32_t>(r.id);
  if (!o->has("action")) throw RuleError("action", "required");
  r.action = need(parse_action(text(*o, "action"), err), "action", err);
  if (o->has("protocol"))
    r.protocol = need(parse_protocol(text(*o, "protocol"), err), "protocol", err);
  if (o->has("src_ip")) r.src = need(parse_cidr(text(*o, "src_ip"), err), "src_ip", err);
  if (o->has("dst_ip")) r.dst = need(parse_cidr(text(*o, "dst_ip"), err), "dst_ip", err);
  if (o->has("src_port"))
    r.src_port = need(parse_ports(text(*o, "src_port"), err), "src_port", err);
  if (o->has("dst_port"))
    r.dst_port = need(parse_ports(text(*o, "dst_port"), err), "dst_port", err);
  if (o->has("tcp_flags"))
    r.tcp_flags = need(parse_tcp_flags(text(*o, "tcp_flags"), err), "tcp_flags", err);
  if (o->has("vlan_id")) r.vlan_id = static_cast<uint16_t>(integer(*o, "vlan_id", 1, 4094));
  if (o->has("enabled")) {
    const auto v = o->get("enabled");
    if (!v.isBoolean()) throw RuleError("enabled", "expected true or false");
    r.enabled = v.extract<bool>();
  }
  if (o->has("description")) r.description = text(*o, "description");
  if (const auto why = validate(r); !why.empty()) {
    const auto colon = why.find(':');
    throw RuleError(why.substr(0, colon), why.substr(colon + 2));
  }
  return r;
}

std::string rule_to_json(const Rule& r) {
  Object o(Poco::JSON_PRESERVE_KEY_ORDER);
  o.set("id", r.id);
  o.set("priority", r.priority);
  o.set("action", std::string(action_name(r.action)));
  o.set("protocol", protocol_name(r.protocol));
  if (r.src) o.set("src_ip", format_cidr(*r.src));
  if (r.dst) o.set("dst_ip", format_cidr(*r.dst));
  if (r.src_port) o.set("src_port", format_ports(*r.src_port));
  if (r.dst_port) o.set("dst_port", format_ports(*r.dst_port));
  if (r.vlan_id) o.set("vlan_id", *r.vlan_id);
  if (r.tcp_flags) o.set("tcp_flags", format_tcp_flags(*r.tcp_flags));
  o.set("enabled", r.enabled);
  if (!r.description.empty()) o.set("description", r.description);
  std::ostringstream os;
  o.stringify(os);
  return os.str();
}

const char* rule_schema_json() {
  return R"json({
  "type": "object",
  "required": ["action"],
  "additionalProperties": false,
  "properties": {
    "id": {"type": "integer", "minimum": 1, "maximum": 4294967295,
           "description": "Assigned when absent on create"},
    "priority": {"type": "integer", "minimum": -2147483648, "maximum": 2147483647,
                 "description": "Lower first; ties by id; default: the id"},
    "action": {"type": "string", "enum": ["allow", "deny", "log", "reject"]},
    "protocol": {"type": "string", "enum": ["tcp", "udp", "icmp", "icmpv6", "any"]},
    "src_ip": {"type": "string", "description": "IPv4 or IPv6 address or CIDR",
               "example": "203.0.113.0/24"},
    "dst_ip": {"type": "string", "description": "IPv4 or IPv6 address or CIDR"},
    "src_port": {"type": "string", "description": "A port or a range (TCP/UDP)",
                 "example": "1024-65535"},
    "dst_port": {"type": "string", "description": "A port or a range (TCP/UDP)", "example": "22"},
    "vlan_id": {"type": "integer", "minimum": 1, "maximum": 4094},
    "tcp_flags": {"type": "string", "description": "Flags set, ! for clear (protocol tcp)",
                  "example": "SYN,!ACK"},
    "enabled": {"type": "boolean", "default": true},
    "description": {"type": "string", "maxLength": 256}
  }
})json";
}

}  // namespace rampart::firewall
