// SPDX-License-Identifier: Apache-2.0
// The REST frontend against a real rampartd: every firewall rule endpoint's
// success and failure paths, and rules that survive a restart (SQLite).
// No kernel needed: without interfaces the firewall checks rules without
// enforcing them.
#include <gtest/gtest.h>

#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/NetSSL.h>
#include <Poco/StreamCopier.h>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <csignal>
#include <set>
#include <sstream>

#include "daemon_process.hpp"
#include "http_client.hpp"
#include "openapi_check.hpp"
#include "raw_http.hpp"
#include "temp_dir.hpp"
#include "test_paths.hpp"
#include "util/json.hpp"

namespace {

using rampart::test::DaemonProcess;
using rampart::test::http;

class RestApi : public ::testing::Test {
 protected:
  void SetUp() override {
    cfg_ = dir_ / "rampart.yaml";
    rampart::test::write_file(
        cfg_, "agent:\n  state_dir: " + (dir_ / "state") + "\nplugins:\n  firewall: {}\n  rest: " +
                  rampart::test::rest_settings(dir_.path(), "max_body_bytes: 2048") + "\n");
    start();
  }
  void start() {
    daemon_ = std::make_unique<DaemonProcess>(
        std::vector<std::string>{rampart::test::path::rampartd(), "--config", cfg_, "--plugin-dir",
                                 rampart::test::path::plugins()});
    ASSERT_TRUE(daemon_->wait_for("ready plugins=firewall,rest refused=0")) << daemon_->output();
    port_ = rampart::test::listening_port(daemon_->output());
    ASSERT_NE(port_, 0) << daemon_->output();
    api_ = {port_, rampart::test::bootstrap_token(dir_ / "state")};
    ASSERT_FALSE(api_.token.empty()) << "the first start writes an admin key";
  }
  void restart() {
    daemon_->signal(SIGTERM);
    ASSERT_EQ(daemon_->wait_exit(), 0) << daemon_->output();
    start();
  }
  // As the bootstrap admin key.
  rampart::test::HttpResponse call(const std::string& method, const std::string& path,
                                   const std::string& body = "") {
    return api_.call(method, path, body);
  }

