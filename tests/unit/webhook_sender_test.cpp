// SPDX-License-Identifier: Apache-2.0
// The webhook sender (the built .so) against HTTP(S) servers on 127.0.0.1
// run by the test: what it POSTs, which answers it retries, how it fails,
// and which settings it refuses.
#include <gtest/gtest.h>

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/NetSSL.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/StreamCopier.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <map>
#include <mutex>

#include "hook_server.hpp"
#include "sender_harness.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using rampart::test::alert_json_of;
using rampart::test::Answer;
using rampart::test::contains;
using rampart::test::HookServer;
using rampart::test::Received;
using rampart::test::SenderHarness;
using rampart::test::TempDir;
using std::chrono::milliseconds;
namespace alerts = rampart::alerts;

class Webhook : public ::testing::Test {
 protected:
  SenderHarness h{"webhook"};
};

TEST_F(Webhook, PostsTheAlertJsonWithTheConfiguredHeaders) {
  HookServer server;
  ASSERT_EQ(h.start("{url: \"" + server.url() +
                    "/hooks/rampart?team=sec\", headers: {Authorization: \"Bearer s3cret\", "
                    "X-Rampart-Team: on-call}}"),
            "");
  const auto alert = rampart::test::sample_alert("rule-1");
  EXPECT_EQ(h.send(alert), "");
  const auto got = server.received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].method, "POST");
  EXPECT_EQ(got[0].uri, "/hooks/rampart?team=sec");
  EXPECT_EQ(got[0].body, alert_json_of(alert));
  EXPECT_EQ(got[0].headers.at("Content-Type"), "application/json");
  EXPECT_EQ(got[0].headers.at("Authorization"), "Bearer s3cret");
  EXPECT_EQ(got[0].headers.at("X-Rampart-Team"), "on-call");
  EXPECT_EQ(h.metric("rampart_webhook_deliveries_total"), 1);
  EXPECT_EQ(h.metric("rampart_webhook_failures_total"), 0);
  EXPECT_EQ(h.metric("rampart_webhook_retries_total"), 0);
}

// `format: eve`: the body is the alert as Suricata's EVE record.
TEST_F(Webhook, PostsEveWhenAskedTo) {
  HookServer server;
  ASSERT_EQ(h.start("{url: \"" + server.url() + "/eve\", format: eve}"), "");
  const auto alert = rampart::test::sample_alert("rule-1");
  EXPECT_EQ(h.send(alert), "");
  const auto got = server.received();
  ASSERT_EQ(got.size(), 1u);
  const alerts::AlertView view(alert);
  EXPECT_EQ(got[0].body, rampart::sender::eve_json(rampart::sdk::Alert{view.get()}));
  EXPECT_TRUE(contains(got[0].body, R"("event_type":"alert","src_ip":"203.0.113.5")"))
      << got[0].body;
  EXPECT_TRUE(contains(got[0].body, R"("alert":{"action":"blocked")")) << got[0].body;
}

TEST_F(Webhook, RetriesA503TwiceThenDelivers) {
  HookServer server({{503}, {503}, {200}});
  ASSERT_EQ(h.start("{url: \"" + server.url() + "/\", retries: 3, backoff_ms: 1}"), "");
  const auto alert = rampart::test::sample_alert("rule-2");
  EXPECT_EQ(h.send(alert), "");
  const auto got = server.received();
  ASSERT_EQ(got.size(), 3u);
  for (const auto& r : got) EXPECT_EQ(r.body, alert_json_of(alert));
  EXPECT_EQ(h.metric("rampart_webhook_retries_total"), 2);
  EXPECT_EQ(h.metric("rampart_webhook_deliveries_total"), 1);
  EXPECT_EQ(h.metric("rampart_webhook_failures_total"), 0);
}

TEST_F(Webhook, AClientErrorIsFinal) {
  HookServer server({{400}});
  ASSERT_EQ(h.start("{url: \"" + server.url() + "/\", retries: 3, backoff_ms: 1}"), "");
  const std::string error = h.send(rampart::test::sample_alert("rule-3"));
  EXPECT_TRUE(contains(error, "HTTP 400 Bad Request: answer 400")) << error;
  EXPECT_TRUE(contains(error, "not retried")) << error;
  EXPECT_EQ(server.received().size(), 1u);
  EXPECT_EQ(h.metric("rampart_webhook_failures_total"), 1);
  EXPECT_EQ(h.metric("rampart_webhook_retries_total"), 0);
}

TEST_F(Webhook, TooManyRequestsIsRetried) {
  HookServer server({{429}, {408}, {200}});
  ASSERT_EQ(h.start("{url: \"" + server.url() + "/\", backoff_ms: 1}"), "");
  EXPECT_EQ(h.send(rampart::test::sample_alert("rule-4")), "");
  EXPECT_EQ(server.received().size(), 3u);
}

// Retry-After: 30 capped by max_backoff_ms 300: the second attempt comes
// after about 300 ms (backoff_ms 0 would retry at once without it).
TEST_F(Webhook, RetryAfterIsHonouredUpToMaxBackoff) {
  HookServer server({{429, "30"}, {200}});
  ASSERT_EQ(h.start("{url: \"" + server.url() +
                    "/\", backoff_ms: 0, max_backoff_ms: 300, timeout_ms: 20000}"),
            "");
  EXPECT_EQ(h.send(rampart::test::sample_alert("rule-5")), "");
  const auto got = server.received();
  ASSERT_EQ(got.size(), 2u);
  const auto gap = std::chrono::duration_cast<milliseconds>(got[1].at - got[0].at);
  EXPECT_GE(gap.count(), 290);
  EXPECT_LT(gap.count(), 5000);
}

