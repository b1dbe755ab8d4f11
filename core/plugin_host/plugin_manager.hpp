// SPDX-License-Identifier: Apache-2.0
// Finds plugins in the plugin directories, refuses the ones that must not
// run (one log line each, then goes on), and drives the enabled ones through
// their lifecycle, including all-or-nothing config reloads.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "plugin_host/plugin_instance.hpp"
#include "plugin_host/plugin_library.hpp"

namespace rampart::plugin_host {

enum class PluginState { disabled, running, failed };
std::string_view state_name(PluginState s);

struct PluginStatus {
  std::string id, name, version, kind, path;
  PluginState state;
  std::string error;
  std::weak_ptr<PluginInstance> instance;  // while running: its live state (enforcing)
  std::optional<std::vector<std::string>> secret_settings;  // see PluginLibrary
};

struct Refusal {
  std::string path;
  std::string reason;
};

struct ReloadResult {
  bool ok = true;
  std::string reason;                // why the new config was refused
  std::vector<std::string> changes;  // e.g. "log: reloaded"
};

class PluginManager {
 public:
  explicit PluginManager(CoreServices& core, HostIdentity host = {});
  ~PluginManager();
  PluginManager(const PluginManager&) = delete;
  PluginManager& operator=(const PluginManager&) = delete;

  // Loads every *.so not seen before from `dirs`.
  void discover(const std::vector<std::string>& dirs);
  // Creates and starts every enabled plugin; a plugin that fails is logged
  // and left failed, the rest run.
  void start(const config::Config& cfg);
  // What --check-config reports: each enabled plugin is created with its
  // settings (which checks them, files they name included) and destroyed
  // without starting; an enabled plugin that is not installed is an error.
  // Returns "plugins.<id>: why" per problem, empty if all is well.
  std::vector<std::string> check(const config::Config& cfg);
  // Applies a new config to the plugins, all or nothing.
  ReloadResult reload(const config::Config& next);
  // Stops every plugin (frontends, engines, then senders) and forgets them.
  void stop_all();
  // Called with a plugin's id just before it is stopped (reload, stop_all):
  // whoever waits on a call that plugin carries must be answered first.
  void set_before_stop(std::function<void(const std::string&)> hook) {
    before_stop_ = std::move(hook);
  }

  std::vector<PluginStatus> status() const;
  const std::vector<Refusal>& refusals() const { return refusals_; }
  std::shared_ptr<PluginInstance> instance(const std::string& id) const;
  size_t running() const;

 private:
  struct Entry {
    std::shared_ptr<PluginLibrary> lib;
    std::shared_ptr<PluginInstance> instance;
    PluginState state = PluginState::disabled;
    std::string error;
  };

  void refuse(const std::string& path, const std::string& reason);
  // create + start; "" or why not. On failure the instance is gone.
  std::string launch(Entry& e, const config::Config& cfg);
  void halt(Entry& e);
  // Ids ordered for starting: senders, engines, frontends.
  std::vector<std::string> start_order() const;

  CoreServices& core_;
  HostIdentity host_;
  std::map<std::string, Entry> plugins_;
  std::vector<std::string> seen_paths_;
  std::vector<Refusal> refusals_;
  config::Config current_;
  std::function<void(const std::string&)> before_stop_;
};

}  // namespace rampart::plugin_host
