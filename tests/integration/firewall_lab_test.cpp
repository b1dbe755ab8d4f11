// SPDX-License-Identifier: Apache-2.0
// The firewall end to end: rampartd attached to one side of a veth pair
// between two namespaces, rules changed by reloading its config, real
// UDP/TCP/ICMP traffic counted where it arrives. Also: a SIGKILLed rampartd
// leaves filtering in place and a restarted one adopts it, `log` rules
// raise alerts, and --detach-all removes everything.
#include <gtest/gtest.h>

#include <sys/mount.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <filesystem>

#include "daemon_process.hpp"
#include "netns_lab.hpp"
#include "privilege.hpp"
#include "temp_dir.hpp"

namespace {

using rampart::test::Counts;
using rampart::test::DaemonProcess;
using rampart::test::NetnsLab;
using rampart::test::TempDir;

constexpr size_t kPackets = 20;

class FirewallLab : public ::testing::Test {
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

  std::string write_config(const std::string& rules, const std::string& extra = "") {
    const auto path = dir_ / "rampart.yaml";
    rampart::test::write_file(path,
                              "agent:\n"
                              "  interfaces: [" +
                                  lab_->if_b() +
                                  "]\n"
                                  "  bpf_dir: " RAMPART_BPF_DIR
                                  "\n"
                                  "  bpf_pin_path: " +
                                  bpffs_ +
                                  "/rampart\n"
                                  "plugins:\n"
                                  "  log: {path: " +
                                  (dir_ / "alerts.json") +
                                  "}\n"
                                  "  firewall:\n"
                                  "    default_policy: allow\n" +
                                  extra + "    rules: " + rules + "\n");
    return path;
  }
  void start(const std::string& cfg) {
    daemon_ = std::make_unique<DaemonProcess>(
        std::vector<std::string>{"/usr/sbin/ip", "netns", "exec", lab_->ns_b(), RAMPARTD_PATH,
                                 "--config", cfg, "--plugin-dir", RAMPART_BUILTIN_PLUGIN_DIR});
    ASSERT_TRUE(daemon_->wait_for("ready plugins=firewall,log refused=0")) << daemon_->output();
  }
  void reload(size_t nth) {
    daemon_->signal(SIGHUP);
    ASSERT_TRUE(daemon_->wait_for("configuration reloaded", nth)) << daemon_->output();
  }

  TempDir dir_;
  std::string bpffs_;
  bool mounted_ = false;
  std::unique_ptr<NetnsLab> lab_;
  std::unique_ptr<DaemonProcess> daemon_;
};

void expect_all(const Counts& c, size_t n, const char* when) {
  EXPECT_EQ(c.udp, n) << when;
  EXPECT_EQ(c.tcp, n) << when;
  EXPECT_EQ(c.icmp, n) << when;
}

TEST_F(FirewallLab, DenyRuleStopsTrafficAndSurvivesARestart) {
  const auto cfg = write_config("[]");
  ASSERT_NO_FATAL_FAILURE(start(cfg));
  ASSERT_TRUE(daemon_->wait_for("attached XDP")) << daemon_->output();
  expect_all(lab_->send_and_count(kPackets), kPackets, "no rules");

  write_config("[{id: 1, action: deny, src_ip: 198.18.0.1/32, description: block host A}]");
  reload(1);
  ASSERT_TRUE(daemon_->wait_for("installed 1 rules")) << daemon_->output();
  expect_all(lab_->send_and_count(kPackets), 0, "deny rule");

  // SIGKILL: no chance to clean up, and filtering goes on.
  daemon_->signal(SIGKILL);
  daemon_->wait_exit();
  expect_all(lab_->send_and_count(kPackets), 0, "rampartd dead");

  ASSERT_NO_FATAL_FAILURE(start(cfg));
  ASSERT_TRUE(daemon_->wait_for("adopted pinned programs and maps")) << daemon_->output();
  ASSERT_TRUE(daemon_->wait_for("installed 1 rules")) << daemon_->output();
  expect_all(lab_->send_and_count(kPackets), 0, "restarted");

  write_config("[]");
  reload(1);
  ASSERT_TRUE(daemon_->wait_for("installed 0 rules")) << daemon_->output();
  expect_all(lab_->send_and_count(kPackets), kPackets, "rule deleted");

  daemon_->signal(SIGTERM);
  ASSERT_EQ(daemon_->wait_exit(), 0) << daemon_->output();
  // Stopping rampartd does not detach; --detach-all does.
  EXPECT_NE(NetnsLab::sh("ip -n " + lab_->ns_b() + " link show " + lab_->if_b()).find("xdp"),
            std::string::npos);
  const auto r = rampart::test::run_command({"/usr/sbin/ip", "netns", "exec", lab_->ns_b(),
                                             RAMPARTD_PATH, "--detach-all", "--config", cfg});
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(NetnsLab::sh("ip -n " + lab_->ns_b() + " link show " + lab_->if_b()).find("xdp"),
            std::string::npos);
}

TEST_F(FirewallLab, RulesSelectByProtocolAndPort) {
  start(
      write_config("[{id: 5, action: deny, protocol: udp, dst_port: \"9999\"},"
                   " {id: 6, action: deny, protocol: icmp}]"));
  const Counts c = lab_->send_and_count(kPackets);
  EXPECT_EQ(c.udp, 0u);
  EXPECT_EQ(c.icmp, 0u);
  EXPECT_EQ(c.tcp, kPackets) << "TCP matches neither rule";
  EXPECT_EQ(lab_->send_and_count(kPackets, 9995).udp, kPackets) << "another UDP port passes";
}

TEST_F(FirewallLab, LogRuleRaisesAlertsWithTheFlow) {
  start(write_config("[{id: 7, action: log, protocol: udp, dst_port: \"9999\"}]"));
  EXPECT_EQ(lab_->send_and_count(3).udp, 3u) << "log passes";
  // Each logged packet becomes an alert in the log sender's file.
  std::string text;
  for (int i = 0; i < 500 && std::count(text.begin(), text.end(), '\n') < 3; ++i) {
    usleep(10000);
    text = rampart::test::read_file(dir_ / "alerts.json");
  }
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 3) << text;
  EXPECT_NE(text.find("\"component\":\"firewall\""), std::string::npos) << text;
  EXPECT_NE(text.find("\"rule_id\":\"7\""), std::string::npos) << text;
  EXPECT_NE(text.find("\"src_ip\":\"198.18.0.1\""), std::string::npos) << text;
  EXPECT_NE(text.find("\"dst_port\":9999"), std::string::npos) << text;
}

TEST_F(FirewallLab, BadRuleIsRefusedAndTheOldSetKeepsFiltering) {
  const auto cfg = write_config("[{id: 1, action: deny, src_ip: 198.18.0.1/32}]");
  ASSERT_NO_FATAL_FAILURE(start(cfg));
  write_config("[{id: 1, action: deny, src_ip: 198.18.0.300/32}]");
  daemon_->signal(SIGHUP);
  ASSERT_TRUE(daemon_->wait_for("config reload refused")) << daemon_->output();
  EXPECT_TRUE(daemon_->wait_for("plugins.firewall.rules.0.src_ip")) << daemon_->output();
  expect_all(lab_->send_and_count(kPackets), 0, "old rules still in force");
}

}  // namespace
