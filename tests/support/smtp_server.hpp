// SPDX-License-Identifier: Apache-2.0
// A small SMTP server on 127.0.0.1 for tests (EHLO, STARTTLS, AUTH
// PLAIN/LOGIN, MAIL, RCPT, DATA, QUIT) that records the messages it accepts.
#pragma once

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
#include <string>
#include <thread>
#include <vector>

namespace rampart::test {

// One message the server accepted.
struct Mail {
  std::string from;
  std::vector<std::string> to;
  std::string data;  // as sent, dot-stuffing undone
  bool tls = false;
  std::string auth;  // "PLAIN user password", "LOGIN user password" or ""
  std::chrono::steady_clock::time_point at;

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
        mail.at = std::chrono::steady_clock::now();
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

}  // namespace rampart::test
