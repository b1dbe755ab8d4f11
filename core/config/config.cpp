// SPDX-License-Identifier: Apache-2.0
#include "config/config.hpp"

#include "alerts/alert.hpp"

#include <yaml-cpp/eventhandler.h>

#include <algorithm>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

namespace rampart::config {
namespace {

[[noreturn]] void fail(const std::string& source, const YAML::Node& node, const std::string& what) {
  throw ConfigError(where(source, node.Mark()) + ": " + what);
}

std::string join(const std::set<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

void check_keys(const std::string& source, const YAML::Node& map, const std::string& section,
                const std::set<std::string>& allowed) {
  for (const auto& kv : map) {
    const auto key = kv.first.as<std::string>();
    if (!allowed.count(key)) {
      fail(source, kv.first,
           "unknown key '" + section + key + "' (expected one of: " + join(allowed) + ")");
    }
  }
}

std::string scalar(const std::string& source, const YAML::Node& n, const std::string& key) {
  if (!n.IsScalar()) fail(source, n, key + ": expected a string");
  return n.Scalar();
}

std::vector<std::string> string_list(const std::string& source, const YAML::Node& n,
                                     const std::string& key) {
  if (n.IsNull()) return {};
  if (!n.IsSequence()) fail(source, n, key + ": expected a list of strings");
  std::vector<std::string> out;
  for (const auto& item : n) out.push_back(scalar(source, item, key + "[]"));
  return out;
}

AgentSettings parse_agent(const std::string& source, const YAML::Node& agent) {
  AgentSettings s;
  if (!agent || agent.IsNull()) return s;
  if (!agent.IsMap()) fail(source, agent, "agent: expected a map");
  check_keys(
      source, agent, "agent.",
      {"log_level", "log_format", "plugin_dirs", "state_dir", "interfaces", "xdp_mode", "workers",
       "bpf_dir", "bpf_pin_path", "stop_timeout_seconds", "fail_closed", "table_swaps"});
  if (const auto n = agent["log_level"]) {
    if (!log::parse_level(scalar(source, n, "agent.log_level"), s.log_level)) {
      fail(source, n,
           "agent.log_level: expected debug, info, warn or error, got '" + n.Scalar() + "'");
    }
  }
  if (const auto n = agent["log_format"]) {
    if (!log::parse_format(scalar(source, n, "agent.log_format"), s.log_format)) {
      fail(source, n, "agent.log_format: expected text or json, got '" + n.Scalar() + "'");
    }
  }
  if (const auto n = agent["plugin_dirs"])
    s.plugin_dirs = string_list(source, n, "agent.plugin_dirs");
  if (const auto n = agent["state_dir"]) s.state_dir = scalar(source, n, "agent.state_dir");
  if (const auto n = agent["interfaces"]) {
    static const std::regex kIfName("[A-Za-z0-9_.:@-]{1,15}");
    s.interfaces = string_list(source, n, "agent.interfaces");
    for (size_t i = 0; i < s.interfaces.size(); ++i) {
      if (!std::regex_match(s.interfaces[i], kIfName)) {
        fail(source, n[i], "agent.interfaces: '" + s.interfaces[i] + "' is not an interface name");
      }
    }
  }
  if (const auto n = agent["xdp_mode"]) {
    s.xdp_mode = scalar(source, n, "agent.xdp_mode");
    if (s.xdp_mode != "auto" && s.xdp_mode != "native" && s.xdp_mode != "generic") {
      fail(source, n, "agent.xdp_mode: expected auto, native or generic, got '" + s.xdp_mode + "'");
    }
  }
  if (const auto n = agent["bpf_dir"]) s.bpf_dir = scalar(source, n, "agent.bpf_dir");
  if (const auto n = agent["bpf_pin_path"]) {
    s.bpf_pin_path = scalar(source, n, "agent.bpf_pin_path");
    if (s.bpf_pin_path.empty() || s.bpf_pin_path.front() != '/' || s.bpf_pin_path == "/") {
      fail(source, n, "agent.bpf_pin_path: expected an absolute path below a bpffs mount");
    }
  }
  if (const auto n = agent["workers"]) {
    unsigned v = 0;
    if (!n.IsScalar() || !YAML::convert<unsigned>::decode(n, v) || v < 1 || v > 64) {
      fail(source, n, "agent.workers: expected an integer from 1 to 64");
    }
    s.workers = v;
  }
  if (const auto n = agent["stop_timeout_seconds"]) {
    unsigned v = 0;
    if (!n.IsScalar() || !YAML::convert<unsigned>::decode(n, v) || v < 1 || v > 60) {
      fail(source, n, "agent.stop_timeout_seconds: expected an integer from 1 to 60");
    }
    s.stop_timeout_seconds = v;
  }
  if (const auto n = agent["fail_closed"]) {
    if (!n.IsScalar() || !YAML::convert<bool>::decode(n, s.fail_closed))
      fail(source, n, "agent.fail_closed: expected true or false");
  }
  if (const auto n = agent["table_swaps"]) {
    if (!n.IsScalar() || !YAML::convert<bool>::decode(n, s.table_swaps))
      fail(source, n, "agent.table_swaps: expected true or false");
  }
  return s;
}

std::map<std::string, PluginSettings> parse_plugins(const std::string& source,
                                                    const YAML::Node& plugins) {
  std::map<std::string, PluginSettings> out;
  if (!plugins || plugins.IsNull()) return out;
  if (!plugins.IsMap()) fail(source, plugins, "plugins: expected a map of plugin names");
  static const std::regex kId("[a-z0-9_-]{1,64}");
  for (const auto& kv : plugins) {
    const auto id = kv.first.as<std::string>();
    if (!std::regex_match(id, kId)) {
      fail(source, kv.first, "plugins." + id + ": a plugin id is 1-64 of [a-z0-9_-]");
    }
    PluginSettings p;
    p.line = kv.first.Mark().line + 1;
    p.node = kv.second.IsNull() ? YAML::Node(YAML::NodeType::Map) : kv.second;
    if (!p.node.IsMap()) fail(source, kv.second, "plugins." + id + ": expected a map");
    p.enabled = true;  // a plugin listed without `enabled` is on
    // Looked up through a const node: yaml-cpp's non-const operator[]
    // inserts the key, and a settings map may be `plugins` itself (an
    // alias), which this loop is iterating.
    const YAML::Node& settings = p.node;
    if (const auto en = settings["enabled"]) {
      bool v = false;
      if (!en.IsScalar() || !YAML::convert<bool>::decode(en, v)) {
        fail(source, en, "plugins." + id + ".enabled: expected true or false");
      }
      p.enabled = v;
    }
    p.canonical = YAML::Dump(p.node);
    out.emplace(id, std::move(p));  // an id given twice is a duplicate key, refused before
  }
  return out;
}

// Checks of the whole document that no section's parser could make alone,
// read from the parser's events rather than the loaded tree (an alias is a
// single event there, so a node that contains itself, or a chain of aliases
// naming one node 2^40 times, costs nothing):
// - a key given twice in a map: yaml-cpp keeps both pairs and lookups return
//   the first, so `{action: allow, action: deny}` would quietly mean allow;
// - a NUL in a key or value (YAML's "\0"): settings end up as C strings
//   (paths, addresses), which stop there, and no setting has a use for it.
class DocumentCheck : public YAML::EventHandler {
 public:
  explicit DocumentCheck(const std::string& source) : source_(source) {}

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    remember(anchor, Key{});
    node(Key{}, mark);
  }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    const auto it = anchored_.find(anchor);
    node(it == anchored_.end() ? std::nullopt : std::optional(it->second), mark);
  }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                const std::string& value) override {
    remember(anchor, Key{value});
    const bool key = node(Key{value}, mark);
    if (const auto nul = value.find('\0'); nul != std::string::npos) {
      const std::string at = path(!key);
      throw ConfigError(where(source_, mark) + ": " + (at.empty() ? "" : at + ": ") +
                        (key ? "a key contains" : "contains") + " a NUL byte (offset " +
                        std::to_string(nul) + ")");
    }
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    node(std::nullopt, mark);
    open_.push_back({});
  }
  void OnSequenceEnd() override { open_.pop_back(); }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    node(std::nullopt, mark);
    Collection map;
    map.map = true;
    open_.push_back(std::move(map));
  }
  void OnMapEnd() override { open_.pop_back(); }

 private:
  // A key as written: a scalar's text, or no text for a null key.
  using Key = std::optional<std::string>;
  struct Collection {
    bool map = false;
    bool at_key = true;                   // a map's next node is a key
    std::map<Key, YAML::Mark> keys = {};  // of a map, where each was first given
    std::string at = {};                  // the current entry: its key, or its index in a list
    size_t next = 0;                      // a list's next index
  };

  void remember(YAML::anchor_t anchor, const Key& key) {
    if (anchor != YAML::NullAnchor) anchored_[anchor] = key;
  }

  // Every node as it starts, in its parent; true if it is a map's key. `key`
  // is nullopt for a collection, never equal to another key (maps as keys
  // cannot be looked up by name anyway).
  bool node(const std::optional<Key>& key, const YAML::Mark& mark) {
    if (open_.empty()) return false;
    Collection& c = open_.back();
    if (!c.map) {
      c.at = std::to_string(c.next++);
      return false;
    }
    const bool is_key = c.at_key;
    c.at_key = !c.at_key;
    if (!is_key) return false;
    c.at = key && *key ? **key : "?";
    if (!key) return true;
    const auto [first, fresh] = c.keys.emplace(*key, mark);
    if (fresh) return true;
    const YAML::Mark& at = first->second;
    throw ConfigError(where(source_, mark) + ": duplicate " +
                      (*key ? "key '" + **key + "'" : std::string("null key")) +
                      " (first at line " + std::to_string(at.line + 1) +
                      (at.line == mark.line ? ", column " + std::to_string(at.column + 1) : "") +
                      ")");
  }

  // The dotted path of the current node ("plugins.<id>.rules.0.id"),
  // or of its map when `with_last` is false (for a key).
  std::string path(bool with_last) const {
    std::string out;
    const size_t n = open_.size() - (with_last || open_.empty() ? 0 : 1);
    for (size_t i = 0; i < n; ++i) out += (out.empty() ? "" : ".") + open_[i].at;
    return out;
  }

  const std::string& source_;
  std::vector<Collection> open_;
  std::map<YAML::anchor_t, Key> anchored_;  // scalar and null anchors, for alias keys
};