TEST_F(Webhook, AClosedPortFailsAfterTheRetries) {
  const uint16_t port = rampart::test::closed_port();
  ASSERT_NE(port, 0);
  ASSERT_EQ(h.start("{url: \"http://127.0.0.1:" + std::to_string(port) +
                    "/secret-path\", retries: 2, backoff_ms: 1}"),
            "");
  const std::string error = h.send(rampart::test::sample_alert("rule-6"));
  EXPECT_TRUE(contains(error, "webhook http://127.0.0.1:" + std::to_string(port))) << error;
  EXPECT_TRUE(contains(error, "after 3 attempts")) << error;
  EXPECT_FALSE(contains(error, "secret-path")) << "the URL path can hold a token: " << error;
  EXPECT_EQ(h.metric("rampart_webhook_retries_total"), 2);
  EXPECT_EQ(h.metric("rampart_webhook_failures_total"), 1);
}

// A server that accepts the connection (the kernel does) but never answers:
// the whole delivery ends within timeout_ms, retries included.
TEST_F(Webhook, TimeoutBoundsTheWholeDelivery) {
  Poco::Net::ServerSocket silent(Poco::Net::SocketAddress("127.0.0.1", 0));
  ASSERT_EQ(h.start("{url: \"http://127.0.0.1:" + std::to_string(silent.address().port()) +
                    "/\", timeout_ms: 300, retries: 5, backoff_ms: 10}"),
            "");
  const auto t0 = Clock::now();
  const std::string error = h.send(rampart::test::sample_alert("rule-7"));
  const auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - t0);
  EXPECT_TRUE(contains(error, "timed out") || contains(error, "timeout_ms")) << error;
  EXPECT_GE(took.count(), 250);
  EXPECT_LT(took.count(), 3000);
}

TEST_F(Webhook, HttpsWithTheConfiguredCa) {
  TempDir dir;
  const auto cert = rampart::test::make_certificate(dir);
  ASSERT_EQ(cert.error, "");
  Poco::Net::initializeSSL();
  Poco::Net::Context::Params p;
  p.certificateFile = cert.cert;
  p.privateKeyFile = cert.key;
  p.verificationMode = Poco::Net::Context::VERIFY_NONE;
  HookServer server({}, new Poco::Net::Context(Poco::Net::Context::TLS_SERVER_USE, p));
  ASSERT_EQ(
      h.start("{url: \"" + server.url("https") + "/tls\", tls: {ca_file: " + cert.cert + "}}"), "");
  const auto alert = rampart::test::sample_alert("rule-8");
  EXPECT_EQ(h.send(alert), "");
  ASSERT_EQ(server.received().size(), 1u);
  EXPECT_EQ(server.received()[0].body, alert_json_of(alert));

  // Without that CA the certificate is not trusted; verify: false takes it.
  EXPECT_EQ(h.reload("{url: \"" + server.url("https") + "/tls\", retries: 0}"), "");
  EXPECT_NE(h.send(alert), "");
  EXPECT_EQ(server.received().size(), 1u);
  EXPECT_EQ(h.reload("{url: \"" + server.url("https") + "/tls\", tls: {verify: false}}"), "");
  EXPECT_EQ(h.send(alert), "");
  EXPECT_EQ(server.received().size(), 2u);
}

TEST_F(Webhook, ABadReloadKeepsTheRunningSettings) {
  HookServer first, second;
  ASSERT_EQ(h.start("{url: \"" + first.url() + "/\"}"), "");
  const std::string why = h.reload("{url: \"" + second.url() + "/\", retries: -1}");
  EXPECT_TRUE(contains(why, "plugins.webhook.retries")) << why;
  EXPECT_EQ(h.send(rampart::test::sample_alert("rule-9")), "");
  EXPECT_EQ(first.received().size(), 1u);
  EXPECT_EQ(h.reload("{url: \"" + second.url() + "/\"}"), "");
  EXPECT_EQ(h.send(rampart::test::sample_alert("rule-10")), "");
  EXPECT_EQ(first.received().size(), 1u);
  EXPECT_EQ(second.received().size(), 1u);
}

// A receiver that accepted the POST and never answers, timeout_ms 120 s:
// stopping the plugin (rampartd's SIGTERM) ends the delivery at once, as
// a failure the core keeps the alert for.
TEST_F(Webhook, StopCutsAPostInFlightShort) {
  rampart::test::SilentServer hang;
  ASSERT_EQ(h.start("{url: \"" + hang.url() + "/\", timeout_ms: 120000}"), "");
  const auto r = h.stop_while_sending(rampart::test::sample_alert("rule-11"),
                                      [&] { return hang.wait_for("\"rule_id\":\"rule-11\""); });
  EXPECT_TRUE(contains(r.error, "stopped: the delivery was cut short")) << r.error;
  EXPECT_LT(r.stop_took, std::chrono::seconds(5));
  EXPECT_EQ(h.metric("rampart_webhook_retries_total"), 0) << "a stopped delivery is not retried";
}

}  // namespace
