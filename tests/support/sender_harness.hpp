// SPDX-License-Identifier: Apache-2.0
// One built-in alert sender (the real .so from the build tree) run by the
// plugin host, with send_alert called on the test's own thread so a test
// sees whether it returned or threw, and what it threw.
#pragma once

#include <rampart/sdk/plugin.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "alert_json.hpp"
#include "config/config.hpp"
#include "daemon_process.hpp"
#include "log_capture.hpp"
#include "metrics_check.hpp"
#include "plugin_core.hpp"
#include "plugin_host/plugin_manager.hpp"
#include "temp_dir.hpp"
#include "test_paths.hpp"

namespace rampart::test {

class SenderHarness {
 public:
  explicit SenderHarness(std::string id) : id_(std::move(id)) {
    pm_.discover({rampart::test::path::plugins()});
  }

  // Starts the plugin with `settings`, a YAML flow map for plugins.<id>;
  // "" when it runs, else the host's error.
  std::string start(const std::string& settings) {
    pm_.start(config(settings));
    for (const auto& s : pm_.status()) {
      if (s.id == id_) return s.state == plugin_host::PluginState::running ? "" : s.error;
    }
    return "plugin " + id_ + " not found in " + rampart::test::path::plugins();
  }
  // A config reload with new settings: "" when applied, else why not.
  std::string reload(const std::string& settings) {
    const auto r = pm_.reload(config(settings));
    return r.ok ? "" : r.reason;
  }
  // One alert through send_alert, as the sender's delivery thread makes
  // it: "" when it returned normally, else the plugin's error (deliver
  // throws it, for the circuit breaker).
  std::string send(const alerts::AlertRecord& alert) {
    const auto inst = pm_.instance(id_);
    if (!inst) return "not running";
    try {
      inst->deliver(alert);
      return "";
    } catch (const std::exception& e) {
      return std::string("sender failed to deliver an alert: ") + e.what();
    }
  }
  double metric(const std::string& name) {
    return metric_value(core_.metrics.render(), name + "{plugin=\"" + id_ + "\"");
  }
  void stop() { pm_.stop_all(); }
  // Sends `alert` on another thread, waits until `in_flight()` says the
  // delivery is blocked in the network, then stops the plugin: what the
  // send returned ("still sending" if the stop did not end it within 5 s)
  // and how long the stop took.
  struct CutShort {
    std::string error;
    std::chrono::steady_clock::duration stop_took;
  };
  template <class InFlight>
  CutShort stop_while_sending(const alerts::AlertRecord& alert, InFlight in_flight) {
    auto sending = std::async(std::launch::async, [&] { return send(alert); });
    if (!in_flight()) return {"never in flight", {}};
    const auto t0 = std::chrono::steady_clock::now();
    stop();
    const auto took = std::chrono::steady_clock::now() - t0;
    if (sending.wait_for(std::chrono::seconds(5)) != std::future_status::ready)
      return {"still sending", took};
    return {sending.get(), took};
  }

  LogCapture log;  // first: outlives the plugin's last log line

 private:
  config::Config config(const std::string& settings) const {
    return config::load_string("plugins:\n  " + id_ + ": " + settings + "\n", "test.yaml");
  }
  std::string id_;
  PluginCore core_;
  plugin_host::PluginManager pm_{core_.services};
};

// An alert as the core delivers it.
inline alerts::AlertRecord sample_alert(const std::string& rule_id,
                                        const std::string& message = "port scan") {
  alerts::AlertRecord a;
  a.id = "alert-" + rule_id;
  a.component = "test";
  a.rule_id = rule_id;
  a.message = message;
  a.severity = RAMPART_SEVERITY_HIGH;
  a.action = RAMPART_ALERT_ACTION_BLOCK;
  a.ip_family = 4;
  a.protocol = 6;
  inet_pton(AF_INET, "203.0.113.5", a.src_addr.data());
  inet_pton(AF_INET, "10.0.0.2", a.dst_addr.data());
  a.src_port = 40000;
  a.dst_port = 22;
  a.time_ns = 1714564800123456000ull;
  return a;
}

// The JSON the senders make of `record`.
inline std::string alert_json_of(const alerts::AlertRecord& record) {
  const alerts::AlertView view(record);
  return sender::alert_json(sdk::Alert{view.get()});
}

inline bool contains(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

// A self-signed certificate for 127.0.0.1 (cert.pem, key.pem in dir).
struct TestCertificate {
  std::string cert, key, error;
};
inline TestCertificate make_certificate(const TempDir& dir) {
  TestCertificate c{dir / "cert.pem", dir / "key.pem", ""};
  const auto r = run_command({"/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                              "-keyout", c.key, "-out", c.cert, "-days", "1", "-subj",
                              "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"});
  if (r.status != 0) c.error = r.output;
  return c;
}

// A 127.0.0.1 port nothing listens on (bound, then closed).
inline uint16_t closed_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    a.sin_port = 0;
  if (fd >= 0) ::close(fd);
  return ntohs(a.sin_port);
}

}  // namespace rampart::test