double number(const std::string& source, const YAML::Node& n, const std::string& key, double min,
              double max) {
  double v = 0;
  if (!n.IsScalar() || !YAML::convert<double>::decode(n, v) || !(v >= min && v <= max)) {
    fail(source, n,
         key + ": expected a number from " + YAML::Dump(YAML::Node(min)) + " to " +
             YAML::Dump(YAML::Node(max)));
  }
  return v;
}

uint32_t severity(const std::string& source, const YAML::Node& n, const std::string& key) {
  uint32_t v = 0;
  if (!alerts::parse_severity(scalar(source, n, key), v))
    fail(source, n, key + ": expected low, medium, high or critical, got '" + n.Scalar() + "'");
  return v;
}

alerts::RateLimit rate_limit(const std::string& source, const YAML::Node& n,
                             const std::string& key) {
  if (!n.IsMap()) fail(source, n, key + ": expected a map with rate_per_second and burst");
  check_keys(source, n, key + ".", {"rate_per_second", "burst"});
  alerts::RateLimit r;
  if (n["rate_per_second"])
    r.rate = number(source, n["rate_per_second"], key + ".rate_per_second", 0, 1e9);
  r.burst = n["burst"] ? number(source, n["burst"], key + ".burst", 1, 1e9) : std::max(1.0, r.rate);
  return r;
}

