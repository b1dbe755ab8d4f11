// SPDX-License-Identifier: Apache-2.0
// The REST frontend (Poco HTTPServer): health, readiness, and the
// management API under /api/v1 (every rule domain, agent and kernel status,
// config, audit), which the core answers; this plugin carries HTTP: body
// limits, request metrics. Every error is JSON {error, detail, field?}.
#include <rampart/sdk/plugin.hpp>

#include "http_server.hpp"

#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPCookie.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/NameValueCollection.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/String.h>
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

using Poco::JSON::Object;
using Poco::Net::HTTPResponse;
using Poco::Net::HTTPServerRequest;
using Poco::Net::HTTPServerResponse;
using rampart::frontend::send_error;
using rampart::frontend::send_json;
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
  rampart::frontend::ListenAddress listen;
  std::optional<rampart::frontend::TlsSettings> tls;
  std::string swagger_ui_dir;  // "" : beside the plugin (share/rampart/swagger-ui)
  size_t max_body = 1 << 20;
  double write_rate = 20;  // writes per second per client address, refilled continuously
  double write_burst = 40;

  static Settings from(const Config& cfg) {
    cfg.allow_only("", {"listen", "max_body_bytes", "tls", "write_rate_per_second", "write_burst",
                        "swagger_ui_dir"});
    Settings s;
    s.listen = rampart::frontend::parse_listen(cfg, "listen", "127.0.0.1:8080");
    s.tls = rampart::frontend::parse_tls(cfg, "tls");
    s.swagger_ui_dir = cfg.get<std::string>("swagger_ui_dir", default_swagger_ui_dir());
    s.write_rate = cfg.get<double>("write_rate_per_second", 20);
    s.write_burst = cfg.get<double>("write_burst", 40);
    if (!(s.write_rate > 0)) throw cfg.invalid("write_rate_per_second", "must be above 0");
    if (!(s.write_burst >= 1)) throw cfg.invalid("write_burst", "must be 1 or more");
    s.max_body = cfg.get<uint64_t>("max_body_bytes", 1 << 20);
    return s;
  }
};

// GET /swagger-ui/<file>: the Swagger UI page and its assets (no data; the
// page fetches the OpenAPI document, which follows the API's access rules).
int serve_swagger_ui(const std::string& dir, const std::string& path, HTTPServerResponse& res) {
  static const std::regex kFile("^/swagger-ui/([A-Za-z0-9_.-]*)$");
  std::smatch m;
  std::string name;
  if (path == "/swagger-ui") {
    res.redirect("/swagger-ui/");
    return 302;
  }
  if (!std::regex_match(path, m, kFile) || (name = m[1].str()).find("..") != std::string::npos) {
    send_error(res, HTTPResponse::HTTP_NOT_FOUND, "not found", path);
    return 404;
  }
  if (name.empty()) name = "index.html";
  std::ifstream in(dir + "/" + name, std::ios::binary);
  if (!in) {
    send_error(res, HTTPResponse::HTTP_NOT_FOUND, "not found",
               name + " is not in " + dir + " (plugins.rest.swagger_ui_dir)");
    return 404;
  }
  std::ostringstream body;
  body << in.rdbuf();
  const auto ext = std::filesystem::path(name).extension().string();
  const std::string type = ext == ".html"  ? "text/html; charset=utf-8"
                           : ext == ".css" ? "text/css"
                           : ext == ".js"  ? "application/javascript"
                           : ext == ".png" ? "image/png"
                                           : "text/plain; charset=utf-8";
  const std::string text = body.str();
  res.setStatus(HTTPResponse::HTTP_OK);
  res.setContentType(type);
  res.set("X-Content-Type-Options", "nosniff");
  res.setContentLength(static_cast<std::streamsize>(text.size()));
  res.send() << text;
  return 200;
}

