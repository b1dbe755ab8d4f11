// SPDX-License-Identifier: Apache-2.0
// An HTTP(S) server on 127.0.0.1 for tests that records every request and
// answers from a script: a webhook receiver.
#pragma once

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
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
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
    server_ = std::make_unique<Poco::Net::HTTPServer>(new Factory(state_), socket,
                                                      new Poco::Net::HTTPServerParams);
    server_->start();
  }
  ~HookServer() { server_->stopAll(true); }

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
  std::unique_ptr<Poco::Net::HTTPServer> server_;
};

}  // namespace rampart::test
