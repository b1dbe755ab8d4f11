// SPDX-License-Identifier: Apache-2.0
// The firewall end to end: rampartd attached to one side of a veth pair
// between two namespaces, rules changed by reloading its config, real
// UDP/TCP/ICMP traffic counted where it arrives. Also: a SIGKILLed rampartd
// leaves filtering in place and a restarted one adopts it, `log` rules
// raise alerts, and --detach-all removes everything.
#include <gtest/gtest.h>

#include <set>
#include <sstream>

#include <Poco/JSON/Parser.h>

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <net/if.h>
#include <sqlite3.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <regex>
#include <thread>

#include "agent_lab.hpp"
#include "daemon_process.hpp"
#include "hook_server.hpp"
#include "http_client.hpp"
#include "metrics_check.hpp"
#include "netns_lab.hpp"
#include "poll.hpp"
#include "privilege.hpp"
#include "rampart/firewall.h"
#include "smtp_server.hpp"
#include "tc_meta_reader.hpp"
#include "temp_dir.hpp"
#include "test_paths.hpp"

namespace {

using rampart::test::Counts;
using rampart::test::DaemonProcess;
using rampart::test::NetnsLab;
using rampart::test::TempDir;

constexpr size_t kPackets = 20;

using rampart::test::AgentLab;

// Lines of `text` that start with `prefix`.
size_t lines_starting(const std::string& text, const std::string& prefix) {
  size_t n = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) n += line.rfind(prefix, 0) == 0;
  return n;
}

class FirewallLab : public AgentLab {};

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
  ASSERT_TRUE(daemon_->wait_for("adopted pinned roots and chains")) << daemon_->output();
  ASSERT_TRUE(daemon_->wait_for("adopted TC attachment")) << daemon_->output();
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
  const auto r = detach_all(cfg);
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(NetnsLab::sh("ip -n " + lab_->ns_b() + " link show " + lab_->if_b()).find("xdp"),
            std::string::npos);
  EXPECT_FALSE(has_tc_filter("ingress")) << "--detach-all removes the TC filters too";
  EXPECT_FALSE(has_clsact()) << "and the clsact qdisc rampartd created";
  EXPECT_FALSE(std::filesystem::exists(bpffs_ + "/rampart")) << "and every pin";
}

TEST_F(FirewallLab, DetachAllIsRefusedWhileRampartdRuns) {
  const auto cfg = write_config("[{id: 1, action: deny, src_ip: 198.18.0.1/32}]");
  ASSERT_NO_FATAL_FAILURE(start(cfg));
  // A running agent would go on as if attached (and report ready): it is
  // stopped first (the package's prerm stops the service).
  auto r = detach_all(cfg);
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("another rampartd runs with its pins in " + bpffs_ + "/rampart"),
            std::string::npos)
      << r.output;
  EXPECT_TRUE(has_tc_filter("ingress"));
  expect_all(lab_->send_and_count(kPackets), 0, "still filtering");

  daemon_->signal(SIGTERM);
  ASSERT_EQ(daemon_->wait_exit(), 0) << daemon_->output();
  r = detach_all(cfg);
  EXPECT_EQ(r.status, 0) << r.output;
  expect_all(lab_->send_and_count(kPackets), kPackets, "detached once stopped");
}

TEST_F(FirewallLab, ClsactQdiscIsRemovedOnlyIfRampartdCreatedItAndNothingElseUsesIt) {
  const auto cfg = write_config("[]");
  // Created by rampartd, then another tool adds a filter to it: detaching
  // removes Rampart's filters and keeps the qdisc with the other filter.
  ASSERT_NO_FATAL_FAILURE(start(cfg));
  ASSERT_TRUE(daemon_->wait_for("attached TC")) << daemon_->output();
  add_foreign_filter();
  daemon_->signal(SIGTERM);
  ASSERT_EQ(daemon_->wait_exit(), 0) << daemon_->output();
  auto r = detach_all(cfg);
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_FALSE(has_tc_filter("ingress"));
  EXPECT_FALSE(has_tc_filter("egress"));
  EXPECT_TRUE(has_clsact()) << "another tool filters there";
  EXPECT_NE(r.output.find("kept the clsact qdisc rampartd created: other filters use it"),
            std::string::npos)
      << r.output;
  EXPECT_TRUE(has_foreign_filter());

  // There before rampartd (the qdisc left above, now with no filter at
  // all): rampartd did not create it, so it stays.
  NetnsLab::sh("tc -n " + lab_->ns_b() + " filter del dev " + lab_->if_b() + " ingress");
  ASSERT_NO_FATAL_FAILURE(start(cfg));
  ASSERT_TRUE(daemon_->wait_for("attached TC")) << daemon_->output();
  daemon_->signal(SIGTERM);
  ASSERT_EQ(daemon_->wait_exit(), 0) << daemon_->output();
  r = detach_all(cfg);
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_FALSE(has_tc_filter("ingress"));
  EXPECT_TRUE(has_clsact()) << "rampartd did not create it";
}

TEST_F(FirewallLab, InterfaceDroppedFromTheConfigIsDetachedOnRestart) {
  const auto cfg = write_config("[{id: 1, action: deny, protocol: udp}]");
  ASSERT_NO_FATAL_FAILURE(start(cfg));
  ASSERT_TRUE(daemon_->wait_for("attached TC")) << daemon_->output();
  daemon_->signal(SIGTERM);
  ASSERT_EQ(daemon_->wait_exit(), 0) << daemon_->output();

  std::string text = rampart::test::read_file(cfg);
  const std::string listed = "interfaces: [" + lab_->if_b() + "]";
  text.replace(text.find(listed), listed.size(), "interfaces: []");
  rampart::test::write_file(cfg, text);
  ASSERT_NO_FATAL_FAILURE(start(cfg));
  EXPECT_TRUE(daemon_->wait_for("no interfaces configured: detached")) << daemon_->output();
  EXPECT_EQ(NetnsLab::sh("ip -n " + lab_->ns_b() + " link show " + lab_->if_b()).find("xdp"),
            std::string::npos);
  for (const char* dir : {"ingress", "egress"}) EXPECT_FALSE(has_tc_filter(dir)) << dir;
  EXPECT_FALSE(has_clsact()) << "the clsact qdisc rampartd created goes too";
  EXPECT_EQ(lab_->send_and_count(kPackets).udp, kPackets) << "nothing filters any more";
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

TEST_F(FirewallLab, LogRuleRaisesAlertsStoredWithTheFlowAndDeliveredOnce) {
  const auto cfg = write_config("[{id: 7, action: log, protocol: udp, dst_port: \"9999\"}]");
  rampart::test::write_file(cfg, rampart::test::read_file(cfg) +
                                     "  rest: " + rampart::test::rest_settings(dir_.path()) +
                                     "\nalerts:\n  dedup: {window_seconds: 3600}\n");
  ASSERT_NO_FATAL_FAILURE(start(cfg, "ready plugins=firewall,log,rest refused=0"));
  const rampart::test::ApiClient api{rampart::test::listening_port(daemon_->output()),
                                     rampart::test::bootstrap_token(dir_ / "state")};
  EXPECT_EQ(lab_->send_and_count(3).udp, 3u) << "log passes";
  // Every logged packet is an alert in the store, with the flow and the
  // ATT&CK technique; dedup lets one of the three reach the senders.
  Poco::JSON::Array::Ptr alerts;
  for (int i = 0; i < 500; ++i) {
    const auto r = lab_->in_ns(
        lab_->ns_b(), [&] { return api.call("GET", "/api/v1/alerts?component=firewall"); });
    ASSERT_EQ(r.status, 200) << r.body;
    alerts =
        Poco::JSON::Parser().parse(r.body).extract<Poco::JSON::Object::Ptr>()->getArray("alerts");
    if (alerts->size() >= 3) break;
    usleep(10000);
  }
  ASSERT_EQ(alerts->size(), 3u);
  size_t deduped = 0;
  for (size_t i = 0; i < alerts->size(); ++i) {
    const auto a = alerts->getObject(static_cast<unsigned>(i));
    EXPECT_EQ(a->getValue<std::string>("rule_id"), "7");
    EXPECT_EQ(a->getValue<std::string>("src_ip"), "198.18.0.1");
    EXPECT_EQ(a->getValue<int>("dst_port"), 9999);
    EXPECT_EQ(a->getObject("mitre")->getValue<std::string>("technique_id"), "T1046");
    deduped += a->has("suppressed_by") && a->getValue<std::string>("suppressed_by") == "dedup";
  }
  EXPECT_EQ(deduped, 2u);
  std::string text;
  for (int i = 0; i < 500 && std::count(text.begin(), text.end(), '\n') < 1; ++i) {
    usleep(10000);
    text = rampart::test::read_file(dir_ / "alerts.json");
  }
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1) << text;
  EXPECT_NE(text.find("\"component\":\"firewall\""), std::string::npos) << text;
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

TEST_F(FirewallLab, BlocklistFileDropsListedSourcesAndReloadsFromDisk) {
  const auto list = dir_ / "drop.txt";
  rampart::test::write_file(list, "# test feed\n203.0.113.0/24\n198.18.0.1  # host A\n");
  const auto cfg = write_config("[]", "    blocklist: {files: [" + list + "]}\n");
  ASSERT_NO_FATAL_FAILURE(start(cfg));
  ASSERT_TRUE(daemon_->wait_for("and a blocklist of 2 prefixes")) << daemon_->output();
  expect_all(lab_->send_and_count(kPackets), 0, "host A listed");

  // The feed changes on disk; a reload reads it again.
  rampart::test::write_file(list, "203.0.113.0/24\n");
  reload(1);
  ASSERT_TRUE(daemon_->wait_for("and a blocklist of 1 prefixes")) << daemon_->output();
  expect_all(lab_->send_and_count(kPackets), kPackets, "host A no longer listed");

  // A bad line refuses the reload, naming file and line; the list in force stays.
  rampart::test::write_file(list, "198.18.0.0/31\n198.18.0.1/8\n");
  daemon_->signal(SIGHUP);
  ASSERT_TRUE(daemon_->wait_for("config reload refused")) << daemon_->output();
  EXPECT_TRUE(daemon_->wait_for(list + ":2: '198.18.0.1/8' has host bits set"))
      << daemon_->output();
  expect_all(lab_->send_and_count(kPackets), kPackets, "old blocklist still in force");

  // An allow rule ahead of the blocklist exempts a listed host.
  rampart::test::write_file(list, "198.18.0.0/31\n");
  write_config("[{id: 1, priority: -1, action: allow, src_ip: 198.18.0.1/32}]",
               "    blocklist: {files: [" + list + "]}\n");
  reload(2);
  ASSERT_TRUE(daemon_->wait_for("installed 1 rules (default allow) and a blocklist of 1"))
      << daemon_->output();
  expect_all(lab_->send_and_count(kPackets), kPackets, "exempted by a rule before the list");
  write_config("[{id: 1, priority: 5, action: allow, src_ip: 198.18.0.1/32}]",
               "    blocklist: {files: [" + list + "]}\n");
  reload(3);
  ASSERT_TRUE(daemon_->wait_for("installed 1 rules (default allow) and a blocklist of 1", 2))
      << daemon_->output();
  expect_all(lab_->send_and_count(kPackets), 0, "a rule after the list cannot exempt");
}

}  // namespace

