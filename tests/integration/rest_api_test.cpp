// SPDX-License-Identifier: Apache-2.0
// The REST frontend against a real rampartd: every firewall rule endpoint's
// success and failure paths, and rules that survive a restart (SQLite).
// No kernel needed: without interfaces the firewall checks rules without
// enforcing them.
#include <gtest/gtest.h>

#include <csignal>

#include "daemon_process.hpp"
#include "http_client.hpp"
#include "temp_dir.hpp"

namespace {

using rampart::test::DaemonProcess;
using rampart::test::http;

class RestApi : public ::testing::Test {
 protected:
  void SetUp() override {
    cfg_ = dir_ / "rampart.yaml";
    rampart::test::write_file(cfg_,
                              "agent:\n  state_dir: " + (dir_ / "state") +
                                  "\nplugins:\n  firewall: {}\n"
                                  "  rest: {listen: \"127.0.0.1:0\", max_body_bytes: 2048}\n");
    start();
  }
  void start() {
    daemon_ = std::make_unique<DaemonProcess>(std::vector<std::string>{
        RAMPARTD_PATH, "--config", cfg_, "--plugin-dir", RAMPART_BUILTIN_PLUGIN_DIR});
    ASSERT_TRUE(daemon_->wait_for("ready plugins=firewall,rest refused=0")) << daemon_->output();
    port_ = rampart::test::listening_port(daemon_->output());
    ASSERT_NE(port_, 0) << daemon_->output();
  }
  void restart() {
    daemon_->signal(SIGTERM);
    ASSERT_EQ(daemon_->wait_exit(), 0) << daemon_->output();
    start();
  }
  rampart::test::HttpResponse call(const std::string& method, const std::string& path,
                                   const std::string& body = "") {
    return http(port_, method, path, body);
  }

  rampart::test::TempDir dir_;
  std::string cfg_;
  std::unique_ptr<DaemonProcess> daemon_;
  uint16_t port_ = 0;
};

TEST_F(RestApi, HealthAndReadiness) {
  auto r = call("GET", "/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"status":"ok"})");
  r = call("GET", "/readyz");
  EXPECT_EQ(r.status, 503) << "no interfaces: the kernel programs are not attached";
}

TEST_F(RestApi, RuleLifecycle) {
  auto r = call("POST", "/api/v1/firewall/rules",
                R"({"action":"deny","protocol":"tcp","dst_port":"22","src_ip":"203.0.113.0/24"})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_NE(r.body.find(R"("id":1)"), std::string::npos) << r.body;
  r = call("POST", "/api/v1/firewall/rules",
           R"({"id":7,"priority":3,"action":"log","protocol":"udp"})");
  ASSERT_EQ(r.status, 201) << r.body;

  r = call("GET", "/api/v1/firewall/rules");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.body.find(R"("id":1)"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("id":7)"), std::string::npos) << r.body;

  r = call("PUT", "/api/v1/firewall/rules/7", R"({"priority":3,"action":"deny","protocol":"udp"})");
  EXPECT_EQ(r.status, 200) << r.body;
  r = call("GET", "/api/v1/firewall/rules/7");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find(R"("action":"deny")"), std::string::npos) << r.body;

  r = call("DELETE", "/api/v1/firewall/rules/7");
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(call("GET", "/api/v1/firewall/rules/7").status, 404);
  EXPECT_EQ(call("DELETE", "/api/v1/firewall/rules/7").status, 404);
}

TEST_F(RestApi, BadBodiesAre400NamingTheField) {
  struct Case {
    const char* body;
    const char* field;
    const char* detail;
  } cases[] = {
      {R"({"action":"deny","src_ip":"10.0.0.300"})", "src_ip", "not an IPv4 or IPv6"},
      {R"({"action":"explode"})", "action", "expected allow, deny, log or reject"},
      {R"({"action":"deny","dst_port":"80-20"})", "dst_port", "ends before it starts"},
      {R"({"action":"deny","colour":"red"})", "colour", "unknown field"},
      {R"({"action":"deny","vlan_id":5000})", "vlan_id", "1-4094"},
      {R"({"action":"deny","protocol":"icmp","dst_port":"53"})", "dst_port", "ports need protocol"},
      {R"({"action":"deny","tcp_flags":"SYN"})", "tcp_flags", "needs protocol tcp"},
      {R"({"id":"seven","action":"deny"})", "id", "1-4294967295"},
      {R"({"action":"deny","enabled":"yes"})", "enabled", "true or false"},
  };
  for (const auto& c : cases) {
    const auto r = call("POST", "/api/v1/firewall/rules", c.body);
    EXPECT_EQ(r.status, 400) << c.body << " -> " << r.body;
    EXPECT_NE(r.body.find(std::string(R"("field":")") + c.field + "\""), std::string::npos)
        << c.body << " -> " << r.body;
    EXPECT_NE(r.body.find(c.detail), std::string::npos) << c.body << " -> " << r.body;
  }
  for (const char* junk : {"not json", "[1,2]", "{\"action\":", ""}) {
    const auto r = call("POST", "/api/v1/firewall/rules", junk);
    EXPECT_EQ(r.status, 400) << junk << " -> " << r.body;
    EXPECT_NE(r.body.find(R"("error":"invalid rule")"), std::string::npos) << r.body;
  }
  EXPECT_EQ(call("GET", "/api/v1/firewall/rules").body, "[]") << "nothing was stored";
}

TEST_F(RestApi, ConflictsMissingIdsAndLimits) {
  ASSERT_EQ(call("POST", "/api/v1/firewall/rules", R"({"id":3,"action":"deny"})").status, 201);
  auto r = call("POST", "/api/v1/firewall/rules", R"({"id":3,"action":"allow"})");
  EXPECT_EQ(r.status, 409) << r.body;
  r = call("PUT", "/api/v1/firewall/rules/99", R"({"action":"deny"})");
  EXPECT_EQ(r.status, 404) << r.body;
  r = call("PUT", "/api/v1/firewall/rules/3", R"({"id":4,"action":"deny"})");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find(R"("field":"id")"), std::string::npos) << r.body;
  r = call("POST", "/api/v1/firewall/rules",
           "{\"action\":\"deny\",\"description\":\"" + std::string(3000, 'x') + "\"}");
  EXPECT_EQ(r.status, 413) << r.body;
  EXPECT_EQ(call("GET", "/api/v1/nothing").status, 404);
  EXPECT_EQ(call("PATCH", "/api/v1/firewall/rules").status, 405);
  EXPECT_NE(call("GET", "/api/v1/firewall/rules/3").body.find(R"("action":"deny")"),
            std::string::npos);
}

TEST_F(RestApi, RulesSurviveARestart) {
  ASSERT_EQ(
      call("POST", "/api/v1/firewall/rules", R"({"id":5,"action":"deny","protocol":"udp"})").status,
      201);
  ASSERT_NO_FATAL_FAILURE(restart());
  const auto r = call("GET", "/api/v1/firewall/rules/5");
  EXPECT_EQ(r.status, 200) << r.body;
}

}  // namespace
