// SPDX-License-Identifier: Apache-2.0
// The REST frontend: health, readiness, the Swagger UI and the management
// API under /api/v1 (every rule domain, agent and kernel status, config,
// audit, keys, alerts), which the core answers; this plugin carries HTTP.
//
// Doors: a TCP listener (plugins.rest.listen, HTTPS with tls:) where every
// API request needs a key, and a Unix socket (plugins.rest.socket, mode
// 0600) where root and the agent's own user are admins by their
// kernel-verified credentials: rampartctl's default, and the way back in
// when every key is lost. A request is authenticated before its body is
// read; writes are limited per key, and unauthenticated requests per
// address in buckets of their own, so strangers cannot spend an
// operator's budget. Every error is JSON {error, detail, field?}.
#include <rampart/sdk/plugin.hpp>

#include "http_server.hpp"

#include <Poco/Exception.h>
#include <Poco/JSON/Object.h>
#include <Poco/Net/HTTPCookie.h>
#include <Poco/URI.h>

#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <regex>
#include <sstream>

namespace {

namespace fe = rampart::frontend;
using Poco::JSON::Object;
using rampart::sdk::Config;
using rampart::sdk::Error;
using rampart::sdk::Host;

// <plugin dir>/../../../share/rampart/swagger-ui: the build tree's and the
// package's layout alike.
std::string default_swagger_ui_dir() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&default_swagger_ui_dir), &info) == 0 || !info.dli_fname)
    return "/usr/share/rampart/swagger-ui";
  return (std::filesystem::path(info.dli_fname).parent_path() / ".." / ".." / ".." / "share" /
          "rampart" / "swagger-ui")
      .lexically_normal()
      .string();
}

struct Settings {
  fe::ListenAddress listen;
  std::optional<fe::TlsSettings> tls;
  std::string socket;          // "" : no local socket
  std::string swagger_ui_dir;  // "" : beside the plugin (share/rampart/swagger-ui)
  double write_rate = 20;      // writes per second per key, refilled continuously
  double write_burst = 40;
  double anonymous_rate = 5;  // unauthenticated requests per second per address
  double anonymous_burst = 20;
  fe::ServerLimits limits;

  static Settings from(const Config& cfg) {
    std::vector<const char*> keys = {"listen",
                                     "socket",
                                     "max_body_bytes",
                                     "tls",
                                     "write_rate_per_second",
                                     "write_burst",
                                     "unauthenticated_rate_per_second",
                                     "unauthenticated_burst",
                                     "swagger_ui_dir"};
    keys.insert(keys.end(), std::begin(fe::kServerSettings), std::end(fe::kServerSettings));
    cfg.allow_only("", keys);
    Settings s;
    s.listen = fe::parse_listen(cfg, "listen", "127.0.0.1:8080");
    s.tls = fe::parse_tls(cfg, "tls");
    s.socket = cfg.get<std::string>("socket", "/run/rampart/rampart.sock");
    if (!s.socket.empty() && (s.socket.front() != '/' || s.socket.size() > 107))
      throw cfg.invalid("socket", "expected an absolute path of at most 107 bytes, or \"\"");
    s.swagger_ui_dir = cfg.get<std::string>("swagger_ui_dir", default_swagger_ui_dir());
    auto rate = [&](const char* key, double fallback, double min, const char* bound) {
      const double v = cfg.get<double>(key, fallback);
      if (!(v >= min) || v > 1e6) throw cfg.invalid(key, std::string("must be ") + bound);
      return v;
    };
    s.write_rate = rate("write_rate_per_second", 20, 1e-3, "above 0");
    s.write_burst = rate("write_burst", 40, 1, "1 or more");
    s.anonymous_rate = rate("unauthenticated_rate_per_second", 5, 1e-3, "above 0");
    s.anonymous_burst = rate("unauthenticated_burst", 20, 1, "1 or more");
    fe::ServerLimits d;
    d.max_body = cfg.get<uint64_t>("max_body_bytes", 8u << 20);
    if (d.max_body < 1024 || d.max_body > (1u << 30))
      throw cfg.invalid("max_body_bytes", "must be 1024-1073741824");
    d.threads = 8;
    s.limits = fe::parse_server_limits(cfg, d);
    return s;
  }
};