namespace {

TEST_F(FirewallLab, TcSeesTheXdpVerdictInMetadata) {
  ASSERT_NO_FATAL_FAILURE(
      start(write_config("[{id: 42, action: allow, protocol: udp, dst_port: \"9999\"}]")));
  ASSERT_TRUE(daemon_->wait_for("attached TC")) << daemon_->output();
  for (const char* dir : {"ingress", "egress"}) EXPECT_TRUE(has_tc_filter(dir)) << dir;
  rampart::test::TcMetaReader tc(bpffs_ + "/rampart");
  EXPECT_EQ(lab_->send_and_count(kPackets).udp, kPackets);
  const auto seen = tc.counts();
  ASSERT_EQ(seen.size(), 1u) << "every packet carried metadata naming rule 42";
  EXPECT_EQ(seen.begin()->first, 42u);
  EXPECT_EQ(seen.begin()->second, kPackets);
}

// 10,000 rules, all but one never matching the test traffic; the one that
// does sits at another priority and has another id in set A and set B.
// UDP from A's 198.18.0.1 to B's 198.18.0.2 port 9999, as fast as one
// thread sends, until stopped.
class UdpFlood {
 public:
  explicit UdpFlood(const NetnsLab& lab)
      : sock_(lab.socket_in(lab.ns_a(), AF_INET, SOCK_DGRAM, 0)) {
    sockaddr_in src{};
    src.sin_family = dst_.sin_family = AF_INET;
    inet_pton(AF_INET, "198.18.0.1", &src.sin_addr);
    inet_pton(AF_INET, "198.18.0.2", &dst_.sin_addr);
    dst_.sin_port = htons(9999);
    bind(sock_, reinterpret_cast<sockaddr*>(&src), sizeof src);
    thread_ = std::thread([this] {
      while (!stop_) {
        if (sendto(sock_, "x", 1, 0, reinterpret_cast<sockaddr*>(&dst_), sizeof dst_) == 1) ++sent_;
      }
    });
  }
  ~UdpFlood() { stop(); }
  uint64_t stop() {  // the packets sent
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (sock_ >= 0) close(sock_);
    sock_ = -1;
    return sent_.load();
  }

 private:
  int sock_;
  sockaddr_in dst_{};
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> sent_{0};
  std::thread thread_;
};

// What the flood's packets were judged by, as the TC side counted: rule
// 500001 (one set) or 500002 (the other), each at least once, and never
// another rule (a mix of the two sets' tables).
void expect_judged_by_one_set(const std::map<uint32_t, uint64_t>& seen, uint64_t sent) {
  uint64_t judged = 0;
  for (const auto& [rule, n] : seen) {
    EXPECT_TRUE(rule == 500001 || rule == 500002) << n << " packets judged by rule " << rule;
    judged += n;
  }
  EXPECT_GT(seen.count(500001) ? seen.at(500001) : 0, 0u);
  EXPECT_GT(seen.count(500002) ? seen.at(500002) : 0, 0u);
  EXPECT_GT(judged, 0u);
  EXPECT_LE(judged, sent);
}

std::string ten_thousand_rules(uint32_t target_id, int32_t target_priority) {
  std::string yaml = "\n";
  for (uint32_t i = 1; i < 10000; ++i) {
    yaml += "      - {id: " + std::to_string(i) + ", priority: " + std::to_string(i) +
            ", action: deny, protocol: " + (i % 2 ? "tcp" : "udp") + ", src_ip: 10." +
            std::to_string(i / 256 % 256) + "." + std::to_string(i % 256) + ".0/24, dst_port: \"" +
            std::to_string(1000 + i % 5000) + "\"}\n";
  }
  yaml += "      - {id: " + std::to_string(target_id) +
          ", priority: " + std::to_string(target_priority) +
          ", action: allow, protocol: udp, src_ip: 198.18.0.1/32, dst_port: \"9999\"}\n";
  return yaml;
}

TEST_F(FirewallLab, TenThousandRulesReplacedUnderTrafficNeverMix) {
  const std::string set_a = ten_thousand_rules(500001, 2500),
                    set_b = ten_thousand_rules(500002, 7500);
  const auto cfg = write_config(set_a);
  ASSERT_NO_FATAL_FAILURE(start(cfg));
  ASSERT_TRUE(daemon_->wait_for("installed 10000 rules")) << daemon_->output();
  ASSERT_TRUE(daemon_->wait_for("attached TC")) << daemon_->output();
  for (const char* dir : {"ingress", "egress"}) EXPECT_TRUE(has_tc_filter(dir)) << dir;
  rampart::test::TcMetaReader tc(bpffs_ + "/rampart");

  UdpFlood flood(*lab_);
  const int rounds = 4;
  for (int i = 0; i < rounds; ++i) {
    write_config(i % 2 == 0 ? set_b : set_a);
    reload(static_cast<size_t>(i + 1));
  }
  const uint64_t sent = flood.stop();
  lab_->send_and_count(0);  // the marker: everything sent before it has arrived

  expect_judged_by_one_set(tc.counts(), sent);
  EXPECT_EQ(daemon_->output().find("error"), std::string::npos) << daemon_->output();
}

}  // namespace

namespace {

// The issue's headline: a rule added over REST drops real packets at once
// (the 201 comes after the kernel runs it), deleting it lets them through,
// and a killed and restarted rampartd keeps it (SQLite).
TEST_F(FirewallLab, RuleAddedOverRestDropsRealPackets) {
  const auto cfg = write_config("[]", "");
  // REST on B's loopback, on a port the kernel picks.
  ASSERT_NO_FATAL_FAILURE(start_with_rest(cfg));
  EXPECT_EQ(api("GET", "/readyz").status, 200);
  expect_all(lab_->send_and_count(kPackets), kPackets, "no rules");

  auto r =
      api("POST", "/api/v1/firewall/rules", R"({"id":1,"action":"deny","src_ip":"198.18.0.1/32"})");
  ASSERT_EQ(r.status, 201) << r.body;
  expect_all(lab_->send_and_count(kPackets), 0, "deny rule added over REST");
  // The kernel's per-rule hit counter, served by the engine's status.
  r = api("GET", "/api/v1/firewall/status");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find(R"("enforced":true)"), std::string::npos) << r.body;
  const std::string hit_key = R"({"id":1,"priority":1,"priority_index":0,"hits":)";
  const auto at = r.body.find(hit_key);
  ASSERT_NE(at, std::string::npos) << r.body;
  // At least: a TCP SYN may be retransmitted meanwhile.
  EXPECT_GE(std::stoull(r.body.substr(at + hit_key.size())), 3 * kPackets)
      << "every UDP, TCP and ICMP packet from A hit rule 1: " << r.body;

  // The kernel side as the API reports it.
  r = api("GET", "/api/v1/ebpf/status");
  ASSERT_EQ(r.status, 200) << r.body;
  for (const char* want :
       {R"("name":"xdp_root")", R"("name":"tc_ingress_root")", R"("name":"xdp/firewall")",
        R"("kernel_name":"xdp_firewall")", R"("name":"rampart_xdp_chain","id":)",
        R"("hook":"xdp","name":"firewall","plugin":"firewall","slot":)", R"("dropped":)"}) {
    EXPECT_NE(r.body.find(want), std::string::npos) << want << " in " << r.body;
  }
  EXPECT_NE(r.body.find(R"("type":3,"max_entries":16,"entries":1,)"), std::string::npos)
      << "the XDP chain holds the firewall's stage: " << r.body;
  r = api("GET", "/api/v1/agent/status");
  EXPECT_NE(r.body.find(R"("interface":")" + lab_->if_b() + R"(","xdp":"native","tc":"clsact")"),
            std::string::npos)
      << r.body;

  r = api("DELETE", "/api/v1/firewall/rules/1");
  ASSERT_EQ(r.status, 204) << r.body;
  expect_all(lab_->send_and_count(kPackets), kPackets, "rule deleted over REST");

  r = api("POST", "/api/v1/firewall/rules", R"({"id":2,"action":"deny","src_ip":"198.18.0.1/32"})");
  ASSERT_EQ(r.status, 201) << r.body;
  daemon_->signal(SIGKILL);
  daemon_->wait_exit();
  expect_all(lab_->send_and_count(kPackets), 0, "rampartd killed");
  // The stored rule is re-applied on start.
  ASSERT_NO_FATAL_FAILURE(start(cfg, "installed 1 rules"));
  expect_all(lab_->send_and_count(kPackets), 0, "restarted: the rule came back from SQLite");
}

