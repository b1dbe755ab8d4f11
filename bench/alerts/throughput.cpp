// SPDX-License-Identifier: Apache-2.0
// bench/alerts: alerts per second through the core's pipeline (record,
// enrichment, router, store queue) into the real `log` sender plugin, and
// the store's write rate. Producers emit from `threads` threads; each alert
// has its own source address, so dedup lets every one through.
//
//   build/bin/bench_alerts [alerts] [threads]      (default 200000, 2)
#include <arpa/inet.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "alerts/alert_store.hpp"
#include "alerts/pipeline.hpp"
#include "config/config.hpp"
#include "plugin_host/plugin_manager.hpp"
#include "runtime/event_bus.hpp"
#include "runtime/metrics.hpp"
#include "runtime/runtime.hpp"
#include "test_paths.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

}  // namespace

int main(int argc, char** argv) {
  const size_t n = argc > 1 ? std::stoul(argv[1]) : 200000;
  const unsigned threads = argc > 2 ? static_cast<unsigned>(std::stoul(argv[2])) : 2;
  char tmpl[] = "/tmp/rampart-bench-alerts-XXXXXX";
  if (!mkdtemp(tmpl)) return 1;
  const std::string dir = tmpl;

  rampart::alerts::AlertSettings settings;
  settings.delivery.queue = n + 1;  // measure throughput, not drops
  settings.router.max_tracked = 4 * n;
  rampart::runtime::Runtime rt(2);
  rampart::runtime::EventBus events(rt.workers());
  rampart::alerts::AlertPipeline pipeline(settings);
  rampart::runtime::Metrics metrics;
  auto store = std::make_unique<rampart::alerts::AlertStore>(dir + "/rampart.db", settings.store);
  pipeline.set_store(store.get());
  pipeline.enricher().set_geo([](uint8_t, const uint8_t* a, rampart::alerts::Enrichment& e) {
    e.country = a[0] < 128 ? "AA" : "BB";  // a stand-in costing a branch, not a database
  });
  rampart::plugin_host::CoreServices core{rt, events, pipeline, metrics};
  rampart::plugin_host::PluginManager plugins(core);
  plugins.discover({rampart::test::path::plugins()});
  plugins.start(rampart::config::load_string(
      "plugins:\n  log: {path: " + dir + "/alerts.json, max_bytes: 0}\n", "bench"));
  if (plugins.running() != 1) {
    std::fprintf(stderr, "the log sender did not start\n");
    return 1;
  }

  const auto t0 = Clock::now();
  std::vector<std::thread> producers;
  for (unsigned t = 0; t < threads; ++t) {
    producers.emplace_back([&, t] {
      rampart_alert a{};
      a.struct_size = sizeof a;
      a.severity = RAMPART_SEVERITY_MEDIUM;
      a.ip_family = 4;
      a.protocol = 6;
      a.dst_port = 443;
      a.rule_id = {"42", 2};
      a.message = {"bench alert", 11};
      a.mitre_technique_id = {"T1595", 5};
      a.mitre_tactic = {"Reconnaissance", 14};
      inet_pton(AF_INET, "192.0.2.1", a.dst_addr);
      for (size_t i = t; i < n; i += threads) {
        const uint32_t src = htonl(0x0a000000u + static_cast<uint32_t>(i));
        std::memcpy(a.src_addr, &src, 4);
        pipeline.emit("bench", a);
      }
    });
  }
  for (auto& p : producers) p.join();
  const double emit_s = seconds_since(t0);
  auto delivered = [&] {
    const auto s = pipeline.senders();
    return s.empty() ? 0 : s[0].delivery.delivered + s[0].delivery.dropped;
  };
  while (delivered() < n) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const double sent_s = seconds_since(t0);
  store->flush();
  const double stored_s = seconds_since(t0);
  const auto stats = pipeline.senders()[0].delivery;

  std::printf("bench_alerts: %zu alerts from %u threads\n", n, threads);
  std::printf("  emitted (record, enrich, route, queue): %.0f alerts/s (%.2f us each)\n",
              n / emit_s, emit_s * 1e6 / static_cast<double>(n) * threads);
  std::printf(
      "  written by the log sender:              %.0f alerts/s (%zu delivered, %zu dropped)\n",
      n / sent_s, static_cast<size_t>(stats.delivered), static_cast<size_t>(stats.dropped));
  std::printf("  stored in SQLite:                       %.0f alerts/s (%zu stored)\n",
              n / stored_s, static_cast<size_t>(store->written()));
  plugins.stop_all();
  pipeline.set_store(nullptr);
  store.reset();
  rt.shutdown();
  std::filesystem::remove_all(dir);
  return 0;
}
