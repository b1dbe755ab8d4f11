// SPDX-License-Identifier: Apache-2.0
// The hostile-client suite: a live rampartd's REST and metrics frontends
// (HTTP, HTTPS, the local socket) driven with raw sockets the way an
// attacker would, as .ci/run runs it (label "hostile").
//  - Request smuggling: a request hidden in another's body (of a GET, of a
//    DELETE, of a POST refused with 413, of a Content-Length +
//    Transfer-Encoding request, of an unknown transfer coding) is never
//    executed, even with a valid key in it.
//  - Slowloris: hundreds of idle and trickling connections from the same
//    address never keep an authorized client from its answers.
#include <gtest/gtest.h>

#include <Poco/JSON/Parser.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/NetSSL.h>
#include <Poco/StreamCopier.h>

#include <chrono>
#include <csignal>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "daemon_process.hpp"
#include "http_client.hpp"
#include "metrics_check.hpp"
#include "raw_http.hpp"
#include "sender_harness.hpp"
#include "temp_dir.hpp"
#include "test_paths.hpp"

namespace {

using namespace std::chrono_literals;
using rampart::test::DaemonProcess;
using rampart::test::RawConn;

class Hostile : public ::testing::Test {
 protected:
  void start(const std::string& rest_extra = "") {
    const auto cfg = dir_ / "rampart.yaml";
    rampart::test::write_file(
        cfg, "agent:\n  state_dir: " + (dir_ / "state") + "\nplugins:\n  firewall: {}\n  rest: " +
                 rampart::test::rest_settings(dir_.path(), "max_body_bytes: 4096" + rest_extra) +
                 "\n  metrics: {listen: \"127.0.0.1:0\"}\n");
    daemon_ = std::make_unique<DaemonProcess>(
        std::vector<std::string>{rampart::test::path::rampartd(), "--config", cfg, "--plugin-dir",
                                 rampart::test::path::plugins()});
    ASSERT_TRUE(daemon_->wait_for("ready plugins=firewall,metrics,rest refused=0"))
        << daemon_->output();
    api_ = {rampart::test::listening_port(daemon_->output()),
            rampart::test::bootstrap_token(dir_ / "state")};
    metrics_port_ = rampart::test::listening_port(daemon_->output(), "metrics");
    ASSERT_NE(api_.port, 0);
    ASSERT_FALSE(api_.token.empty());
  }
  RawConn conn(uint16_t port = 0) {
    auto c = RawConn::tcp(port ? port : api_.port);
    EXPECT_TRUE(c.ok());
    return c;
  }
  std::string auth() const { return "Authorization: Bearer " + api_.token + "\r\n"; }
  // A rule the hidden requests try to delete.
  void make_victim() {
    ASSERT_EQ(api_.call("POST", "/api/v1/firewall/rules", R"({"id":7,"action":"deny"})").status,
              201);
  }
  void expect_victim_alive(const std::string& how) {
    EXPECT_EQ(api_.call("GET", "/api/v1/firewall/rules/7").status, 200) << how;
    const auto audit = api_.call("GET", "/api/v1/audit/rules/7/history").body;
    EXPECT_EQ(audit.find(R"("action":"delete")"), std::string::npos) << how << ": " << audit;
  }