// rampartctl's short forms over the local socket, against real packets:
// `block` drops from the moment it answers, `rules list` shows the block
// with its effective priority and the kernel's hit counter beside it,
// `unblock` lets traffic through again, and a block given --for drops
// until then and is gone after (deleted by the core, audited as expiry).
TEST_F(FirewallLab, RampartctlBlocksForAWhileAndListsHitsBesideTheRules) {
  const auto cfg = write_config("[{id: 1, action: log, protocol: udp, dst_port: 9}]", "");
  ASSERT_NO_FATAL_FAILURE(start_with_rest(cfg));
  auto ctl = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = {rampart::test::path::rampartctl(), "--server",
                                     "unix://" + (dir_ / "api.sock")};
    argv.insert(argv.end(), args.begin(), args.end());
    return rampart::test::run_command(argv);
  };
  expect_all(lab_->send_and_count(kPackets), kPackets, "nothing blocked");
  auto r = ctl({"block", "198.18.0.1", "--reason", "lab"});
  ASSERT_EQ(r.status, 0) << r.output;
  expect_all(lab_->send_and_count(kPackets), 0, "blocked once rampartctl answered");
  r = ctl({"rules", "list", "firewall"});
  ASSERT_EQ(r.status, 0) << r.output;
  std::smatch m;
  ASSERT_TRUE(
      std::regex_search(r.output, m, std::regex("\n([0-9]+) +api +-1000 +true +([0-9]+) +deny ")))
      << r.output;
  // At least: a TCP SYN may be retransmitted meanwhile.
  EXPECT_GE(std::stoull(m[2]), 3 * kPackets) << r.output;
  EXPECT_TRUE(std::regex_search(r.output, std::regex("\n1 +config +1 +true +[0-9]+ +log ")))
      << "the config's rule, with its own counter: " << r.output;
  r = ctl({"unblock", "198.18.0.1"});
  ASSERT_EQ(r.status, 0) << r.output;
  expect_all(lab_->send_and_count(kPackets), kPackets, "unblocked");

  r = ctl({"block", "198.18.0.1", "--for", "8s"});  // room for the sends, sanitizers too
  ASSERT_EQ(r.status, 0) << r.output;
  ASSERT_TRUE(std::regex_search(r.output, m, std::regex("firewall rule ([0-9]+)\n"))) << r.output;
  const std::string id = m[1];
  expect_all(lab_->send_and_count(kPackets), 0, "blocked until it expires");
  EXPECT_TRUE(rampart::test::poll_until(
      [&] {
        return ctl({"rules", "get", "firewall", id}).status == 1;
      },
      std::chrono::seconds(60)));
  expect_all(lab_->send_and_count(kPackets), kPackets, "expired: deleted, and passing again");
  r = ctl({"audit", "--rule", id, "--domain", "firewall"});
  EXPECT_TRUE(std::regex_search(r.output, std::regex(" expiry +firewall +delete +" + id + " ")))
      << r.output;
}

// The source blocklist's API entries (the domain the IPS and DDoS engines
// write): in the kernel as soon as they are acknowledged, gone when
// deleted or expired, refused whole when bad, paged, and back after a
// restart.
TEST_F(FirewallLab, BlocklistEntriesOverRestDropAtOnceExpireAndComeBack) {
  const auto cfg = write_config("[]", "    blocklist: {prefixes: [203.0.113.0/24]}\n");
  ASSERT_NO_FATAL_FAILURE(start_with_rest(cfg, "  metrics: {listen: \"127.0.0.1:0\"}\n",
                                          "] ready plugins=firewall,log,metrics,rest refused=0"));
  expect_all(lab_->send_and_count(kPackets), kPackets, "host A is not listed");

  auto r = api("POST", "/api/v1/blocklist/rules",
               R"({"prefix":"198.18.0.1","owner":"ips","reason":"port scan"})");
  ASSERT_EQ(r.status, 201) << r.body;
  const auto id =
      Poco::JSON::Parser().parse(r.body).extract<Poco::JSON::Object::Ptr>()->getValue<uint64_t>(
          "id");
  expect_all(lab_->send_and_count(kPackets), 0, "listed over REST: dropped once acknowledged");

  // Bad entries are refused whole, naming the field; what is listed stays.
  for (const auto& [body, field] : std::vector<std::pair<std::string, std::string>>{
           {R"({"prefix":"198.18.0.1/8"})", "has host bits set"},
           {R"({"prefix":"not an address"})", "prefix"},
           {R"({"prefix":"192.0.2.1","expires_at":1})", "has passed"},
           {R"({"prefix":"192.0.2.1","owner":"a b"})", "owner"},
           {R"({"prefix":"192.0.2.1","color":"red"})", "color"},
           {R"({"owner":"ips"})", "prefix"}}) {
    r = api("POST", "/api/v1/blocklist/rules", body);
    EXPECT_TRUE(r.status == 400 || r.status == 422) << body << " -> " << r.status << " " << r.body;
    EXPECT_NE(r.body.find(field), std::string::npos) << body << " -> " << r.body;
  }
  expect_all(lab_->send_and_count(kPackets), 0, "the refusals changed nothing");
  r = api("GET", "/api/v1/blocklist/status");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find(R"("prefixes":2,"config_prefixes":1,"entries":1,)"), std::string::npos)
      << r.body;

  r = api("DELETE", "/api/v1/blocklist/rules/" + std::to_string(id));
  ASSERT_EQ(r.status, 204) << r.body;
  expect_all(lab_->send_and_count(kPackets), kPackets, "deleted: passes again");

  // Paging through entries of several owners, in id order. Each entry is
  // written into the live instance's tables: nothing loaded or refilled.
  const double loaded = installs("loaded"), refilled = installs("refilled"),
               in_place = installs("in_place");
  for (int i = 0; i < 5; ++i) {
    r = api("POST", "/api/v1/blocklist/rules",
            R"({"id":)" + std::to_string(100 + i) + R"(,"prefix":"192.0.2.)" +
                std::to_string(10 + i) + R"(","owner":")" + (i % 2 ? "ddos" : "ips") + R"("})");
    ASSERT_EQ(r.status, 201) << r.body;
  }
  EXPECT_EQ(installs("loaded"), loaded);
  EXPECT_EQ(installs("refilled"), refilled);
  EXPECT_EQ(installs("in_place") - in_place, 5.0);
  std::vector<std::string> seen;
  std::string cursor;
  for (int page = 0; page < 10; ++page) {
    r = api("GET", "/api/v1/blocklist/rules?limit=2" + (cursor.empty() ? "" : "&cursor=" + cursor));
    ASSERT_EQ(r.status, 200) << r.body;
    auto o = Poco::JSON::Parser().parse(r.body).extract<Poco::JSON::Object::Ptr>();
    auto rules = o->getArray("rules");
    EXPECT_LE(rules->size(), 2u);
    for (size_t i = 0; i < rules->size(); ++i)
      seen.push_back(rules->getObject(static_cast<unsigned>(i))->getValue<std::string>("prefix"));
    if (o->isNull("next_cursor")) break;
    cursor = o->getValue<std::string>("next_cursor");
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"192.0.2.10", "192.0.2.11", "192.0.2.12", "192.0.2.13",
                                            "192.0.2.14"}));
  r = api("GET", "/api/v1/blocklist/rules?owner=ddos");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find(R"("prefix":"192.0.2.11")"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find(R"("prefix":"192.0.2.10")"), std::string::npos) << r.body;

  // An entry with an expiry drops until it passes, then the core deletes it.
  const auto expires = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count() +
                       8;  // room for the sends below, under the sanitizers too
  r = api("POST", "/api/v1/blocklist/rules",
          R"({"id":200,"prefix":"198.18.0.0/31","owner":"ddos","expires_at":)" +
              std::to_string(expires) + "}");
  ASSERT_EQ(r.status, 201) << r.body;
  expect_all(lab_->send_and_count(kPackets), 0, "listed until it expires");
  EXPECT_TRUE(rampart::test::poll_until(
      [&] { return api("GET", "/api/v1/blocklist/rules/200").status == 404; },
      std::chrono::seconds(60)));
  expect_all(lab_->send_and_count(kPackets), kPackets, "expired: deleted and no longer dropped");
  r = api("GET", "/api/v1/audit/rules/200/history?domain=blocklist");
  EXPECT_NE(r.body.find(R"("actor":"expiry")"), std::string::npos) << r.body;

  // Stored entries are listed again after a restart.
  r = api("POST", "/api/v1/blocklist/rules", R"({"id":300,"prefix":"198.18.0.1"})");
  ASSERT_EQ(r.status, 201) << r.body;
  daemon_->signal(SIGKILL);
  daemon_->wait_exit();
  ASSERT_NO_FATAL_FAILURE(start(cfg, "] ready plugins=firewall,log,metrics,rest refused=0"));
  expect_all(lab_->send_and_count(kPackets), 0, "restarted: the entry came back from SQLite");
}

