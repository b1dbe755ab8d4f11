// SPDX-License-Identifier: Apache-2.0
// The `log` sender: every alert as one JSON object per line, appended to a
// file that log shippers (Filebeat, Logstash, Vector) can follow. The file
// is rotated by size (path.1 newest ... path.<keep> oldest) and written
// with an fsync policy: none (the kernel flushes) or every alert.
#include <rampart/sdk/plugin.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>

#include "alert_json.hpp"

namespace {

using rampart::sdk::Alert;
using rampart::sdk::Config;
using rampart::sdk::Error;
using rampart::sdk::Host;

struct Settings {
  std::string path = "/var/log/rampart/alerts.json";
  uint64_t max_bytes = 100ull << 20;  // rotate past this size; 0: never
  unsigned keep = 5;                  // rotated files kept
  bool fsync_each = false;            // fsync: none | every
  rampart::sender::Format format = rampart::sender::Format::rampart;
};

// An append-only file descriptor; each write(2) of a whole line is atomic
// with respect to other O_APPEND writers.
class AppendFile {
 public:
  explicit AppendFile(const Settings& s) : s_(s) {
    std::error_code ec;
    const auto dir = std::filesystem::path(s.path).parent_path();
    if (!dir.empty()) std::filesystem::create_directories(dir, ec);
    open_file();
  }
  ~AppendFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  AppendFile(const AppendFile&) = delete;
  AppendFile& operator=(const AppendFile&) = delete;

  void write_line(const std::string& line) {
    if (s_.max_bytes && size_ > 0 && size_ + line.size() > s_.max_bytes) rotate();
    const ssize_t n = ::write(fd_, line.data(), line.size());
    if (n != static_cast<ssize_t>(line.size())) {
      throw Error(RAMPART_ERR_BUSY, "write to " + s_.path + " failed: " + std::strerror(errno));
    }
    size_ += line.size();
    if (s_.fsync_each) ::fdatasync(fd_);
  }

 private:
  void open_file() {
    fd_ = ::open(s_.path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd_ < 0) {
      throw Error(RAMPART_ERR_INVALID_ARGUMENT,
                  "plugins.log.path: cannot open " + s_.path + ": " + std::strerror(errno));
    }
    struct stat st {};
    size_ = ::fstat(fd_, &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  }
  // path -> path.1 -> ... -> path.<keep>; the oldest goes.
  void rotate() {
    if (s_.fsync_each) ::fdatasync(fd_);
    ::close(fd_);
    fd_ = -1;
    std::error_code ec;
    const auto name = [&](unsigned i) { return s_.path + "." + std::to_string(i); };
    if (s_.keep == 0) {
      std::filesystem::remove(s_.path, ec);
    } else {
      std::filesystem::remove(name(s_.keep), ec);
      for (unsigned i = s_.keep; i > 1; --i) std::filesystem::rename(name(i - 1), name(i), ec);
      std::filesystem::rename(s_.path, name(1), ec);
    }
    open_file();
  }

  Settings s_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

class LogSender {
 public:
  // Declares that none of its settings (a path, rotation sizes) is secret,
  // so GET /api/v1/config shows them all.
  static constexpr const char* kSecretSettings[] = {nullptr};

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
    const std::string line = rampart::sender::format_alert(format_.load(), alert) + "\n";
    std::lock_guard lock(mu_);
    file_->write_line(line);
    written_.inc();
  }

 private:
  static Settings settings(const Config& cfg) {
    cfg.allow_only("", {"path", "max_bytes", "keep", "fsync", "format"});
    Settings s;
    s.format = rampart::sender::format_setting(cfg);
    s.path = cfg.get<std::string>("path", s.path);
    if (s.path.empty() || s.path.front() != '/') {
      throw Error(RAMPART_ERR_INVALID_ARGUMENT, "plugins.log.path must be an absolute path");
    }
    s.max_bytes = cfg.get<uint64_t>("max_bytes", s.max_bytes);
    if (s.max_bytes != 0 && s.max_bytes < 4096)
      throw cfg.invalid("max_bytes", "0 or at least 4096");
    s.keep = cfg.get<unsigned>("keep", s.keep);
    if (s.keep > 100) throw cfg.invalid("keep", "at most 100 rotated files");
    const auto fsync = cfg.get<std::string>("fsync", "none");
    if (fsync != "none" && fsync != "every") {
      throw cfg.invalid("fsync", "expected none or every, got '" + fsync + "'");
    }
    s.fsync_each = fsync == "every";
    return s;
  }
  std::unique_ptr<AppendFile> open(const Config& cfg) {
    const Settings s = settings(cfg);
    auto f = std::make_unique<AppendFile>(s);
    path_ = s.path;
    format_ = s.format;  // (a line formatted just before is written in the old format)
    return f;
  }

  Host& host_;
  std::mutex mu_;
  std::string path_;
  // (Before file_: open(), which makes file_, sets it.)
  std::atomic<rampart::sender::Format> format_{rampart::sender::Format::rampart};
  std::unique_ptr<AppendFile> file_;
  rampart::sdk::Metric written_;
};

}  // namespace

RAMPART_PLUGIN(LogSender, RAMPART_KIND_SENDER, "log", "JSON-lines alert log", RAMPART_AGENT_VERSION,
               "Apache-2.0", "Writes every alert as one JSON object per line")
