// SPDX-License-Identifier: Apache-2.0
#include "daemon/core_metrics.hpp"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <rampart/sdk/plugin.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

namespace rampart::daemon {
namespace {

using prometheus::MetricType;
using runtime::add_sample;
using runtime::metric_family;

// The process collector's standard names (as Prometheus' client libraries
// write them, so dashboards and alerts made for any exporter work), and
// the build.
void process_metrics(std::vector<prometheus::MetricFamily>& out, double start_time) {
  const auto gauge = [&](const char* name, const char* help, double v) {
    auto f = metric_family(name, help, MetricType::Gauge);
    add_sample(f, {}, v);
    out.push_back(std::move(f));
  };
  const long page = sysconf(_SC_PAGESIZE);
  uint64_t size = 0, resident = 0;
  std::ifstream("/proc/self/statm") >> size >> resident;
  gauge("process_resident_memory_bytes", "Resident memory size in bytes.",
        static_cast<double>(resident * static_cast<uint64_t>(page)));
  gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.",
        static_cast<double>(size * static_cast<uint64_t>(page)));

  // /proc/self/stat: utime and stime are fields 14 and 15, after the
  // command's closing parenthesis (the command may hold spaces).
  std::string stat;
  std::getline(std::ifstream("/proc/self/stat"), stat);
  double cpu = 0;
  if (const auto paren = stat.rfind(')'); paren != std::string::npos) {
    std::istringstream fields(stat.substr(paren + 2));
    std::string skip;
    for (int i = 3; i < 14 && fields >> skip; ++i) {
    }
    uint64_t utime = 0, stime = 0;
    fields >> utime >> stime;
    cpu = static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
  }
  auto cpu_f =
      metric_family("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
                    MetricType::Counter);
  add_sample(cpu_f, {}, cpu);
  out.push_back(std::move(cpu_f));

  rlimit files{};
  getrlimit(RLIMIT_NOFILE, &files);
  gauge("process_max_fds", "Maximum number of open file descriptors.",
        static_cast<double>(files.rlim_cur));

  std::error_code ec;
  size_t fds = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
    ++fds;
  gauge("process_open_fds", "Number of open file descriptors.", static_cast<double>(fds));

  std::ifstream status("/proc/self/status");
  std::string line;
  double threads = 0;
  while (std::getline(status, line)) {
    if (line.rfind("Threads:", 0) == 0) threads = std::stod(line.substr(8));
  }
  gauge("rampart_process_threads", "Threads", threads);
  gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
        start_time);

  auto build =
      metric_family("rampart_build_info", "The running build: version and plugin ABI (value 1)",
                    MetricType::Gauge);
  add_sample(build,
             {{"version", RAMPART_VERSION},
              {"abi", std::to_string(RAMPART_ABI_MAJOR) + "." + std::to_string(RAMPART_ABI_MINOR)}},
             1);
  out.push_back(std::move(build));
}

void plugin_metrics(std::vector<prometheus::MetricFamily>& out, const PluginSnapshot& plugins) {
  auto info = metric_family("rampart_plugin_info", "Plugins found, with their state (value 1)",
                            MetricType::Gauge);
  std::map<std::string, double> by_state = {{"running", 0}, {"failed", 0}, {"disabled", 0}};
  for (const auto& st : plugins.plugins()) {
    const std::string state(plugin_host::state_name(st.state));
    add_sample(
        info, {{"plugin", st.id}, {"kind", st.kind}, {"version", st.version}, {"state", state}}, 1);
    by_state[state] += 1;
  }
  out.push_back(std::move(info));
  auto count = metric_family("rampart_plugins", "Plugins by state", MetricType::Gauge);
  for (const auto& [state, n] : by_state) add_sample(count, {{"state", state}}, n);
  out.push_back(std::move(count));
  auto refused =
      metric_family("rampart_plugins_refused", "Plugin files refused at load", MetricType::Gauge);
  add_sample(refused, {}, static_cast<double>(plugins.refused()));
  out.push_back(std::move(refused));
}