// A set written rule by rule past its tables' capacity: once a dimension
// is three quarters full, the firewall has an instance of the next
// capacity prepared in the background (status names it), and the write
// that outgrows the tables takes it: no program is loaded on a writer's
// path, and the set keeps enforcing.
TEST_F(FirewallLab, RuleWritesThatOutgrowTheTablesTakeTheShapePreparedAhead) {
  const auto cfg = write_config("[{id: 1, action: deny, src_ip: 198.18.0.1/32}]", "");
  ASSERT_NO_FATAL_FAILURE(start_with_rest(cfg, "  metrics: {listen: \"127.0.0.1:0\"}\n",
                                          "] ready plugins=firewall,log,metrics,rest refused=0"));
  const std::string prepared = "rampart_program_spares_prepared_total";
  // The live shape's spares first (InstancePool::kPerPlace of them).
  constexpr double kLiveSpares = 3;
  ASSERT_TRUE(rampart::test::poll_until([&] { return metric(prepared) >= kLiveSpares; },
                                        std::chrono::seconds(60)))
      << "the live shape's spares";
  const double spares = metric(prepared);
  auto tables = [&] {
    const auto r = api("GET", "/api/v1/firewall/status");
    const auto at = r.body.find(R"("tables":)");
    return at == std::string::npos ? std::string() : r.body.substr(at, r.body.find("]", at) - at);
  };
  auto field = [](const std::string& t, const std::string& name) {
    const auto at = t.find("\"" + name + "\":");
    return at == std::string::npos ? std::string() : t.substr(at, t.find('}', at) - at);
  };
  uint32_t id = 1;
  auto write = [&] {
    ++id;
    const auto r =
        api("POST", "/api/v1/firewall/rules",
            R"({"id":)" + std::to_string(id) + R"(,"action":"deny","src_ip":"10.)" +
                std::to_string(id / 256) + "." + std::to_string(id % 256) + R"(.1/32"})");
    ASSERT_EQ(r.status, 201) << r.body;
  };
  const std::string start = field(tables(), "capacity");
  ASSERT_FALSE(start.empty()) << tables();
  ASSERT_EQ(field(tables(), "prepared"), R"("prepared":null)") << tables();
  while (field(tables(), "prepared") == R"("prepared":null)" && id < 2000)
    ASSERT_NO_FATAL_FAILURE(write());
  ASSERT_LT(id, 2000u) << "no dimension three quarters full: " << tables();
  ASSERT_TRUE(rampart::test::poll_until([&] { return metric(prepared) == spares + 1; },
                                        std::chrono::seconds(60)))
      << "the next shape loaded in the background";
  const std::string ahead = field(tables(), "prepared");
  const double loaded = installs("loaded"), refilled = installs("refilled");
  while (field(tables(), "capacity") == start && id < 4000) ASSERT_NO_FATAL_FAILURE(write());
  ASSERT_NE(field(tables(), "capacity"), start) << "the tables grew: " << tables();
  EXPECT_EQ(field(tables(), "capacity").substr(std::string(R"("capacity")").size()),
            ahead.substr(std::string(R"("prepared")").size()))
      << "into the capacity prepared";
  EXPECT_EQ(installs("loaded"), loaded) << "no write loaded a program";
  EXPECT_GE(installs("refilled"), refilled + 1) << "the write that grew the tables took it";
  expect_all(lab_->send_and_count(kPackets), 0, "rule 1, after the growth");
}

// Rule writes that keep the rule set's shape are written into the live
// instance's tables (counted in /metrics), no program loaded or refilled,
// and a rule's hit counter survives writes to the other rules, one of them
// ahead of it and then deleted.
TEST_F(FirewallLab, RuleWritesChangeTheLiveTablesAndKeepHitCounters) {
  const auto cfg = write_config("[{id: 1, action: deny, src_ip: 198.18.0.1/32}]", "");
  ASSERT_NO_FATAL_FAILURE(start_with_rest(cfg, "  metrics: {listen: \"127.0.0.1:0\"}\n",
                                          "] ready plugins=firewall,log,metrics,rest refused=0"));
  auto hits_of_rule_1 = [&] {
    const auto r = api("GET", "/api/v1/firewall/status");
    const auto at = r.body.find(R"({"id":1,"priority":1,"priority_index":)");
    const auto hits = r.body.find(R"("hits":)", at);
    return at == std::string::npos || hits == std::string::npos
               ? -1.0
               : std::stod(r.body.substr(hits + 7));
  };
  expect_all(lab_->send_and_count(kPackets), 0, "rule 1");
  const double before = hits_of_rule_1();
  EXPECT_GE(before, 3.0 * kPackets);
  const double loaded = installs("loaded"), refilled = installs("refilled"),
               in_place = installs("in_place");

  // Three more rules, one write each, of the same shape as rule 1's set;
  // the first ahead of rule 1, which then moves to the next position.
  for (int id = 2; id <= 4; ++id) {
    const auto r =
        api("POST", "/api/v1/firewall/rules",
            R"({"id":)" + std::to_string(id) + (id == 2 ? R"(,"priority":-1)" : "") +
                R"(,"action":"deny","src_ip":"203.0.113.)" + std::to_string(id) + R"(/32"})");
    ASSERT_EQ(r.status, 201) << r.body;
  }
  // Each write changes the live instance's tables in place: nothing is
  // loaded or refilled.
  EXPECT_EQ(installs("loaded"), loaded);
  EXPECT_EQ(installs("refilled"), refilled);
  EXPECT_EQ(installs("in_place") - in_place, 3.0);
  EXPECT_EQ(hits_of_rule_1(), before) << "rule 1's hits survived three writes";
  expect_all(lab_->send_and_count(kPackets), 0, "rule 1, after the swaps");
  const double after = hits_of_rule_1();
  EXPECT_GE(after, before + 3.0 * kPackets);
  ASSERT_EQ(api("DELETE", "/api/v1/firewall/rules/2").status, 204);
  EXPECT_EQ(hits_of_rule_1(), after) << "and a delete ahead of it";
  EXPECT_NE(api("GET", "/api/v1/firewall/status")
                .body.find(R"({"id":1,"priority":1,"priority_index":0,)"),
            std::string::npos);
}

// A 1,000-rule set as an import body: 999 deny rules the flood below never
// matches, and the one it does (allow, `target_id` at `target_priority`).
std::string thousand_rules_json(uint32_t target_id, int32_t target_priority) {
  std::string body = R"({"rules":[)";
  for (uint32_t i = 1; i < 1000; ++i) {
    body += R"({"id":)" + std::to_string(i) + R"(,"priority":)" + std::to_string(i) +
            R"(,"action":"deny","protocol":")" + (i % 2 ? "tcp" : "udp") + R"(","src_ip":"10.)" +
            std::to_string(i / 256 % 256) + "." + std::to_string(i % 256) +
            R"(.0/24","dst_port":")" + std::to_string(1000 + i % 5000) + R"("},)";
  }
  body += R"({"id":)" + std::to_string(target_id) + R"(,"priority":)" +
          std::to_string(target_priority) +
          R"(,"action":"allow","protocol":"udp","src_ip":"198.18.0.1/32","dst_port":"9999"}]})";
  return body;
}

// Under a UDP flood, 1,000 imports over REST alternate between two
// 1,000-rule sets of one shape (table swaps): the flood matches rule 500001
// at priority 250 in one set and rule 500002 at priority 750 in the other,
// and the TC side counts the rule each packet's XDP verdict names. A packet
// judged by a mix of the two sets' tables would name another rule, or none.
TEST_F(FirewallLab, AThousandRestSwapsUnderAFloodNeverMixTwoSets) {
  const auto cfg = write_storm_config();
  ASSERT_NO_FATAL_FAILURE(start(cfg, "] ready plugins=firewall,log,rest refused=0"));
  ASSERT_TRUE(daemon_->wait_for("attached TC")) << daemon_->output();
  rampart::test::ApiClient client{rampart::test::listening_port(daemon_->output()),
                                  rampart::test::bootstrap_token(dir_ / "state")};
  const std::string set_a = thousand_rules_json(500001, 250),
                    set_b = thousand_rules_json(500002, 750);
  auto import = [&](const std::string& body) {
    return lab_->in_ns(lab_->ns_b(),
                       [&] { return client.call("PUT", "/api/v1/firewall/rules", body); });
  };
  ASSERT_EQ(import(set_a).status, 200);
  rampart::test::TcMetaReader tc(bpffs_ + "/rampart");

  UdpFlood flood(*lab_);
  // Fewer under the sanitizers: an import of 1,000 rules there takes 1.5-3 s
  // (ASan), and the whole test must stay well inside its 300 s.
  const int swaps = rampart::test::kSlowdown == 1 ? 1000 : 20;
  int refused = 0;
  lab_->in_ns(lab_->ns_b(), [&] {
    for (int i = 0; i < swaps; ++i) {
      if (client.call("PUT", "/api/v1/firewall/rules", i % 2 == 0 ? set_b : set_a).status != 200)
        ++refused;
    }
    return 0;
  });
  const uint64_t sent = flood.stop();
  lab_->send_and_count(0);  // the marker: everything sent before it has arrived

  EXPECT_EQ(refused, 0);
  expect_judged_by_one_set(tc.counts(), sent);
  EXPECT_EQ(daemon_->output().find("error"), std::string::npos) << daemon_->output();
}

// The rule ids the live firewall instance holds in the kernel: the XDP
// chain's programs, the one named xdp_firewall, its fw_set (rule count)
// and fw_rules (id by priority index) maps.
std::set<uint32_t> kernel_rule_ids(const std::string& pin_root) {
  const int chain = bpf_obj_get((pin_root + "/maps/rampart_xdp_chain").c_str());
  if (chain < 0) throw std::runtime_error("rampartd pinned no XDP chain");
  std::set<uint32_t> ids;
  bool found = false;
  for (uint32_t slot = 0; slot < 16 && !found; ++slot) {
    uint32_t prog_id = 0;
    if (bpf_map_lookup_elem(chain, &slot, &prog_id) != 0) continue;
    const int prog = bpf_prog_get_fd_by_id(prog_id);
    bpf_prog_info info{};
    uint32_t len = sizeof info;
    std::vector<uint32_t> map_ids(64);
    info.nr_map_ids = static_cast<uint32_t>(map_ids.size());
    info.map_ids = reinterpret_cast<uint64_t>(map_ids.data());
    if (prog < 0 || bpf_obj_get_info_by_fd(prog, &info, &len) != 0 ||
        std::string(info.name) != "xdp_firewall") {
      if (prog >= 0) close(prog);
      continue;
    }
    close(prog);
    // The current generation (fw_gen), and the positions its fw_live row
    // holds: the rules a packet is judged by now.
    std::map<std::string, int> fds;
    uint32_t live_size = 0;
    for (uint32_t i = 0; i < std::min<uint32_t>(info.nr_map_ids, 64); ++i) {
      const int fd = bpf_map_get_fd_by_id(map_ids[i]);
      bpf_map_info mi{};
      uint32_t mlen = sizeof mi;
      if (fd < 0 || bpf_obj_get_info_by_fd(fd, &mi, &mlen) != 0) continue;
      const std::string name = mi.name;
      if ((name == "fw_gen" || name == "fw_live" || name == "fw_rules") && !fds.count(name)) {
        fds[name] = fd;
        if (name == "fw_live") live_size = mi.value_size;
      } else {
        close(fd);
      }
    }
    const uint32_t zero = 0;
    uint32_t gen = 0;
    std::vector<uint64_t> live(live_size / 8);
    if (fds.size() != 3 || bpf_map_lookup_elem(fds["fw_gen"], &zero, &gen) != 0 ||
        bpf_map_lookup_elem(fds["fw_live"], &gen, live.data()) != 0)
      throw std::runtime_error("the firewall's fw_gen, fw_live or fw_rules map is missing");
    for (uint32_t w = 0; w < live.size(); ++w) {
      for (uint64_t bits = live[w]; bits; bits &= bits - 1) {
        const uint32_t p = w * 64 + static_cast<uint32_t>(__builtin_ctzll(bits));
        rampart_fw_rule r{};
        if (bpf_map_lookup_elem(fds["fw_rules"], &p, &r) == 0) ids.insert(r.id);
      }
    }
    for (const auto& [name, fd] : fds) close(fd);
    found = true;
  }
  close(chain);
  if (!found) throw std::runtime_error("no xdp_firewall program in the XDP chain");
  return ids;
}