// The `alerts:` section; defaults in alerts/settings.hpp.
alerts::AlertSettings parse_alerts(const std::string& source, const YAML::Node& node) {
  alerts::AlertSettings a;
  if (!node || node.IsNull()) return a;
  if (!node.IsMap()) fail(source, node, "alerts: expected a map");
  check_keys(source, node, "alerts.",
             {"store", "geoip", "dedup", "throttle", "routes", "delivery"});
  if (const auto n = node["store"]) {
    if (!n.IsMap()) fail(source, n, "alerts.store: expected a map");
    check_keys(source, n, "alerts.store.", {"max_age_days", "max_count"});
    if (n["max_age_days"])
      a.store.max_age_s =
          86400 * number(source, n["max_age_days"], "alerts.store.max_age_days", 0, 36500);
    if (n["max_count"])
      a.store.max_count =
          static_cast<uint64_t>(number(source, n["max_count"], "alerts.store.max_count", 0, 1e10));
  }
  if (const auto n = node["geoip"]) {
    if (!n.IsMap()) fail(source, n, "alerts.geoip: expected a map of database paths");
    check_keys(source, n, "alerts.geoip.", {"country", "city", "asn"});
    for (auto [key, field] : {std::pair{"country", &a.geoip.country},
                              std::pair{"city", &a.geoip.city}, std::pair{"asn", &a.geoip.asn}}) {
      if (!n[key]) continue;
      *field = scalar(source, n[key], std::string("alerts.geoip.") + key);
      if (field->empty() || field->front() != '/')
        fail(source, n[key], std::string("alerts.geoip.") + key + ": expected an absolute path");
    }
  }
  if (const auto n = node["dedup"]) {
    if (!n.IsMap()) fail(source, n, "alerts.dedup: expected a map");
    check_keys(source, n, "alerts.dedup.", {"window_seconds"});
    if (n["window_seconds"])
      a.router.dedup_window_s =
          number(source, n["window_seconds"], "alerts.dedup.window_seconds", 0, 86400);
  }
  if (const auto n = node["throttle"]) {
    if (!n.IsMap()) fail(source, n, "alerts.throttle: expected a map");
    check_keys(source, n, "alerts.throttle.", {"per_source", "per_rule"});
    if (n["per_source"])
      a.router.per_source = rate_limit(source, n["per_source"], "alerts.throttle.per_source");
    if (n["per_rule"])
      a.router.per_rule = rate_limit(source, n["per_rule"], "alerts.throttle.per_rule");
  }
  if (const auto n = node["routes"]) {
    if (!n.IsSequence()) fail(source, n, "alerts.routes: expected a list of routes");
    for (size_t i = 0; i < n.size(); ++i) {
      const auto r = n[i];
      const std::string key = "alerts.routes[" + std::to_string(i) + "]";
      if (!r.IsMap()) fail(source, r, key + ": expected a map");
      check_keys(source, r, key + ".", {"min_severity", "components", "senders"});
      alerts::Route route;
      if (r["min_severity"])
        route.min_severity = severity(source, r["min_severity"], key + ".min_severity");
      if (r["components"])
        route.components = string_list(source, r["components"], key + ".components");
      if (!r["senders"]) fail(source, r, key + ": needs senders (plugin names)");
      route.senders = string_list(source, r["senders"], key + ".senders");
      if (route.senders.empty())
        fail(source, r["senders"], key + ".senders: name at least one sender");
      a.router.routes.push_back(std::move(route));
    }
  }
  if (const auto n = node["delivery"]) {
    if (!n.IsMap()) fail(source, n, "alerts.delivery: expected a map");
    check_keys(source, n, "alerts.delivery.",
               {"queue", "breaker_failures", "breaker_open_seconds"});
    if (n["queue"])
      a.delivery.queue =
          static_cast<size_t>(number(source, n["queue"], "alerts.delivery.queue", 1, 1e7));
    if (n["breaker_failures"])
      a.delivery.breaker_failures = static_cast<unsigned>(
          number(source, n["breaker_failures"], "alerts.delivery.breaker_failures", 1, 1000));
    if (n["breaker_open_seconds"])
      a.delivery.breaker_open_s = number(source, n["breaker_open_seconds"],
                                         "alerts.delivery.breaker_open_seconds", 0.01, 86400);
  }
  return a;
}

