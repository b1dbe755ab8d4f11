// SPDX-License-Identifier: Apache-2.0
// A raw HTTP/1.1 connection for hostile-client tests: bytes go out exactly
// as written (smuggling attempts, trickled heads, idle sockets), responses
// are read one by one, and whether the server closed is observable.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rampart::test {

struct RawResponse {
  int status = 0;
  std::string reason;
  std::vector<std::pair<std::string, std::string>> fields;
  std::string body;

  std::string header(std::string_view name) const {
    for (const auto& [k, v] : fields) {
      if (k.size() == name.size() &&
          std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) {
            return std::tolower(static_cast<unsigned char>(a)) ==
                   std::tolower(static_cast<unsigned char>(b));
          }))
        return v;
    }
    return "";
  }
};

class RawConn {
 public:
  static RawConn tcp(uint16_t port) {
    RawConn c;
    c.fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (c.fd_ >= 0 && ::connect(c.fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) c.reset();
    return c;
  }
  static RawConn unix_socket(const std::string& path) {
    RawConn c;
    c.fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
    if (c.fd_ >= 0 && ::connect(c.fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) c.reset();
    return c;
  }

  RawConn() = default;
  RawConn(RawConn&& o) noexcept : fd_(std::exchange(o.fd_, -1)), in_(std::move(o.in_)) {}
  RawConn& operator=(RawConn&& o) noexcept {
    reset();
    fd_ = std::exchange(o.fd_, -1);
    in_ = std::move(o.in_);
    return *this;
  }
  ~RawConn() { reset(); }

  bool ok() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  bool send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // One response (status line, fields, a Content-Length body; none to a
  // HEAD request), or nullopt when the server closes or `timeout` passes.
  std::optional<RawResponse> read_response(
      std::chrono::milliseconds timeout = std::chrono::seconds(10), bool to_head = false) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    size_t end;
    while ((end = in_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill(deadline)) return std::nullopt;
    }
    RawResponse r;
    const std::string head = in_.substr(0, end + 2);
    in_.erase(0, end + 4);
    const auto eol = head.find("\r\n");
    const std::string status_line = head.substr(0, eol);
    if (status_line.size() < 12 || status_line.compare(0, 5, "HTTP/") != 0) return std::nullopt;
    r.status = std::atoi(status_line.substr(9, 3).c_str());
    r.reason = status_line.size() > 13 ? status_line.substr(13) : "";
    size_t pos = eol + 2;
    while (pos < head.size()) {
      const auto next = head.find("\r\n", pos);
      const std::string line = head.substr(pos, next - pos);
      pos = next + 2;
      const auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string v = line.substr(colon + 1);
      while (!v.empty() && v.front() == ' ') v.erase(0, 1);
      r.fields.emplace_back(line.substr(0, colon), v);
    }
    const size_t length =
        to_head ? 0 : static_cast<size_t>(std::atoll(r.header("Content-Length").c_str()));
    while (in_.size() < length) {
      if (!fill(deadline)) return std::nullopt;
    }
    r.body = in_.substr(0, length);
    in_.erase(0, length);
    return r;
  }

  // Whether the server closes the connection within `timeout` (what it
  // sends before is dropped).
  bool closed_within(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    char buf[4096];
    ssize_t n;
    while ((n = recv_by(deadline, buf, sizeof buf)) > 0) {
    }
    return n == 0;
  }

  // Bytes received and not yet returned by read_response.
  const std::string& pending() const { return in_; }

 private:
  static constexpr ssize_t kTimedOut = -2;
  // One recv(), waiting until `deadline`: bytes read, 0 or -1 when the
  // peer closed or reset, kTimedOut.
  ssize_t recv_by(std::chrono::steady_clock::time_point deadline, char* buf, size_t size) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{fd_, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) return kTimedOut;
    const ssize_t n = ::recv(fd_, buf, size, 0);
    return n < 0 ? 0 : n;
  }
  bool fill(std::chrono::steady_clock::time_point deadline) {
    char buf[16384];
    const ssize_t n = recv_by(deadline, buf, sizeof buf);
    if (n <= 0) return false;
    in_.append(buf, static_cast<size_t>(n));
    return true;
  }

  int fd_ = -1;
  std::string in_;
};

}  // namespace rampart::test