// The rule ids of `domain` in rampartd's database.
std::set<uint32_t> stored_rule_ids(const std::string& db_path, const std::string& domain) {
  sqlite3* db = nullptr;
  std::set<uint32_t> ids;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    throw std::runtime_error("cannot open " + db_path);
  }
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "SELECT id FROM rules WHERE domain = ?", -1, &st, nullptr);
  sqlite3_bind_text(st, 1, domain.c_str(), -1, SQLITE_TRANSIENT);
  while (sqlite3_step(st) == SQLITE_ROW)
    ids.insert(static_cast<uint32_t>(sqlite3_column_int64(st, 0)));
  sqlite3_finalize(st);
  sqlite3_close(db);
  return ids;
}

// The ids in a GET /api/v1/firewall/rules answer (every page).
std::set<uint32_t> listed_rule_ids(
    const std::function<rampart::test::HttpResponse(const std::string&)>& get) {
  std::set<uint32_t> ids;
  const auto r = get("/api/v1/firewall/rules?limit=1000");
  if (r.status != 200)
    throw std::runtime_error("GET rules: " + std::to_string(r.status) + " " + r.body);
  const auto root = Poco::JSON::Parser().parse(r.body).extract<Poco::JSON::Object::Ptr>();
  const auto rules = root->getArray("rules");
  for (size_t i = 0; rules && i < rules->size(); ++i)
    ids.insert(rules->getObject(static_cast<unsigned>(i))->getValue<uint32_t>("id"));
  return ids;
}

// 64 clients at once, each creating rules and deleting half of them again:
// every write is answered 201 or 204, and afterwards SQLite, GET /rules and
// the kernel's live tables hold exactly the same rules, the ones expected.
TEST_F(FirewallLab, SixtyFourConcurrentWritersLeaveStoreApiAndKernelAgreeing) {
  const auto cfg = write_storm_config();
  ASSERT_NO_FATAL_FAILURE(start(cfg, "] ready plugins=firewall,log,rest refused=0"));
  rampart::test::ApiClient client{rampart::test::listening_port(daemon_->output()),
                                  rampart::test::bootstrap_token(dir_ / "state")};
  constexpr int kWriters = 64, kEach = 6;
  std::atomic<int> wrong{0};
  std::mutex mu;
  std::string first_wrong;
  std::set<uint32_t> expected;
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      NetnsLab::enter(lab_->ns_b());
      for (int k = 0; k < kEach; ++k) {
        const uint32_t id = 1000 + w * 100 + k;
        auto r = client.call("POST", "/api/v1/firewall/rules",
                             R"({"id":)" + std::to_string(id) +
                                 R"(,"action":"deny","protocol":"udp","src_ip":"10.)" +
                                 std::to_string(w) + "." + std::to_string(k) +
                                 R"(.0/24","dst_port":")" + std::to_string(2000 + k) + R"("})");
        bool ok = r.status == 201;
        if (ok && k % 2 == 1) {
          r = client.call("DELETE", "/api/v1/firewall/rules/" + std::to_string(id));
          ok = r.status == 204;
        } else if (ok) {
          std::lock_guard lock(mu);
          expected.insert(id);
        }
        if (!ok && wrong.fetch_add(1) == 0) {
          std::lock_guard lock(mu);
          first_wrong = std::to_string(r.status) + " " + r.body;
        }
      }
    });
  }
  for (auto& t : writers) t.join();
  EXPECT_EQ(wrong.load(), 0) << first_wrong;
  ASSERT_EQ(expected.size(), size_t(kWriters * kEach / 2));

  const auto listed = lab_->in_ns(lab_->ns_b(), [&] {
    return listed_rule_ids([&](const std::string& path) { return client.call("GET", path); });
  });
  EXPECT_EQ(listed, expected) << "GET /api/v1/firewall/rules";
  EXPECT_EQ(stored_rule_ids(dir_ / "state/rampart.db", "firewall"), expected) << "SQLite";
  EXPECT_EQ(kernel_rule_ids(bpffs_ + "/rampart"), expected) << "the kernel's live tables";
  EXPECT_EQ(daemon_->output().find("error"), std::string::npos) << daemon_->output();
}

// The store failing in the middle of an import (a trigger in rampartd's
// database standing for a full disk): the import is answered 500 with the
// store's error, and the kernel's live tables keep the old set as SQLite
// does (the new set's deny rule for A's address never drops a packet);
// once the store takes it, the same import is in effect.
TEST_F(FirewallLab, AnImportTheStoreFailsToWriteNeverReachesTheKernel) {
  const auto cfg = write_config("[]", "");
  ASSERT_NO_FATAL_FAILURE(start_with_rest(cfg, "  metrics: {listen: \"127.0.0.1:0\"}\n",
                                          "] ready plugins=firewall,log,metrics,rest refused=0"));
  auto all_installs = [&] {
    return installs("loaded") + installs("refilled") + installs("in_place");
  };
  // Rules first..first+n-1 on sources A never uses, then one denying A.
  auto set = [](int first, int n, bool deny_a) {
    std::string body = R"({"rules":[)";
    for (int id = first; id < first + n; ++id) {
      body += (id > first ? "," : "") + std::string(R"({"id":)") + std::to_string(id) +
              R"(,"action":"deny","protocol":"udp","src_ip":"10.)" + std::to_string(id / 256) +
              "." + std::to_string(id % 256) + R"(.0/24"})";
    }
    if (deny_a) body += R"(,{"id":9000,"action":"deny","src_ip":"198.18.0.1/32"})";
    return body + "]}";
  };
  auto r = api("PUT", "/api/v1/firewall/rules", set(1, 300, false));
  ASSERT_EQ(r.status, 200) << r.body;
  const auto before = kernel_rule_ids(bpffs_ + "/rampart");
  ASSERT_EQ(before.size(), 300u);
  const auto db_path = dir_ / "state/rampart.db";
  auto sql = [&](const char* statement) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    EXPECT_EQ(sqlite3_exec(db, statement, nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
    sqlite3_free(err);
    sqlite3_close(db);
  };
  sql("CREATE TRIGGER full_disk BEFORE INSERT ON audit WHEN NEW.rule_id = 450"
      " BEGIN SELECT RAISE(ABORT, 'disk full (injected)'); END");
  const auto next = set(201, 300, true);
  const double installed = all_installs();
  r = api("PUT", "/api/v1/firewall/rules", next);
  EXPECT_EQ(r.status, 500) << r.body;
  // Not installed and then taken back: never installed at all.
  EXPECT_EQ(all_installs(), installed) << "no program install during the failed import";
  EXPECT_NE(r.body.find("disk full (injected)"), std::string::npos) << r.body;
  EXPECT_EQ(kernel_rule_ids(bpffs_ + "/rampart"), before) << "the kernel's live tables";
  EXPECT_EQ(stored_rule_ids(db_path, "firewall"), before) << "SQLite";
  expect_all(lab_->send_and_count(kPackets), kPackets, "the refused import's deny rule");

  sql("DROP TRIGGER full_disk");
  r = api("PUT", "/api/v1/firewall/rules", next);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(kernel_rule_ids(bpffs_ + "/rampart").size(), 301u);
  EXPECT_EQ(stored_rule_ids(db_path, "firewall"), kernel_rule_ids(bpffs_ + "/rampart"));
  expect_all(lab_->send_and_count(kPackets), 0, "the import stored and in effect");
}

