// SPDX-License-Identifier: Apache-2.0
// The metrics frontend against a real rampartd (no kernel): /metrics in the
// Prometheus text format, accepted by promtool, with core, process and
// plugin metrics; anything else is a JSON 404 or 405.
#include <gtest/gtest.h>

#include <csignal>

#include "daemon_process.hpp"
#include "http_client.hpp"
#include "metrics_check.hpp"
#include "temp_dir.hpp"
#include "test_paths.hpp"

namespace {

using rampart::test::DaemonProcess;
using rampart::test::http;

TEST(MetricsFrontend, ServesCoreAndPluginMetricsThatPromtoolAccepts) {
  rampart::test::TempDir dir;
  const auto cfg = dir / "rampart.yaml";
  rampart::test::write_file(cfg, "agent:\n  state_dir: " + (dir / "state") +
                                     "\nplugins:\n  firewall:\n    rules: [{id: 3, action: deny, "
                                     "protocol: udp}]\n  metrics: {listen: \"127.0.0.1:0\"}\n");
  DaemonProcess d({rampart::test::path::rampartd(), "--config", cfg, "--plugin-dir",
                   rampart::test::path::plugins()});
  ASSERT_TRUE(d.wait_for("ready plugins=firewall,metrics refused=0")) << d.output();
  const uint16_t port = rampart::test::listening_port(d.output(), "metrics");
  ASSERT_NE(port, 0) << d.output();

  const auto r = http(port, "GET", "/metrics");
  ASSERT_EQ(r.status, 200);
  const std::string& text = r.body;
  EXPECT_EQ(rampart::test::promtool_check(text, dir / "scrape.txt"), "") << text;
  for (const char* want :
       {"# TYPE process_resident_memory_bytes gauge", "process_open_fds ", "process_max_fds ",
        "process_virtual_memory_bytes ", "# TYPE process_cpu_seconds_total counter",
        "process_start_time_seconds ", "rampart_process_threads ",
        "rampart_build_info{abi=\"1.12\",version=\"",
        "rampart_plugin_info{kind=\"frontend\",plugin=\"metrics\",state=\"running\"",
        "rampart_plugins{state=\"running\"} 2", "rampart_rules{domain=\"firewall\"} 1",
        "rampart_firewall_blocklist_prefixes{plugin=\"firewall\"} 0",
        "# TYPE rampart_event_dispatch_seconds histogram",
        "rampart_events_published_total{source=\"xdp_firewall\"} 0"}) {
    EXPECT_NE(text.find(want), std::string::npos) << want << "\n" << text;
  }
  EXPECT_GT(rampart::test::metric_value(text, "process_resident_memory_bytes"), 1e6);
  EXPECT_GT(rampart::test::metric_value(text, "process_cpu_seconds_total"), 0);
  EXPECT_GT(rampart::test::metric_value(text, "process_max_fds"),
            rampart::test::metric_value(text, "process_open_fds"));

  auto other = http(port, "GET", "/api/v1/firewall/rules");
  EXPECT_EQ(other.status, 404);
  EXPECT_NE(other.body.find("\"error\":\"not found\""), std::string::npos) << other.body;
  other = http(port, "POST", "/metrics", "x");
  EXPECT_EQ(other.status, 405);

  d.signal(SIGTERM);
  EXPECT_EQ(d.wait_exit(), 0) << d.output();
}

TEST(MetricsFrontend, ScrapesNeedAKeyWhenConfigured) {
  rampart::test::TempDir dir;
  const auto cfg = dir / "rampart.yaml";
  rampart::test::write_file(cfg,
                            "agent:\n  state_dir: " + (dir / "state") +
                                "\nplugins:\n  rest: " + rampart::test::rest_settings(dir.path()) +
                                "\n  metrics: {listen: \"127.0.0.1:0\", require_key: true}\n");
  DaemonProcess d({rampart::test::path::rampartd(), "--config", cfg, "--plugin-dir",
                   rampart::test::path::plugins()});
  ASSERT_TRUE(d.wait_for("ready plugins=metrics,rest refused=0")) << d.output();
  const uint16_t metrics = rampart::test::listening_port(d.output(), "metrics");
  const rampart::test::ApiClient admin{rampart::test::listening_port(d.output(), "rest"),
                                       rampart::test::bootstrap_token(dir / "state")};
  auto r = http(metrics, "GET", "/metrics");
  EXPECT_EQ(r.status, 401) << "never open, even before an operator made a key";
  EXPECT_NE(r.body.find(R"("error":"unauthorized")"), std::string::npos) << r.body;
  r = admin.call("POST", "/api/v1/keys", R"({"name":"prom","role":"viewer"})");
  ASSERT_EQ(r.status, 201) << r.body;
  const std::string token = r.body.substr(r.body.find("\"token\":\"") + 9, 76);
  r = http(metrics, "GET", "/metrics", "", {{"Authorization", "Bearer rp_nope"}});
  EXPECT_EQ(r.status, 401);
  r = http(metrics, "GET", "/metrics", "", {{"Authorization", "Bearer " + token}});
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("rampart_api_requests_total{code=\"201\",method=\"POST\""),
            std::string::npos)
      << "the REST request was counted: " << r.body.substr(0, 3000);

  // Labelled by route template: ids, names and probes never become series.
  EXPECT_EQ(admin.call("GET", "/api/v1/keys/prom").status, 405) << "keys are only deleted";
  EXPECT_EQ(admin.call("GET", "/api/v1/alerts/6f1c2a9e-1d3b-4c5a-9e8f-0123456789ab").status, 404);
  EXPECT_EQ(admin.call("GET", "/api/v1/no-such-route/x").status, 404);
  EXPECT_EQ(admin.call("GET", "/api/v1/audit/rules/12345/history").status, 200);
  r = http(metrics, "GET", "/metrics", "", {{"Authorization", "Bearer " + token}});
  ASSERT_EQ(r.status, 200);
  const auto route = [&](const std::string& code, const std::string& template_) {
    return r.body.find("rampart_api_requests_total{code=\"" + code +
                       "\",method=\"GET\",plugin=\"rest\",route=\"" + template_ + "\"}") !=
           std::string::npos;
  };
  EXPECT_TRUE(route("405", "/api/v1/keys/{name}")) << r.body.substr(0, 4000);
  EXPECT_TRUE(route("200", "/api/v1/audit/rules/{id}/history")) << r.body.substr(0, 4000);
  EXPECT_TRUE(route("404", "unmatched")) << r.body.substr(0, 4000);
  EXPECT_EQ(r.body.find("6f1c2a9e"), std::string::npos);
  EXPECT_EQ(r.body.find("no-such-route"), std::string::npos);
  EXPECT_EQ(r.body.find("/keys/prom"), std::string::npos);
}

TEST(MetricsFrontend, BadListenAddressIsAConfigError) {
  rampart::test::TempDir dir;
  const auto cfg = dir / "rampart.yaml";
  rampart::test::write_file(cfg, "plugins:\n  metrics: {listen: \"localhost\"}\n");
  const auto r =
      rampart::test::run_command({rampart::test::path::rampartd(), "--check-config", "--config",
                                  cfg, "--plugin-dir", rampart::test::path::plugins()});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("plugins.metrics.listen: expected host:port, got 'localhost'"),
            std::string::npos)
      << r.output;
}

}  // namespace