// Requests by route (ids replaced by {id}), method and status code.
class RequestMetrics {
 public:
  explicit RequestMetrics(const Host& host) : host_(host) {}
  void count(const std::string& path, const std::string& method, int code) {
    static const std::regex kId("/[0-9]+(/|$)");
    const std::string route =
        path.rfind("/api/v1/", 0) == 0 || path == "/healthz" || path == "/readyz"
            ? std::regex_replace(path, kId, "/{id}$1")
            : "other";
    const std::string key = route + " " + method + " " + std::to_string(code);
    std::lock_guard lock(mu_);
    auto it = series_.find(key);
    if (it == series_.end()) {
      // Unbounded routes would be unbounded series: cap them.
      if (series_.size() >= 512) return;
      const std::string code_text = std::to_string(code);
      it = series_
               .emplace(key, host_.counter("rampart_api_requests_total",
                                           "API requests by route, method and status code",
                                           {{"route", route.c_str()},
                                            {"method", method.c_str()},
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

// Writes per client address: a token bucket each, so one client cannot
// churn the kernel's rule sets for everyone.
class WriteLimiter {
 public:
  WriteLimiter(double rate, double burst) : rate_(rate), burst_(burst) {}
  bool allow(const std::string& client) {
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mu_);
    if (buckets_.size() > 4096) buckets_.clear();  // bounded memory; a reset only forgives
    auto [it, fresh] = buckets_.try_emplace(client, Bucket{burst_, now});
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

class Api : public Poco::Net::HTTPRequestHandler {
 public:
  Api(const Host& host, const Settings& s, RequestMetrics& metrics, WriteLimiter& limiter)
      : host_(host), settings_(s), metrics_(metrics), limiter_(limiter) {}

  void handleRequest(HTTPServerRequest& req, HTTPServerResponse& res) override {
    Poco::URI uri;
    try {
      uri = Poco::URI(req.getURI());
    } catch (const Poco::Exception& e) {
      send_error(res, HTTPResponse::HTTP_BAD_REQUEST, "bad request", "URI: " + e.displayText());
      metrics_.count("other", req.getMethod(), 400);
      return;
    }
    int code = 500;
    try {
      code = route(req, res, uri);
    } catch (const std::exception& e) {
      if (!res.sent())
        send_error(res, HTTPResponse::HTTP_INTERNAL_SERVER_ERROR, "internal error", e.what());
    }
    metrics_.count(uri.getPath(), req.getMethod(), code);
  }

 private:
  int route(HTTPServerRequest& req, HTTPServerResponse& res, const Poco::URI& uri) {
    const std::string& path = uri.getPath();
    const std::string& method = req.getMethod();
    if (path == "/healthz" && method == "GET") {
      Object::Ptr o = new Object;
      o->set("status", "ok");
      send_json(res, HTTPResponse::HTTP_OK, o);
      return 200;
    }
    if (path == "/readyz" && method == "GET") {
      Object::Ptr o = new Object;
      const bool ready = host_.datapath_ready();
      o->set("status", ready ? "ready" : "kernel programs not attached");
      send_json(res, ready ? HTTPResponse::HTTP_OK : HTTPResponse::HTTP_SERVICE_UNAVAILABLE, o);
      return ready ? 200 : 503;
    }
    if ((path == "/swagger-ui" || path.rfind("/swagger-ui/", 0) == 0) && method == "GET") {
      // Once keys exist the page needs one too: ?key=<token> on the page
      // sets an HttpOnly cookie that the page's assets then carry (browsers
      // cannot put a header on a page load). The cookie is honoured here only.
      std::string key = rampart::frontend::credential(req);
      std::string query_key;
      for (const auto& [k, v] : uri.getQueryParameters()) {
        if (k == "key") query_key = v;
      }
      if (key.empty()) key = query_key;
      if (key.empty()) {
        Poco::Net::NameValueCollection cookies;
        req.getCookies(cookies);
        key = cookies.get("rampart_ui", "");
      }
      const auto who = host_.api_call("GET", "/api/v1/auth/whoami", "", "",
                                      "rest:" + req.clientAddress().host().toString(), key);
      if (who.status != 200) {
        res.setStatus(static_cast<HTTPResponse::HTTPStatus>(who.status));
        res.setContentType("application/json");
        res.setContentLength(static_cast<std::streamsize>(who.body.size()));
        res.send() << who.body;
        return who.status;
      }
      if (!query_key.empty()) {
        Poco::Net::HTTPCookie cookie("rampart_ui", query_key);
        cookie.setPath("/swagger-ui/");
        cookie.setHttpOnly(true);
        cookie.setSameSite(Poco::Net::HTTPCookie::SAME_SITE_STRICT);
        cookie.setSecure(settings_.tls.has_value());
        res.addCookie(cookie);
      }
      return serve_swagger_ui(settings_.swagger_ui_dir, path, res);
    }
    // The OpenAPI document at its conventional place; the core writes it.
    const std::string api_path = path == "/api-docs/openapi.json" ? "/api/v1/openapi.json" : path;
    if (api_path.rfind("/api/v1/", 0) != 0) {
      send_error(res, HTTPResponse::HTTP_NOT_FOUND, "not found", path);
      return 404;
    }
    if (method != "GET" && method != "HEAD" &&
        !limiter_.allow(req.clientAddress().host().toString())) {
      res.set("Retry-After", "1");
      send_error(res, HTTPResponse::HTTP_TOO_MANY_REQUESTS, "too many requests",
                 "at most " + std::to_string(settings_.write_rate) +
                     " writes per second per client (plugins.rest.write_rate_per_second)");
      return 429;
    }
    std::string body;
    if (method == "POST" || method == "PUT" || method == "PATCH") {
      if (req.getContentLength() > static_cast<std::streamsize>(settings_.max_body)) {
        send_error(res, HTTPResponse::HTTP_REQUESTENTITYTOOLARGE, "body too large",
                   "at most " + std::to_string(settings_.max_body) + " bytes");
        return 413;
      }
      // Read at most max_body + 1 bytes, whatever Content-Length claims.
      body.resize(settings_.max_body + 1);
      req.stream().read(body.data(), static_cast<std::streamsize>(body.size()));
      body.resize(static_cast<size_t>(req.stream().gcount()));
      if (body.size() > settings_.max_body) {
        send_error(res, HTTPResponse::HTTP_REQUESTENTITYTOOLARGE, "body too large",
                   "at most " + std::to_string(settings_.max_body) + " bytes");
        return 413;
      }
    }
    // Everything under /api/v1 means the same in every frontend: the core
    // answers it (ABI 1.2 api_call); this plugin only carries it.
    const auto answer = host_.api_call(method, api_path, uri.getRawQuery(), body,
                                       "rest:" + req.clientAddress().host().toString(),
                                       rampart::frontend::credential(req));
    res.setStatus(static_cast<HTTPResponse::HTTPStatus>(answer.status));
    if (answer.status == 204) {
      res.send();
    } else {
      res.setContentType("application/json");
      res.setContentLength(static_cast<std::streamsize>(answer.body.size()));
      res.send() << answer.body;
    }
    return answer.status;
  }

  const Host& host_;
  Settings settings_;
  RequestMetrics& metrics_;
  WriteLimiter& limiter_;
};

class Factory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  Factory(const Host& host, const Settings& s)
      : host_(host), settings_(s), metrics_(host), limiter_(s.write_rate, s.write_burst) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(const HTTPServerRequest&) override {
    return new Api(host_, settings_, metrics_, limiter_);
  }

 private:
  const Host& host_;
  Settings settings_;
  RequestMetrics metrics_;
  WriteLimiter limiter_;
};

class RestFrontend {
 public:
  RestFrontend(Host& host, const Config& cfg) : host_(host), settings_(Settings::from(cfg)) {}

  void start() {
    server_ = rampart::frontend::start_http_server(settings_.listen, new Factory(host_, settings_),
                                                   8, 64, settings_.tls);
    settings_.listen.port = server_->port();  // the one bound when 0 was asked for
    host_.info("listening on " + settings_.listen.text() + (settings_.tls ? " (https)" : ""));
  }

  void stop() {
    if (server_) server_->stop();
    server_.reset();
  }

  void validate(const Config& cfg) { (void)Settings::from(cfg); }

 private:
  Host& host_;
  Settings settings_;
  std::unique_ptr<rampart::frontend::HttpServer> server_;
};

}  // namespace

RAMPART_PLUGIN(RestFrontend, RAMPART_KIND_FRONTEND, "rest", "REST API", "0.1.0", "Apache-2.0",
               "Health, readiness and the firewall rule API over HTTP (Poco)")
