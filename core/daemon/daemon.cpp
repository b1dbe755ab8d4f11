// SPDX-License-Identifier: Apache-2.0
#include "daemon/daemon.hpp"

#include <filesystem>

#include <boost/dll/runtime_symbol_info.hpp>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <future>
#include <iostream>
#include <mutex>
#include <sstream>

#include "alerts/alert_store.hpp"
#include "alerts/geoip.hpp"
#include "alerts/pipeline.hpp"
#include "api/management_api.hpp"
#include "bpf/datapath.hpp"
#include "bpf/ring_dispatcher.hpp"
#include "config/config.hpp"
#include "daemon/agent_views.hpp"
#include "daemon/core_metrics.hpp"
#include "plugin_host/plugin_manager.hpp"
#include "runtime/event_bus.hpp"
#include "runtime/metrics.hpp"
#include "runtime/runtime.hpp"
#include "store/rule_service.hpp"
#include "store/rule_store.hpp"
#include "util/json.hpp"

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

struct ReloadOutcome {
  bool ok = false;
  std::string reason;                // why refused
  std::vector<std::string> changes;  // what changed
  bool restart_needed = false;       // agent settings that apply at restart changed
};

// Opens the GeoIP databases the config names and hands them to the
// enricher; a database that cannot be used is reported and left out.
void apply_geoip(alerts::AlertPipeline& pipeline, const alerts::GeoIpPaths& paths) {
  if (paths == alerts::GeoIpPaths{}) {
    pipeline.enricher().set_geo(nullptr);
    return;
  }
  std::vector<std::string> problems;
  auto geo = alerts::GeoIp::open(paths, problems);
  for (const auto& p : problems)
    log::warn(kLog, "GeoIP database not used; enrichment goes on without it", {{"problem", p}});
  for (const auto& d : geo->describe()) log::info(kLog, "GeoIP database", {{"database", d}});
  pipeline.enricher().set_geo(alerts::geo_lookup(std::move(geo)));
}

ReloadOutcome reload(const Options& opts, config::Config& current,
                     plugin_host::PluginManager& plugins, alerts::AlertPipeline& alerts,
                     store::RuleStore& rule_store) {
  log::info(kLog, "reloading configuration", {{"source", opts.config_path.value_or("<embedded>")}});
  ReloadOutcome out;
  config::Config next;
  try {
    next = load(opts);
  } catch (const config::ConfigError& e) {
    log::error(kLog, "config reload refused; the running config stays", {{"reason", e.what()}});
    out.reason = e.what();
    return out;
  }
  if (next.agent.workers != current.agent.workers ||
      next.agent.interfaces != current.agent.interfaces ||
      next.agent.xdp_mode != current.agent.xdp_mode ||
      next.agent.bpf_pin_path != current.agent.bpf_pin_path) {
    out.restart_needed = true;
    log::warn(
        kLog,
        "agent.workers, interfaces, xdp_mode and bpf_pin_path changes take effect at restart");
  }
  // New directories, and new files in known ones, are picked up now.
  plugins.discover(plugin_dirs(opts, next.agent));
  auto result = plugins.reload(next);
  if (!result.ok) {
    log::error(kLog, "config reload refused; the running config stays",
               {{"reason", result.reason}});
    out.reason = result.reason;
    return out;
  }
  apply_logging(opts, next.agent);
  if (!(next.alerts == current.alerts)) {
    alerts.configure(next.alerts);
    if (!(next.alerts.geoip == current.alerts.geoip)) apply_geoip(alerts, next.alerts.geoip);
    result.changes.push_back("alerts");
  }
  if (!(next.audit == current.audit)) {
    try {
      rule_store.set_audit_retention(next.audit);
    } catch (const store::StoreError& e) {
      // The limits hold from now on (the next rule change prunes again).
      log::warn(kLog, "audit retention not applied now", {{"reason", e.what()}});
    }
    result.changes.push_back("audit");
  }
  current = std::move(next);
  log::info(kLog, "configuration reloaded",
            {{"changes", result.changes.empty() ? "none" : join(result.changes, ", ")}});
  out.ok = true;
  out.changes = result.changes;
  return out;
}

std::string outcome_json(const ReloadOutcome& o) {
  Poco::JSON::Object::Ptr j = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  if (o.ok) {
    j->set("status", "reloaded");
    Poco::JSON::Array::Ptr changes = new Poco::JSON::Array;
    for (const auto& c : o.changes) changes->add(c);
    j->set("changes", changes);
    j->set("restart_needed", o.restart_needed);
  } else {
    j->set("error", "reload refused");
    j->set("detail", o.reason + "; the running configuration stays");
  }
  return util::to_json(j);
}

