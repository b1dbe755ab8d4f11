// SPDX-License-Identifier: Apache-2.0
// The agent's own answers in the management API: status, kernel state and
// the running configuration (secrets redacted), as JSON objects.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "bpf/datapath.hpp"
#include "config/config.hpp"
#include "daemon/readiness.hpp"
#include "plugin_host/plugin_manager.hpp"

namespace rampart::daemon {

// Per installed plugin id, the secret settings it declares, or nullopt
// when it cannot declare any (built against ABI < 1.4).
using SecretSettings = std::map<std::string, std::optional<std::vector<std::string>>>;

// What the control thread last saw of the plugins, for other threads
// (API requests, metric scrapes) to read without touching the manager.
class PluginSnapshot {
 public:
  void update(const plugin_host::PluginManager& plugins);
  std::vector<plugin_host::PluginStatus> plugins() const;
  size_t refused() const;
  SecretSettings secret_settings() const;

 private:
  mutable std::mutex mu_;
  std::vector<plugin_host::PluginStatus> plugins_;
  size_t refused_ = 0;
};

std::string agent_status_json(const PluginSnapshot& plugins, const bpf::Datapath* datapath,
                              const std::string& config_source,
                              std::chrono::steady_clock::time_point started,
                              const std::vector<Missing>& readiness);
std::string ebpf_status_json(const bpf::Datapath* datapath);
// The running configuration. Each plugin's subtree is redacted along the
// paths the plugin declares; a plugin that declares nothing or is not
// installed (its schema unknown) shows every value but `enabled` redacted.
std::string config_json(const config::Config& cfg, const SecretSettings& secrets);

}  // namespace rampart::daemon