void event_metrics(std::vector<prometheus::MetricFamily>& out, const runtime::EventBus& bus) {
  auto received =
      metric_family("rampart_events_received_total",
                    "Events read from the plugins' kernel ring buffers", MetricType::Counter);
  auto malformed = metric_family("rampart_events_malformed_total",
                                 "Ring records too short to decode", MetricType::Counter);
  auto foreign =
      metric_family("rampart_events_foreign_total",
                    "Ring records naming an event source their plugin did not register (dropped)",
                    MetricType::Counter);
  auto deliveries =
      metric_family("rampart_event_deliveries_total",
                    "Calls delivering events to engines (a batch of a ring's records is one)",
                    MetricType::Counter);
  add_sample(received, {}, static_cast<double>(bpf::RingDispatcher::total_received()));
  add_sample(malformed, {}, static_cast<double>(bpf::RingDispatcher::total_malformed()));
  add_sample(foreign, {}, static_cast<double>(bpf::RingDispatcher::total_foreign()));
  add_sample(deliveries, {}, static_cast<double>(bus.deliveries()));
  out.push_back(std::move(received));
  out.push_back(std::move(malformed));
  out.push_back(std::move(foreign));
  out.push_back(std::move(deliveries));
  auto published = metric_family("rampart_events_published_total", "Events published by source",
                                 MetricType::Counter);
  auto dispatched =
      metric_family("rampart_events_dispatched_total", "Deliveries to subscribed engines by source",
                    MetricType::Counter);
  auto dropped = metric_family(
      "rampart_events_dropped_total",
      "Events no engine received, by source and reason: no engine subscribed (unrouted), "
      "or the engines' backlog was full (backlog_full)",
      MetricType::Counter);
  // The core's and the registered sources (a well-known one nobody
  // registered and nothing published: left out).
  for (const auto& e : bus.sources().entries()) {
    const auto c = bus.counts(e.id);
    if (c.published == 0 && e.owner.empty()) continue;
    add_sample(published, {{"source", e.name}}, static_cast<double>(c.published));
    add_sample(dispatched, {{"source", e.name}}, static_cast<double>(c.delivered));
    add_sample(dropped, {{"source", e.name}, {"reason", "unrouted"}},
               static_cast<double>(c.unrouted));
    add_sample(dropped, {{"source", e.name}, {"reason", "backlog_full"}},
               static_cast<double>(c.overflowed));
  }
  out.push_back(std::move(published));
  out.push_back(std::move(dispatched));
  out.push_back(std::move(dropped));
  auto backlog =
      metric_family("rampart_events_backlog", "Deliveries to engines queued or running (bounded)",
                    MetricType::Gauge);
  add_sample(backlog, {}, static_cast<double>(bus.backlog()));
  out.push_back(std::move(backlog));
  auto trims = metric_family("rampart_memory_trims_total",
                             "Times free heap memory was returned to the kernel after a burst",
                             MetricType::Counter);
  add_sample(trims, {}, static_cast<double>(runtime::BurstTrim::trims()));
  out.push_back(std::move(trims));
}