// API reload requests wait here for the control thread, which owns the
// plugins and the configuration; SIGUSR1 wakes it.
class ReloadRequests {
 public:
  std::pair<bool, std::string> request() {
    auto p = std::make_shared<std::promise<std::pair<bool, std::string>>>();
    auto f = p->get_future();
    {
      std::lock_guard lock(mu_);
      pending_.push_back(p);
    }
    kill(getpid(), SIGUSR1);
    if (f.wait_for(std::chrono::seconds(60)) != std::future_status::ready)
      return {false, R"({"error":"reload timed out","detail":"the agent did not answer in 60 s"})"};
    return f.get();
  }
  void serve(const std::function<std::pair<bool, std::string>()>& run) {
    std::vector<std::shared_ptr<std::promise<std::pair<bool, std::string>>>> batch;
    {
      std::lock_guard lock(mu_);
      batch.swap(pending_);
    }
    if (batch.empty()) return;
    const auto result = run();  // one reload answers every request that waited for it
    for (auto& p : batch) p->set_value(result);
  }
  void fail_all() {
    serve([] {
      return std::pair<bool, std::string>{
          false, R"({"error":"stopping","detail":"the agent is stopping"})"};
    });
  }

 private:
  std::mutex mu_;
  std::vector<std::shared_ptr<std::promise<std::pair<bool, std::string>>>> pending_;
};

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
    alerts::AlertPipeline alerts(cfg.alerts);
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
    // A GeoIP database that cannot be used is not an error (alerts go out
    // without it) but the operator should hear of it now.
    std::vector<std::string> geo_problems;
    if (!(cfg.alerts.geoip == alerts::GeoIpPaths{}))
      (void)alerts::GeoIp::open(cfg.alerts.geoip, geo_problems);
    for (const auto& p : geo_problems) std::fprintf(stderr, "rampartd: warning: %s\n", p.c_str());
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
  for (int s : {SIGHUP, SIGTERM, SIGINT, SIGUSR1}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  log::info(kLog, "starting", {{"version", RAMPART_VERSION}, {"config", cfg.source}});
  runtime::Runtime rt(cfg.agent.workers);
  runtime::EventBus events(rt.workers());
  alerts::AlertPipeline alerts(cfg.alerts);
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
  // Rules, audit and API keys share the agent's database.
  std::unique_ptr<store::RuleStore> rule_store;
  std::unique_ptr<store::KeyStore> keys;
  std::unique_ptr<alerts::AlertStore> alert_store;
  try {
    rule_store = std::make_unique<store::RuleStore>(cfg.agent.state_dir + "/rampart.db", cfg.audit);
    keys = std::make_unique<store::KeyStore>(cfg.agent.state_dir + "/rampart.db");
    alert_store =
        std::make_unique<alerts::AlertStore>(cfg.agent.state_dir + "/rampart.db", cfg.alerts.store);
  } catch (const store::StoreError& e) {
    log::error(kLog, "cannot open the agent's database", {{"reason", e.what()}});
    if (dispatcher) dispatcher->stop();
    rt.shutdown();
    return 1;
  }
  store::RuleService rules(*rule_store);
  const auto started = std::chrono::steady_clock::now();
  PluginSnapshot snapshot;
  ReloadRequests reloads;
  std::mutex config_mu;  // cfg: replaced by the control thread, read by API threads
  api::Providers providers;
  providers.agent_status = [&] {
    std::string source;
    {
      std::lock_guard lock(config_mu);
      source = cfg.source;
    }
    return agent_status_json(snapshot, datapath.get(), source, started);
  };
  providers.ebpf_status = [&] { return ebpf_status_json(datapath.get()); };
  providers.config = [&] {
    std::lock_guard lock(config_mu);
    return config_json(cfg);
  };
  providers.reload = [&] { return reloads.request(); };
  providers.alerts = alert_store.get();
  alerts.set_store(alert_store.get());
  apply_geoip(alerts, cfg.alerts.geoip);
  if (keys->empty()) {
    log::warn(kLog,
              "no API key exists: the management API is open to whoever reaches it; "
              "create an admin key (POST /api/v1/keys) to require keys");
  }
  api::ManagementApi management(rules, providers, keys.get());
  plugin_host::CoreServices core{rt, events, alerts, metrics, datapath.get(), &rules, &management};
  {
    plugin_host::PluginManager plugins(core);
    plugins.discover(plugin_dirs(opts, cfg.agent));
    snapshot.update(plugins);
    add_core_metrics(metrics, {events, dispatcher.get(), datapath.get(), &snapshot,
                               rule_store.get(), &rules, &alerts});
    plugins.start(cfg);
    snapshot.update(plugins);
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
      auto run_reload = [&] {
        config::Config copy;
        {
          std::lock_guard lock(config_mu);
          copy = cfg;
        }
        const auto outcome = reload(opts, copy, plugins, alerts, *rule_store);
        {
          std::lock_guard lock(config_mu);
          cfg = std::move(copy);
        }
        snapshot.update(plugins);
        return std::pair<bool, std::string>{outcome.ok, outcome_json(outcome)};
      };
      if (sig == SIGHUP) {
        run_reload();
      } else if (sig == SIGUSR1) {
        reloads.serve(run_reload);
      } else if (sig == SIGTERM || sig == SIGINT) {
        log::info(kLog, "stopping", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
        break;
      }
    }
    reloads.fail_all();
    plugins.stop_all();
    metrics.remove_collectors();
  }
  if (dispatcher) dispatcher->stop();
  rt.shutdown();
  alerts.set_store(nullptr);
  log::info(kLog, "stopped");
  return 0;
}

}  // namespace rampart::daemon
