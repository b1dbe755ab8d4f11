// SPDX-License-Identifier: Apache-2.0
#include "daemon/daemon.hpp"

#include <filesystem>

#include <boost/dll/runtime_symbol_info.hpp>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <grp.h>
#include <net/if.h>
#include <pwd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <future>
#include <iostream>
#include <mutex>
#include <set>
#include <sstream>

#include "alerts/alert_store.hpp"
#include "alerts/geoip.hpp"
#include "alerts/pipeline.hpp"
#include "api/management_api.hpp"
#include "bpf/datapath.hpp"
#include "bpf/libbpf_log.hpp"
#include "bpf/ring_dispatcher.hpp"
#include "config/config.hpp"
#include "daemon/agent_views.hpp"
#include "daemon/core_metrics.hpp"
#include "daemon/instance_lock.hpp"
#include "daemon/readiness.hpp"
#include "daemon/stop_watchdog.hpp"
#include "plugin_host/plugin_call.hpp"
#include "plugin_host/plugin_manager.hpp"
#include "runtime/event_bus.hpp"
#include "runtime/metrics.hpp"
#include "runtime/runtime.hpp"
#include "store/rule_expiry.hpp"
#include "store/rule_service.hpp"
#include "store/rule_store.hpp"
#include "util/json.hpp"
#include "util/unique_fd.hpp"

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
      next.agent.bpf_pin_path != current.agent.bpf_pin_path ||
      next.agent.fail_closed != current.agent.fail_closed ||
      next.agent.table_swaps != current.agent.table_swaps) {
    out.restart_needed = true;
    log::warn(kLog,
              "agent.workers, interfaces, xdp_mode, bpf_pin_path, fail_closed and table_swaps "
              "changes take effect at restart");
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
// plugins and the configuration; SIGUSR1 wakes it. Each request remembers
// the frontend plugin carrying it: when the reload stops or restarts that
// very plugin, its waiters are answered first (the plugin's stop waits for
// its in-flight requests, so waiting for the outcome would never end).
class ReloadRequests {
 public:
  using Answer = std::pair<int, std::string>;  // HTTP status, JSON body
  Answer request(const std::string& carrier) {
    auto p = std::make_shared<std::promise<Answer>>();
    auto f = p->get_future();
    {
      std::lock_guard lock(mu_);
      pending_.push_back({carrier, p});
    }
    kill(getpid(), SIGUSR1);
    if (f.wait_for(std::chrono::seconds(60)) != std::future_status::ready)
      return {504, R"({"error":"reload timed out","detail":"the agent did not answer in 60 s"})"};
    return f.get();
  }
  // Takes the waiting requests: the reload about to run answers them.
  void begin() {
    std::lock_guard lock(mu_);
    running_.insert(running_.end(), pending_.begin(), pending_.end());
    pending_.clear();
  }
  void answer_all(const Answer& a) {
    std::vector<Waiter> batch;
    {
      std::lock_guard lock(mu_);
      batch.swap(running_);
      batch.insert(batch.end(), pending_.begin(), pending_.end());
      pending_.clear();
    }
    for (auto& w : batch) w.promise->set_value(a);
  }
  // The reload is about to stop `carrier`: its requests cannot wait longer.
  void release(const std::string& carrier) {
    std::vector<Waiter> batch;
    {
      std::lock_guard lock(mu_);
      for (auto* list : {&running_, &pending_}) {
        std::erase_if(*list, [&](Waiter& w) {
          if (w.carrier != carrier) return false;
          batch.push_back(std::move(w));
          return true;
        });
      }
    }
    for (auto& w : batch)
      w.promise->set_value(
          {202, R"({"status":"reloading","detail":"the reload restarts the frontend carrying )"
                R"(this request; its outcome is in the log and GET /api/v1/agent/status"})"});
  }
  bool waiting() {
    std::lock_guard lock(mu_);
    return !pending_.empty();
  }

 private:
  struct Waiter {
    std::string carrier;
    std::shared_ptr<std::promise<Answer>> promise;
  };
  std::mutex mu_;
  std::vector<Waiter> pending_, running_;
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

// The kernel side runs when interfaces are configured. Loaded here, attached
// once the engines have installed their programs (Datapath::attach). A
// failure is logged and kept for readiness; plugins that need the kernel
// then fail with the reason.
std::unique_ptr<bpf::Datapath> load_datapath(const config::Config& cfg, std::string& error) {
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
  o.fail_closed = cfg.agent.fail_closed;
  o.table_swaps = cfg.agent.table_swaps;
  auto dp = std::make_unique<bpf::Datapath>(o);
  try {
    dp->load();
  } catch (const bpf::BpfError& e) {
    error = e.what();
    log::error(kLog, "kernel programs not loaded", {{"reason", e.what()}});
    return nullptr;
  }
  return dp;
}

// The state directory, rampartd's alone: created 0700, tightened if an
// earlier version left it (or its database) readable by others.
void prepare_state_dir(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw store::StoreError("cannot create state directory " + dir + ": " + ec.message());
  struct stat st {};
  if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    throw store::StoreError("state directory " + dir + " is not a directory");
  if (st.st_uid == geteuid() && (st.st_mode & 077) != 0) chmod(dir.c_str(), 0700);
  for (const auto& de : fs::directory_iterator(dir, ec)) {
    struct stat f {};
    if (lstat(de.path().c_str(), &f) == 0 && S_ISREG(f.st_mode) && f.st_uid == geteuid() &&
        (f.st_mode & 077) != 0)
      chmod(de.path().c_str(), f.st_mode & 0700);
  }
  if (access(dir.c_str(), W_OK) != 0)
    throw store::StoreError("state directory " + dir + " is not writable: " + std::strerror(errno));
}

// What would keep rampartd from keeping state in `dir`, checked without
// changing anything but a probe file: a file really created and removed
// (access() says yes to root even on a read-only file system), or, for a
// directory still to be made, the writable directory it would be made in.
std::string state_dir_problem(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path existing = dir;
  while (!fs::exists(existing, ec) && existing.has_parent_path() &&
         existing != existing.parent_path())
    existing = existing.parent_path();
  if (!fs::is_directory(existing, ec))
    return "state directory " + dir + ": " + existing.string() + " is not a directory";
  std::string probe = existing.string() + "/.rampart-check-XXXXXX";
  const util::UniqueFd fd(mkstemp(probe.data()));
  if (!fd) {
    return existing.string() == dir
               ? "state directory " + dir + " is not writable: " + std::strerror(errno)
               : "cannot create state directory " + dir + " in " + existing.string() + ": " +
                     std::strerror(errno);
  }
  unlink(probe.c_str());
  return "";
}

// Idle HTTP connections cost a descriptor each: take the hard limit.
void raise_fd_limit() {
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    setrlimit(RLIMIT_NOFILE, &r);
  }
}

