// SPDX-License-Identifier: Apache-2.0
// rampartd's YAML configuration: parsing with yaml-cpp, validation of the
// agent section (unknown keys and bad values are errors naming file:line),
// and the per-plugin subtrees handed to plugins through the host table.
#pragma once

#include <yaml-cpp/yaml.h>

#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "alerts/settings.hpp"
#include "log/logger.hpp"
#include "store/audit_settings.hpp"

namespace rampart::config {

// Message is "file:line:col: what".
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct AgentSettings {
  log::Level log_level = log::Level::info;
  log::Format log_format = log::Format::text;
  std::vector<std::string> plugin_dirs;  // empty: <exe>/../lib/rampart/plugins
  std::string state_dir = "/var/lib/rampart";
  std::vector<std::string> interfaces;
  std::string xdp_mode = "auto";
  std::string bpf_dir;  // empty: <exe>/../lib/rampart/bpf
  std::string bpf_pin_path = "/sys/fs/bpf/rampart";
  unsigned workers = 2;
  // How long a stop (SIGTERM) may take before rampartd exits anyway,
  // naming what it was still waiting for; below systemd's TimeoutStopSec.
  unsigned stop_timeout_seconds = 5;
  // XDP drops what no stage took: every packet while no engine has a stage
  // installed (say the only engine failed to start).
  bool fail_closed = false;
  // A stage install of the live program's shape refills a spare instance
  // (no program load); false: every install loads (docs/datapath.md).
  bool table_swaps = true;

  bool operator==(const AgentSettings&) const = default;
};

struct PluginSettings {
  bool enabled = false;
  YAML::Node node;        // the plugins.<id> subtree (a map, possibly empty)
  std::string canonical;  // YAML dump, to detect changes on reload
  int line = 0;           // 1-based line of the plugins.<id> key
};

struct Config {
  std::string source;  // file path, or "<embedded>" for the built-in default
  AgentSettings agent;
  alerts::AlertSettings alerts;
  store::AuditSettings audit;
  std::map<std::string, PluginSettings> plugins;

  // The settings of plugin `id`; disabled and empty when not configured.
  const PluginSettings& plugin(const std::string& id) const;
};

// Throw ConfigError on bad YAML or a bad agent section.
Config load_file(const std::string& path);
Config load_string(const std::string& text, const std::string& source);
// The configuration compiled in from config/rampart.yaml.
const std::string& embedded_default_text();
Config load_embedded_default();

// "file:line:col" of a node, for error messages.
std::string where(const std::string& source, const YAML::Mark& mark);

}  // namespace rampart::config
