// SPDX-License-Identifier: Apache-2.0
#include "plugin_host/plugin_manager.hpp"

#include <algorithm>
#include <filesystem>
#include <functional>
#include <set>

#include "log/logger.hpp"

namespace rampart::plugin_host {
namespace {
constexpr std::string_view kLog = "plugin-host";
}

std::string_view state_name(PluginState s) {
  switch (s) {
    case PluginState::disabled:
      return "disabled";
    case PluginState::running:
      return "running";
    case PluginState::failed:
      return "failed";
  }
  return "unknown";
}

PluginManager::PluginManager(CoreServices& core, HostIdentity host) : core_(core), host_(host) {}

PluginManager::~PluginManager() { stop_all(); }

void PluginManager::refuse(const std::string& path, const std::string& reason) {
  log::error(kLog, "refusing plugin", {{"path", path}, {"reason", reason}});
  refusals_.push_back({path, reason});
}

void PluginManager::discover(const std::vector<std::string>& dirs) {
  namespace fs = std::filesystem;
  for (const auto& dir : dirs) {
    if (auto why = untrusted_reason(dir, true)) {
      refuse(dir, "plugin directory " + *why);
      continue;
    }
    std::vector<std::string> files;
    std::error_code ec;
    for (const auto& de : fs::directory_iterator(dir, ec)) {
      if (de.path().extension() == ".so") files.push_back(de.path().string());
    }
    if (ec) {
      refuse(dir, "cannot list plugin directory: " + ec.message());
      continue;
    }
    std::sort(files.begin(), files.end());
    for (const auto& path : files) {
      if (std::find(seen_paths_.begin(), seen_paths_.end(), path) != seen_paths_.end()) continue;
      seen_paths_.push_back(path);
      auto loaded = load_library(path, host_.abi);
      if (auto* why = std::get_if<std::string>(&loaded)) {
        refuse(path, *why);
        continue;
      }
      auto lib = std::get<std::shared_ptr<PluginLibrary>>(std::move(loaded));
      if (auto it = plugins_.find(lib->id()); it != plugins_.end()) {
        refuse(path, "duplicate plugin id '" + lib->id() + "' (already loaded from " +
                         it->second.lib->path() + ")");
        continue;
      }
      log::debug(kLog, "found plugin", {{"plugin", lib->id()}, {"path", path}});
      plugins_[lib->id()].lib = std::move(lib);
    }
  }
}

std::vector<std::string> PluginManager::start_order() const {
  std::vector<std::string> names;
  for (const auto& [id, e] : plugins_) names.push_back(id);
  auto rank = [&](const std::string& id) {
    switch (plugins_.at(id).lib->kind()) {
      case RAMPART_KIND_SENDER:
        return 0;
      case RAMPART_KIND_ENGINE:
        return 1;
      case RAMPART_KIND_FRONTEND:
        return 2;
    }
    return 3;
  };
  std::stable_sort(names.begin(), names.end(), [&](auto& a, auto& b) { return rank(a) < rank(b); });
  return names;
}

std::string PluginManager::launch(Entry& e, const config::Config& cfg) {
  auto inst = std::make_shared<PluginInstance>(e.lib, core_, host_);
  std::string err = inst->create(cfg);
  if (err.empty()) err = inst->start();
  if (!err.empty()) {
    inst->stop_and_destroy();
    e.state = PluginState::failed;
    e.error = err;
    return err;
  }
  e.instance = std::move(inst);
  e.state = PluginState::running;
  e.error.clear();
  log::info(kLog, "plugin started",
            {{"plugin", e.lib->id()},
             {"kind", kind_name(e.lib->kind())},
             {"version", e.lib->descriptor().version},
             {"path", e.lib->path()}});
  return {};
}

void PluginManager::halt(Entry& e) {
  if (e.instance) {
    if (before_stop_) before_stop_(e.lib->id());
    e.instance->stop_and_destroy();
    e.instance.reset();
    log::info(kLog, "plugin stopped", {{"plugin", e.lib->id()}});
  }
  e.state = PluginState::disabled;
}

void PluginManager::start(const config::Config& cfg) {
  current_ = cfg;
  for (const auto& [id, p] : cfg.plugins) {
    if (!plugins_.count(id)) {
      log::warn(kLog, "configured plugin not found in any plugin directory",
                {{"plugin", id}, {"where", cfg.source + ":" + std::to_string(p.line)}});
    }
  }
  for (const auto& id : start_order()) {
    Entry& e = plugins_[id];
    if (!cfg.plugin(id).enabled) {
      log::info(kLog, "plugin disabled by config", {{"plugin", id}});
      continue;
    }
    if (auto err = launch(e, cfg); !err.empty()) {
      log::error(kLog, "plugin failed to start", {{"plugin", id}, {"reason", err}});
    }
  }
}

std::vector<std::string> PluginManager::check(const config::Config& cfg) {
  std::vector<std::string> problems;
  for (const auto& [id, p] : cfg.plugins) {
    if (p.enabled && !plugins_.count(id)) {
      problems.push_back("plugins." + id + ": not installed (" + cfg.source + ":" +
                         std::to_string(p.line) + ")");
    }
  }
  for (const auto& id : start_order()) {
    if (!cfg.plugin(id).enabled) continue;
    auto inst = std::make_shared<PluginInstance>(plugins_[id].lib, core_, host_);
    if (auto err = inst->create(cfg); !err.empty())
      problems.push_back("plugins." + id + ": " + err);
    inst->stop_and_destroy();
  }
  return problems;
}

namespace {

// What a reload changes in the kernel and the rule store, made live at once
// (Datapath and RuleService staging). Ends on destruction.
class ReloadTransaction {
 public:
  explicit ReloadTransaction(CoreServices& core) : core_(core) {
    if (core_.rules) core_.rules->begin_transaction();
    if (core_.datapath) core_.datapath->begin_staging();
  }
  ~ReloadTransaction() {
    if (core_.datapath) core_.datapath->end_staging();
    if (core_.rules) core_.rules->end_transaction();
  }
  ReloadTransaction(const ReloadTransaction&) = delete;
  ReloadTransaction& operator=(const ReloadTransaction&) = delete;