  rampart::test::TempDir dir_;
  std::string cfg_;
  std::unique_ptr<DaemonProcess> daemon_;
  uint16_t port_ = 0;
  rampart::test::ApiClient api_;
};

TEST_F(RestApi, HealthAndReadiness) {
  auto r = call("GET", "/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"status":"ok"})");
  r = call("GET", "/readyz");
  EXPECT_EQ(r.status, 503) << "no interfaces: the firewall checks rules but enforces nothing";
  EXPECT_NE(
      r.body.find(R"("missing":["plugins.firewall: not enforcing: rules checked but not enforced)"),
      std::string::npos)
      << r.body;
  EXPECT_EQ(http(port_, "GET", "/readyz").status, 503) << "probes need no key";
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
      // action, vlan_id, enabled, colour and a missing action are the domain's
      // JSON schema's answers (checked by the core); the rest the engine's.
      {R"({"action":"explode"})", "action", "expected one of allow, deny, log, reject"},
      {R"({"action":"deny","dst_port":"80-20"})", "dst_port", "ends before it starts"},
      {R"({"action":"deny","colour":"red"})", "colour", "unknown field"},
      {R"({"action":"deny","vlan_id":5000})", "vlan_id", "must be at most 4094"},
      {R"({"priority":3})", "action", "required"},
      {R"({"action":"deny","protocol":"icmp","dst_port":"53"})", "dst_port", "ports need protocol"},
      {R"({"action":"deny","tcp_flags":"SYN"})", "tcp_flags", "needs protocol tcp"},
      {R"({"id":"seven","action":"deny"})", "id", "1-4294967295"},
      {R"({"action":"deny","enabled":"yes"})", "enabled", "expected a boolean"},
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
  EXPECT_EQ(call("GET", "/api/v1/firewall/rules").body,
            R"({"rules":[],"origins":{},"next_cursor":null})")
      << "nothing was stored";
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

TEST_F(RestApi, ListsPageAndFilter) {
  for (int i = 1; i <= 7; ++i) {
    const std::string body = std::string(R"({"id":)") + std::to_string(i * 10) + R"(,"action":")" +
                             (i % 2 ? "deny" : "log") + R"("})";
    ASSERT_EQ(call("POST", "/api/v1/firewall/rules", body).status, 201);
  }
  auto r = call("GET", "/api/v1/firewall/rules?limit=3");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find(R"("id":30)"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find(R"("id":40)"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("next_cursor":"30")"), std::string::npos) << r.body;
  r = call("GET", "/api/v1/firewall/rules?limit=3&cursor=60");
  EXPECT_NE(r.body.find(R"("id":70)"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("next_cursor":null)"), std::string::npos) << "last page: " << r.body;
  r = call("GET", "/api/v1/firewall/rules?action=log");
  EXPECT_NE(r.body.find(R"("id":20)"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find(R"("id":10)"), std::string::npos) << "deny rules filtered out: " << r.body;
  EXPECT_EQ(call("GET", "/api/v1/firewall/rules?limit=0").status, 400);
  EXPECT_EQ(call("GET", "/api/v1/firewall/rules?limit=%zz").status, 400) << "bad escape";
  EXPECT_EQ(call("GET", "/api/v1/firewall/rules?limit=5000").status, 400);
  r = call("GET", "/api/v1/firewall/rules?cursor=abc");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find(R"("field":"cursor")"), std::string::npos) << r.body;
}

TEST_F(RestApi, PatchMergesAndIsCheckedLikeAPut) {
  ASSERT_EQ(call("POST", "/api/v1/firewall/rules",
                 R"({"id":4,"action":"deny","protocol":"tcp","dst_port":"22","description":"ssh"})")
                .status,
            201);
  auto r = call("PATCH", "/api/v1/firewall/rules/4", R"({"dst_port":"2222","description":null})");
  ASSERT_EQ(r.status, 200) << r.body;
  r = call("GET", "/api/v1/firewall/rules/4");
  EXPECT_NE(r.body.find(R"("dst_port":"2222")"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("protocol":"tcp")"), std::string::npos) << "kept: " << r.body;
  EXPECT_EQ(r.body.find("description"), std::string::npos) << "null removes: " << r.body;
  r = call("PATCH", "/api/v1/firewall/rules/4", R"({"protocol":"udp","tcp_flags":"SYN"})");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find(R"("field":"tcp_flags")"), std::string::npos) << r.body;
  EXPECT_EQ(call("PATCH", "/api/v1/firewall/rules/99", R"({"action":"log"})").status, 404);
  EXPECT_EQ(call("PATCH", "/api/v1/firewall/rules/4", "[1,2]").status, 400);
}

TEST_F(RestApi, DomainsStatusAndAudit) {
  auto r = call("GET", "/api/v1/domains");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find(R"("name":"firewall")"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("XDP firewall rules"), std::string::npos) << r.body;

  ASSERT_EQ(call("POST", "/api/v1/firewall/rules", R"({"id":9,"action":"deny"})").status, 201);
  ASSERT_EQ(call("PUT", "/api/v1/firewall/rules/9", R"({"action":"log"})").status, 200);
  ASSERT_EQ(call("DELETE", "/api/v1/firewall/rules/9").status, 204);
  r = call("GET", "/api/v1/audit/rules/9/history");
  ASSERT_EQ(r.status, 200) << r.body;
  const auto del = r.body.find(R"("action":"delete")");
  const auto upd = r.body.find(R"("action":"update")");
  const auto cre = r.body.find(R"("action":"create")");
  ASSERT_NE(del, std::string::npos) << r.body;
  ASSERT_NE(upd, std::string::npos) << r.body;
  ASSERT_NE(cre, std::string::npos) << r.body;
  EXPECT_LT(del, upd) << "newest first";
  EXPECT_LT(upd, cre) << "newest first";
  EXPECT_NE(r.body.find(R"("changed":["action"])"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("actor":"key:admin@rest:127.0.0.1")"), std::string::npos) << r.body;
  r = call("GET", "/api/v1/audit/logs?limit=2");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find(R"("action":"delete")"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find(R"("action":"create")"), std::string::npos) << "limit 2: " << r.body;

  r = call("GET", "/api/v1/firewall/status");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find(R"("enforced":false)"), std::string::npos) << "no kernel: " << r.body;
  EXPECT_EQ(call("GET", "/api/v1/nosuch/status").status, 404);
  EXPECT_EQ(call("GET", "/api/v1/nosuch/rules").status, 404);
  EXPECT_EQ(call("POST", "/api/v1/domains").status, 405);
}

TEST_F(RestApi, AgentStatusConfigAndReload) {
  auto r = call("GET", "/api/v1/agent/status");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find(R"("version":")"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("id":"rest")"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("state":"running")"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("datapath":"not loaded")"), std::string::npos) << r.body;
  r = call("GET", "/api/v1/ebpf/status");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find(R"("loaded":false)"), std::string::npos) << r.body;

  // Secrets never leave the agent.
  rampart::test::write_file(
      cfg_, rampart::test::read_file(cfg_) + "  log: {path: " + (dir_ / "a.json") + "}\n");
  r = call("POST", "/api/v1/config/reload");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find(R"("changes":["log: started"])"), std::string::npos) << r.body;
  r = call("GET", "/api/v1/config");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find(R"("max_body_bytes":2048)"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("log":{)"), std::string::npos) << r.body;

  // A bad file is refused, saying why, and the running config stays.
  rampart::test::write_file(cfg_, rampart::test::read_file(cfg_) + "  log: {colour: red}\n");
  r = call("POST", "/api/v1/config/reload");
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_NE(r.body.find(R"("error":"reload refused")"), std::string::npos) << r.body;
  EXPECT_EQ(call("GET", "/api/v1/config/reload").status, 405);
  EXPECT_EQ(call("GET", "/healthz").status, 200) << "still serving";
}

// GET /api/v1/config from a real rampartd, each plugin redacted along the
// secret settings it declares: webhook header values and the token in its
// URL's path and query, the SMTP credential, everything of a plugin built
// against ABI 1.3 and of one configured but not installed. What is not
// secret still reads as configured.
TEST(RunningConfig, NoSecretValueLeavesTheAgent) {
  rampart::test::TempDir dir;
  const auto cfg = dir / "rampart.yaml";
  rampart::test::write_file(
      cfg,
      "agent:\n  state_dir: " + (dir / "state") +
          "\nplugins:\n  rest: " + rampart::test::rest_settings(dir.path()) +
          "\n"
          "  webhook:\n"
          "    url: https://hooks.example.invalid:8443/services/T0/s3cret-path?token=s3cret-query\n"
          "    headers: {Authorization: Bearer s3cret-bearer, X-Api-Key: s3cret-key}\n"
          "    retries: 7\n"
          "  email:\n"
          "    server: 127.0.0.1:2525\n"
          "    from: rampart@example.com\n"
          "    to: [ops@example.com]\n"
          "    username: s3cret-user\n"
          "    password: s3cret-password\n"
          "  abi_1_3: {value: s3cret-legacy}\n"
          "  ghost: {enabled: false, endpoint: s3cret-ghost}\n");
  DaemonProcess d({rampart::test::path::rampartd(), "--config", cfg, "--plugin-dir",
                   rampart::test::path::plugins(), "--plugin-dir",
                   rampart::test::variant_dir("abi_1_3")});
  ASSERT_TRUE(d.wait_for("ready plugins=abi_1_3,email,rest,webhook refused=0")) << d.output();
  const rampart::test::ApiClient api{rampart::test::listening_port(d.output()),
                                     rampart::test::bootstrap_token(dir / "state")};
  const auto r = api.call("GET", "/api/v1/config");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body.find("s3cret"), std::string::npos) << r.body;
  for (const char* shown : {
           R"("url":"https://hooks.example.invalid:8443/***")",
           R"("headers":{"Authorization":"***","X-Api-Key":"***"})",
           R"("retries":7)",
           R"("server":"127.0.0.1:2525")",
           R"("to":["ops@example.com"])",
           R"("username":"***","password":"***")",
           R"("abi_1_3":{"value":"***","enabled":true})",
           R"("ghost":{"enabled":false,"endpoint":"***"})",
       }) {
    EXPECT_NE(r.body.find(shown), std::string::npos) << shown << " in " << r.body;
  }
}

TEST_F(RestApi, KeysAreCheckedFromEitherHeader) {
  auto r = call("POST", "/api/v1/keys", R"({"name":"root","role":"admin"})");
  ASSERT_EQ(r.status, 201) << r.body;
  const auto at = r.body.find("\"token\":\"");
  const std::string token = r.body.substr(at + 9, 76);
  r = http(port_, "POST", "/api/v1/keys", R"({"name":"dash","role":"viewer"})",
           {{"Authorization", "Bearer " + token}});
  ASSERT_EQ(r.status, 201) << r.body;
  const std::string viewer = r.body.substr(r.body.find("\"token\":\"") + 9, 76);

  r = http(port_, "GET", "/api/v1/firewall/rules");
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(r.body.find(R"("error":"unauthorized")"), std::string::npos) << r.body;
  EXPECT_EQ(http(port_, "GET", "/healthz").status, 200) << "health stays open";
  EXPECT_EQ(http(port_, "GET", "/api/v1/firewall/rules", "", {{"X-API-Key", viewer}}).status, 200);
  EXPECT_EQ(
      http(port_, "GET", "/api/v1/firewall/rules", "", {{"authorization", "bearer " + viewer}})
          .status,
      200)
      << "header names and the scheme are case-insensitive";
  r = http(port_, "POST", "/api/v1/firewall/rules", R"({"action":"deny"})",
           {{"X-API-Key", viewer}});
  EXPECT_EQ(r.status, 403) << r.body;
  r = http(port_, "POST", "/api/v1/firewall/rules", R"({"action":"deny"})",
           {{"Authorization", "Bearer " + token}});
  EXPECT_EQ(r.status, 201) << r.body;
  r = http(port_, "GET", "/api/v1/audit/logs", "", {{"X-API-Key", viewer}});
  EXPECT_NE(r.body.find(R"("actor":"key:root@rest:127.0.0.1")"), std::string::npos) << r.body;
  // The Swagger UI page needs a key too: ?key= on the page, then a cookie.
  const auto locked = http(port_, "GET", "/swagger-ui/");
  EXPECT_EQ(locked.status, 401);
  EXPECT_NE(locked.body.find("Open <code>/swagger-ui/?key=&lt;token&gt;</code>"), std::string::npos)
      << "a browser is told how to get in: " << locked.body;
  EXPECT_EQ(http(port_, "GET", "/swagger-ui/?key=" + viewer).status, 200);
  EXPECT_EQ(http(port_, "GET", "/swagger-ui/?key=rp_bad").status, 401);
  EXPECT_EQ(
      http(port_, "GET", "/swagger-ui/swagger-ui.css", "", {{"Cookie", "rampart_ui=" + viewer}})
          .status,
      200);
  EXPECT_EQ(http(port_, "GET", "/swagger-ui/swagger-ui.css").status, 401);
  EXPECT_EQ(
      http(port_, "GET", "/api/v1/firewall/rules", "", {{"Cookie", "rampart_ui=" + viewer}}).status,
      401)
      << "the UI cookie opens the UI's assets only, never the API (no CSRF)";
  // Keys live in the store: still required after a restart.
  ASSERT_NO_FATAL_FAILURE(restart());
  EXPECT_EQ(http(port_, "GET", "/api/v1/firewall/rules").status, 401);
  EXPECT_EQ(http(port_, "GET", "/api/v1/firewall/rules", "", {{"X-API-Key", viewer}}).status, 200);
}

// Writes are limited per key; unauthenticated requests per address, in
// buckets of their own: strangers hammering the API never spend an
// operator's budget, and the local socket (root) is never limited.
TEST(RestLimits, WritesPerKeyAndStrangersPerAddressInSeparateBuckets) {
  rampart::test::TempDir dir;
  const auto cfg = dir / "rampart.yaml";
  // One write per 100 s after a burst of 2: the third write is refused,
  // whatever the machine's speed; reads are never limited.
  rampart::test::write_file(
      cfg, "agent:\n  state_dir: " + (dir / "state") + "\nplugins:\n  firewall: {}\n  rest: " +
               rampart::test::rest_settings(dir.path(),
                                            "write_rate_per_second: 0.01, write_burst: 2, "
                                            "unauthenticated_rate_per_second: 0.01, "
                                            "unauthenticated_burst: 5") +
               "\n");
  DaemonProcess d({rampart::test::path::rampartd(), "--config", cfg, "--plugin-dir",
                   rampart::test::path::plugins()});
  ASSERT_TRUE(d.wait_for("ready plugins=firewall,rest refused=0")) << d.output();
  const uint16_t port = rampart::test::listening_port(d.output());
  const rampart::test::ApiClient admin{port, rampart::test::bootstrap_token(dir / "state")};

  // Strangers first: 50 unauthenticated writes from 127.0.0.1, then the
  // address's own bucket answers 429 before a 401.
  int unauthorized = 0, limited = 0;
  for (int i = 0; i < 50; ++i) {
    const auto r = http(port, "POST", "/api/v1/firewall/rules", R"({"action":"allow"})");
    unauthorized += r.status == 401;
    limited += r.status == 429;
  }
  EXPECT_EQ(unauthorized, 5) << "the unauthenticated burst";
  EXPECT_EQ(limited, 45);
  // ... and the admin's budget is untouched.
  EXPECT_EQ(admin.call("POST", "/api/v1/firewall/rules", R"({"action":"deny"})").status, 201);
  EXPECT_EQ(admin.call("POST", "/api/v1/firewall/rules", R"({"action":"log"})").status, 201);
  const auto r = admin.call("POST", "/api/v1/firewall/rules", R"({"action":"allow"})");
  EXPECT_EQ(r.status, 429) << r.body;
  EXPECT_NE(r.body.find(R"("error":"too many requests")"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("per key"), std::string::npos) << r.body;
  EXPECT_EQ(admin.call("GET", "/api/v1/firewall/rules").status, 200) << "reads are not limited";
  EXPECT_EQ(admin.call("GET", "/api/v1/firewall/rules").body.find(R"("action":"allow")"),
            std::string::npos)
      << "refused means not stored";

  // Another key has its own bucket; root on the local socket has none.
  auto local = rampart::test::RawConn::unix_socket(dir / "api.sock");
  ASSERT_TRUE(local.ok());
  const std::string key_body = R"({"name":"ops","role":"operator"})";
  ASSERT_TRUE(local.send("POST /api/v1/keys HTTP/1.1\r\nHost: localhost\r\nContent-Length: " +
                         std::to_string(key_body.size()) + "\r\n\r\n" + key_body));
  const auto created = local.read_response();
  ASSERT_TRUE(created);
  ASSERT_EQ(created->status, 201) << created->body;
  const std::string ops = created->body.substr(created->body.find("\"token\":\"") + 9, 76);
  EXPECT_EQ(
      http(port, "POST", "/api/v1/firewall/rules", R"({"action":"deny"})", {{"X-API-Key", ops}})
          .status,
      201);
  for (int i = 0; i < 5; ++i) {
    const std::string body = R"({"action":"deny","protocol":"udp"})";
    ASSERT_TRUE(
        local.send("POST /api/v1/firewall/rules HTTP/1.1\r\nHost: localhost\r\n"
                   "Content-Length: " +
                   std::to_string(body.size()) + "\r\n\r\n" + body));
    const auto answer = local.read_response();
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->status, 201) << "local administrators are not limited: " << answer->body;
  }
}

// Heads past the limits and malformed requests: answered in JSON, before
// any handler runs, with the status RFC 9112 gives them.
TEST_F(RestApi, MalformedRequestsAreAnsweredInJson) {
  rampart::test::Headers many;
  for (int i = 0; i < 150; ++i) many.emplace_back("X-Filler-" + std::to_string(i), "x");
  for (const auto& r :
       {http(port_, "GET", "/healthz", "", many),
        http(port_, "GET", "/healthz", "", {{"X-Long", std::string(40000, 'a')}})}) {
    EXPECT_EQ(r.status, 431);
    EXPECT_NE(r.body.find(R"({"error":"request too large","detail":")"), std::string::npos)
        << r.body;
  }
  for (const auto& [bad, status] : std::vector<std::pair<std::string, std::string>>{
           {"GET /" + std::string(20000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n", "414"},
           {std::string(40, 'G') + " /healthz HTTP/1.1\r\nHost: x\r\n\r\n", "400"},
           {"GET /healthz HTTP/1.1\r\nBad Name: 1\r\nHost: x\r\n\r\n", "400"},
           {"GET /healthz HTTP/1.1\r\n\r\n", "400"},
           {"GET /healthz HTTP/9\r\nHost: x\r\n\r\n", "400"},
           {"GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n", "505"}}) {
    const std::string answer = rampart::test::raw_http(port_, bad);
    EXPECT_EQ(answer.rfind("HTTP/1.1 " + status, 0), 0u) << answer;
    EXPECT_NE(answer.find("Content-Type: application/json"), std::string::npos) << answer;
    EXPECT_NE(answer.find(R"({"error":")"), std::string::npos) << answer;
  }
  EXPECT_EQ(http(port_, "GET", "/healthz").status, 200);
}

// Every "$ref" in a JSON value, collected.
void collect_refs(const Poco::Dynamic::Var& v, std::vector<std::string>& out) {
  if (v.type() == typeid(Poco::JSON::Object::Ptr)) {
    for (const auto& [k, e] : *v.extract<Poco::JSON::Object::Ptr>()) {
      if (k == "$ref") out.push_back(e.toString());
      collect_refs(e, out);
    }
  } else if (v.type() == typeid(Poco::JSON::Array::Ptr)) {
    for (const auto& e : *v.extract<Poco::JSON::Array::Ptr>()) collect_refs(e, out);
  }
}

TEST_F(RestApi, OpenApiDocumentDescribesEveryDomainFromItsSchema) {
  const auto r = call("GET", "/api-docs/openapi.json");
  ASSERT_EQ(r.status, 200) << r.body;
  const auto doc = Poco::JSON::Parser().parse(r.body).extract<Poco::JSON::Object::Ptr>();
  EXPECT_EQ(doc->getValue<std::string>("openapi"), "3.0.3");
  const auto paths = doc->getObject("paths");
  for (const char* p : {"/api/v1/firewall/rules", "/api/v1/firewall/rules/{id}",
                        "/api/v1/firewall/status", "/api/v1/agent/status", "/api/v1/keys"}) {
    EXPECT_TRUE(paths->has(p)) << p;
  }
  const auto post = paths->getObject("/api/v1/firewall/rules")->getObject("post");
  EXPECT_EQ(post->getObject("requestBody")
                ->getObject("content")
                ->getObject("application/json")
                ->getObject("schema")
                ->getValue<std::string>("$ref"),
            "#/components/schemas/FirewallRule");
  const auto schemas = doc->getObject("components")->getObject("schemas");
  const auto rule = schemas->getObject("FirewallRule");
  EXPECT_TRUE(rule->getObject("properties")->has("src_ip")) << "the engine's own schema";
  // The import declares its dry run and both answers; listings their origins.
  const auto import = paths->getObject("/api/v1/firewall/rules")->getObject("put");
  EXPECT_EQ(import->getArray("parameters")->getObject(0)->getValue<std::string>("name"), "dry_run");
  const std::string answers = rampart::util::to_json(import->getObject("responses")->get("200"));
  EXPECT_NE(answers.find("#/components/schemas/FirewallImportDiff"), std::string::npos) << answers;
  EXPECT_NE(answers.find("#/components/schemas/ImportResult"), std::string::npos) << answers;
  EXPECT_TRUE(schemas->getObject("FirewallRuleList")->getObject("properties")->has("origins"));
  std::vector<std::string> refs;
  collect_refs(doc, refs);
  EXPECT_GT(refs.size(), 20u);
  for (const auto& ref : refs) {
    ASSERT_EQ(ref.rfind("#/components/schemas/", 0), 0u) << ref;
    EXPECT_TRUE(schemas->has(ref.substr(21))) << "dangling " << ref;
  }
  // swagger-cli validates it and Spectral's OpenAPI ruleset finds nothing,
  // not even a warning (both from npm via install-deps).
  rampart::test::write_file(dir_ / "openapi.json", r.body);
  EXPECT_EQ(rampart::test::openapi_problems(dir_ / "openapi.json"), "");
  // The probes need no key; every path parameter is declared.
  EXPECT_EQ(paths->getObject("/readyz")->getObject("get")->getArray("security")->size(), 0u);
  EXPECT_EQ(paths->getObject("/api/v1/keys/{name}")
                ->getObject("delete")
                ->getArray("parameters")
                ->getObject(0)
                ->getValue<std::string>("in"),
            "path");
  EXPECT_TRUE(paths->getObject("/api/v1/keys")->getObject("post")->has("requestBody"));
  // Operation ids are unique, as code generators need.
  std::set<std::string> ids;
  for (const auto& [path, item] : *paths) {
    for (const auto& [method, op] : *item.extract<Poco::JSON::Object::Ptr>()) {
      const auto id = op.extract<Poco::JSON::Object::Ptr>()->getValue<std::string>("operationId");
      EXPECT_TRUE(ids.insert(id).second) << id;
    }
  }
}

// Swagger UI in a real browser: headless Chromium loads /swagger-ui/, which
// fetches the agent's OpenAPI document and renders the firewall operations.
TEST_F(RestApi, SwaggerUiRendersTheFirewallOperationsInChromium) {
  auto page = call("GET", "/swagger-ui/");
  ASSERT_EQ(page.status, 200) << page.body;
  EXPECT_EQ(http(port_, "GET", "/swagger-ui/").status, 401) << "the page needs a key";
  EXPECT_NE(page.body.find("swagger-ui-bundle.js"), std::string::npos);
  EXPECT_EQ(call("GET", "/swagger-ui/swagger-ui-bundle.js").status, 200);
  EXPECT_EQ(call("GET", "/swagger-ui/..%2Frampart.yaml").status, 404);
  EXPECT_EQ(call("GET", "/swagger-ui/nothing.js").status, 404);

  const auto r = rampart::test::run_command(
      {"/usr/bin/chromium", "--headless=new", "--no-sandbox", "--disable-gpu",
       "--user-data-dir=" + (dir_ / "chromium"), "--virtual-time-budget=20000", "--dump-dom",
       "http://127.0.0.1:" + std::to_string(port_) + "/swagger-ui/?key=" + api_.token});
  ASSERT_EQ(r.status, 0) << r.output.substr(0, 2000);
  for (const char* want : {"Rampart management API", "/api/v1/firewall/rules",
                           "/api/v1/firewall/rules/{id}", "Create a rule", "FirewallRule"}) {
    EXPECT_NE(r.output.find(want), std::string::npos) << want << " not rendered:\n"
                                                      << r.output.substr(0, 3000);
  }
}

// Import: 10,000 rules in one PUT, all or nothing.
TEST(RestImport, TenThousandRulesAtOnceAndABadOneChangesNothing) {
  rampart::test::TempDir dir;
  const auto cfg = dir / "rampart.yaml";
  // The default body limit takes a realistic 10,000-rule import (1.2 MB).
  rampart::test::write_file(cfg, "agent:\n  state_dir: " + (dir / "state") +
                                     "\nplugins:\n  firewall:\n    rules: [{id: 1, action: log}]\n"
                                     "  rest: " +
                                     rampart::test::rest_settings(dir.path()) + "\n");
  DaemonProcess d({rampart::test::path::rampartd(), "--config", cfg, "--plugin-dir",
                   rampart::test::path::plugins()});
  ASSERT_TRUE(d.wait_for("ready plugins=firewall,rest refused=0")) << d.output();
  const rampart::test::ApiClient api{rampart::test::listening_port(d.output()),
                                     rampart::test::bootstrap_token(dir / "state")};
  auto rules = [](int n, int bad_at) {
    std::string body = R"({"rules":[)";
    for (int i = 0; i < n; ++i) {
      body += std::string(i ? "," : "") + R"({"id":)" + std::to_string(100 + i) +
              R"(,"action":"deny","protocol":"tcp","description":"imported from the weekly )"
              R"(threat review, entry )" +
              std::to_string(i) + R"(","src_ip":"10.)" + std::to_string(i / 256 % 256) + "." +
              std::to_string(i % 256) + (i == bad_at ? R"(.300/32"})" : R"(.0/24"})");
    }
    return body + "]}";
  };
  const std::string import = rules(10000, -1);
  EXPECT_GT(import.size(), 1u << 20) << "past the old 1 MiB default";
  auto r = api.call("PUT", "/api/v1/firewall/rules", import);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, R"({"replaced":10000,"config_owned":0})");
  auto last = api.call("GET", "/api/v1/firewall/rules?cursor=10098");
  EXPECT_NE(last.body.find(R"("id":10099)"), std::string::npos) << last.body;
  EXPECT_NE(api.call("GET", "/api/v1/firewall/rules/1").status, 404) << "config rule kept";

  r = api.call("PUT", "/api/v1/firewall/rules", rules(10000, 5000));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("rule 5100: src_ip"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("field":"src_ip")"), std::string::npos) << r.body;
  EXPECT_EQ(api.call("GET", "/api/v1/firewall/rules/5100").body.find("300"), std::string::npos)
      << "nothing of the bad import was stored";
  EXPECT_EQ(api.call("GET", "/api/v1/firewall/rules?cursor=10098").body, last.body);

  r = api.call("PUT", "/api/v1/firewall/rules", R"({"rules":[{"id":1,"action":"deny"}]})");
  EXPECT_EQ(r.status, 409) << "id 1 belongs to the config file: " << r.body;
  r = api.call("PUT", "/api/v1/firewall/rules", R"({"rules":[{"id":7},{"id":7}]})");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(api.call("PUT", "/api/v1/firewall/rules", R"({"rules":{}})").status, 400);
  r = api.call("PUT", "/api/v1/firewall/rules", R"({"rules":[]})");
  EXPECT_EQ(r.status, 200) << "an empty import removes every API rule";
  EXPECT_EQ(api.call("GET", "/api/v1/firewall/rules/100").status, 404);
  EXPECT_EQ(api.call("GET", "/api/v1/firewall/rules/1").status, 200);
}

// Rules the config file declares are the file's: listings say so, writes
// to them are refused naming the file and line (nothing audited), a
// listing imports back unchanged (the file's rules as no-ops, never taken
// over by the API), and a dry run shows what an import would change
// without changing anything.
TEST(RestOwnership, ConfigRulesAreTheFilesAndListingsImportBack) {
  rampart::test::TempDir dir;
  const auto cfg = dir / "rampart.yaml";
  const std::string head = "agent:\n  state_dir: " + (dir / "state") +
                           "\nplugins:\n"
                           "  rest: " +
                           rampart::test::rest_settings(dir.path()) +
                           "\n"
                           "  firewall:\n"
                           "    rules:\n"
                           "      - {id: 1, action: log, protocol: udp, dst_port: \"53\"}\n";
  rampart::test::write_file(cfg, head + "      - id: 2\n        action: deny\n");  // id 2: line 8
  DaemonProcess d({rampart::test::path::rampartd(), "--config", cfg, "--plugin-dir",
                   rampart::test::path::plugins()});
  ASSERT_TRUE(d.wait_for("ready plugins=firewall,rest refused=0")) << d.output();
  const rampart::test::ApiClient api{rampart::test::listening_port(d.output()),
                                     rampart::test::bootstrap_token(dir / "state")};
  auto parse = [](const std::string& text) {
    return Poco::JSON::Parser().parse(text).extract<Poco::JSON::Object::Ptr>();
  };
  for (const char* body : {R"({"id":10,"action":"deny","src_ip":"198.18.0.0/24"})",
                           R"({"id":12,"action":"allow","protocol":"tcp"})"})
    ASSERT_EQ(api.call("POST", "/api/v1/firewall/rules", body).status, 201);

  const auto listing = api.call("GET", "/api/v1/firewall/rules");
  ASSERT_EQ(listing.status, 200);
  EXPECT_NE(listing.body.find(R"("origins":{"1":"config","2":"config","10":"api","12":"api"})"),
            std::string::npos)
      << listing.body;
  EXPECT_EQ(api.call("GET", "/api/v1/firewall/rules?origin=config&limit=5").body.find("\"id\":10"),
            std::string::npos)
      << "origin filters too";
  const auto audit = api.call("GET", "/api/v1/audit/logs?limit=1000").body;

  // Writes to the file's rules: 409 naming file, line and key; no audit.
  for (const auto& [method, body] :
       std::vector<std::pair<std::string, std::string>>{{"PATCH", R"({"action":"allow"})"},
                                                        {"PUT", R"({"action":"allow"})"},
                                                        {"PUT", R"({"action":"no such action"})"},
                                                        {"DELETE", ""}}) {
    const auto r = api.call(method, "/api/v1/firewall/rules/2", body);
    EXPECT_EQ(r.status, 409) << method << " " << body << " -> " << r.body;
    EXPECT_NE(r.body.find(R"("file":")" + cfg + "\""), std::string::npos) << r.body;
    EXPECT_NE(r.body.find(R"("line":8)"), std::string::npos) << r.body;
    EXPECT_NE(r.body.find("plugins.firewall.rules[1]"), std::string::npos) << r.body;
  }
  auto r = api.call("POST", "/api/v1/firewall/rules", R"({"id":1,"action":"allow"})");
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_NE(r.body.find(R"("line":7)"), std::string::npos) << r.body;
  EXPECT_EQ(api.call("GET", "/api/v1/audit/logs?limit=1000").body, audit)
      << "a refused write leaves no audit entry";

  // The listing, imported as it is: 200, and nothing changes.
  r = api.call("PUT", "/api/v1/firewall/rules", listing.body);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, R"({"replaced":2,"config_owned":2})");
  EXPECT_EQ(api.call("GET", "/api/v1/firewall/rules").body, listing.body);
  EXPECT_EQ(api.call("GET", "/api/v1/audit/logs?limit=1000").body, audit);

  // A file rule that differs in the import: 409 naming it; nothing applied.
  auto changed = parse(listing.body);
  changed->getArray("rules")->getObject(0)->set("action", "deny");
  r = api.call("PUT", "/api/v1/firewall/rules", rampart::util::to_json(changed));
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_NE(r.body.find("rule 1 "), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("field":"rules[0]")"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("file":")" + cfg + "\""), std::string::npos) << r.body;
  EXPECT_EQ(api.call("GET", "/api/v1/firewall/rules").body, listing.body);

  // A dry run: 10 changes, 11 comes, 12 goes; the file's two are no-ops.
  const std::string next =
      R"({"rules":[{"id":1,"priority":1,"action":"log","protocol":"udp","dst_port":"53",)"
      R"("enabled":true},)"
      R"({"id":2,"priority":2,"action":"deny","protocol":"any","enabled":true},)"
      R"({"id":10,"action":"deny","src_ip":"198.18.1.0/24"},{"id":11,"action":"log"}]})";
  r = api.call("PUT", "/api/v1/firewall/rules?dry_run=true", next);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, R"({"dry_run":true,"added":[11],"removed":[12],"changed":[{"id":10,)"
                    R"("before":{"action":"deny","id":10,"src_ip":"198.18.0.0/24"},)"
                    R"("after":{"action":"deny","id":10,"src_ip":"198.18.1.0/24"}}],)"
                    R"("unchanged":0,"config_owned":2})");
  EXPECT_EQ(api.call("GET", "/api/v1/firewall/rules").body, listing.body) << "nothing applied";
  EXPECT_EQ(api.call("GET", "/api/v1/audit/logs?limit=1000").body, audit) << "nothing audited";
  // The same refusals as a real import, word for word (the core's checks;
  // the engine's own run only when an import is applied).
  for (const std::string bad : {R"({"rules":[{"id":11,"action":"log"},{"id":11,"action":"deny"}]})",
                                R"({"rules":[{"id":11,"action":"explode"}]})",
                                R"({"rules":[{"id":1,"action":"allow"}]})", R"({"rules":{}})"}) {
    const auto dry = api.call("PUT", "/api/v1/firewall/rules?dry_run=true", bad);
    const auto real = api.call("PUT", "/api/v1/firewall/rules", bad);
    EXPECT_GE(real.status, 400) << bad;
    EXPECT_EQ(dry.status, real.status) << bad << " -> " << dry.body;
    EXPECT_EQ(dry.body, real.body) << bad;
  }
  EXPECT_EQ(api.call("PUT", "/api/v1/firewall/rules?dry_run=maybe", next).status, 400);
  EXPECT_EQ(api.call("PUT", "/api/v1/firewall/rules?dryrun=true", next).status, 400)
      << "a misspelt dry run must not import for real";
  EXPECT_EQ(api.call("GET", "/api/v1/firewall/rules").body, listing.body);

  r = api.call("PUT", "/api/v1/firewall/rules", next);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, R"({"replaced":2,"config_owned":2})");
  // The file still owns 1 and 2: dropping 2 from it removes the rule.
  rampart::test::write_file(cfg, head);
  r = api.call("POST", "/api/v1/config/reload");
  ASSERT_EQ(r.status, 200) << r.body;
  r = api.call("GET", "/api/v1/firewall/rules");
  EXPECT_NE(r.body.find(R"("origins":{"1":"config","10":"api","11":"api"})"), std::string::npos)
      << r.body;
}

