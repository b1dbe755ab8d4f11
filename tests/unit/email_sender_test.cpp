// SPDX-License-Identifier: Apache-2.0
// The email sender (the built .so) against a small SMTP server on
// 127.0.0.1 run by the test (EHLO, STARTTLS, AUTH PLAIN/LOGIN, MAIL, RCPT,
// DATA, QUIT): messages one by one and as digests, STARTTLS and AUTH, and
// how it fails.
#include <gtest/gtest.h>

#include <Poco/Base64Decoder.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/DialogSocket.h>
#include <Poco/Net/MailMessage.h>
#include <Poco/Net/NetSSL.h>
#include <Poco/Net/SecureStreamSocketImpl.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/StreamSocketImpl.h>
#include <Poco/StreamCopier.h>
#include <Poco/String.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <sstream>
#include <thread>

#include "hook_server.hpp"
#include "sender_harness.hpp"
#include "smtp_server.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using rampart::test::alert_json_of;
using rampart::test::contains;
using rampart::test::Mail;
using rampart::test::SenderHarness;
using rampart::test::SmtpServer;
using rampart::test::TempDir;
using std::chrono::milliseconds;

// A server TLS context with a certificate made for the test.
class EmailTls : public ::testing::Test {
 protected:
  void SetUp() override {
    cert_ = rampart::test::make_certificate(dir_);
    ASSERT_EQ(cert_.error, "");
    Poco::Net::initializeSSL();
    Poco::Net::Context::Params p;
    p.certificateFile = cert_.cert;
    p.privateKeyFile = cert_.key;
    p.verificationMode = Poco::Net::Context::VERIFY_NONE;
    server_tls_ = new Poco::Net::Context(Poco::Net::Context::TLS_SERVER_USE, p);
  }
  // Settings for `server` with the test's CA and extra settings.
  std::string settings(const SmtpServer& server, const std::string& extra) const {
    return "{server: \"" + server.server() +
           "\", from: \"Rampart <rampart@example.com>\", to: [soc@example.com, "
           "oncall@example.com], tls: {ca_file: " +
           cert_.cert + "}" + (extra.empty() ? "" : ", " + extra) + "}";
  }

  TempDir dir_;
  rampart::test::TestCertificate cert_;
  Poco::Net::Context::Ptr server_tls_;
  SenderHarness h{"email"};
};

TEST_F(EmailTls, OneMessagePerAlertOverStartTlsWithAuthPlain) {
  SmtpServer server({server_tls_});
  ASSERT_EQ(h.start(settings(server,
                             "username: alice, password: s3cret, subject: "
                             "\"{severity}|{component}|{rule_id}|{message}|{src_ip}|"
                             "{dst_ip}|{technique_id}|{count}\"")),
            "");
  const auto alert = rampart::test::sample_alert("rule-1");
  EXPECT_EQ(h.send(alert), "");
  const auto mails = server.mails();  // send_alert returns once the server took it
  ASSERT_EQ(mails.size(), 1u);
  EXPECT_TRUE(mails[0].tls);
  EXPECT_EQ(mails[0].auth, "PLAIN alice s3cret");
  EXPECT_EQ(mails[0].from, "rampart@example.com");
  EXPECT_EQ(mails[0].to, (std::vector<std::string>{"soc@example.com", "oncall@example.com"}));
  const auto m = mails[0].parsed();
  EXPECT_EQ(m.subject, "high|test|rule-1|port scan|203.0.113.5|10.0.0.2||1");
  EXPECT_TRUE(contains(m.content, alert_json_of(alert))) << m.content;
  EXPECT_TRUE(contains(m.content, "Source:      203.0.113.5:40000")) << m.content;
  EXPECT_TRUE(contains(m.content, "Message:     port scan")) << m.content;
  EXPECT_TRUE(contains(m.content, "Protocol:    tcp")) << m.content;
  EXPECT_EQ(h.metric("rampart_email_messages_total"), 1);
  EXPECT_EQ(h.metric("rampart_email_failures_total"), 0);
}