// Root running a check or `keys reset` for an agent that runs as its own
// user (the package's `rampart`, owner of the state directory) would leave
// root's files where that agent must write (the log sender creates the file
// it checks; SQLite, a new database), and would read what the agent cannot
// (a TLS key, a blocklist). So the command becomes that user, for good (it
// exits when done). "" or why it could not.
std::string become_state_dir_owner(const std::string& state_dir) {
  struct stat st {};
  if (geteuid() != 0 || stat(state_dir.c_str(), &st) != 0 || st.st_uid == 0) return "";
  const passwd* pw = getpwuid(st.st_uid);
  if (!pw) return "no user has uid " + std::to_string(st.st_uid) + ", the owner of " + state_dir;
  if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
      setuid(pw->pw_uid) != 0)
    return std::string("cannot become ") + pw->pw_name + ": " + std::strerror(errno);
  std::printf("rampartd: running as %s, the owner of %s (the agent's user)\n", pw->pw_name,
              state_dir.c_str());
  return "";
}

int check_config(const Options& opts, const config::Config& cfg) {
  if (const auto why = become_state_dir_owner(cfg.agent.state_dir); !why.empty()) {
    std::fprintf(stderr, "rampartd: cannot check as the agent's user: %s\n", why.c_str());
    return 1;
  }
  // Each enabled plugin checks its own subtree (rules, blocklist files,
  // listen addresses) without starting; nothing touches the kernel.
  runtime::Runtime rt(1);
  runtime::EventBus events(rt.workers());
  alerts::AlertPipeline alerts(cfg.alerts);
  runtime::Metrics metrics;
  plugin_host::CoreServices core{rt, events, alerts, metrics, nullptr, nullptr, nullptr, {}};
  plugin_host::PluginManager plugins(core);
  plugins.discover(plugin_dirs(opts, cfg.agent));
  auto problems = plugins.check(cfg);
  rt.shutdown();
  for (const auto& ifname : cfg.agent.interfaces) {
    if (if_nametoindex(ifname.c_str()) == 0)
      problems.push_back(cfg.source + ": agent.interfaces: no interface named '" + ifname + "'");
  }
  if (const auto why = state_dir_problem(cfg.agent.state_dir); !why.empty())
    problems.push_back(cfg.source + ": agent.state_dir: " + why);
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

std::string token_file(const config::Config& cfg) { return cfg.agent.state_dir + "/admin.key"; }

// `rampartd keys reset`: every key removed, a new admin key's token in the
// state directory. Local and root (or the agent's user) only: the file
// system decides, as the state directory is 0700.
int keys_reset(const config::Config& cfg) {
  if (const auto why = become_state_dir_owner(cfg.agent.state_dir); !why.empty()) {
    std::fprintf(stderr, "rampartd: keys reset failed: %s\n", why.c_str());
    return 1;
  }
  try {
    prepare_state_dir(cfg.agent.state_dir);
    store::KeyStore keys(cfg.agent.state_dir + "/rampart.db");
    store::reset_keys(keys, token_file(cfg));
  } catch (const store::StoreError& e) {
    std::fprintf(stderr, "rampartd: keys reset failed: %s\n", e.what());
    return 1;
  }
  std::printf("rampartd: every API key was removed; the new admin key's token is in %s\n",
              token_file(cfg).c_str());
  return 0;
}

// `rampartd --prepare-pin-root --owner USER`, as root before an agent that
// runs as USER with three capabilities (the systemd unit's ExecStartPre=+):
// what that user cannot do itself, mount bpffs and own its pin root. With
// no interface there is nothing to do, unless an earlier run left pins (the
// agent then detaches them at start, as their owner).
int prepare_pin_root(const Options& opts, const config::Config& cfg) {
  const std::string& pin_root = cfg.agent.bpf_pin_path;
  if (geteuid() != 0) {
    std::fprintf(stderr, "rampartd: --prepare-pin-root needs root\n");
    return 1;
  }
  const passwd* pw = getpwnam(opts.owner.c_str());
  if (!pw) {
    std::fprintf(stderr, "rampartd: --owner: no user named '%s'\n", opts.owner.c_str());
    return 1;
  }
  std::error_code ec;
  if (cfg.agent.interfaces.empty() && !std::filesystem::exists(pin_root, ec)) {
    std::printf("rampartd: no interfaces configured and nothing pinned in %s: nothing to prepare\n",
                pin_root.c_str());
    return 0;
  }
  try {
    bpf::prepare_pin_root(pin_root, pw->pw_uid, pw->pw_gid);
  } catch (const bpf::BpfError& e) {
    std::fprintf(stderr, "rampartd: cannot prepare the pin root: %s\n", e.what());
    return 1;
  }
  std::printf("rampartd: %s is ready for %s\n", pin_root.c_str(), opts.owner.c_str());
  return 0;
}

// `rampartd --detach-all`. Refused while an agent holds the pin root: it
// would go on running, and reporting ready, with nothing attached.
int detach_all(const config::Config& cfg) {
  const std::string& pin_root = cfg.agent.bpf_pin_path;
  std::unique_ptr<InstanceLock> lock;
  std::error_code ec;
  if (std::filesystem::is_directory(pin_root, ec)) {
    try {
      lock = InstanceLock::acquire("", pin_root);
    } catch (const LockError& e) {
      std::fprintf(stderr, "rampartd: cannot detach: %s; stop it first\n", e.what());
      return 1;
    }
  }
  bpf::Datapath::detach_all(pin_root);
  std::printf("rampartd: detached every interface and removed %s\n", pin_root.c_str());
  return 0;
}

}  // namespace

