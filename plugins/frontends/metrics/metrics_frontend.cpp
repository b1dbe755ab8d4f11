// SPDX-License-Identifier: Apache-2.0
// The metrics frontend: GET /metrics in the Prometheus text format 0.0.4,
// on plugins.metrics.listen (default 127.0.0.1:8079). The text is the
// core's (ABI 1.2 metrics_render): core and kernel counters and every
// plugin's metrics. Anything else gets a JSON 404 or 405.
#include <rampart/sdk/plugin.hpp>

#include "http_server.hpp"

namespace {

namespace fe = rampart::frontend;
using rampart::sdk::Config;
using rampart::sdk::Host;

struct Settings {
  fe::ListenAddress listen;
  bool require_key = false;  // scrapes need an API key (any role)
  fe::ServerLimits limits;
};

class Handler : public fe::Handler {
 public:
  Handler(const Host& host, bool require_key) : host_(host), require_key_(require_key) {}

  std::optional<fe::Response> admit(const fe::Request&, size_t& max_body) override {
    max_body = 4096;  // a scrape has no body; a small one is read and dropped
    return std::nullopt;
  }

  fe::Response handle(fe::Request& req) override {
    if (req.path != "/metrics")
      return fe::error_response(404, "not found", "only /metrics is served here");
    if (req.method != "GET" && req.method != "HEAD") {
      auto r = fe::error_response(405, "method not allowed", "use GET");
      r.headers.emplace_back("Allow", "GET, HEAD");
      return r;
    }
    if (require_key_) {
      // The core decides, as for every API request.
      const auto who =
          host_.api_call("GET", "/api/v1/auth/whoami", "", "", "metrics:" + req.peer.text(),
                         fe::credential(req), fe::api_peer(req.peer));
      if (who.status != 200) {
        fe::Response r;
        r.status = who.status;
        r.content_type = "application/json";
        r.body = who.body;
        return r;
      }
    }
    try {
      fe::Response r;
      r.content_type = "text/plain; version=0.0.4; charset=utf-8";
      r.body = host_.metrics_text();
      return r;
    } catch (const std::exception& e) {
      host_.warn(std::string("rendering metrics failed: ") + e.what());
      return fe::error_response(500, "internal error", "metrics unavailable");
    }
  }

 private:
  const Host& host_;
  bool require_key_;
};

Settings settings(const Config& cfg) {
  std::vector<const char*> keys = {"listen", "require_key"};
  keys.insert(keys.end(), std::begin(fe::kServerSettings), std::end(fe::kServerSettings));
  cfg.allow_only("", keys);
  fe::ServerLimits d;
  d.threads = 2;
  d.max_connections = 256;
  d.max_connections_per_client = 64;
  return {fe::parse_listen(cfg, "listen", "127.0.0.1:8079"), cfg.get<bool>("require_key", false),
          fe::parse_server_limits(cfg, d)};
}

class MetricsFrontend {
 public:
  // None of its settings is secret: tls.key is the key file's path, not
  // the key, and API keys live in the key store, never in the config.
  static constexpr const char* kSecretSettings[] = {nullptr};

  MetricsFrontend(Host& host, const Config& cfg) : host_(host), settings_(settings(cfg)) {}

  void start() {
    auto server = std::make_unique<fe::HttpServer>(
        std::make_shared<Handler>(host_, settings_.require_key), settings_.limits);
    settings_.listen.port =
        server->listen_tcp(settings_.listen);  // the one bound when 0 was asked for
    server->start();
    server_ = std::move(server);
    metrics_ = std::make_unique<fe::ServerMetrics>(host_, "metrics");
    ticker_ = host_.every(std::chrono::seconds(1), [this] { metrics_->update(server_->stats()); });
    host_.info("listening on " + settings_.listen.text());
  }
  void stop() {
    ticker_.cancel();
    if (server_) server_->stop();
    server_.reset();
  }
  void validate(const Config& cfg) { (void)settings(cfg); }

 private:
  Host& host_;
  Settings settings_;
  std::unique_ptr<fe::HttpServer> server_;
  std::unique_ptr<fe::ServerMetrics> metrics_;
  rampart::sdk::Timer ticker_;
};

}  // namespace

RAMPART_PLUGIN(MetricsFrontend, RAMPART_KIND_FRONTEND, "metrics", "Prometheus metrics",
               RAMPART_AGENT_VERSION, "Apache-2.0",
               "GET /metrics: core, kernel and plugin metrics for Prometheus")