  // The store first (it can fail), then the programs (restored if a write
  // fails). Throws StoreError or BpfError.
  void commit() {
    if (core_.rules) core_.rules->commit_transaction();
    if (core_.datapath) core_.datapath->commit_staging();
  }
  // After a rollback: the running set, re-staged. A failure here leaves the
  // kernel with the programs it had, which judge packets as before.
  void commit_or_log() {
    try {
      commit();
    } catch (const std::exception& e) {
      log::error(kLog, "could not re-install the running configuration after a refused reload",
                 {{"reason", e.what()}});
    }
  }

 private:
  CoreServices& core_;
};

}  // namespace

ReloadResult PluginManager::reload(const config::Config& next) {
  ReloadResult result;
  std::vector<std::string> to_start, to_stop, to_reload, to_restart;
  // Reloadable plugins whose settings did not change are reloaded too: a
  // reload re-reads what settings point to (blocklist files, log files to
  // reopen after rotation). They are not reported as changes.
  std::set<std::string> refresh_only;
  for (const auto& id : start_order()) {
    const Entry& e = plugins_[id];
    const bool running = e.state == PluginState::running;
    const auto& after = next.plugin(id);
    if (running && !after.enabled) {
      to_stop.push_back(id);
    } else if (!running && after.enabled) {
      to_start.push_back(id);
    } else if (running && current_.plugin(id).canonical != after.canonical) {
      (e.instance->can_reload() ? to_reload : to_restart).push_back(id);
    } else if (running && e.instance->can_reload()) {
      to_reload.push_back(id);
      refresh_only.insert(id);
    }
  }

  auto refuse_reload = [&](const std::string& id, const std::string& why) {
    result.ok = false;
    result.reason = "plugins." + id + ": " + why;
    result.changes.clear();
    return result;
  };

  // 1. Let every changed plugin check its new settings before anything moves.
  for (const auto* list : {&to_reload, &to_restart}) {
    for (const auto& id : *list) {
      if (auto err = plugins_[id].instance->validate(next); !err.empty())
        return refuse_reload(id, err);
    }
  }

  // 2. Apply; on the first failure undo what was done, newest first. The
  // kernel and the rule store are held meanwhile: programs are loaded and
  // verified but installed only at the commit below, and rule claims are
  // written only then, so no packet is ever judged by (and no API reader
  // sees) what a refused reload applied before it was refused. After a
  // rollback the commit installs what the undo re-staged: the running set.
  ReloadTransaction transaction(core_);
  std::vector<std::function<void()>> undo;
  auto rollback = [&] {
    for (auto it = undo.rbegin(); it != undo.rend(); ++it) (*it)();
    transaction.commit_or_log();
  };
  for (const auto& id : to_start) {
    Entry& e = plugins_[id];
    if (auto err = launch(e, next); !err.empty()) {
      rollback();
      return refuse_reload(id, err);
    }
    undo.push_back([this, id] { halt(plugins_[id]); });
    result.changes.push_back(id + ": started");
  }
  for (const auto& id : to_reload) {
    Entry& e = plugins_[id];
    if (auto err = e.instance->reload(next); !err.empty()) {
      rollback();
      return refuse_reload(id, err);
    }
    undo.push_back([this, id] {
      if (auto err = plugins_[id].instance->reload(current_); !err.empty()) {
        log::error(kLog, "could not restore previous config", {{"plugin", id}, {"reason", err}});
      }
    });
    if (!refresh_only.count(id)) result.changes.push_back(id + ": reloaded");
  }
  for (const auto& id : to_restart) {
    Entry& e = plugins_[id];
    halt(e);
    if (auto err = launch(e, next); !err.empty()) {
      if (auto back = launch(e, current_); !back.empty()) {
        log::error(kLog, "could not restart with previous config",
                   {{"plugin", id}, {"reason", back}});
      }
      rollback();
      return refuse_reload(id, err);
    }
    undo.push_back([this, id] {
      Entry& en = plugins_[id];
      halt(en);
      (void)launch(en, current_);
    });
    result.changes.push_back(id + ": restarted");
  }
  try {
    transaction.commit();
  } catch (const std::exception& e) {
    rollback();
    result.ok = false;
    result.reason = std::string("applying the new configuration failed: ") + e.what();
    result.changes.clear();
    return result;
  }
  for (const auto& id : to_stop) {
    halt(plugins_[id]);
    result.changes.push_back(id + ": stopped");
  }
  current_ = next;
  return result;
}

void PluginManager::stop_all() {
  auto names = start_order();
  for (auto it = names.rbegin(); it != names.rend(); ++it) halt(plugins_[*it]);
}

std::vector<PluginStatus> PluginManager::status() const {
  std::vector<PluginStatus> out;
  for (const auto& [id, e] : plugins_) {
    const auto& d = e.lib->descriptor();
    out.push_back({id, d.name, d.version, std::string(kind_name(e.lib->kind())), e.lib->path(),
                   e.state, e.error, e.instance, e.lib->secret_settings()});
  }
  return out;
}

std::shared_ptr<PluginInstance> PluginManager::instance(const std::string& id) const {
  const auto it = plugins_.find(id);
  return it == plugins_.end() ? nullptr : it->second.instance;
}

size_t PluginManager::running() const {
  return std::count_if(plugins_.begin(), plugins_.end(),
                       [](const auto& kv) { return kv.second.state == PluginState::running; });
}

}  // namespace rampart::plugin_host