// TLS with a certificate made here: the API answers over HTTPS, a client
// that trusts that certificate verifies it, plain HTTP gets nothing.
TEST(RestTls, ServesHttpsWithTheConfiguredCertificate) {
  rampart::test::TempDir dir;
  const auto made = rampart::test::run_command(
      {"/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
       dir / "key.pem", "-out", dir / "cert.pem", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext",
       "subjectAltName=IP:127.0.0.1"});
  ASSERT_EQ(made.status, 0) << made.output;
  const auto cfg = dir / "rampart.yaml";
  rampart::test::write_file(cfg, "agent:\n  state_dir: " + (dir / "state") +
                                     "\nplugins:\n  firewall: {}\n  rest:\n    listen: "
                                     "\"127.0.0.1:0\"\n    socket: \"\"\n    tls: {cert: " +
                                     (dir / "cert.pem") + ", key: " + (dir / "key.pem") + "}\n");
  DaemonProcess d({rampart::test::path::rampartd(), "--config", cfg, "--plugin-dir",
                   rampart::test::path::plugins()});
  ASSERT_TRUE(d.wait_for("ready plugins=firewall,rest refused=0")) << d.output();
  ASSERT_TRUE(d.wait_for("(https)")) << d.output();
  const uint16_t port = rampart::test::listening_port(d.output());
  ASSERT_NE(port, 0);

  Poco::Net::initializeSSL();
  Poco::Net::Context::Params p;
  p.caLocation = dir / "cert.pem";
  p.verificationMode = Poco::Net::Context::VERIFY_RELAXED;
  p.loadDefaultCAs = false;
  Poco::Net::Context::Ptr ctx = new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, p);
  Poco::Net::HTTPSClientSession session("127.0.0.1", port, ctx);
  Poco::Net::HTTPRequest req("GET", "/api/v1/firewall/rules", Poco::Net::HTTPMessage::HTTP_1_1);
  req.set("Authorization", "Bearer " + rampart::test::bootstrap_token(dir / "state"));
  session.sendRequest(req);
  Poco::Net::HTTPResponse res;
  std::ostringstream body;
  Poco::StreamCopier::copyStream(session.receiveResponse(res), body);
  EXPECT_EQ(res.getStatus(), 200);
  EXPECT_EQ(body.str(), R"({"rules":[],"origins":{},"next_cursor":null})");

  EXPECT_ANY_THROW({
    const auto plain = http(port, "GET", "/healthz");
    if (plain.status != 200) throw std::runtime_error("no HTTP answer");
  }) << "plain HTTP on the TLS port";

  // A missing key file is a config error that names it.
  rampart::test::write_file(cfg, "plugins:\n  rest:\n    tls: {cert: " + (dir / "cert.pem") +
                                     ", key: " + (dir / "absent.pem") + "}\n");
  const auto check =
      rampart::test::run_command({rampart::test::path::rampartd(), "--check-config", "--config",
                                  cfg, "--plugin-dir", rampart::test::path::plugins()});
  EXPECT_EQ(check.status, 1);
  EXPECT_NE(check.output.find("plugins.rest.tls.key: " + (dir / "absent.pem")), std::string::npos)
      << check.output;
}

}  // namespace

