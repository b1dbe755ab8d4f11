// SPDX-License-Identifier: Apache-2.0
// The `log` sender: every alert as one JSON object per line, appended to a
// file that log shippers (Filebeat, Logstash, Vector) can follow.
#include <rampart/sdk/plugin.hpp>

#include <Poco/JSON/Object.h>

#include <fcntl.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <sstream>

namespace {

using rampart::sdk::Alert;
using rampart::sdk::Config;
using rampart::sdk::Error;
using rampart::sdk::Host;

constexpr const char* kSeverity[] = {"low", "medium", "high", "critical"};

// An append-only file descriptor; each write(2) of a whole line is atomic
// with respect to other O_APPEND writers.
class AppendFile {
 public:
  explicit AppendFile(const std::string& path) : path_(path) {
    std::error_code ec;
    const auto dir = std::filesystem::path(path).parent_path();
    if (!dir.empty()) std::filesystem::create_directories(dir, ec);
    fd_ = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd_ < 0) {
      throw Error(RAMPART_ERR_INVALID_ARGUMENT,
                  "plugins.log.path: cannot open " + path + ": " + std::strerror(errno));
    }
  }
  ~AppendFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  AppendFile(const AppendFile&) = delete;
  AppendFile& operator=(const AppendFile&) = delete;

  void write_line(const std::string& line) {
    const ssize_t n = ::write(fd_, line.data(), line.size());
    if (n != static_cast<ssize_t>(line.size())) {
      throw Error(RAMPART_ERR_BUSY, "write to " + path_ + " failed: " + std::strerror(errno));
    }
  }

 private:
  std::string path_;
  int fd_ = -1;
};

std::string address(const rampart_alert& a, const uint8_t* addr) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (a.ip_family == 4) inet_ntop(AF_INET, addr, buf, sizeof buf);
  if (a.ip_family == 6) inet_ntop(AF_INET6, addr, buf, sizeof buf);
  return buf;
}

class LogSender {
 public:
  LogSender(Host& host, const Config& cfg) : host_(host), file_(open(cfg)) {
    written_ = host_.counter("rampart_log_alerts_written_total", "Alerts written to the log file");
    host_.info("writing alerts to " + path_);
  }

  void validate(const Config& cfg) { (void)settings(cfg); }

  void reload(const Config& cfg) {
    auto next = open(cfg);  // opens first: a bad path leaves the old file in use
    std::lock_guard lock(mu_);
    file_ = std::move(next);
  }

  void send_alert(const Alert& alert) {
    const rampart_alert& a = *alert.raw;
    Poco::JSON::Object obj(Poco::JSON_PRESERVE_KEY_ORDER);
    obj.set("timestamp_ns", a.time_ns);
    obj.set("event_type", "alert");
    obj.set("alert_id", std::string(alert.id()));
    obj.set("component", std::string(alert.component()));
    obj.set("severity", kSeverity[a.severity <= RAMPART_SEVERITY_CRITICAL ? a.severity : 0]);
    obj.set("action", a.action == RAMPART_ALERT_ACTION_BLOCK ? "block" : "alert");
    obj.set("rule_id", std::string(alert.rule_id()));
    obj.set("message", std::string(alert.message()));
    if (a.ip_family != 0) {
      obj.set("src_ip", address(a, a.src_addr));
      obj.set("dst_ip", address(a, a.dst_addr));
      obj.set("src_port", a.src_port);
      obj.set("dst_port", a.dst_port);
      obj.set("proto", a.protocol);
    }
    if (a.vlan_id) obj.set("vlan_id", a.vlan_id);
    std::ostringstream os;
    obj.stringify(os);
    os << '\n';
    std::lock_guard lock(mu_);
    file_->write_line(os.str());
    written_.inc();
  }

 private:
  static std::string settings(const Config& cfg) {
    cfg.allow_only("", {"path"});
    const auto path = cfg.get<std::string>("path", "/var/log/rampart/alerts.json");
    if (path.empty() || path.front() != '/') {
      throw Error(RAMPART_ERR_INVALID_ARGUMENT, "plugins.log.path must be an absolute path");
    }
    return path;
  }
  std::unique_ptr<AppendFile> open(const Config& cfg) {
    const auto path = settings(cfg);
    auto f = std::make_unique<AppendFile>(path);
    path_ = path;
    return f;
  }

  Host& host_;
  std::mutex mu_;
  std::string path_;
  std::unique_ptr<AppendFile> file_;
  rampart::sdk::Metric written_;
};

}  // namespace

RAMPART_PLUGIN(LogSender, RAMPART_KIND_SENDER, "log", "JSON-lines alert log", "0.1.0", "Apache-2.0",
               "Writes every alert as one JSON object per line")
