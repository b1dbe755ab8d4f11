// SPDX-License-Identifier: Apache-2.0
// The metrics frontend: GET /metrics in the Prometheus text format 0.0.4,
// on plugins.metrics.listen (default 127.0.0.1:9090). The text is the
// core's (ABI 1.2 metrics_render): core and kernel counters and every
// plugin's metrics. Anything else gets a JSON 404 or 405.
#include <rampart/sdk/plugin.hpp>

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/URI.h>

#include "http_server.hpp"

namespace {

using Poco::Net::HTTPResponse;
using Poco::Net::HTTPServerRequest;
using Poco::Net::HTTPServerResponse;
using rampart::sdk::Config;
using rampart::sdk::Host;

void send(HTTPServerResponse& res, HTTPResponse::HTTPStatus status, const std::string& type,
          const std::string& body) {
  res.setStatus(status);
  res.setContentType(type);
  res.setContentLength(static_cast<std::streamsize>(body.size()));
  res.send() << body;
}

struct Settings {
  rampart::frontend::ListenAddress listen;
  bool require_key = false;  // scrapes need an API key (any role) once keys exist
};

class Handler : public Poco::Net::HTTPRequestHandler {
 public:
  Handler(const Host& host, bool require_key) : host_(host), require_key_(require_key) {}
  void handleRequest(HTTPServerRequest& req, HTTPServerResponse& res) override {
    const std::string path = Poco::URI(req.getURI()).getPath();
    if (path != "/metrics") {
      rampart::frontend::send_error(res, HTTPResponse::HTTP_NOT_FOUND, "not found",
                                    "only /metrics is served here");
      return;
    }
    if (req.getMethod() != "GET" && req.getMethod() != "HEAD") {
      res.set("Allow", "GET, HEAD");
      rampart::frontend::send_error(res, HTTPResponse::HTTP_METHOD_NOT_ALLOWED,
                                    "method not allowed", "use GET");
      return;
    }
    if (require_key_) {
      // The core decides, as for every API request: open until a key exists.
      const auto who = host_.api_call("GET", "/api/v1/auth/whoami", "", "",
                                      "metrics:" + req.clientAddress().host().toString(),
                                      rampart::frontend::credential(req));
      if (who.status != 200) {
        send(res, HTTPResponse::HTTP_UNAUTHORIZED, "application/json", who.body);
        return;
      }
    }
    try {
      send(res, HTTPResponse::HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
           host_.metrics_text());
    } catch (const std::exception& e) {
      rampart::frontend::send_error(res, HTTPResponse::HTTP_INTERNAL_SERVER_ERROR, "internal error",
                                    "metrics unavailable");
      host_.warn(std::string("rendering metrics failed: ") + e.what());
    }
  }

 private:
  const Host& host_;
  bool require_key_;
};

class Factory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  Factory(const Host& host, bool require_key) : host_(host), require_key_(require_key) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(const HTTPServerRequest&) override {
    return new Handler(host_, require_key_);
  }

 private:
  const Host& host_;
  bool require_key_;
};

Settings settings(const Config& cfg) {
  cfg.allow_only("", {"listen", "require_key"});
  return {rampart::frontend::parse_listen(cfg, "listen", "127.0.0.1:9090"),
          cfg.get<bool>("require_key", false)};
}

class MetricsFrontend {
 public:
  MetricsFrontend(Host& host, const Config& cfg) : host_(host), settings_(settings(cfg)) {}

  void start() {
    server_ = rampart::frontend::start_http_server(
        settings_.listen, new Factory(host_, settings_.require_key), 2, 16);
    settings_.listen.port = server_->port();  // the one bound when 0 was asked for
    host_.info("listening on " + settings_.listen.text());
  }
  void stop() {
    if (server_) server_->stop();
    server_.reset();
  }
  void validate(const Config& cfg) { (void)settings(cfg); }

 private:
  Host& host_;
  Settings settings_;
  std::unique_ptr<rampart::frontend::HttpServer> server_;
};

}  // namespace

RAMPART_PLUGIN(MetricsFrontend, RAMPART_KIND_FRONTEND, "metrics", "Prometheus metrics", "0.1.0",
               "Apache-2.0", "GET /metrics: core, kernel and plugin metrics for Prometheus")