// rampartd SIGKILLed at a random moment of a write storm (four clients
// creating and deleting rules), 50 times over: after each restart every
// acknowledged write is in SQLite (a 201's rule there, a 204's gone), and
// the kernel's live tables hold exactly what SQLite holds. A write in flight
// at the kill may have landed or not: either is right.
TEST_F(FirewallLab, KilledDuringWriteStormsLosesNoAcknowledgedWrite) {
  const auto cfg = write_storm_config();
  const std::string db = dir_ / "state/rampart.db";
  const unsigned seed = static_cast<unsigned>(std::random_device{}());
  std::mt19937 rng(seed);
  constexpr int kRounds = 50, kWriters = 4;
  std::set<uint32_t> present;  // acknowledged, as of the last round
  uint32_t next_id = 1;
  size_t total_acked = 0, total_in_flight = 0;
  for (int round = 0; round < kRounds; ++round) {
    ASSERT_NO_FATAL_FAILURE(start(cfg, "] ready plugins=firewall,log,rest refused=0"));
    rampart::test::ApiClient client{rampart::test::listening_port(daemon_->output()),
                                    rampart::test::bootstrap_token(dir_ / "state")};
    struct Writer {
      std::set<uint32_t> created, deleted, in_flight;
      std::vector<uint32_t> mine;  // ids it may delete
      uint32_t first = 0;
      size_t acked = 0;
    };
    std::vector<Writer> writers(kWriters);
    for (int w = 0; w < kWriters; ++w) {
      writers[w].first = next_id + uint32_t(w) * 100000;
      for (uint32_t id : present) {
        if (id % kWriters == uint32_t(w)) writers[w].mine.push_back(id);
      }
    }
    next_id += kWriters * 100000;
    std::atomic<bool> stop{false};
    std::atomic<size_t> acked_now{0};
    std::vector<std::thread> threads;
    for (int w = 0; w < kWriters; ++w) {
      threads.emplace_back([&, w] {
        NetnsLab::enter(lab_->ns_b());
        Writer& me = writers[w];
        std::mt19937 local(seed + unsigned(round * kWriters + w));
        uint32_t id = me.first;
        while (!stop.load()) {
          const bool del = !me.mine.empty() && local() % 3 == 0;
          uint32_t target = id;
          if (del) {
            const size_t at = local() % me.mine.size();
            target = me.mine[at];
            me.mine.erase(me.mine.begin() + long(at));
          } else {
            // Ids kept ≡ w mod kWriters, so a later round's writer owns them.
            while (target % kWriters != uint32_t(w)) ++target;
            id = target + 1;
          }
          me.in_flight.insert(target);
          try {
            const auto r =
                del ? client.call("DELETE", "/api/v1/firewall/rules/" + std::to_string(target))
                    : client.call("POST", "/api/v1/firewall/rules",
                                  R"({"id":)" + std::to_string(target) +
                                      R"(,"action":"deny","protocol":"udp","src_ip":"10.)" +
                                      std::to_string(target % 250) + "." +
                                      std::to_string((target / 250) % 250) + R"(.0/24"})");
            if (r.status == 201 && !del) {
              me.created.insert(target);
              me.mine.push_back(target);
            } else if (r.status == 204 && del) {
              me.deleted.insert(target);
            } else {
              break;  // refused or cut off: stop writing, the kill is near
            }
            me.in_flight.erase(target);
            ++me.acked;
            acked_now.fetch_add(1);
          } catch (const std::exception&) {
            break;  // the connection died with rampartd: this write is in flight
          }
        }
      });
    }
    // The random moment: up to 300 ms into the storm, once it is writing
    // (the first writes after a start wait for the spares being loaded).
    const bool writing = rampart::test::poll_until(
        [&] { return acked_now.load() > 0; }, std::chrono::seconds(20 * rampart::test::kSlowdown));
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 300));
    daemon_->signal(SIGKILL);
    const auto exited = daemon_->wait_exit();
    stop = true;
    for (auto& t : threads) t.join();
    ASSERT_TRUE(writing) << "round " << round << ": no write was acknowledged";
    ASSERT_FALSE(exited.has_value()) << "killed, not exited";

    std::set<uint32_t> in_flight;
    size_t acked = 0;
    for (const auto& w : writers) {
      for (uint32_t id : w.created) present.insert(id);
      for (uint32_t id : w.deleted) present.erase(id);
      in_flight.insert(w.in_flight.begin(), w.in_flight.end());
      acked += w.acked;
    }
    total_acked += acked;
    total_in_flight += in_flight.size();
    ASSERT_NO_FATAL_FAILURE(start(cfg, "] ready plugins=firewall,log,rest refused=0"));
    auto stored = stored_rule_ids(db, "firewall");
    const auto kernel = kernel_rule_ids(bpffs_ + "/rampart");
    EXPECT_EQ(kernel, stored) << "round " << round << ", seed " << seed;
    // What was in flight is settled by what SQLite says.
    for (uint32_t id : in_flight) {
      if (stored.count(id))
        present.insert(id);
      else
        present.erase(id);
    }
    ASSERT_EQ(stored, present) << "round " << round << " (" << acked
                               << " writes acknowledged), seed " << seed;
    daemon_->signal(SIGKILL);  // the next round starts from a killed agent too
    daemon_->wait_exit();
  }
  EXPECT_GT(present.size(), 0u);
  EXPECT_GE(total_acked, size_t(kRounds)) << "the storms wrote";
  EXPECT_GT(total_in_flight, 0u) << "some kills cut writes off";
  std::printf("%zu writes acknowledged, %zu cut off by the kills (seed %u)\n", total_acked,
              total_in_flight, seed);
}

}  // namespace

namespace {

// Kernel counters reach Prometheus: after real traffic through a deny rule,
// /metrics reports the drops per program and action, the TC dispatcher's
// packets and the attached interface, in a scrape promtool accepts. With
// an event budget of 5 a second per CPU, the verdicts past it are counted
// instead of written.
TEST_F(FirewallLab, KernelCountersAreServedToPrometheus) {
  const auto cfg = write_config("[{id: 8, action: deny, protocol: udp, src_ip: 198.18.0.1/32}]",
                                "    event_rate: 5\n");
  rampart::test::write_file(
      cfg, rampart::test::read_file(cfg) + "  metrics: {listen: \"127.0.0.1:0\"}\n");
  ASSERT_NO_FATAL_FAILURE(start(cfg, "ready plugins=firewall,log,metrics refused=0"));
  const uint16_t port = rampart::test::listening_port(daemon_->output(), "metrics");
  ASSERT_NE(port, 0) << daemon_->output();
  const Counts c = lab_->send_and_count(kPackets);
  EXPECT_EQ(c.udp, 0u);
  EXPECT_EQ(c.tcp, kPackets);

  const auto scrape =
      lab_->in_ns(lab_->ns_b(), [&] { return rampart::test::http(port, "GET", "/metrics"); });
  ASSERT_EQ(scrape.status, 200);
  const std::string& text = scrape.body;
  EXPECT_EQ(rampart::test::promtool_check(text, dir_ / "scrape.txt"), "") << text;
  using rampart::test::metric_value;
  EXPECT_GE(metric_value(
                text, "rampart_kernel_packets_total{outcome=\"dropped\",program=\"xdp_firewall\"}"),
            static_cast<double>(kPackets))
      << text;
  EXPECT_GE(metric_value(
                text, "rampart_kernel_packets_total{outcome=\"passed\",program=\"xdp_firewall\"}"),
            static_cast<double>(2 * kPackets))
      << "TCP and ICMP pass\n"
      << text;
  // The outcomes partition what the firewall saw (no traffic runs while
  // the scrape reads the map, bar a stray neighbour packet).
  double outcomes = 0;
  for (const char* o : {"passed", "dropped", "rejected"})
    outcomes += metric_value(text, std::string("rampart_kernel_packets_total{outcome=\"") + o +
                                       "\",program=\"xdp_firewall\"}");
  EXPECT_NEAR(
      outcomes,
      metric_value(text, "rampart_kernel_xdp_firewall_seen_total{program=\"xdp_firewall\"}"), 2)
      << text;
  EXPECT_EQ(text.find("rampart_kernel_packets_total{outcome=\"seen\""), std::string::npos)
      << "seen is not an outcome";
  EXPECT_GT(metric_value(text,
                         "rampart_kernel_unclaimed_packets_total{outcome=\"unclaimed_passed\","
                         "program=\"tc_ingress_root\"}"),
            0)
      << "no TC stage: the root passes what it sees\n"
      << text;
  EXPECT_EQ(metric_value(text, "rampart_interface_attached{interface=\"" + lab_->if_b() + "\""), 1)
      << text;
  // Every deny produced an event the engine counted, or one past the budget.
  const double limited = metric_value(
      text, "rampart_kernel_events_lost_total{program=\"xdp_firewall\",reason=\"events_limited\"}");
  const double received = metric_value(text, "rampart_events_received_total");
  EXPECT_GT(limited, 0) << kPackets << " denied within a second, 5 events a second per CPU\n"
                        << text;
  EXPECT_GT(received, 0) << text;
  EXPECT_GE(received + limited, static_cast<double>(kPackets)) << text;
  // The rule's own counter, from the engine's status.
  EXPECT_GE(metric_value(text, "rampart_rule_hits_total{domain=\"firewall\",rule=\"8\"}"),
            static_cast<double>(kPackets))
      << text;
  EXPECT_EQ(metric_value(text, "rampart_rule_hits_omitted_rules{domain=\"firewall\"}"), 0) << text;
}

// Per-rule hit counters are bounded: the first 1,000 rules of a domain (in
// priority order) get a series, the rest are counted as omitted.
TEST_F(FirewallLab, RuleHitMetricsAreBoundedPerDomain) {
  std::string rules = "[";
  for (int id = 1; id <= 1200; ++id)
    rules += (id > 1 ? "," : "") + std::string("{id: ") + std::to_string(id) +
             ", action: deny, protocol: udp, dst_port: " + std::to_string(10000 + id) + "}";
  const auto cfg = write_config(rules + "]", "");
  rampart::test::write_file(
      cfg, rampart::test::read_file(cfg) + "  metrics: {listen: \"127.0.0.1:0\"}\n");
  ASSERT_NO_FATAL_FAILURE(start(cfg, "ready plugins=firewall,log,metrics refused=0"));
  const uint16_t port = rampart::test::listening_port(daemon_->output(), "metrics");
  const auto scrape =
      lab_->in_ns(lab_->ns_b(), [&] { return rampart::test::http(port, "GET", "/metrics"); });
  ASSERT_EQ(scrape.status, 200);
  EXPECT_EQ(lines_starting(scrape.body, "rampart_rule_hits_total{domain=\"firewall\""), 1000u);
  EXPECT_NE(scrape.body.find("rampart_rule_hits_total{domain=\"firewall\",rule=\"1000\"} 0"),
            std::string::npos);
  EXPECT_EQ(scrape.body.find("rampart_rule_hits_total{domain=\"firewall\",rule=\"1001\"}"),
            std::string::npos);
  EXPECT_EQ(rampart::test::metric_value(scrape.body,
                                        "rampart_rule_hits_omitted_rules{domain=\"firewall\"}"),
            200);
  EXPECT_EQ(rampart::test::promtool_check(scrape.body, dir_ / "scrape.txt"), "");
}

}  // namespace

