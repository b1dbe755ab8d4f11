// SPDX-License-Identifier: Apache-2.0
#include "rule_json.hpp"

#include <Poco/Exception.h>
#include <Poco/JSON/Handler.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <cctype>
#include <optional>
#include <set>
#include <sstream>
#include <string_view>
#include <utility>
#include <vector>

namespace rampart::firewall {
namespace {

// A body's top-level members as Poco's parser hands them to a handler: no
// object tree is built. (The tree, a map and a heap-held value per member,
// was most of a parse: 4,096 rule bodies took 9 ms with it, 3.6 without.)
struct Member {
  enum class Kind { null, string, integer, number, boolean, object, array };
  explicit Member(Kind k) : kind(k) {}
  Kind kind;
  std::string text;     // string
  int64_t integer = 0;  // integer, when `fits`
  bool fits = true;     // the integer is at most 2^63 - 1
  uint64_t above = 0;   // integer, when it does not fit
  bool boolean = false;
};

class Members : public Poco::JSON::Handler {
 public:
  // The member `key`, null when absent; a key given twice is its last
  // value, as in Poco's object.
  const Member* find(std::string_view key) const {
    for (const auto& [k, m] : members_) {
      if (k == key) return &m;
    }
    return nullptr;
  }
  bool has(std::string_view key) const { return find(key) != nullptr; }
  bool object() const { return object_; }
  // The first key (in byte order, as Poco's object lists them) not in
  // `fields`, or null.
  const std::string* unknown(const std::set<std::string>& fields) const {
    const std::string* first = nullptr;
    for (const auto& [k, m] : members_) {
      if (!fields.count(k) && (!first || k < *first)) first = &k;
    }
    return first;
  }

  void reset() override {
    members_.clear();
    depth_ = 0;
    object_ = false;
  }
  void startObject() override {
    if (depth_ == 0) object_ = true;
    if (depth_ == 1) set(Member(Member::Kind::object));
    ++depth_;
  }
  void endObject() override { --depth_; }
  void startArray() override {
    if (depth_ == 1) set(Member(Member::Kind::array));
    ++depth_;
  }
  void endArray() override { --depth_; }
  void key(const std::string& k) override {
    if (depth_ == 1) key_ = k;
  }
  void null() override { set(Member(Member::Kind::null)); }
  void value(int v) override { value(static_cast<Poco::Int64>(v)); }
  void value(unsigned v) override { value(static_cast<Poco::Int64>(v)); }
  void value(Poco::Int64 v) override {
    Member m(Member::Kind::integer);
    m.integer = v;
    set(std::move(m));
  }
  void value(Poco::UInt64 v) override {
    Member m(Member::Kind::integer);
    m.fits = v <= static_cast<uint64_t>(INT64_MAX);
    m.integer = m.fits ? static_cast<int64_t>(v) : 0;
    m.above = v;
    set(std::move(m));
  }
  void value(const std::string& v) override {
    Member m(Member::Kind::string);
    m.text = v;
    set(std::move(m));
  }
  void value(double) override { set(Member(Member::Kind::number)); }
  void value(bool v) override {
    Member m(Member::Kind::boolean);
    m.boolean = v;
    set(std::move(m));
  }

 private:
  // A value at the top level of the object (deeper ones are skipped).
  void set(Member m) {
    if (depth_ != 1) return;
    for (auto& [k, old] : members_) {
      if (k == key_) {
        old = std::move(m);
        return;
      }
    }
    members_.emplace_back(key_, std::move(m));
  }