namespace {

// A reload asked for over REST that restarts the REST frontend itself:
// the frontend's stop waits for its requests in flight, and this one waits
// for the reload, so it is answered (202) before the frontend stops
// rather than never; the reload goes on and the frontend comes back.
TEST(RestReload, AReloadThatRestartsTheFrontendCarryingItIsAnsweredFirst) {
  rampart::test::TempDir dir;
  const auto cfg = dir / "rampart.yaml";
  auto write = [&](const std::string& extra) {
    rampart::test::write_file(cfg, "agent:\n  state_dir: " + (dir / "state") +
                                       "\nplugins:\n  firewall: {}\n  rest: " +
                                       rampart::test::rest_settings(dir.path(), extra) + "\n");
  };
  write("write_burst: 40");
  DaemonProcess d({rampart::test::path::rampartd(), "--config", cfg, "--plugin-dir",
                   rampart::test::path::plugins()});
  ASSERT_TRUE(d.wait_for("ready plugins=firewall,rest refused=0")) << d.output();
  const rampart::test::ApiClient api{rampart::test::listening_port(d.output()),
                                     rampart::test::bootstrap_token(dir / "state")};
  write("write_burst: 41");  // the REST plugin cannot reload: it restarts
  const auto r = api.call("POST", "/api/v1/config/reload");
  EXPECT_EQ(r.status, 202) << r.body;
  EXPECT_NE(r.body.find(R"("status":"reloading")"), std::string::npos) << r.body;
  ASSERT_TRUE(d.wait_for("configuration reloaded changes=\"rest: restarted\"")) << d.output();
  // Back, on the same local socket.
  auto local = rampart::test::RawConn::unix_socket(dir / "api.sock");
  ASSERT_TRUE(local.ok());
  ASSERT_TRUE(local.send("GET /api/v1/agent/status HTTP/1.1\r\nHost: localhost\r\n\r\n"));
  const auto status = local.read_response();
  ASSERT_TRUE(status);
  EXPECT_EQ(status->status, 200);
  EXPECT_NE(status->body.find(R"("id":"rest")"), std::string::npos) << status->body;
  d.signal(SIGTERM);
  EXPECT_EQ(d.wait_exit(), 0) << d.output();
}

}  // namespace