int run(const Options& opts) {
  // Before any plugin loads (--check-config creates them too): a crash in
  // one is reported naming it, then kills rampartd by the same signal.
  plugin_host::install_fatal_signal_report();
  // Before anything can call libbpf (--detach-all, the datapath, plugins'
  // programs): its messages follow agent.log_format like every other line.
  bpf::route_libbpf_log();
  config::Config cfg;
  try {
    cfg = load(opts);
  } catch (const config::ConfigError& e) {
    std::fprintf(stderr, "rampartd: invalid configuration: %s\n", e.what());
    return 1;
  }
  umask(077);  // state, database, logs and sockets are the agent's alone
  if (opts.check_config) return check_config(opts, cfg);
  if (opts.keys_reset) return keys_reset(cfg);
  apply_logging(opts, cfg.agent);  // for libbpf's messages while detaching too
  if (opts.prepare_pin_root) return prepare_pin_root(opts, cfg);
  if (opts.detach_all) return detach_all(cfg);
  raise_fd_limit();

  // Signals are taken synchronously by this (control) thread only; block
  // them before any other thread exists so none of those receives them.
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGHUP, SIGTERM, SIGINT, SIGUSR1}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  log::info(kLog, "starting", {{"version", RAMPART_VERSION}, {"config", cfg.source}});
  // Destroyed last: it bounds everything the stop does, databases included.
  StopWatchdog watchdog;

  // 1. State before the kernel: a start that cannot keep state, or that
  // would share it with another agent, fails here and leaves whatever an
  // earlier run pinned filtering exactly as it was.
  std::unique_ptr<InstanceLock> lock;
  std::unique_ptr<store::RuleStore> rule_store;
  std::unique_ptr<store::KeyStore> keys;
  std::unique_ptr<alerts::AlertStore> alert_store;
  try {
    prepare_state_dir(cfg.agent.state_dir);
    std::string pin_root;
    std::error_code ec;
    if (!cfg.agent.interfaces.empty()) {
      bpf::ensure_bpffs(cfg.agent.bpf_pin_path);
      pin_root = cfg.agent.bpf_pin_path;
    } else if (std::filesystem::is_directory(cfg.agent.bpf_pin_path, ec)) {
      pin_root = cfg.agent.bpf_pin_path;
    }
    lock = InstanceLock::acquire(cfg.agent.state_dir, pin_root);
    // Rules, audit and API keys share the agent's database.
    const std::string db = cfg.agent.state_dir + "/rampart.db";
    rule_store = std::make_unique<store::RuleStore>(db, cfg.audit);
    keys = std::make_unique<store::KeyStore>(db);
    alert_store = std::make_unique<alerts::AlertStore>(db, cfg.alerts.store);
    if (store::ensure_bootstrap_key(*keys, token_file(cfg))) {
      log::info(kLog, "created the first admin API key; its token is in a file only root reads",
                {{"file", token_file(cfg)}});
    }
  } catch (const std::exception& e) {
    // LockError, StoreError, BpfError (bpffs): nothing in the kernel changed.
    log::error(kLog, "cannot start; the kernel datapath was left as it was",
               {{"reason", e.what()}});
    return 1;
  }

  runtime::Runtime rt(cfg.agent.workers);
  runtime::EventBus events(rt.workers());
  alerts::AlertPipeline alerts(cfg.alerts);
  runtime::Metrics metrics;
  events.set_latency_histogram(&metrics.core_histogram(
      "rampart_event_dispatch_seconds", "From publish to the end of an engine's handling",
      {0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1}));

  // 2. The kernel programs, loaded (or adopted) but not yet attached.
  std::string datapath_error;
  auto datapath = load_datapath(cfg, datapath_error);
  store::RuleService rules(*rule_store);
  const auto started = std::chrono::steady_clock::now();
  PluginSnapshot snapshot;
  ReloadRequests reloads;
  std::mutex config_mu;  // cfg: replaced by the control thread, read by API threads
  auto readiness = [&] {
    std::lock_guard lock(config_mu);
    return assess_readiness(cfg, snapshot.plugins(), datapath.get(), datapath_error);
  };
  api::Providers providers;
  providers.agent_status = [&] {
    std::string source;
    {
      std::lock_guard lock(config_mu);
      source = cfg.source;
    }
    return agent_status_json(snapshot, datapath.get(), source, started, readiness());
  };
  providers.ebpf_status = [&] { return ebpf_status_json(datapath.get()); };
  providers.config = [&] {
    // Until the plugins are found the snapshot knows none: every plugin's
    // settings read redacted, never in clear.
    const auto secrets = snapshot.secret_settings();
    std::lock_guard lock(config_mu);
    return config_json(cfg, secrets);
  };
  providers.reload = [&](const std::string& carrier) { return reloads.request(carrier); };
  providers.alerts = alert_store.get();
  alerts.set_store(alert_store.get());
  apply_geoip(alerts, cfg.alerts.geoip);
  api::ManagementApi management(rules, providers, keys.get());
  plugin_host::CoreServices core{
      rt, events, alerts, metrics, datapath.get(), &rules, &management, [&] {
        const auto missing = readiness();
        return std::pair{missing.empty(), readiness_json(missing)};
      }};
  {
    plugin_host::PluginManager plugins(core);
    plugins.set_before_stop([&](const std::string& id) {
      reloads.release(id);
      watchdog.stage("plugin", id);
    });
    plugins.discover(plugin_dirs(opts, cfg.agent));
    snapshot.update(plugins);
    add_core_metrics(
        metrics, {events, datapath.get(), &snapshot, rule_store.get(), &rules, &alerts, readiness});
    // 3. Engines install their programs, then 4. the interfaces see them.
    plugins.start(cfg);
    snapshot.update(plugins);
    if (datapath) {
      // Stages an earlier run left whose plugin is now disabled or gone
      // leave the chain; a plugin that failed to start keeps its old one.
      std::set<std::string> failed;
      for (const auto& st : plugins.status()) {
        if (st.state == plugin_host::PluginState::failed) failed.insert(st.id);
      }
      datapath->remove_unclaimed_stages(failed);
      datapath->attach();
    }
    // API rules with an expiry (blocklist entries of the IPS and DDoS
    // engines) leave once it passes, each applied by its engine first.
    store::RuleExpiry expiry(rules);
    expiry.start();
    std::vector<std::string> running;
    for (const auto& st : plugins.status()) {
      if (st.state == plugin_host::PluginState::running) running.push_back(st.id);
    }
    auto report_readiness = [&, last = std::optional<std::vector<Missing>>()]() mutable {
      auto missing = readiness();
      if (last && *last == missing) return;
      std::vector<std::string> what;
      for (const auto& m : missing) what.push_back(m.component + ": " + m.why);
      if (missing.empty()) {
        log::info(kLog, "ready",
                  {{"plugins", running.empty() ? "none" : join(running, ",")},
                   {"refused", std::to_string(plugins.refusals().size())}});
      } else {
        log::warn(kLog, "not ready",
                  {{"plugins", running.empty() ? "none" : join(running, ",")},
                   {"refused", std::to_string(plugins.refusals().size())},
                   {"missing", join(what, "; ")}});
      }
      last = std::move(missing);
    };
    report_readiness();

    for (;;) {
      siginfo_t info{};
      // Readiness can change without a signal (an engine stops enforcing):
      // look again every few seconds.
      const timespec every{5, 0};
      const int sig = sigtimedwait(&signals, &info, &every);
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
        running.clear();
        for (const auto& st : plugins.status()) {
          if (st.state == plugin_host::PluginState::running) running.push_back(st.id);
        }
        return ReloadRequests::Answer{outcome.ok ? 200 : 422, outcome_json(outcome)};
      };
      if (sig == SIGHUP || sig == SIGUSR1) {
        reloads.begin();
        reloads.answer_all(run_reload());
      } else if (sig == SIGTERM || sig == SIGINT) {
        unsigned bound = 0;
        {
          std::lock_guard lock(config_mu);
          bound = cfg.agent.stop_timeout_seconds;
        }
        log::info(kLog, "stopping",
                  {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"},
                   {"stop_timeout_seconds", std::to_string(bound)}});
        watchdog.arm(std::chrono::seconds(bound));
        break;
      }
      report_readiness();
    }
    reloads.answer_all({503, R"({"error":"stopping","detail":"the agent is stopping"})"});
    // Stages that asked to stay (RAMPART_PROGRAM_KEEP_ON_EXIT) go on filtering until the
    // next rampartd installs its own.
    if (datapath) datapath->set_exiting();
    expiry.stop();  // before the engines it would apply deletions through
    plugins.stop_all();
    metrics.remove_collectors();
  }
  watchdog.stage("event loop and workers");
  rt.shutdown();
  alerts.set_store(nullptr);
  watchdog.stage("databases");
  log::info(kLog, "stopped");
  return 0;
}

}  // namespace rampart::daemon