TEST_F(EmailTls, AuthLoginWhenThatIsWhatTheServerOffers) {
  SmtpServer server({server_tls_, "LOGIN"});
  ASSERT_EQ(h.start(settings(server, "username: bob, password: pw")), "");
  EXPECT_EQ(h.send(rampart::test::sample_alert("rule-2")), "");
  ASSERT_EQ(server.mails().size(), 1u);
  EXPECT_EQ(server.mails()[0].auth, "LOGIN bob pw");
  EXPECT_EQ(server.mails()[0].parsed().subject, "[Rampart] high test: port scan");
}

TEST_F(EmailTls, DigestByCountSendsOneMessageWithEveryAlert) {
  SmtpServer server({server_tls_});
  ASSERT_EQ(h.start(settings(server,
                             "digest: {max_alerts: 3, interval_seconds: 3600}, subject: "
                             "\"{count} alerts, worst {severity}\"")),
            "");
  const auto a = rampart::test::sample_alert("rule-a");
  auto b = rampart::test::sample_alert("rule-b");
  b.severity = RAMPART_SEVERITY_CRITICAL;
  const auto c = rampart::test::sample_alert("rule-c");
  EXPECT_EQ(h.send(a), "");
  EXPECT_EQ(h.send(b), "");
  EXPECT_EQ(server.mails().size(), 0u) << "queued until the third";
  EXPECT_EQ(h.send(c), "");
  const auto mails = server.mails();  // sent within the third send_alert
  ASSERT_EQ(mails.size(), 1u);
  const auto m = mails[0].parsed();
  EXPECT_EQ(m.subject, "3 alerts, worst critical");
  for (const auto& alert : {a, b, c}) {
    EXPECT_TRUE(contains(m.content, alert_json_of(alert))) << m.content;
    EXPECT_TRUE(contains(m.content, "rule " + alert.rule_id + ": port scan")) << m.content;
  }
  EXPECT_EQ(h.metric("rampart_email_messages_total"), 1);
}

TEST_F(EmailTls, DigestByIntervalSendsOnceTheIntervalPassed) {
  SmtpServer server({server_tls_});
  ASSERT_EQ(h.start(settings(server, "digest: {max_alerts: 100, interval_seconds: 1}")), "");
  const auto t0 = Clock::now();
  EXPECT_EQ(h.send(rampart::test::sample_alert("rule-x")), "");
  EXPECT_EQ(h.send(rampart::test::sample_alert("rule-y")), "");
  ASSERT_TRUE(server.wait_for(1));
  const auto mails = server.mails();
  ASSERT_EQ(mails.size(), 1u);
  EXPECT_GE(std::chrono::duration_cast<milliseconds>(mails[0].at - t0).count(), 900);
  const auto m = mails[0].parsed();
  EXPECT_EQ(m.subject, "[Rampart] 2 alerts, most severe: high test: port scan");
  EXPECT_TRUE(contains(m.content, "rule rule-x")) << m.content;
  EXPECT_TRUE(contains(m.content, "rule rule-y")) << m.content;
}

TEST_F(EmailTls, StartTlsRequiredFailsAgainstAServerWithoutIt) {
  SmtpServer server({nullptr});
  ASSERT_EQ(h.start(settings(server, "starttls: required")), "");
  const std::string error = h.send(rampart::test::sample_alert("rule-3"));
  EXPECT_TRUE(contains(error, "does not offer STARTTLS")) << error;
  EXPECT_TRUE(contains(error, "email via " + server.server())) << error;
  EXPECT_EQ(server.mails().size(), 0u);
  EXPECT_EQ(h.metric("rampart_email_failures_total"), 1);
}

TEST_F(EmailTls, StartTlsOptionalSendsInClearWhenNotOffered) {
  SmtpServer server({nullptr, ""});
  ASSERT_EQ(h.start(settings(server, "starttls: optional")), "");
  EXPECT_EQ(h.send(rampart::test::sample_alert("rule-4")), "");
  ASSERT_EQ(server.mails().size(), 1u);
  EXPECT_FALSE(server.mails()[0].tls);
}