  rampart::test::TempDir dir_;
  std::unique_ptr<DaemonProcess> daemon_;
  rampart::test::ApiClient api_;
  uint16_t metrics_port_ = 0;
};

TEST_F(Hostile, RequestsHiddenInBodiesAreNeverExecuted) {
  ASSERT_NO_FATAL_FAILURE(start());
  ASSERT_NO_FATAL_FAILURE(make_victim());
  // The smuggled request carries a valid key: only framing can stop it.
  const std::string hidden =
      "DELETE /api/v1/firewall/rules/7 HTTP/1.1\r\nHost: x\r\n" + auth() + "\r\n";
  auto body_of = [&](const std::string& head, const std::string& body) {
    return head + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  };
  const std::vector<std::pair<std::string, std::string>> attacks = {
      {"in the body of a GET /healthz", body_of("GET /healthz HTTP/1.1\r\nHost: x\r\n", hidden)},
      {"in the body of a DELETE",
       body_of("DELETE /api/v1/firewall/rules/999 HTTP/1.1\r\nHost: x\r\n" + auth(), hidden)},
      {"in the body of a POST answered 413",
       body_of("POST /api/v1/firewall/rules HTTP/1.1\r\nHost: x\r\n" + auth(),
               hidden + std::string(5000, ' '))},
      {"after Content-Length + Transfer-Encoding",
       "POST /api/v1/firewall/rules HTTP/1.1\r\nHost: x\r\n" + auth() +
           "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + hidden},
      {"after an unknown transfer coding",
       "POST /api/v1/firewall/rules HTTP/1.1\r\nHost: x\r\n" + auth() +
           "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n" + hidden},
      {"in the body of an unauthenticated POST",
       body_of("POST /api/v1/firewall/rules HTTP/1.1\r\nHost: x\r\n", hidden)},
  };
  for (const auto& [how, bytes] : attacks) {
    auto c = conn();
    ASSERT_TRUE(c.send(bytes)) << how;
    const auto first = c.read_response(5s);
    ASSERT_TRUE(first) << how;
    EXPECT_NE(first->status, 204) << how;
    // Either the connection is closed, or the next answer on it is the
    // probe's: nothing was parsed out of the body in between.
    c.send("GET /api/v1/auth/whoami HTTP/1.1\r\nHost: x\r\n" + auth() + "\r\n");
    if (const auto next = c.read_response(5s)) {
      EXPECT_EQ(next->status, 200) << how;
      EXPECT_NE(next->body.find(R"("role":"admin")"), std::string::npos) << how << next->body;
    }
    expect_victim_alive(how);
  }
}

TEST_F(Hostile, AWriteWithoutLengthOrChunkedIsAnsweredAtOnce) {
  ASSERT_NO_FATAL_FAILURE(start());
  // What `curl -X POST .../config/reload` sends: no Content-Length.
  auto c = conn();
  ASSERT_TRUE(c.send("POST /api/v1/config/reload HTTP/1.1\r\nHost: x\r\n" + auth() + "\r\n"));
  const auto r = c.read_response(10s);
  ASSERT_TRUE(r) << "it hung; Poco's server waited 60 s for a body";
  EXPECT_EQ(r->status, 200) << r->body;
}

// Slowloris against the REST API (HTTP and the local socket), HTTPS and
// /metrics: idle and trickling connections from one address, far past the
// per-client cap, and a client from that same address that talks still
// gets every answer.
TEST_F(Hostile, IdleAndTricklingConnectionsNeverLockOutAClientThatTalks) {
  ASSERT_NO_FATAL_FAILURE(start(", max_connections_per_client: 64"));
  for (const uint16_t port : {api_.port, metrics_port_}) {
    std::vector<RawConn> attackers;
    for (int i = 0; i < 300; ++i) attackers.push_back(conn(port));
    for (size_t i = 0; i < attackers.size(); i += 3) {
      attackers[i].send("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Trickle: ");
    }
    for (int i = 0; i < 30; ++i) {
      // Each round, the attackers trickle a byte more and open more.
      for (size_t a = 0; a < attackers.size(); a += 3) attackers[a].send("a");
      attackers.push_back(conn(port));
      const auto r = port == api_.port ? api_.call("GET", "/api/v1/firewall/rules")
                                       : rampart::test::http(port, "GET", "/metrics");
      ASSERT_EQ(r.status, 200) << "request " << i << " on port " << port;
    }
  }
  // The local socket has its own budget: root gets in whatever TCP suffers.
  auto local = RawConn::unix_socket(dir_ / "api.sock");
  ASSERT_TRUE(local.ok());
  ASSERT_TRUE(local.send("GET /api/v1/auth/whoami HTTP/1.1\r\nHost: localhost\r\n\r\n"));
  const auto who = local.read_response();
  ASSERT_TRUE(who);
  EXPECT_NE(who->body.find(R"("via":"local")"), std::string::npos) << who->body;
  // The operator can see it happen (counters are brought up to date every second).
  double evicted = 0;
  std::string m;
  for (int i = 0; i < 100 && evicted == 0; ++i) {
    if (i) std::this_thread::sleep_for(50ms);  // polling a counter, with a deadline
    m = rampart::test::http(metrics_port_, "GET", "/metrics").body;
    evicted = rampart::test::metric_value(
        m, "rampart_http_connections_evicted_total{listener=\"rest\",plugin=\"rest\"}");
  }
  EXPECT_GT(evicted, 0) << m.substr(0, 4000);
}

TEST(HostileTls, IdleConnectionsThatNeverSayHelloNeverLockOutAClient) {
  rampart::test::TempDir dir;
  const auto cert = rampart::test::make_certificate(dir);
  ASSERT_TRUE(cert.error.empty()) << cert.error;
  const auto cfg = dir / "rampart.yaml";
  rampart::test::write_file(cfg,
                            "agent:\n  state_dir: " + (dir / "state") +
                                "\nplugins:\n  rest:\n    listen: \"127.0.0.1:0\"\n    socket: "
                                "\"\"\n    max_connections_per_client: 32\n    tls: {cert: " +
                                cert.cert + ", key: " + cert.key + "}\n");
  DaemonProcess d({rampart::test::path::rampartd(), "--config", cfg, "--plugin-dir",
                   rampart::test::path::plugins()});
  ASSERT_TRUE(d.wait_for("(https)")) << d.output();
  const uint16_t port = rampart::test::listening_port(d.output());
  const std::string token = rampart::test::bootstrap_token(dir / "state");
  std::vector<RawConn> idle;
  for (int i = 0; i < 200; ++i) idle.push_back(RawConn::tcp(port));
  Poco::Net::initializeSSL();
  Poco::Net::Context::Params p;
  p.caLocation = cert.cert;
  p.verificationMode = Poco::Net::Context::VERIFY_RELAXED;
  p.loadDefaultCAs = false;
  Poco::Net::Context::Ptr ctx = new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, p);
  for (int i = 0; i < 10; ++i) {
    Poco::Net::HTTPSClientSession session("127.0.0.1", port, ctx);
    session.setTimeout(Poco::Timespan(10, 0));
    Poco::Net::HTTPRequest req("GET", "/api/v1/auth/whoami", Poco::Net::HTTPMessage::HTTP_1_1);
    req.set("Authorization", "Bearer " + token);
    session.sendRequest(req);
    Poco::Net::HTTPResponse res;
    std::ostringstream body;
    Poco::StreamCopier::copyStream(session.receiveResponse(res), body);
    EXPECT_EQ(res.getStatus(), 200) << body.str();
    idle.push_back(RawConn::tcp(port));
  }
}

}  // namespace