namespace {

// Issue 5 end to end: a log rule hit by real packets raises alerts that
// reach (a) a webhook receiver, (b) an SMTP server, (c) the JSON log and
// (d) a gRPC client, while (e) a second gRPC client that never reads
// holds nobody up. The webhook receiver is down at
// first: its breaker opens, the others deliver meanwhile, and when it
// answers again the breaker closes and it gets every alert.
TEST_F(FirewallLab, AlertsReachEverySenderAndStreamWhileAReceiverIsDown) {
  using rampart::test::Answer;
  auto hook = lab_->in_ns(lab_->ns_b(), [] {
    return std::make_unique<rampart::test::HookServer>(
        std::initializer_list<Answer>{Answer(503), Answer(503)});
  });
  auto smtp = lab_->in_ns(lab_->ns_b(), [] {
    return std::make_unique<rampart::test::SmtpServer>(
        rampart::test::SmtpServer::Options{nullptr, "", 0});
  });
  const auto cfg = write_config("[{id: 7, action: log, protocol: udp, dst_port: \"9999\"}]");
  rampart::test::write_file(
      cfg, rampart::test::read_file(cfg) + "  webhook: {url: \"" + hook->url() +
               "/hook\", retries: 0, timeout_ms: 5000}\n"
               "  email: {server: \"" +
               smtp->server() +
               "\", from: rampart@test.example, to: [soc@test.example], starttls: off}\n"
               "  grpc: {listen: \"127.0.0.1:0\", require_key: false}\n"
               "alerts:\n  dedup: {window_seconds: 0}\n"
               "  delivery: {breaker_failures: 2, breaker_open_seconds: 0.3}\n");
  ASSERT_NO_FATAL_FAILURE(start(cfg, "refused=0"));
  const uint16_t grpc_port = rampart::test::listening_port(daemon_->output(), "grpc");
  ASSERT_NE(grpc_port, 0) << daemon_->output();
  auto client = [&](std::vector<std::string> extra) {
    std::vector<std::string> argv = {"/usr/sbin/ip",
                                     "netns",
                                     "exec",
                                     lab_->ns_b(),
                                     rampart::test::path::alert_client(),
                                     "--server",
                                     "127.0.0.1:" + std::to_string(grpc_port)};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto p = std::make_unique<DaemonProcess>(argv);
    EXPECT_TRUE(p->wait_for("subscribed")) << p->output();
    return p;
  };
  auto reader = client({});
  auto stuck = client({"--no-read"});

  constexpr size_t kAlerts = 5;
  EXPECT_EQ(lab_->send_and_count(kAlerts).udp, kAlerts) << "log passes";

  // (d) every alert, in order, while (e) holds its stream open unread.
  ASSERT_TRUE(reader->wait_for("alert ", kAlerts)) << reader->output();
  EXPECT_EQ(lines_starting(reader->output(), "alert "), kAlerts);
  EXPECT_NE(reader->output().find(" firewall 7 T1046 "), std::string::npos) << reader->output();
  // (e) is still subscribed, unread: the transport buffers what it was
  // sent (a client whose queue overflows is cut off: grpc_frontend_test).
  EXPECT_EQ(stuck->output(), "subscribed\n");
  // (c) the JSON log.
  std::string text;
  for (int i = 0; i < 500 && std::count(text.begin(), text.end(), '\n') < long(kAlerts); ++i) {
    usleep(10000);
    text = rampart::test::read_file(dir_ / "alerts.json");
  }
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), long(kAlerts)) << text;
  // (b) one message per alert.
  EXPECT_TRUE(smtp->wait_for(kAlerts)) << "the SMTP server got " << smtp->mails().size();
  const auto mail = smtp->mails().front().parsed();
  EXPECT_NE(mail.subject.find("firewall"), std::string::npos) << mail.subject;
  EXPECT_NE(mail.content.find("\"rule_id\":\"7\""), std::string::npos) << mail.content;
  // (a) the webhook: down twice (breaker opens), then everything.
  ASSERT_TRUE(daemon_->wait_for("sender failing: circuit breaker open sender=webhook"))
      << daemon_->output();
  ASSERT_TRUE(daemon_->wait_for("sender recovered: circuit breaker closed sender=webhook"))
      << daemon_->output();
  std::vector<rampart::test::Received> got;
  for (int i = 0; i < 500 && got.size() < kAlerts + 2; ++i) {
    usleep(10000);
    got = hook->received();
  }
  ASSERT_EQ(got.size(), kAlerts + 2) << "two refused attempts, then every alert";
  std::set<std::string> ids;
  for (size_t i = 2; i < got.size(); ++i) {
    const auto o = Poco::JSON::Parser().parse(got[i].body).extract<Poco::JSON::Object::Ptr>();
    EXPECT_EQ(o->getValue<std::string>("rule_id"), "7");
    EXPECT_EQ(o->getObject("mitre")->getValue<std::string>("technique_id"), "T1046");
    ids.insert(o->getValue<std::string>("alert_id"));
  }
  EXPECT_EQ(ids.size(), kAlerts) << "each alert once";
}

}  // namespace

namespace {

// A reload refused by a later step (here: the REST frontend cannot bind its
// new port, after the firewall already took its new rules) applies nothing
// in the kernel, not even for a moment: under a flood to a port only the
// refused rule set would let through, not one datagram arrives, across
// several refused reloads. The firewall's rule sets are loaded and verified
// during the reload and installed only once every plugin has said yes.
TEST_F(FirewallLab, ARefusedReloadNeverReachesTheKernel) {
  // B's loopback port the new config asks for, held here: the restart fails.
  const int held = lab_->socket_in(lab_->ns_b(), AF_INET, SOCK_STREAM, 0);
  sockaddr_in at{};
  at.sin_family = AF_INET;
  at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof at;
  ASSERT_EQ(bind(held, reinterpret_cast<sockaddr*>(&at), sizeof at), 0);
  ASSERT_EQ(listen(held, 1), 0);
  ASSERT_EQ(getsockname(held, reinterpret_cast<sockaddr*>(&at), &len), 0);
  const std::string busy = std::to_string(ntohs(at.sin_port));

  const std::string deny = "[{id: 1, action: deny, protocol: udp, dst_port: \"9999\"}]";
  const auto cfg = write_config(deny, "");
  const std::string rest = "  rest: " + rampart::test::rest_settings(dir_.path()) + "\n";
  rampart::test::write_file(cfg, rampart::test::read_file(cfg) + rest);
  ASSERT_NO_FATAL_FAILURE(start(cfg, "] ready plugins=firewall,log,rest refused=0"));

  // What arrives at B's UDP port 9999.
  const int sink = lab_->socket_in(lab_->ns_b(), AF_INET, SOCK_DGRAM, 0);
  sockaddr_in b{};
  b.sin_family = AF_INET;
  b.sin_port = htons(9999);
  inet_pton(AF_INET, "198.18.0.2", &b.sin_addr);
  ASSERT_EQ(bind(sink, reinterpret_cast<sockaddr*>(&b), sizeof b), 0);
  const int flood = lab_->socket_in(lab_->ns_a(), AF_INET, SOCK_DGRAM, 0);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> sent{0};
  std::thread sender([&] {
    while (!stop) {
      if (sendto(flood, "x", 1, 0, reinterpret_cast<sockaddr*>(&b), sizeof b) == 1) ++sent;
    }
  });

  // The refused config: no deny rule, and a REST port that is taken.
  write_config("[]", "");
  rampart::test::write_file(cfg, rampart::test::read_file(cfg) + "  rest: {listen: \"127.0.0.1:" +
                                     busy + "\", socket: " + (dir_ / "api.sock") + "}\n");
  const int rounds = 5;
  for (int i = 1; i <= rounds; ++i) {
    daemon_->signal(SIGHUP);
    ASSERT_TRUE(daemon_->wait_for("config reload refused", static_cast<size_t>(i)))
        << daemon_->output();
  }
  stop = true;
  sender.join();
  lab_->send_and_count(0);  // the marker: everything sent before it has arrived
  size_t arrived = 0;
  char buf[16];
  while (recv(sink, buf, sizeof buf, MSG_DONTWAIT) > 0) ++arrived;
  EXPECT_GT(sent.load(), 1000u) << "the flood ran through the reloads";
  EXPECT_EQ(arrived, 0u) << "datagrams the refused rule set let through";
  // The running set is still in force, and the API still answers.
  EXPECT_EQ(lab_->send_and_count(kPackets).udp, 0u);
  close(flood);
  close(sink);
  close(held);
}

// One agent per host: a second rampartd with the same state directory or
// pin root is refused before it touches the kernel or binds a port, and
// the first one keeps enforcing.
TEST_F(FirewallLab, ASecondAgentIsRefusedAndTheFirstKeepsEnforcing) {
  const auto cfg =
      write_config("[{id: 1, action: deny, protocol: udp, src_ip: 198.18.0.1/32}]", "");
  ASSERT_NO_FATAL_FAILURE(start(cfg));
  const auto second = rampart::test::run_command({"/usr/sbin/ip", "netns", "exec", lab_->ns_b(),
                                                  rampart::test::path::rampartd(), "--config", cfg,
                                                  "--plugin-dir", rampart::test::path::plugins()});
  EXPECT_EQ(second.status, 1) << second.output;
  EXPECT_NE(second.output.find("another rampartd (pid " + std::to_string(daemon_->pid())),
            std::string::npos)
      << second.output;
  EXPECT_EQ(second.output.find("attached"), std::string::npos) << second.output;
  // The same pins under another state directory: refused too.
  std::string text = rampart::test::read_file(cfg);
  const std::string state = "state_dir: " + (dir_ / "state");
  text.replace(text.find(state), state.size(), "state_dir: " + (dir_ / "state2"));
  rampart::test::write_file(dir_ / "second.yaml", text);
  const auto pins = rampart::test::run_command(
      {"/usr/sbin/ip", "netns", "exec", lab_->ns_b(), rampart::test::path::rampartd(), "--config",
       dir_ / "second.yaml", "--plugin-dir", rampart::test::path::plugins()});
  EXPECT_EQ(pins.status, 1) << pins.output;
  EXPECT_NE(pins.output.find("another rampartd runs with its pins in " + bpffs_ + "/rampart"),
            std::string::npos)
      << pins.output;
  EXPECT_EQ(lab_->send_and_count(kPackets).udp, 0u) << "the first agent still enforces";
  EXPECT_EQ(lab_->send_and_count(kPackets).tcp, kPackets);
}

// A start that cannot keep state fails before the kernel changes: the
// previous run's pinned datapath keeps judging packets exactly as before
// (here: its allow rules and deny rule, not a bare deny-all entry).
TEST_F(FirewallLab, AFailedStartLeavesThePinnedDatapathAsItWas) {
  const auto cfg = write_config(
      "[{id: 1, action: allow, protocol: tcp}, {id: 2, action: allow, protocol: icmp},"
      " {id: 3, action: allow, src_ip: 198.18.0.3/32}]");
  std::string text = rampart::test::read_file(cfg);
  text.replace(text.find("default_policy: allow"), 21, "default_policy: deny");
  rampart::test::write_file(cfg, text);
  ASSERT_NO_FATAL_FAILURE(start(cfg));
  ASSERT_TRUE(daemon_->wait_for("installed 3 rules")) << daemon_->output();
  auto before = lab_->send_and_count(kPackets);
  EXPECT_EQ(before.udp, 0u) << "denied by default";
  EXPECT_EQ(before.tcp, kPackets);
  daemon_->signal(SIGKILL);
  daemon_->wait_exit();

  // The database cannot be opened: a directory where the file should be.
  std::filesystem::remove(dir_ / "state/rampart.db");
  std::filesystem::remove(dir_ / "state/rampart.db-wal");
  std::filesystem::remove(dir_ / "state/rampart.db-shm");
  std::filesystem::create_directories(dir_ / "state/rampart.db");
  const auto r = rampart::test::run_command({"/usr/sbin/ip", "netns", "exec", lab_->ns_b(),
                                             rampart::test::path::rampartd(), "--config", cfg,
                                             "--plugin-dir", rampart::test::path::plugins()});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("cannot start; the kernel datapath was left as it was"),
            std::string::npos)
      << r.output;
  const auto after = lab_->send_and_count(kPackets);
  EXPECT_EQ(after.tcp, kPackets) << "the allow rules still in force";
  EXPECT_EQ(after.icmp, kPackets);
  EXPECT_EQ(after.udp, 0u);
}

}  // namespace