// GET /swagger-ui/<file>: the Swagger UI page and its assets (no data; the
// page fetches the OpenAPI document, which follows the API's access rules).
fe::Response serve_swagger_ui(const std::string& dir, const std::string& path) {
  static const std::regex kFile("^/swagger-ui/([A-Za-z0-9_.-]*)$");
  std::smatch m;
  std::string name;
  if (path == "/swagger-ui") {
    fe::Response r;
    r.status = 302;
    r.headers.emplace_back("Location", "/swagger-ui/");
    return r;
  }
  if (!std::regex_match(path, m, kFile) || (name = m[1].str()).find("..") != std::string::npos)
    return fe::error_response(404, "not found", path);
  if (name.empty()) name = "index.html";
  std::ifstream in(dir + "/" + name, std::ios::binary);
  if (!in) {
    return fe::error_response(404, "not found",
                              name + " is not in " + dir + " (plugins.rest.swagger_ui_dir)");
  }
  std::ostringstream body;
  body << in.rdbuf();
  const auto ext = std::filesystem::path(name).extension().string();
  fe::Response r;
  r.content_type = ext == ".html"  ? "text/html; charset=utf-8"
                   : ext == ".css" ? "text/css"
                   : ext == ".js"  ? "application/javascript"
                   : ext == ".png" ? "image/png"
                                   : "text/plain; charset=utf-8";
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.body = body.str();
  return r;
}

// The route template of a request, for the metrics' `route` label: the
// API's own paths with their ids as the OpenAPI document writes them
// ("/api/v1/alerts/{id}", "/api/v1/keys/{name}", "/api/v1/firewall/rules/
// {id}"); "unmatched" for a path the API answered 404 (no such route, or
// no such id: the raw path would make a series per typo or probe), and
// "other" outside the API. Bounded by the routes the API has.
std::string route_template(const std::string& path, int code) {
  if (path == "/healthz" || path == "/readyz" || path == "/api-docs/openapi.json") return path;
  if (path.rfind("/api/v1/", 0) != 0) return "other";
  if (code == 404) return "unmatched";
  static const std::regex kUuid("^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$");
  std::string out;
  std::string_view rest(path);
  std::string_view prev;
  while (!rest.empty()) {
    rest.remove_prefix(1);  // the '/'
    const size_t end = rest.find('/');
    const std::string_view seg = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end);
    const bool number = !seg.empty() && seg.find_first_not_of("0123456789") == std::string::npos;
    out += '/';
    if (prev == "keys" && out.size() > 1) {
      out += "{name}";
    } else if (number || std::regex_match(seg.begin(), seg.end(), kUuid)) {
      out += "{id}";
    } else {
      out += seg;
    }
    prev = seg;
  }
  return out;
}

// Requests by route template, method and status code.
class RequestMetrics {
 public:
  explicit RequestMetrics(const Host& host) : host_(host) {}
  void count(const std::string& path, const std::string& method, int code) {
    const std::string route = route_template(path, code);
    static constexpr std::string_view kMethods[] = {"GET",   "HEAD",   "POST",   "PUT",
                                                    "PATCH", "DELETE", "OPTIONS"};
    const std::string verb =
        std::find(std::begin(kMethods), std::end(kMethods), method) != std::end(kMethods) ? method
                                                                                          : "other";
    const std::string key = route + " " + verb + " " + std::to_string(code);
    std::lock_guard lock(mu_);
    auto it = series_.find(key);
    if (it == series_.end()) {
      const std::string code_text = std::to_string(code);
      it = series_
               .emplace(key, host_.counter("rampart_api_requests_total",
                                           "API requests by route, method and status code",
                                           {{"route", route.c_str()},
                                            {"method", verb.c_str()},
                                            {"code", code_text.c_str()}}))
               .first;
    }
    it->second.inc();
  }

 private:
  const Host& host_;
  std::mutex mu_;
  std::map<std::string, rampart::sdk::Metric> series_;
};

// Token buckets by name (an identity, or an address): one client cannot
// churn the kernel's rule sets for everyone.
class RateLimiter {
 public:
  RateLimiter(double rate, double burst) : rate_(rate), burst_(burst) {}
  bool allow(const std::string& who) {
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mu_);
    if (buckets_.size() > 4096) buckets_.clear();  // bounded memory; a reset only forgives
    auto [it, fresh] = buckets_.try_emplace(who, Bucket{burst_, now});
    Bucket& b = it->second;
    if (!fresh) {
      b.tokens =
          std::min(burst_, b.tokens + rate_ * std::chrono::duration<double>(now - b.at).count());
      b.at = now;
    }
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