void alert_metrics(std::vector<prometheus::MetricFamily>& out, const alerts::AlertPipeline& p) {
  auto raised = metric_family("rampart_alerts_total", "Alerts raised, by component and severity",
                              MetricType::Counter);
  for (const auto& [key, n] : p.by_component())
    add_sample(
        raised,
        {{"component", key.first}, {"severity", std::string(sdk::severity_name(key.second))}},
        static_cast<double>(n));
  out.push_back(std::move(raised));
  auto suppressed = metric_family(
      "rampart_alerts_suppressed_total",
      "Alerts stored and streamed but kept from senders, by reason (dedup, throttle_source, "
      "throttle_rule, unrouted)",
      MetricType::Counter);
  const auto all = p.suppressed();
  for (const char* reason : {"dedup", "throttle_source", "throttle_rule", "unrouted"}) {
    const auto it = all.find(reason);
    add_sample(suppressed, {{"reason", reason}},
               it == all.end() ? 0 : static_cast<double>(it->second));
  }
  out.push_back(std::move(suppressed));
  auto delivered = metric_family("rampart_alert_deliveries_total", "Alerts a sender delivered",
                                 MetricType::Counter);
  auto failed = metric_family("rampart_alert_delivery_failures_total",
                              "Delivery attempts that failed, per sender", MetricType::Counter);
  auto dropped = metric_family("rampart_alert_queue_dropped_total",
                               "Undelivered alerts dropped from a full sender queue (still stored)",
                               MetricType::Counter);
  auto queued =
      metric_family("rampart_alert_queue_depth", "Alerts waiting per sender", MetricType::Gauge);
  auto breaker =
      metric_family("rampart_alert_breaker_open",
                    "1 while a sender's circuit breaker is open or half-open", MetricType::Gauge);
  for (const auto& s : p.senders()) {
    const std::map<std::string, std::string> l{{"sender", s.sender}};
    add_sample(delivered, l, static_cast<double>(s.delivery.delivered));
    add_sample(failed, l, static_cast<double>(s.delivery.failed));
    add_sample(dropped, l, static_cast<double>(s.delivery.dropped));
    add_sample(queued, l, static_cast<double>(s.delivery.queued));
    add_sample(breaker, l, s.delivery.state == alerts::CircuitBreaker::State::closed ? 0 : 1);
  }
  for (auto* f : {&delivered, &failed, &dropped, &queued, &breaker}) out.push_back(std::move(*f));
  if (const auto* st = p.store()) {
    auto stored = metric_family("rampart_alerts_stored_total", "Alerts written to the alert store",
                                MetricType::Counter);
    add_sample(stored, {}, static_cast<double>(st->written()));
    auto pruned = metric_family("rampart_alerts_pruned_total", "Alerts removed by retention",
                                MetricType::Counter);
    add_sample(pruned, {}, static_cast<double>(st->pruned()));
    auto lost = metric_family("rampart_alerts_store_dropped_total",
                              "Alerts the store could not keep (write errors, a full queue)",
                              MetricType::Counter);
    add_sample(lost, {}, static_cast<double>(st->dropped()));
    for (auto* f : {&stored, &pruned, &lost}) out.push_back(std::move(*f));
  }
}

void kernel_metrics(std::vector<prometheus::MetricFamily>& out, const bpf::Datapath& dp) {
  // Exported kernel counters (plugins' and the roots'), one family per
  // metric name.
  std::map<std::string, prometheus::MetricFamily> families;
  auto family = [&](const std::string& name, const std::string& help) -> auto& {
    auto it = families.find(name);
    if (it == families.end())
      it = families.emplace(name, metric_family(name, help, MetricType::Counter)).first;
    return it->second;
  };
  for (const auto& c : dp.counters()) {
    auto& f = family(c.desc.metric, c.desc.help);
    for (size_t i = 0; i < c.values.size(); ++i) {
      if (c.desc.names[i].empty()) continue;  // an entry another family holds
      std::map<std::string, std::string> labels(c.desc.labels.begin(), c.desc.labels.end());
      if (!c.desc.label.empty()) labels[c.desc.label] = c.desc.names[i];
      add_sample(f, labels, static_cast<double>(c.values[i]));
    }
  }
  for (auto& [name, f] : families) out.push_back(std::move(f));
  auto attached = metric_family("rampart_interface_attached",
                                "Protected interfaces (1 attached, 0 failed), with XDP mode",
                                MetricType::Gauge);
  for (const auto& a : dp.attachments()) {
    const bool ok = a.mode.rfind("error", 0) != 0;
    add_sample(attached, {{"interface", a.interface}, {"xdp_mode", ok ? a.mode : "error"}},
               ok ? 1 : 0);
  }
  out.push_back(std::move(attached));
  auto installs = metric_family(
      "rampart_program_installs_total",
      "Programs installed into a stage, by how: loaded (and verified), refilled (a spare "
      "instance's tables rewritten, no load) or in_place (the live instance's tables changed "
      "under traffic)",
      MetricType::Counter);
  add_sample(installs, {{"how", "loaded"}}, static_cast<double>(dp.loads()));
  add_sample(installs, {{"how", "refilled"}}, static_cast<double>(dp.refills()));
  add_sample(installs, {{"how", "in_place"}}, static_cast<double>(dp.writes_in_place()));
  out.push_back(std::move(installs));
  auto prepared = metric_family(
      "rampart_program_spares_prepared_total",
      "Program instances loaded in the background for installs to come: spares of a stage's "
      "live shape, and the shapes plugins said their tables grow into next",
      MetricType::Counter);
  add_sample(prepared, {}, static_cast<double>(dp.spares_prepared()));
  out.push_back(std::move(prepared));
}

