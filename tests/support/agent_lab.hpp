// SPDX-License-Identifier: Apache-2.0
// The fixture of the lab tests: a NetnsLab, a private bpffs for the pins,
// rampartd started in namespace B with a config the test writes, its REST
// API and /metrics reached from B's loopback.
#pragma once

#include <gtest/gtest.h>

#include <sys/mount.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "daemon_process.hpp"
#include "http_client.hpp"
#include "metrics_check.hpp"
#include "netns_lab.hpp"
#include "openapi_check.hpp"
#include "privilege.hpp"
#include "temp_dir.hpp"
#include "test_paths.hpp"

namespace rampart::test {

class AgentLab : public ::testing::Test {
 protected:
  void SetUp() override {
    RAMPART_REQUIRE_ROOT();
    lab_ = std::make_unique<NetnsLab>();
    // A private bpffs for this test's pins (ip netns exec gives rampartd a
    // mount namespace of its own; this mount is inherited into it).
    bpffs_ = dir_ / "bpffs";
    std::filesystem::create_directories(bpffs_);
    ASSERT_EQ(mount("bpf", bpffs_.c_str(), "bpf", 0, "mode=0700"), 0) << std::strerror(errno);
    mounted_ = true;
  }
  void TearDown() override {
    daemon_.reset();
    if (mounted_) umount2(bpffs_.c_str(), MNT_DETACH);
  }

  // The agent on B's interface with the log sender, then `plugins` (YAML
  // lines of the plugins map, each indented two spaces).
  std::string write_agent_config(const std::string& plugins) {
    const auto path = dir_ / "rampart.yaml";
    rampart::test::write_file(path,
                              "agent:\n"
                              "  interfaces: [" +
                                  lab_->if_b() +
                                  "]\n"
                                  "  bpf_dir: " +
                                  rampart::test::path::bpf() +
                                  "\n"
                                  "  bpf_pin_path: " +
                                  bpffs_ +
                                  "/rampart\n"
                                  "  state_dir: " +
                                  (dir_ / "state") +
                                  "\n"
                                  "plugins:\n"
                                  "  log: {path: " +
                                  (dir_ / "alerts.json") + log_settings_ + "}\n" + plugins);
    return path;
  }
  // The firewall with `rules` (and `extra` settings before them).
  std::string write_config(const std::string& rules, const std::string& extra = "") {
    return write_agent_config(
        "  firewall:\n"
        "    default_policy: allow\n" +
        extra + "    rules: " + rules + "\n");
  }
  // No rules, and the REST frontend on B's loopback (a port the kernel
  // picks) without a write rate limit: for write storms.
  std::string write_storm_config() {
    const auto cfg = write_config("[]", "");
    rampart::test::write_file(
        cfg, rampart::test::read_file(cfg) + "  rest: " +
                 rampart::test::rest_settings(
                     dir_.path(), "write_rate_per_second: 100000, write_burst: 100000") +
                 "\n");
    return cfg;
  }
  // Whether Rampart's TC dispatcher filter is on B's interface in `dir`.
  bool has_tc_filter(const std::string& dir) const {
    return NetnsLab::sh("tc -n " + lab_->ns_b() + " filter show dev " + lab_->if_b() + " " + dir)
               .find("tc_" + dir) != std::string::npos;
  }
  bool has_clsact() const {
    return NetnsLab::sh("tc -n " + lab_->ns_b() + " qdisc show dev " + lab_->if_b())
               .find("clsact") != std::string::npos;
  }
  // Another tool's filter on B's ingress (classic BPF "return 0": it
  // matches nothing, but it is there).
  void add_foreign_filter() const {
    NetnsLab::sh("tc -n " + lab_->ns_b() + " filter add dev " + lab_->if_b() +
                 " ingress prio 1 handle 1 bpf bytecode '1,6 0 0 0,'");
  }
  bool has_foreign_filter() const {
    return NetnsLab::sh("tc -n " + lab_->ns_b() + " filter show dev " + lab_->if_b() + " ingress")
               .find("bytecode '1,6 0 0 0'") != std::string::npos;
  }
  rampart::test::RunResult detach_all(const std::string& cfg) const {
    return rampart::test::run_command({"/usr/sbin/ip", "netns", "exec", lab_->ns_b(),
                                       rampart::test::path::rampartd(), "--detach-all", "--config",
                                       cfg});
  }

  // rampartd in namespace B, waited for until it logs `ready`.
  void start(const std::string& cfg,
             const std::string& ready = "ready plugins=firewall,log refused=0") {
    daemon_ = std::make_unique<DaemonProcess>(std::vector<std::string>{
        "/usr/sbin/ip", "netns", "exec", lab_->ns_b(), rampart::test::path::rampartd(), "--config",
        cfg, "--plugin-dir", rampart::test::path::plugins()});
    ASSERT_TRUE(daemon_->wait_for(ready)) << daemon_->output();
  }
  // rampartd with the REST frontend too (and `more` config after it),
  // then a client of its API for api().
  void start_with_rest(const std::string& cfg, const std::string& more = "",
                       const std::string& ready = "] ready plugins=firewall,log,rest refused=0") {
    rampart::test::write_file(cfg, rampart::test::read_file(cfg) + "  rest: " +
                                       rampart::test::rest_settings(dir_.path()) + "\n" + more);
    ASSERT_NO_FATAL_FAILURE(start(cfg, ready));
    client_ =
        std::make_unique<rampart::test::ApiClient>(rampart::test::listening_port(daemon_->output()),
                                                   rampart::test::bootstrap_token(dir_ / "state"));
  }
  // A request to the API on B's loopback.
  rampart::test::HttpResponse api(const std::string& method, const std::string& path,
                                  const std::string& body = "") {
    return lab_->in_ns(lab_->ns_b(), [&] { return client_->call(method, path, body); });
  }
  // The API's document (GET /api-docs/openapi.json) names `path` (a
  // domain's "/api/v1/<domain>/rules"), and swagger-cli and Spectral accept
  // it with this agent's domains in it.
  void expect_valid_openapi_with(const std::string& path) {
    const auto r = api("GET", "/api-docs/openapi.json");
    ASSERT_EQ(r.status, 200);
    EXPECT_NE(r.body.find("\"" + path + "\""), std::string::npos) << path;
    rampart::test::write_file(dir_ / "openapi.json", r.body);
    EXPECT_EQ(rampart::test::openapi_problems(dir_ / "openapi.json"), "");
  }
  // rampart_program_installs_total{how} (started with the metrics plugin).
  double installs(const std::string& how) {
    return metric("rampart_program_installs_total{how=\"" + how + "\"");
  }
  // A counter of /metrics (started with the metrics plugin).
  double metric(const std::string& series) {
    const uint16_t metrics = rampart::test::listening_port(daemon_->output(), "metrics");
    const auto text = lab_->in_ns(
        lab_->ns_b(), [&] { return rampart::test::http(metrics, "GET", "/metrics").body; });
    return rampart::test::metric_value(text, series);
  }
  void reload(size_t nth) {
    daemon_->signal(SIGHUP);
    ASSERT_TRUE(daemon_->wait_for("configuration reloaded", nth)) << daemon_->output();
  }

  TempDir dir_;
  std::string log_settings_;  // more of the log sender's settings: ", format: eve"
  std::string bpffs_;
  bool mounted_ = false;
  std::unique_ptr<NetnsLab> lab_;
  std::unique_ptr<DaemonProcess> daemon_;
  std::unique_ptr<rampart::test::ApiClient> client_;  // start_with_rest
};

}  // namespace rampart::test