 private:
  struct Bucket {
    double tokens;
    std::chrono::steady_clock::time_point at;
  };
  const double rate_, burst_;
  std::mutex mu_;
  std::map<std::string, Bucket> buckets_;
};

bool is_write(const std::string& method) { return method != "GET" && method != "HEAD"; }

bool is_api(const std::string& path) {
  return path.rfind("/api/v1/", 0) == 0 || path == "/api-docs/openapi.json";
}

fe::Response from_core(const Host::ApiResponse& answer) {
  fe::Response r;
  r.status = answer.status;
  if (answer.status != 204) {
    r.content_type = "application/json";
    r.body = answer.body;
  }
  return r;
}

fe::Response too_many(const std::string& detail) {
  auto r = fe::error_response(429, "too many requests", detail);
  r.headers.emplace_back("Retry-After", "1");
  return r;
}

class Api : public fe::Handler {
 public:
  Api(const Host& host, Settings s)
      : host_(host),
        settings_(std::move(s)),
        metrics_(host),
        writes_(settings_.write_rate, settings_.write_burst),
        anonymous_(settings_.anonymous_rate, settings_.anonymous_burst) {}

  std::optional<fe::Response> admit(const fe::Request& req, size_t& max_body) override {
    if (!is_api(req.path)) {
      max_body = 4096;  // nothing outside the API takes a body; a small one is read and dropped
      return std::nullopt;
    }
    // Who, before a byte of the body is read: strangers send no bodies.
    const auto who = host_.authenticate(actor(req), fe::credential(req), fe::api_peer(req.peer));
    if (!who) {
      if (!anonymous_.allow(req.peer.address)) {
        return counted(req, too_many("at most " + number(settings_.anonymous_rate) +
                                     " unauthenticated requests per second per client "
                                     "(plugins.rest.unauthenticated_rate_per_second)"));
      }
      // The core's own refusal (401), from the head alone.
      return counted(
          req, from_core(host_.api_call(req.method, api_path(req.path), req.query, "", actor(req),
                                        fe::credential(req), fe::api_peer(req.peer))));
    }
    // Local administrators are not limited: they are the way back in.
    if (is_write(req.method) && !req.peer.local && !writes_.allow(who.name)) {
      return counted(req, too_many("at most " + number(settings_.write_rate) +
                                   " writes per second per key "
                                   "(plugins.rest.write_rate_per_second)"));
    }
    max_body = settings_.limits.max_body;
    return std::nullopt;
  }

  fe::Response handle(fe::Request& req) override {
    fe::Response r;
    try {
      r = route(req);
    } catch (const std::exception& e) {
      r = fe::error_response(500, "internal error", e.what());
    }
    metrics_.count(req.path, req.method, r.status);
    return r;
  }

 private:
  static std::string number(double v) {
    std::ostringstream os;
    os << v;
    return os.str();
  }
  // The door: the core adds who (key or local uid and pid).
  static std::string actor(const fe::Request& req) {
    return "rest:" + (req.peer.local ? std::string("local") : req.peer.text());
  }
  // The OpenAPI document at its conventional place; the core writes it.
  static std::string api_path(const std::string& path) {
    return path == "/api-docs/openapi.json" ? "/api/v1/openapi.json" : path;
  }

  fe::Response counted(const fe::Request& req, fe::Response r) {
    metrics_.count(req.path, req.method, r.status);
    return r;
  }

  fe::Response route(fe::Request& req) {
    const std::string& path = req.path;
    const std::string& method = req.method;
    if (path == "/healthz" && (method == "GET" || method == "HEAD")) {
      Object::Ptr o = new Object;
      o->set("status", "ok");
      return fe::json_response(200, o);
    }
    if (path == "/readyz" && (method == "GET" || method == "HEAD")) {
      // Ready means enforcing: every enabled engine, every interface.
      const auto ready = host_.agent_ready();
      fe::Response r;
      r.status = ready.ready ? 200 : 503;
      r.content_type = "application/json";
      r.body = ready.detail_json;
      return r;
    }
    if ((path == "/swagger-ui" || path.rfind("/swagger-ui/", 0) == 0) && method == "GET")
      return swagger_ui(req);
    if (!is_api(path)) return fe::error_response(404, "not found", path);
    // Everything under /api/v1 means the same in every frontend: the core
    // answers it; this plugin only carries it.
    return from_core(host_.api_call(method, api_path(path), req.query, req.body, actor(req),
                                    fe::credential(req), fe::api_peer(req.peer)));
  }