TEST_F(EmailTls, AServerThatIsDownFailsTheAlert) {
  const uint16_t port = rampart::test::closed_port();
  ASSERT_NE(port, 0);
  ASSERT_EQ(h.start("{server: \"127.0.0.1:" + std::to_string(port) +
                    "\", from: r@example.com, to: [s@example.com], timeout_ms: 2000}"),
            "");
  const std::string error = h.send(rampart::test::sample_alert("rule-5"));
  EXPECT_TRUE(contains(error, "email via 127.0.0.1:" + std::to_string(port))) << error;
  EXPECT_EQ(h.metric("rampart_email_failures_total"), 1);
  EXPECT_EQ(h.metric("rampart_email_messages_total"), 0);
}

TEST_F(EmailTls, AFullDigestThatCannotBeSentFailsTheAlert) {
  const uint16_t port = rampart::test::closed_port();
  ASSERT_NE(port, 0);
  ASSERT_EQ(h.start("{server: \"127.0.0.1:" + std::to_string(port) +
                    "\", from: r@example.com, to: [s@example.com], digest: {max_alerts: 2, "
                    "interval_seconds: 3600}}"),
            "");
  EXPECT_EQ(h.send(rampart::test::sample_alert("rule-6")), "");
  EXPECT_NE(h.send(rampart::test::sample_alert("rule-7")), "");
}

// The flusher cannot reach the server: it keeps the batch and sends it on
// a later attempt once the server is there.
TEST_F(EmailTls, ADigestTheFlusherCouldNotSendIsKept) {
  const uint16_t port = rampart::test::closed_port();
  ASSERT_NE(port, 0);
  ASSERT_EQ(h.start("{server: \"127.0.0.1:" + std::to_string(port) +
                    "\", from: r@example.com, to: [s@example.com], starttls: off, digest: "
                    "{max_alerts: 10, interval_seconds: 1}}"),
            "");
  EXPECT_EQ(h.send(rampart::test::sample_alert("rule-kept")), "");
  ASSERT_TRUE(h.log.wait_for("kept for the next attempt", 1, std::chrono::seconds(15)))
      << h.log.dump();
  SmtpServer server({nullptr, "", port});
  ASSERT_TRUE(server.wait_for(1));
  const auto m = server.mails()[0].parsed();
  EXPECT_TRUE(contains(m.content, "rule rule-kept")) << m.content;
}

// A server that accepted the connection and never greets, timeout_ms
// 120 s: stopping the plugin ends the delivery at once.
TEST_F(EmailTls, StopCutsAMessageInFlightShort) {
  rampart::test::SilentServer hang;
  ASSERT_EQ(h.start("{server: \"127.0.0.1:" + std::to_string(hang.port()) +
                    "\", from: r@example.com, to: [s@example.com], starttls: optional, "
                    "timeout_ms: 120000}"),
            "");
  const auto r = h.stop_while_sending(rampart::test::sample_alert("rule-12"),
                                      [&] { return hang.wait_connections(1); });
  EXPECT_TRUE(contains(r.error, "stopped: the delivery was cut short")) << r.error;
  EXPECT_LT(r.stop_took, std::chrono::seconds(5));
}

TEST_F(EmailTls, StoppingSendsWhatIsQueued) {
  SmtpServer server({server_tls_});
  ASSERT_EQ(h.start(settings(server, "digest: {max_alerts: 10, interval_seconds: 3600}")), "");
  EXPECT_EQ(h.send(rampart::test::sample_alert("rule-last")), "");
  EXPECT_EQ(server.mails().size(), 0u);
  h.stop();
  ASSERT_EQ(server.mails().size(), 1u);
  EXPECT_TRUE(contains(server.mails()[0].parsed().content, "rule rule-last"));
}

}  // namespace