// Per-rule hit counters, from what each domain's engine reports in its
// status (`hits: [{id, hits}]`, plugin-sdk.md "A domain's status"): the
// first kRuleHitSeries rules a domain lists (in its order: the firewall's
// is priority order), so a domain of a million rules costs the scrape a
// bounded number of series; how many were left out is a gauge of its own.
constexpr size_t kRuleHitSeries = 1000;

void rule_hit_metrics(std::vector<prometheus::MetricFamily>& out, const store::RuleService& rs) {
  auto hits = metric_family("rampart_rule_hits_total",
                            "Packets each rule matched, as its engine counts them (the first " +
                                std::to_string(kRuleHitSeries) + " rules of a domain in its order)",
                            MetricType::Counter);
  auto omitted = metric_family("rampart_rule_hits_omitted_rules",
                               "Rules of a domain whose hit counters are beyond the series bound",
                               MetricType::Gauge);
  for (const auto& d : rs.domains()) {
    Poco::JSON::Array::Ptr list;
    try {
      const auto status = rs.status(d.name);
      if (!status) continue;
      const auto v = Poco::JSON::Parser().parse(*status);
      if (v.type() != typeid(Poco::JSON::Object::Ptr)) continue;
      list = v.extract<Poco::JSON::Object::Ptr>()->getArray("hits");
    } catch (const std::exception&) {
      continue;  // an engine's status that fails or does not parse has no hits to show
    }
    if (!list) continue;
    size_t listed = 0, beyond = 0;
    for (size_t i = 0; i < list->size(); ++i) {
      const auto h = list->getObject(static_cast<unsigned>(i));
      if (!h || !h->has("id") || !h->has("hits") || !h->get("hits").isNumeric()) continue;
      if (listed == kRuleHitSeries) {
        ++beyond;
        continue;
      }
      add_sample(hits, {{"domain", d.name}, {"rule", h->get("id").toString()}},
                 h->get("hits").convert<double>());
      ++listed;
    }
    add_sample(omitted, {{"domain", d.name}}, static_cast<double>(beyond));
  }
  out.push_back(std::move(hits));
  out.push_back(std::move(omitted));
}

}  // namespace

void add_core_metrics(runtime::Metrics& metrics, const CoreMetricSources& src) {
  const double start_time =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  metrics.add_collector([start_time](auto& out) { process_metrics(out, start_time); });
  metrics.add_collector([src](auto& out) { event_metrics(out, src.events); });
  if (src.plugins) {
    metrics.add_collector([src](auto& out) { plugin_metrics(out, *src.plugins); });
  }
  if (src.datapath) {
    metrics.add_collector([src](auto& out) { kernel_metrics(out, *src.datapath); });
  }
  if (src.rules) {
    metrics.add_collector([src](auto& out) {
      auto rules = metric_family("rampart_rules", "Rules stored per domain", MetricType::Gauge);
      for (const auto& [domain, n] : src.rules->counts())
        add_sample(rules, {{"domain", domain}}, static_cast<double>(n));
      out.push_back(std::move(rules));
    });
  }
  if (src.alerts) {
    metrics.add_collector([src](auto& out) { alert_metrics(out, *src.alerts); });
  }
  if (src.readiness) {
    metrics.add_collector([src](auto& out) {
      const auto missing = src.readiness();
      auto ready = metric_family("rampart_ready",
                                 "1 when every enabled engine enforces on every configured "
                                 "interface (/readyz), else 0",
                                 MetricType::Gauge);
      add_sample(ready, {}, missing.empty() ? 1 : 0);
      out.push_back(std::move(ready));
      auto what = metric_family("rampart_readiness_missing",
                                "What keeps the agent from being ready, by component (value 1)",
                                MetricType::Gauge);
      std::set<std::string> seen;
      for (const auto& m : missing) {
        if (seen.insert(m.component).second) add_sample(what, {{"component", m.component}}, 1);
      }
      out.push_back(std::move(what));
    });
  }
  if (src.rule_service) {
    metrics.add_collector([src](auto& out) {
      auto applied = metric_family("rampart_rule_reloads_total",
                                   "Whole rule sets handed to each domain's engine (start, reload, "
                                   "API change, import)",
                                   MetricType::Counter);
      for (const auto& [domain, n] : src.rule_service->applied())
        add_sample(applied, {{"domain", domain}}, static_cast<double>(n));
      out.push_back(std::move(applied));
      rule_hit_metrics(out, *src.rule_service);
    });
  }
}

}  // namespace rampart::daemon