  // Once keys exist the page needs one too: ?key=<token> on the page sets
  // an HttpOnly cookie that the page's assets then carry (browsers cannot
  // put a header on a page load). The cookie is honoured here only.
  fe::Response swagger_ui(const fe::Request& req) {
    std::string key = fe::credential(req);
    std::string query_key;
    try {
      for (const auto& [k, v] : Poco::URI("/?" + req.query).getQueryParameters()) {
        if (k == "key") query_key = v;
      }
    } catch (const Poco::Exception&) {
      return fe::error_response(400, "bad request", "malformed query");
    }
    if (key.empty()) key = query_key;
    if (key.empty()) key = req.cookie("rampart_ui");
    const auto who = host_.api_call("GET", "/api/v1/auth/whoami", "", "", actor(req), key,
                                    fe::api_peer(req.peer));
    if (who.status == 401 && (req.path == "/swagger-ui" || req.path == "/swagger-ui/")) {
      // A browser on the page: say how to get in, not raw JSON.
      fe::Response r;
      r.status = 401;
      r.content_type = "text/html; charset=utf-8";
      r.headers.emplace_back("X-Content-Type-Options", "nosniff");
      r.body =
          "<!doctype html><html><head><meta charset=\"utf-8\"><title>Rampart API: a key is "
          "needed</title></head><body><h1>Rampart API</h1><p>" +
          std::string(key.empty() ? "This page needs an API key."
                                  : "That API key is not valid (or has been deleted).") +
          "</p><p>Open <code>/swagger-ui/?key=&lt;token&gt;</code> with a key's token: the "
          "page then keeps it in a cookie for its own requests. An administrator makes one "
          "with <code>rampartctl keys add NAME viewer</code> (or <code>POST "
          "/api/v1/keys</code>); the first admin key's token is in "
          "<code>&lt;agent.state_dir&gt;/admin.key</code>.</p></body></html>";
      return r;
    }
    if (who.status != 200) return from_core(who);
    fe::Response r = serve_swagger_ui(settings_.swagger_ui_dir, req.path);
    if (!query_key.empty()) {
      Poco::Net::HTTPCookie cookie("rampart_ui", query_key);
      cookie.setPath("/swagger-ui/");
      cookie.setHttpOnly(true);
      cookie.setSameSite(Poco::Net::HTTPCookie::SAME_SITE_STRICT);
      cookie.setSecure(settings_.tls.has_value());
      r.headers.emplace_back("Set-Cookie", cookie.toString());
    }
    return r;
  }

  const Host& host_;
  const Settings settings_;
  RequestMetrics metrics_;
  RateLimiter writes_, anonymous_;
};

class RestFrontend {
 public:
  // None of its settings is secret: tls.key is the key file's path, not
  // the key, and API keys live in the key store, never in the config.
  static constexpr const char* kSecretSettings[] = {nullptr};

  RestFrontend(Host& host, const Config& cfg) : host_(host), settings_(Settings::from(cfg)) {}

  void start() {
    auto server =
        std::make_unique<fe::HttpServer>(std::make_shared<Api>(host_, settings_), settings_.limits);
    const uint16_t port = server->listen_tcp(settings_.listen, settings_.tls);
    if (!settings_.socket.empty()) server->listen_unix(settings_.socket, 0600);
    server->start();
    server_ = std::move(server);
    metrics_ = std::make_unique<fe::ServerMetrics>(host_, "rest");
    ticker_ = host_.every(std::chrono::seconds(1), [this] { metrics_->update(server_->stats()); });
    settings_.listen.port = port;  // the one bound when 0 was asked for
    host_.info("listening on " + settings_.listen.text() + (settings_.tls ? " (https)" : ""));
    if (!settings_.socket.empty()) host_.info("local socket " + settings_.socket);
  }

  void stop() {
    ticker_.cancel();
    if (server_) server_->stop();
    server_.reset();
  }

  void validate(const Config& cfg) { (void)Settings::from(cfg); }

 private:
  Host& host_;
  Settings settings_;
  std::unique_ptr<fe::HttpServer> server_;
  std::unique_ptr<fe::ServerMetrics> metrics_;
  rampart::sdk::Timer ticker_;
};

}  // namespace

RAMPART_PLUGIN(RestFrontend, RAMPART_KIND_FRONTEND, "rest", "REST API", RAMPART_AGENT_VERSION,
               "Apache-2.0",
               "Health, readiness and the management API over HTTP(S) and a local socket")