  std::vector<std::pair<std::string, Member>> members_;
  std::string key_;
  int depth_ = 0;
  bool object_ = false;
};

const std::set<std::string> kFields = {
    "id",       "priority", "action",    "protocol", "src_ip",      "dst_ip",    "src_port",
    "dst_port", "vlan_id",  "tcp_flags", "enabled",  "description", "expires_at"};

// Seconds since the epoch, up to the year 9999.
constexpr int64_t kLastSecond = 253402300799LL;

std::string text(const Members& o, const std::string& key) {
  const Member& v = *o.find(key);
  if (v.kind == Member::Kind::string) return v.text;
  if (v.kind == Member::Kind::integer && (key == "src_port" || key == "dst_port"))
    return v.fits ? std::to_string(v.integer)
                  : std::to_string(v.above);  // out of range: the port parser says so
  throw RuleError(key, "expected a string");
}

int64_t integer(const Members& o, const std::string& key, int64_t lo, int64_t hi) {
  const Member& v = *o.find(key);
  if (v.kind != Member::Kind::integer) throw RuleError(key, "expected an integer");
  const int64_t x = v.fits ? v.integer : hi;
  if (!v.fits || x < lo || x > hi)
    throw RuleError(key, "must be " + std::to_string(lo) + "-" + std::to_string(hi));
  return x;
}

template <class T>
T need(std::optional<T> v, const std::string& field, const std::string& err) {
  if (!v) throw RuleError(field, err);
  return *v;
}

// A body as a JSON object of `fields` only.
Poco::SharedPtr<Members> object_of(const std::string& body, const std::set<std::string>& fields) {
  Poco::SharedPtr<Members> o = new Members;
  try {
    Poco::JSON::Parser parser(o);
    parser.parse(body);
  } catch (const Poco::Exception& e) {
    throw RuleError("", "body is not a JSON object: " + e.displayText());
  } catch (const std::exception& e) {
    throw RuleError("", std::string("body is not a JSON object: ") + e.what());
  }
  if (!o->object()) throw RuleError("", "body is not a JSON object");
  if (const auto* k = o->unknown(fields)) throw RuleError(*k, "unknown field");
  return o;
}

// The body's id, which must be `id` when that is non-zero.
uint32_t id_of(const Members& o, uint64_t id) {
  if (o.has("id")) {
    const auto given = static_cast<uint32_t>(integer(o, "id", 1, 0xffffffffLL));
    if (id && given != id)
      throw RuleError("id", "does not match the rule's id " + std::to_string(id));
    return given;
  }
  if (!id) throw RuleError("id", "required");
  if (id > 0xffffffffULL) throw RuleError("id", "must be 1-4294967295");
  return static_cast<uint32_t>(id);
}

const std::set<std::string> kEntryFields = {"id", "prefix", "owner", "reason", "expires_at"};

}  // namespace

BlocklistEntry blocklist_entry_from_json(const std::string& body, uint64_t id) {
  const auto o = object_of(body, kEntryFields);
  BlocklistEntry e;
  e.id = id_of(*o, id);
  if (!o->has("prefix")) throw RuleError("prefix", "required");
  std::string err;
  e.prefix = need(parse_cidr(text(*o, "prefix"), err), "prefix", err);
  if (o->has("owner")) {
    e.owner = text(*o, "owner");
    const bool ok = !e.owner.empty() && e.owner.size() <= 64 &&
                    std::all_of(e.owner.begin(), e.owner.end(), [](unsigned char c) {
                      return std::isalnum(c) || c == '_' || c == '-' || c == '.' || c == ':';
                    });
    if (!ok) throw RuleError("owner", "1-64 letters, digits, '_', '-', '.' or ':'");
  }
  if (o->has("reason")) {
    e.reason = text(*o, "reason");
    if (e.reason.size() > 256) throw RuleError("reason", "at most 256 bytes");
  }
  if (o->has("expires_at")) e.expires_at = integer(*o, "expires_at", 1, kLastSecond);
  return e;
}

const char* blocklist_entry_schema_json() {
  return R"json({
  "type": "object",
  "required": ["prefix"],
  "additionalProperties": false,
  "properties": {
    "id": {"type": "integer", "minimum": 1, "maximum": 4294967295,
           "description": "Assigned when absent on create"},
    "prefix": {"type": "string", "description": "IPv4 or IPv6 address or CIDR whose packets are dropped",
               "example": "203.0.113.0/24"},
    "owner": {"type": "string", "pattern": "^[A-Za-z0-9_.:-]{1,64}$",
              "description": "Who listed it (an operator, the ips or ddos engine)", "example": "ips"},
    "reason": {"type": "string", "maxLength": 256},
    "expires_at": {"type": "integer", "minimum": 1, "maximum": 253402300799,
                   "description": "When the entry is removed, in seconds since the epoch; never when absent"}
  }
})json";
}

Rule rule_from_json(const std::string& body, uint64_t id) {
  const auto o = object_of(body, kFields);
  Rule r;
  std::string err;
  r.id = id_of(*o, id);
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
  if (const auto* v = o->find("enabled")) {
    if (v->kind != Member::Kind::boolean) throw RuleError("enabled", "expected true or false");
    r.enabled = v->boolean;
  }
  if (o->has("description")) r.description = text(*o, "description");
  if (o->has("expires_at")) r.expires_at = integer(*o, "expires_at", 1, kLastSecond);
  if (const auto why = validate(r); !why.empty()) {
    const auto colon = why.find(':');
    throw RuleError(why.substr(0, colon), why.substr(colon + 2));
  }
  return r;
}

std::string rule_to_json(const Rule& r) {
  Poco::JSON::Object o(Poco::JSON_PRESERVE_KEY_ORDER);
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
  if (r.expires_at) o.set("expires_at", r.expires_at);
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
    "src_port": {"oneOf": [{"type": "integer", "minimum": 0, "maximum": 65535},
                           {"type": "string"}],
                 "description": "A port (a number or its digits) or a range (TCP/UDP)",
                 "example": "1024-65535"},
    "dst_port": {"oneOf": [{"type": "integer", "minimum": 0, "maximum": 65535},
                           {"type": "string"}],
                 "description": "A port (a number or its digits) or a range (TCP/UDP)",
                 "example": 22},
    "vlan_id": {"type": "integer", "minimum": 1, "maximum": 4094},
    "tcp_flags": {"type": "string", "description": "Flags set, ! for clear (protocol tcp)",
                  "example": "SYN,!ACK"},
    "enabled": {"type": "boolean", "default": true},
    "description": {"type": "string", "maxLength": 256},
    "expires_at": {"type": "integer", "minimum": 1, "maximum": 253402300799,
                   "description": "When the rule is deleted, in seconds since the epoch; never when absent"}
  },
  "x-rampart-verbs": {
    "block": {"summary": "Deny traffic from an address or network, ahead of the other rules",
              "rule": {"action": "deny", "priority": -1000},
              "argument": "src_ip",
              "options": {"port": "dst_port", "protocol": "protocol", "reason": "description"}},
    "allow": {"summary": "Allow traffic from an address or network, ahead of the other rules",
              "rule": {"action": "allow", "priority": -1000},
              "argument": "src_ip",
              "options": {"port": "dst_port", "protocol": "protocol", "reason": "description"}}
  }
})json";
}

}  // namespace rampart::firewall