namespace {

// Ready means enforcing. Without CAP_PERFMON (and CAP_SYS_ADMIN, which
// stands in for it) the verifier refuses the firewall's classifier: the
// deny rule cannot be enforced, and rampartd says so everywhere an
// operator or an orchestrator looks instead of reporting ready.
TEST_F(FirewallLab, WithoutCapPerfmonTheAgentSaysItIsNotReady) {
  const auto cfg = write_config("[{id: 1, action: deny, protocol: udp, src_ip: 198.18.0.1/32}]");
  rampart::test::write_file(cfg, rampart::test::read_file(cfg) +
                                     "  rest: " + rampart::test::rest_settings(dir_.path()) +
                                     "\n  metrics: {listen: \"127.0.0.1:0\"}\n");
  daemon_ = std::make_unique<DaemonProcess>(
      std::vector<std::string>{"/usr/sbin/ip", "netns", "exec", lab_->ns_b(), "/usr/bin/setpriv",
                               "--bounding-set=-perfmon,-sys_admin",
                               "--inh-caps=-perfmon,-sys_admin", rampart::test::path::rampartd(),
                               "--config", cfg, "--plugin-dir", rampart::test::path::plugins()});
  ASSERT_TRUE(daemon_->wait_for("not ready plugins=")) << daemon_->output();
  EXPECT_TRUE(daemon_->wait_for("missing=\"plugins.firewall: failed: ")) << daemon_->output();
  const rampart::test::ApiClient api{rampart::test::listening_port(daemon_->output()),
                                     rampart::test::bootstrap_token(dir_ / "state")};
  const auto ready = lab_->in_ns(lab_->ns_b(), [&] { return api.call("GET", "/readyz"); });
  EXPECT_EQ(ready.status, 503) << ready.body;
  EXPECT_NE(ready.body.find(R"("ready":false)"), std::string::npos) << ready.body;
  EXPECT_NE(ready.body.find("plugins.firewall: failed:"), std::string::npos) << ready.body;
  const auto status =
      lab_->in_ns(lab_->ns_b(), [&] { return api.call("GET", "/api/v1/agent/status"); });
  EXPECT_NE(status.body.find(R"("ready":false,"not_ready":["plugins.firewall: failed:)"),
            std::string::npos)
      << status.body;
  const uint16_t metrics = rampart::test::listening_port(daemon_->output(), "metrics");
  const auto m = lab_->in_ns(lab_->ns_b(),
                             [&] { return rampart::test::http(metrics, "GET", "/metrics").body; });
  EXPECT_EQ(rampart::test::metric_value(m, "rampart_ready"), 0) << m.substr(0, 2000);
  EXPECT_EQ(
      rampart::test::metric_value(m, "rampart_readiness_missing{component=\"plugins.firewall\"}"),
      1);
  // What not ready means here: the deny rule is not in force.
  EXPECT_EQ(lab_->send_and_count(kPackets).udp, kPackets);
}

}  // namespace

namespace {

// The firewall is a stage like any other: disabled over SIGHUP its stage
// leaves the chain and the packets it dropped flow; enabled again it is
// back. Stopped, it keeps filtering (hitless restarts); but a rampartd
// started with it disabled removes the stage the last run left.
TEST_F(FirewallLab, ADisabledFirewallLeavesTheChainAndComesBackEnabled) {
  const std::string deny = "[{id: 1, action: deny, src_ip: 198.18.0.1/32}]";
  const auto cfg = write_config(deny);
  ASSERT_NO_FATAL_FAILURE(start(cfg));
  expect_all(lab_->send_and_count(kPackets), 0, "deny rule");

  write_config(deny, "    enabled: false\n");
  reload(1);
  ASSERT_TRUE(daemon_->wait_for("stage removed from the chain stage=xdp/firewall plugin=firewall"))
      << daemon_->output();
  expect_all(lab_->send_and_count(kPackets), kPackets, "firewall disabled");

  write_config(deny);
  reload(2);
  ASSERT_TRUE(daemon_->wait_for("installed 1 rules", 2)) << daemon_->output();
  expect_all(lab_->send_and_count(kPackets), 0, "enabled again");

  daemon_->signal(SIGTERM);
  ASSERT_EQ(daemon_->wait_exit(), 0) << daemon_->output();
  expect_all(lab_->send_and_count(kPackets), 0, "rampartd stopped: the stage stays");

  write_config(deny, "    enabled: false\n");
  ASSERT_NO_FATAL_FAILURE(start(cfg, "plugins=log refused=0"));
  ASSERT_TRUE(daemon_->wait_for("stage removed from the chain stage=xdp/firewall plugin=firewall"))
      << daemon_->output();
  expect_all(lab_->send_and_count(kPackets), kPackets, "started with the firewall disabled");
}

}  // namespace

namespace {

// Sum over CPUs of entry `key` of a pinned per-CPU u64 array.
uint64_t pinned_percpu(const std::string& pin, uint32_t key) {
  const int fd = bpf_obj_get(pin.c_str());
  if (fd < 0) return ~0ull;
  std::vector<uint64_t> v(static_cast<size_t>(libbpf_num_possible_cpus()));
  uint64_t sum = 0;
  if (bpf_map_lookup_elem(fd, &key, v.data()) == 0) {
    for (const auto x : v) sum += x;
  }
  close(fd);
  return sum;
}

// A third party's engine, built out of tree against the installed SDK
// (sdk/examples/port_watch, by tests/sdk/build_example.sh): its XDP stage
// runs after the firewall's, its TC egress stage sees what leaves, its ring
// reaches it (alerts for the watched port) and its persistent counters
// outlive its programs.
TEST_F(FirewallLab, AnOutOfTreeEngineRunsItsOwnStagesBehindTheFirewall) {
  const auto cfg = write_config("[]", "");
  {
    std::string text = rampart::test::read_file(cfg);
    text += "  port_watch: {watch_port: 9999}\n";
    rampart::test::write_file(cfg, text);
  }
  daemon_ = std::make_unique<DaemonProcess>(std::vector<std::string>{
      "/usr/sbin/ip", "netns", "exec", lab_->ns_b(), rampart::test::path::rampartd(), "--config",
      cfg, "--plugin-dir", rampart::test::path::plugins(), "--plugin-dir",
      rampart::test::path::example_plugins()});
  ASSERT_TRUE(daemon_->wait_for("ready plugins=firewall,log,port_watch refused=0"))
      << daemon_->output();
  ASSERT_TRUE(daemon_->wait_for("[port_watch] watching port 9999")) << daemon_->output();
  const std::string counts = bpffs_ + "/rampart/plugins/port_watch/pw_counts";
  expect_all(lab_->send_and_count(kPackets, 9999), kPackets, "port_watch only watches");
  EXPECT_GE(pinned_percpu(counts, 1), kPackets) << "every UDP packet to 9999 reached its stage";
  EXPECT_GE(pinned_percpu(counts, 2), kPackets) << "its TC egress stage saw the answers";
  // Its ring's records became its alerts (the log sender writes them).
  std::string alerts;
  for (int i = 0; i < 500 && alerts.find("packet to watched port 9999") == std::string::npos; ++i) {
    usleep(10000);
    alerts = rampart::test::read_file(dir_ / "alerts.json");
  }
  EXPECT_NE(alerts.find(R"("component":"port_watch")"), std::string::npos) << alerts;

  // The firewall's stage runs first: what it drops never reaches port_watch.
  std::string text = rampart::test::read_file(cfg);
  text.replace(text.find("rules: []"), 9, "rules: [{id: 1, action: deny, src_ip: 198.18.0.1/32}]");
  rampart::test::write_file(cfg, text);
  reload(1);
  ASSERT_TRUE(daemon_->wait_for("installed 1 rules")) << daemon_->output();
  // (The lab's end-of-burst markers come from another address: they pass.)
  const uint64_t watched = pinned_percpu(counts, 1);
  expect_all(lab_->send_and_count(kPackets, 9999), 0, "denied by the firewall");
  EXPECT_EQ(pinned_percpu(counts, 1), watched) << "port_watch saw none of the denied packets";
}

}  // namespace
