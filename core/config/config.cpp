// SPDX-License-Identifier: Apache-2.0
#include "config/config.hpp"

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
  check_keys(source, agent, "agent.",
             {"log_level", "log_format", "plugin_dirs", "state_dir", "interfaces", "xdp_mode",
              "workers", "bpf_dir", "bpf_pin_path"});
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
  return s;
}

std::map<std::string, PluginSettings> parse_plugins(const std::string& source,
                                                    const YAML::Node& plugins) {
  std::map<std::string, PluginSettings> out;
  if (!plugins || plugins.IsNull()) return out;
  if (!plugins.IsMap()) fail(source, plugins, "plugins: expected a map of plugin ids");
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
    if (const auto en = p.node["enabled"]) {
      bool v = false;
      if (!en.IsScalar() || !YAML::convert<bool>::decode(en, v)) {
        fail(source, en, "plugins." + id + ".enabled: expected true or false");
      }
      p.enabled = v;
    }
    p.canonical = YAML::Dump(p.node);
    if (!out.emplace(id, std::move(p)).second) {
      fail(source, kv.first, "plugins." + id + ": configured twice");
    }
  }
  return out;
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
    check_keys(source, root, "", {"agent", "plugins"});
    cfg.agent = parse_agent(source, root["agent"]);
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