// The `audit:` section; defaults in store/audit_settings.hpp.
store::AuditSettings parse_audit(const std::string& source, const YAML::Node& node) {
  store::AuditSettings a;
  if (!node || node.IsNull()) return a;
  if (!node.IsMap()) fail(source, node, "audit: expected a map");
  check_keys(source, node, "audit.", {"max_age_days", "max_count"});
  if (const auto n = node["max_age_days"])
    a.max_age_s = 86400 * number(source, n, "audit.max_age_days", 0, 36500);
  if (const auto n = node["max_count"]) {
    if (!n.IsScalar() || !YAML::convert<uint64_t>::decode(n, a.max_count) ||
        a.max_count > 10000000000ull)
      fail(source, n, "audit.max_count: expected an integer from 0 to 10000000000");
  }
  return a;
}

}  // namespace

std::string where(const std::string& source, const YAML::Mark& mark) {
  if (mark.is_null()) return source;
  return source + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
}

const PluginSettings& Config::plugin(const std::string& id) const {
  static const PluginSettings kAbsent;
  const auto it = plugins.find(id);
  return it == plugins.end() ? kAbsent : it->second;
}

Config load_string(const std::string& text, const std::string& source) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    throw ConfigError(where(source, e.mark) + ": " + e.msg);
  }
  Config cfg;
  cfg.source = source;
  if (root.IsNull()) return cfg;
  if (!root.IsMap()) fail(source, root, "expected a map with 'agent' and 'plugins'");
  try {
    std::istringstream in(text);
    YAML::Parser events(in);
    DocumentCheck check(source);
    events.HandleNextDocument(check);  // the document YAML::Load read
    check_keys(source, root, "", {"agent", "plugins", "alerts", "audit"});
    cfg.agent = parse_agent(source, root["agent"]);
    cfg.alerts = parse_alerts(source, root["alerts"]);
    cfg.audit = parse_audit(source, root["audit"]);
    cfg.plugins = parse_plugins(source, root["plugins"]);
  } catch (const YAML::Exception& e) {
    // e.g. a key that is itself a map; yaml-cpp knows where.
    throw ConfigError(where(source, e.mark) + ": " + e.msg);
  }
  return cfg;
}

Config load_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError(path + ": cannot open config file");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw ConfigError(path + ": read error");
  return load_string(text.str(), path);
}

Config load_embedded_default() { return load_string(embedded_default_text(), "<embedded>"); }

}  // namespace rampart::config
