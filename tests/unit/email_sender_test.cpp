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
#include <mutex>
#include <sstream>
#include <thread>

#include "sender_harness.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using rampart::test::alert_json_of;
using rampart::test::contains;
using rampart::test::SenderHarness;
using rampart::test::TempDir;
using std::chrono::milliseconds;

// One message the server accepted.
struct Mail {
  std::string from;
  std::vector<std::string> to;
  std::string data;  // as sent, dot-stuffing undone
  bool tls = false;
  std::string auth;  // "PLAIN user password", "LOGIN user password" or ""
  Clock::time_point at;

  // The message parsed back: subject and decoded body.
  struct Parsed {
    std::string subject, content;
  };
  Parsed parsed() const {
    Poco::Net::MailMessage m;
    std::istringstream in(data);
    m.read(in);
    return {m.getSubject(), m.getContent()};
  }
};

// Makes the TLS server side of a STARTTLS'ed connection (Poco keeps the
// server handshake on an attached socket protected).
class ServerTls : public Poco::Net::SecureStreamSocketImpl {
 public:
  ServerTls(Poco::Net::StreamSocketImpl* plain, Poco::Net::Context::Ptr ctx)
      : SecureStreamSocketImpl(plain, ctx) {}
  void accept_tls() { acceptSSL(); }
};

std::string base64_decode(const std::string& text) {
  std::istringstream in(text);
  Poco::Base64Decoder decoder(in);
  std::string out;
  Poco::StreamCopier::copyToString(decoder, out);
  return out;
}

// Between '<' and '>' of "MAIL FROM:<a@b>".
std::string angle(const std::string& line) {
  const auto open = line.find('<'), close = line.rfind('>');
  return open == std::string::npos || close == std::string::npos
             ? ""
             : line.substr(open + 1, close - open - 1);
}

class SmtpServer {
 public:
  struct Options {
    Poco::Net::Context::Ptr tls;       // offers STARTTLS when set
    std::string auth = "PLAIN LOGIN";  // mechanisms offered ("" none)
    uint16_t port = 0;
  };
  explicit SmtpServer(Options o)
      : options_(std::move(o)),
        listener_(Poco::Net::SocketAddress("127.0.0.1", options_.port), 16),
        thread_([this] { run(); }) {}
  ~SmtpServer() {
    stopping_ = true;
    thread_.join();
  }

  uint16_t port() const { return listener_.address().port(); }
  std::string server() const { return "127.0.0.1:" + std::to_string(port()); }
  bool wait_for(size_t n, std::chrono::seconds timeout = std::chrono::seconds(15)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return mails_.size() >= n; });
  }
  std::vector<Mail> mails() {
    std::lock_guard lock(mu_);
    return mails_;
  }

 private:
  void run() {
    while (!stopping_) {
      // A short poll so the destructor's flag is seen: the accept loop's
      // own pace, not a synchronisation with the test.
      if (!listener_.poll(Poco::Timespan(0, 50000), Poco::Net::Socket::SELECT_READ)) continue;
      try {
        serve(listener_.acceptConnection());
      } catch (const Poco::Exception&) {
        // the client went away or the handshake failed: next connection
      }
    }
  }

  void serve(Poco::Net::StreamSocket plain) {
    plain.setReceiveTimeout(Poco::Timespan(10, 0));
    Poco::Net::DialogSocket s(plain);
    Mail mail;
    s.sendMessage("220 test.local ESMTP");
    std::string line;
    while (s.receiveMessage(line)) {
      const std::string verb = Poco::toUpper(line.substr(0, line.find(' ')));
      if (verb == "EHLO" || verb == "HELO") {
        s.sendMessage("250-test.local");
        if (options_.tls && !mail.tls) s.sendMessage("250-STARTTLS");
        if (!options_.auth.empty()) s.sendMessage("250-AUTH " + options_.auth);
        s.sendMessage("250 8BITMIME");
      } else if (verb == "STARTTLS" && options_.tls && !mail.tls) {
        s.sendMessage("220 go ahead");
        auto* impl =
            new ServerTls(static_cast<Poco::Net::StreamSocketImpl*>(plain.impl()), options_.tls);
        Poco::Net::StreamSocket secure(impl);
        impl->accept_tls();
        s = Poco::Net::DialogSocket(secure);
        mail.tls = true;
      } else if (verb == "AUTH") {
        auth(s, line, mail);
      } else if (verb == "MAIL") {
        mail.from = angle(line);
        s.sendMessage("250 ok");
      } else if (verb == "RCPT") {
        mail.to.push_back(angle(line));
        s.sendMessage("250 ok");
      } else if (verb == "DATA") {
        s.sendMessage("354 end with <CRLF>.<CRLF>");
        std::string data;
        while (s.receiveMessage(line) && line != ".")
          data += (line.rfind("..", 0) == 0 ? line.substr(1) : line) + "\r\n";
        mail.data = data;
        mail.at = Clock::now();
        {
          std::lock_guard lock(mu_);
          mails_.push_back(mail);
        }
        cv_.notify_all();
        s.sendMessage("250 queued");
      } else if (verb == "QUIT") {
        s.sendMessage("221 bye");
        return;
      } else {
        s.sendMessage("502 not here");
      }
    }
  }

  void auth(Poco::Net::DialogSocket& s, const std::string& line, Mail& mail) {
    std::istringstream words(line);
    std::string verb, mech, initial;
    words >> verb >> mech >> initial;
    mech = Poco::toUpper(mech);
    if (mech == "PLAIN") {
      const std::string creds = base64_decode(initial);  // authzid \0 user \0 password
      const auto a = creds.find('\0'), b = creds.find('\0', a + 1);
      mail.auth = "PLAIN " + creds.substr(a + 1, b - a - 1) + " " + creds.substr(b + 1);
    } else if (mech == "LOGIN") {
      std::string user, password;
      s.sendMessage("334 VXNlcm5hbWU6");  // "Username:"
      s.receiveMessage(user);
      s.sendMessage("334 UGFzc3dvcmQ6");  // "Password:"
      s.receiveMessage(password);
      mail.auth = "LOGIN " + base64_decode(user) + " " + base64_decode(password);
    } else {
      s.sendMessage("504 unknown mechanism");
      return;
    }
    s.sendMessage("235 accepted");
  }

  Options options_;
  Poco::Net::ServerSocket listener_;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Mail> mails_;
  std::thread thread_;  // last: starts once the rest is ready
};

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
