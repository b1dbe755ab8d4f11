// SPDX-License-Identifier: Apache-2.0
// The plugin author's test kit (rampart/sdk/testing.hpp) against built
// plugins, in-process and without root or a kernel: the test plugin's
// timers on the fake clock and its alerts, the log sender writing what it
// is handed, the firewall engine claiming its config rules, describing its
// domain, refusing a bad rule and saying it cannot enforce without a
// kernel. This binary links no part of rampartd: only the SDK's headers.
#include <rampart/sdk/testing.hpp>

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "test_paths.hpp"

namespace {

using rampart::sdk::testing::TestHost;

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// good_engine (tests/plugins): tick_ms arms a repeating timer, and
// alert_on_tick raises an alert each tick.
TEST(SdkTestHost, TimersRunOnTheFakeClockAndAlertsAreCaptured) {
  TestHost host;
  host.config({{"tick_ms", "20"}, {"alert_on_tick", "true"}, {"value", "a"}});
  auto& p = host.load(rampart::test::variant_dir("good_engine") + "/good_engine.so");
  EXPECT_EQ(std::string(p.descriptor().id), "good_engine");
  p.start();
  EXPECT_TRUE(host.alerts().empty()) << "nothing before the clock moves";
  host.advance_ms(19);
  EXPECT_TRUE(host.alerts().empty());
  host.advance_ms(1);
  ASSERT_EQ(host.alerts().size(), 1u) << "one tick at 20 ms";
  host.advance_ms(100);
  EXPECT_EQ(host.alerts().size(), 6u) << "and one every 20 ms after";
  EXPECT_EQ(host.alerts().back().rule_id, "test-rule");
  EXPECT_EQ(host.now_ms(), 120u);
  EXPECT_TRUE(host.logged("lifecycle: start")) << "its log lines are captured";

  host.config({{"tick_ms", "20"}, {"value", "b"}});
  p.reload();
  EXPECT_TRUE(host.logged("lifecycle: reload value=b"));
  host.config({{"reject", "true"}});
  EXPECT_NE(p.validate(), RAMPART_OK) << "a refused config is the plugin's answer";
  EXPECT_NE(p.last_error().find("reject: true is refused"), std::string::npos) << p.last_error();
  p.stop();
  EXPECT_EQ(host.timers(), 0u) << "stop() cancels the instance's timers first, as rampartd";
}

// The in-tree log sender, exactly as it ships.
TEST(SdkTestHost, TheLogSenderWritesWhatItIsHanded) {
  char dir[] = "/tmp/rampart-kit-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string path = std::string(dir) + "/alerts.json";
  TestHost host;
  host.config({{"path", path}, {"format", "eve"}});
  auto& p = host.load(rampart::test::path::plugins() + "/log.so");
  p.start();
  rampart_alert a{};
  a.struct_size = sizeof a;
  a.severity = RAMPART_SEVERITY_HIGH;
  a.ip_family = 4;
  a.protocol = 6;
  const uint8_t src[4] = {198, 51, 100, 7};
  std::memcpy(a.src_addr, src, 4);
  a.src_port = 40000;
  a.dst_port = 22;
  a.time_ns = 1764756000000000000ull;
  const std::string id = "a1", component = "mine", rule = "mine:7", message = "ssh probe";
  a.id = {id.data(), id.size()};
  a.component = {component.data(), component.size()};
  a.rule_id = {rule.data(), rule.size()};
  a.message = {message.data(), message.size()};
  ASSERT_EQ(p.send_alert(a), RAMPART_OK) << p.last_error();
  p.stop();
  const std::string line = read_all(path);
  EXPECT_NE(line.find(R"("event_type":"alert")"), std::string::npos) << line;
  EXPECT_NE(line.find(R"("src_ip":"198.51.100.7")"), std::string::npos) << line;
  EXPECT_NE(line.find(R"("dest_port":22)"), std::string::npos) << line;
  EXPECT_NE(line.find(R"("proto":"TCP")"), std::string::npos) << line;
  std::remove(path.c_str());
  rmdir(dir);

  TestHost bad;
  bad.config({{"path", "relative.json"}});
  EXPECT_THROW(bad.load(rampart::test::path::plugins() + "/log.so"), std::runtime_error)
      << "create() refuses a relative path";
}

// The in-tree firewall engine without a kernel: its rules and domain go
// through the host's rule services; a rule change is checked by the
// engine itself; it reports that it does not enforce.
TEST(SdkTestHost, TheFirewallClaimsItsRulesAndSaysItCannotEnforceWithoutAKernel) {
  TestHost host;
  host.config({{"rules.0.id", "1"}, {"rules.0.action", "deny"}, {"rules.0.dst_port", "22"}});
  auto& p = host.load(rampart::test::path::plugins() + "/firewall.so");
  p.start();
  ASSERT_EQ(host.rules("firewall").size(), 1u);
  EXPECT_NE(host.rules("firewall").at(1).find(R"("dst_port":"22")"), std::string::npos)
      << host.rules("firewall").at(1);
  const auto [summary, schema] = host.domain("firewall");
  EXPECT_NE(summary.find("XDP firewall rules"), std::string::npos) << summary;
  EXPECT_NE(schema.find("x-rampart-verbs"), std::string::npos);
  EXPECT_FALSE(host.enforcing());
  EXPECT_NE(host.not_enforcing_because().find("rules checked but not enforced"), std::string::npos)
      << host.not_enforcing_because();

  EXPECT_EQ(host.change_rule(p, "firewall", RAMPART_RULE_CREATE, 2,
                             R"({"id":2,"action":"allow","src_ip":"192.0.2.0/24"})"),
            RAMPART_OK)
      << p.last_error();
  EXPECT_EQ(host.rules("firewall").size(), 2u);
  EXPECT_NE(host.change_rule(p, "firewall", RAMPART_RULE_CREATE, 3,
                             R"({"id":3,"action":"deny","src_ip":"192.0.2.300"})"),
            RAMPART_OK);
  EXPECT_NE(p.last_error().find("src_ip"), std::string::npos) << p.last_error();
  EXPECT_EQ(host.rules("firewall").size(), 2u) << "a refused change is not kept";
  EXPECT_EQ(host.change_rule(p, "firewall", RAMPART_RULE_DELETE, 9), RAMPART_ERR_NOT_FOUND);
  EXPECT_NE(p.domain_status("firewall").find(R"("enforced":false)"), std::string::npos);
  EXPECT_EQ(host.metric("rampart_firewall_rules"), 0) << "registered, and nothing installed";
  EXPECT_EQ(host.metric("rampart_no_such_metric"), -1);
  p.stop();
}

}  // namespace
