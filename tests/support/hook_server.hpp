// SPDX-License-Identifier: Apache-2.0
// An HTTP(S) server on 127.0.0.1 for tests that records every request and
// answers from a script: a webhook receiver. And a server that accepts
// connections and never answers: a receiver that hangs.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

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
#include <Poco/ThreadPool.h>
#include <Poco/Timespan.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace rampart::test {

using Clock = std::chrono::steady_clock;

// What the server was sent.
struct Received {
  std::string method, uri, body;
  std::map<std::string, std::string> headers;
  Clock::time_point at;
};

// How the server answers a request.
struct Answer {
  Answer(int s = 200, std::string ra = "") : status(s), retry_after(std::move(ra)) {}
  int status;
  std::string retry_after;  // Retry-After header when not empty
};

// An HTTP(S) server on 127.0.0.1 that records every request and answers
// from a script (200 once the script runs out).
class HookServer {
 public:
  explicit HookServer(std::initializer_list<Answer> script = {},
                      Poco::Net::Context::Ptr tls = nullptr)
      : state_(std::make_shared<State>()) {
    state_->script.assign(script.begin(), script.end());
    const Poco::Net::SocketAddress at("127.0.0.1", 0);
    Poco::Net::ServerSocket socket =
        tls ? Poco::Net::SecureServerSocket(at, 64, tls) : Poco::Net::ServerSocket(at);
    auto* params = new Poco::Net::HTTPServerParams;
    // An idle connection thread looks at the stop flag this often (below).
    params->setThreadIdleTime(Poco::Timespan(0, 50'000));
    server_ = std::make_unique<Poco::Net::HTTPServer>(new Factory(state_), pool_, socket, params);
    server_->start();
  }
  // The connection threads are the server's own and joined here: threads of
  // Poco's default pool outlive the test, and TSan saw one release a buffer
  // to a static pool the process was destroying at exit. Every thread the
  // server was given is let run to its end before the pool is stopped: a
  // thread handed the server but not yet running when stopAll() took its
  // target away never gave back the server's reference, and ASan saw the
  // server leak (a webhook test, once in a CI run).
  ~HookServer() {
    server_->stopAll(true);
    pool_.joinAll();
    server_.reset();
    pool_.stopAll();
  }

  uint16_t port() const { return server_->port(); }
  std::string url(const std::string& scheme = "http") const {
    return scheme + "://127.0.0.1:" + std::to_string(port());
  }
  std::vector<Received> received() {
    std::lock_guard lock(state_->mu);
    return state_->received;
  }

 private:
  struct State {
    std::mutex mu;
    std::deque<Answer> script;
    std::vector<Received> received;
  };
  class Handler : public Poco::Net::HTTPRequestHandler {
   public:
    explicit Handler(std::shared_ptr<State> s) : state_(std::move(s)) {}
    void handleRequest(Poco::Net::HTTPServerRequest& req,
                       Poco::Net::HTTPServerResponse& res) override {
      Received r{req.getMethod(), req.getURI(), "", {}, Clock::now()};
      Poco::StreamCopier::copyToString(req.stream(), r.body);
      for (const auto& [name, value] : req) r.headers[name] = value;
      Answer a;
      {
        std::lock_guard lock(state_->mu);
        state_->received.push_back(std::move(r));
        if (!state_->script.empty()) {
          a = state_->script.front();
          state_->script.pop_front();
        }
      }
      const auto status = static_cast<Poco::Net::HTTPResponse::HTTPStatus>(a.status);
      res.setStatusAndReason(status, Poco::Net::HTTPResponse::getReasonForStatus(status));
      if (!a.retry_after.empty()) res.set("Retry-After", a.retry_after);
      const std::string text = "answer " + std::to_string(a.status);
      res.setContentLength(static_cast<std::streamsize>(text.size()));
      res.send() << text;
    }

   private:
    std::shared_ptr<State> state_;
  };
  class Factory : public Poco::Net::HTTPRequestHandlerFactory {
   public:
    explicit Factory(std::shared_ptr<State> s) : state_(std::move(s)) {}
    Poco::Net::HTTPRequestHandler* createRequestHandler(
        const Poco::Net::HTTPServerRequest&) override {
      return new Handler(state_);
    }

   private:
    std::shared_ptr<State> state_;
  };

  std::shared_ptr<State> state_;
  Poco::ThreadPool pool_{1, 16};
  std::unique_ptr<Poco::Net::HTTPServer> server_;
};

// A TCP server on 127.0.0.1 that accepts every connection, reads what it
// is sent and never answers (nor closes) until it is destroyed.
class SilentServer {
 public:
  SilentServer() {
    listen_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (listen_ < 0 || ::bind(listen_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(listen_, 16) != 0 ||
        ::getsockname(listen_, reinterpret_cast<sockaddr*>(&a), &len) != 0 ||
        ::pipe2(wake_, O_CLOEXEC) != 0)
      throw std::runtime_error("SilentServer: cannot listen on 127.0.0.1");
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~SilentServer() {
    (void)!::write(wake_[1], "x", 1);
    thread_.join();
    for (int fd : clients_) ::close(fd);
    ::close(listen_);
    ::close(wake_[0]);
    ::close(wake_[1]);
  }
  SilentServer(const SilentServer&) = delete;
  SilentServer& operator=(const SilentServer&) = delete;

  uint16_t port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // True once `needle` was sent to it (over any connection).
  bool wait_for(const std::string& needle,
                std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return received_.find(needle) != std::string::npos; });
  }
  // True once `n` connections were accepted.
  bool wait_connections(size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return accepted_ >= n; });
  }
  std::string received() {
    std::lock_guard lock(mu_);
    return received_;
  }

 private:
  void run() {
    for (;;) {
      std::vector<pollfd> fds{{wake_[0], POLLIN, 0}, {listen_, POLLIN, 0}};
      for (int fd : clients_) fds.push_back({fd, POLLIN, 0});
      if (::poll(fds.data(), fds.size(), -1) < 0) continue;
      if (fds[0].revents) return;
      if (fds[1].revents & POLLIN) {
        const int c = ::accept4(listen_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c >= 0) {
          clients_.push_back(c);
          std::lock_guard lock(mu_);
          ++accepted_;
          cv_.notify_all();
        }
      }
      for (size_t i = 2; i < fds.size(); ++i) {
        if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        char buf[4096];
        const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
        if (n <= 0) {
          // The client went away: forget it (it stays counted).
          ::close(fds[i].fd);
          std::erase(clients_, fds[i].fd);
          continue;
        }
        std::lock_guard lock(mu_);
        received_.append(buf, static_cast<size_t>(n));
        cv_.notify_all();
      }
    }
  }

  int listen_ = -1;
  int wake_[2] = {-1, -1};
  uint16_t port_ = 0;
  std::vector<int> clients_;  // the server thread's alone
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::string received_;
  size_t accepted_ = 0;
};

}  // namespace rampart::test
