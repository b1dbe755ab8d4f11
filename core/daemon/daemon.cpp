// SPDX-License-Identifier: Apache-2.0
#include "daemon/daemon.hpp"

#include <filesystem>

#include <boost/dll/runtime_symbol_info.hpp>

#include <csignal>
#include <cstdio>
#include <iostream>

#include "bpf/datapath.hpp"
#include "bpf/ring_dispatcher.hpp"
#include "config/config.hpp"
#include "daemon/core_metrics.hpp"
#include "plugin_host/plugin_manager.hpp"
#include "runtime/alert_pipeline.hpp"
#include "runtime/event_bus.hpp"
#include "runtime/metrics.hpp"
#include "runtime/runtime.hpp"
#include "store/rule_service.hpp"
#include "store/rule_store.hpp"

#ifndef RAMPART_VERSION
#define RAMPART_VERSION "0.0.0"
#endif

namespace rampart::daemon {
namespace {

constexpr std::string_view kLog = "rampartd";

config::Config load(const Options& opts) {
  return opts.config_path ? config::load_file(*opts.config_path) : config::load_embedded_default();
}

void apply_logging(const Options& opts, const config::AgentSettings& agent) {
  log::Logger::global().configure(opts.log_level.value_or(agent.log_level),
                                  opts.log_format.value_or(agent.log_format));
}

std::vector<std::string> plugin_dirs(const Options& opts, const config::AgentSettings& agent) {
  if (!opts.plugin_dirs.empty()) return opts.plugin_dirs;
  if (!agent.plugin_dirs.empty()) return agent.plugin_dirs;
  return {default_plugin_dir()};
}

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

void reload(const Options& opts, config::Config& current, plugin_host::PluginManager& plugins) {
  log::info(kLog, "reloading configuration", {{"source", opts.config_path.value_or("<embedded>")}});
  config::Config next;
  try {
    next = load(opts);
  } catch (const config::ConfigError& e) {
    log::error(kLog, "config reload refused; the running config stays", {{"reason", e.what()}});
    return;
  }
  if (next.agent.workers != current.agent.workers ||
      next.agent.interfaces != current.agent.interfaces ||
      next.agent.xdp_mode != current.agent.xdp_mode ||
      next.agent.bpf_pin_path != current.agent.bpf_pin_path) {
    log::warn(
        kLog,
        "agent.workers, interfaces, xdp_mode and bpf_pin_path changes take effect at restart");
  }
  // New directories, and new files in known ones, are picked up now.
  plugins.discover(plugin_dirs(opts, next.agent));
  const auto result = plugins.reload(next);
  if (!result.ok) {
    log::error(kLog, "config reload refused; the running config stays",
               {{"reason", result.reason}});
    return;
  }
  apply_logging(opts, next.agent);
  current = std::move(next);
  log::info(kLog, "configuration reloaded",
            {{"changes", result.changes.empty() ? "none" : join(result.changes, ", ")}});
}

}  // namespace

std::string default_plugin_dir() {
  return (boost::dll::program_location().parent_path().parent_path() / "lib" / "rampart" /
          "plugins")
      .lexically_normal()
      .string();
}

std::string default_bpf_dir() {
  return (boost::dll::program_location().parent_path().parent_path() / "lib" / "rampart" / "bpf")
      .lexically_normal()
      .string();
}

namespace {

// The kernel side runs when interfaces are configured. Failing to load it is
// logged; plugins that need it then fail with the reason.
std::unique_ptr<bpf::Datapath> start_datapath(const config::Config& cfg) {
  if (cfg.agent.interfaces.empty()) {
    // An earlier run's attachments would go on filtering unmanaged.
    std::error_code ec;
    if (std::filesystem::exists(cfg.agent.bpf_pin_path, ec)) {
      bpf::Datapath::detach_all(cfg.agent.bpf_pin_path);
      log::info(kLog, "no interfaces configured: detached what an earlier run left attached",
                {{"pin_root", cfg.agent.bpf_pin_path}});
    } else {
      log::info(kLog, "no interfaces configured: kernel programs not loaded");
    }
    return nullptr;
  }
  bpf::DatapathOptions o;
  o.bpf_dir = cfg.agent.bpf_dir.empty() ? default_bpf_dir() : cfg.agent.bpf_dir;
  o.pin_root = cfg.agent.bpf_pin_path;
  o.interfaces = cfg.agent.interfaces;
  o.xdp_mode = cfg.agent.xdp_mode;
  // Before the firewall installs its rules, the entry program applies the
  // firewall's default policy.
  const auto& fw = cfg.plugin("firewall");
  const YAML::Node& node = fw.node;
  o.default_deny = fw.enabled && node.IsMap() && node["default_policy"] &&
                   node["default_policy"].IsScalar() && node["default_policy"].Scalar() == "deny";
  auto dp = std::make_unique<bpf::Datapath>(o);
  try {
    dp->start();
  } catch (const bpf::BpfError& e) {
    log::error(kLog, "kernel programs not loaded", {{"reason", e.what()}});
    return nullptr;
  }
  return dp;
}

}  // namespace

int run(const Options& opts) {
  config::Config cfg;
  try {
    cfg = load(opts);
  } catch (const config::ConfigError& e) {
    std::fprintf(stderr, "rampartd: invalid configuration: %s\n", e.what());
    return 1;
  }
  if (opts.check_config) {
    // Each enabled plugin checks its own subtree (rules, blocklist files,
    // listen addresses) without starting; nothing touches the kernel.
    runtime::Runtime rt(1);
    runtime::EventBus events(rt.workers());
    runtime::AlertPipeline alerts(rt.workers());
    runtime::Metrics metrics;
    plugin_host::CoreServices core{rt, events, alerts, metrics, nullptr, nullptr};
    plugin_host::PluginManager plugins(core);
    plugins.discover(plugin_dirs(opts, cfg.agent));
    const auto problems = plugins.check(cfg);
    rt.shutdown();
    if (!problems.empty()) {
      for (const auto& p : problems)
        std::fprintf(stderr, "rampartd: invalid configuration: %s\n", p.c_str());
      return 1;
    }
    std::printf("rampartd: configuration OK: %s\n", cfg.source.c_str());
    return 0;
  }
  if (opts.detach_all) {
    bpf::Datapath::detach_all(cfg.agent.bpf_pin_path);
    std::printf("rampartd: detached every interface and removed %s\n",
                cfg.agent.bpf_pin_path.c_str());
    return 0;
  }
  apply_logging(opts, cfg.agent);

  // Signals are taken synchronously by this (control) thread only; block
  // them before any other thread exists so none of those receives them.
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGHUP, SIGTERM, SIGINT}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  log::info(kLog, "starting", {{"version", RAMPART_VERSION}, {"config", cfg.source}});
  runtime::Runtime rt(cfg.agent.workers);
  runtime::EventBus events(rt.workers());
  runtime::AlertPipeline alerts(rt.workers());
  runtime::Metrics metrics;
  events.set_latency_histogram(&metrics.core_histogram(
      "rampart_event_dispatch_seconds", "From publish to the end of an engine's handling",
      {0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1}));
  auto datapath = start_datapath(cfg);
  std::unique_ptr<bpf::RingDispatcher> dispatcher;
  if (datapath) {
    dispatcher =
        std::make_unique<bpf::RingDispatcher>(rt.loop(), datapath->shared_map_fd("events"), events);
    dispatcher->start();
  }
  std::unique_ptr<store::RuleStore> rule_store;
  try {
    rule_store = std::make_unique<store::RuleStore>(cfg.agent.state_dir + "/rampart.db");
  } catch (const store::StoreError& e) {
    log::error(kLog, "cannot open the rule store", {{"reason", e.what()}});
    if (dispatcher) dispatcher->stop();
    rt.shutdown();
    return 1;
  }
  store::RuleService rules(*rule_store);
  plugin_host::CoreServices core{rt, events, alerts, metrics, datapath.get(), &rules};
  {
    plugin_host::PluginManager plugins(core);
    plugins.discover(plugin_dirs(opts, cfg.agent));
    add_core_metrics(metrics,
                     {events, dispatcher.get(), datapath.get(), &plugins, rule_store.get()});
    plugins.start(cfg);
    std::vector<std::string> running;
    for (const auto& st : plugins.status()) {
      if (st.state == plugin_host::PluginState::running) running.push_back(st.id);
    }
    log::info(kLog, "ready",
              {{"plugins", running.empty() ? "none" : join(running, ",")},
               {"refused", std::to_string(plugins.refusals().size())}});

    for (;;) {
      siginfo_t info{};
      const int sig = sigwaitinfo(&signals, &info);
      if (sig == SIGHUP) {
        reload(opts, cfg, plugins);
      } else if (sig == SIGTERM || sig == SIGINT) {
        log::info(kLog, "stopping", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
        break;
      }
    }
    plugins.stop_all();
    metrics.remove_collectors();
  }
  if (dispatcher) dispatcher->stop();
  rt.shutdown();
  log::info(kLog, "stopped");
  return 0;
}

}  // namespace rampart::daemon
