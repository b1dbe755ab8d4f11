// SPDX-License-Identifier: Apache-2.0
// The REST frontend (Poco HTTPServer): health, readiness and the firewall
// rule API. Rule bodies are checked by the firewall engine and stored by the
// core only once the kernel runs them; every error is JSON
// {error, detail, field?}.
#include <rampart/sdk/plugin.hpp>

#include "http_server.hpp"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/URI.h>

#include <charconv>
#include <memory>
#include <regex>
#include <sstream>

namespace {

using Poco::JSON::Object;
using Poco::Net::HTTPResponse;
using Poco::Net::HTTPServerRequest;
using Poco::Net::HTTPServerResponse;
using rampart::sdk::Config;
using rampart::sdk::Error;
using rampart::sdk::Host;

constexpr const char* kDomain = "firewall";

struct Settings {
  rampart::frontend::ListenAddress listen;
  size_t max_body = 1 << 20;

  static Settings from(const Config& cfg) {
    cfg.allow_only("", {"listen", "max_body_bytes"});
    Settings s;
    s.listen = rampart::frontend::parse_listen(cfg, "listen", "127.0.0.1:8080");
    s.max_body = cfg.get<uint64_t>("max_body_bytes", 1 << 20);
    return s;
  }
};

void send_json(HTTPServerResponse& res, HTTPResponse::HTTPStatus status,
               const Poco::Dynamic::Var& body) {
  std::ostringstream os;
  Poco::JSON::Stringifier::stringify(body, os);
  const std::string text = os.str();
  res.setStatus(status);
  res.setContentType("application/json");
  res.setContentLength(static_cast<std::streamsize>(text.size()));
  res.send() << text;
}

void send_error(HTTPServerResponse& res, HTTPResponse::HTTPStatus status, const std::string& error,
                const std::string& detail, const std::string& field = "") {
  Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  o->set("error", error);
  o->set("detail", detail);
  if (!field.empty()) o->set("field", field);
  send_json(res, status, o);
}

// Engine messages read "rule <id>: <field>: <why>".
std::string field_of(const std::string& detail) {
  static const std::regex kField("^rule [0-9]+: ([a-z_]+): ");
  std::smatch m;
  return std::regex_search(detail, m, kField) ? m[1].str() : "";
}

Poco::Dynamic::Var parse_json(const std::string& text) {
  Poco::JSON::Parser parser;
  return parser.parse(text);
}

class Api : public Poco::Net::HTTPRequestHandler {
 public:
  Api(const Host& host, const Settings& s) : host_(host), settings_(s) {}

  void handleRequest(HTTPServerRequest& req, HTTPServerResponse& res) override {
    try {
      route(req, res);
    } catch (const std::exception& e) {
      if (!res.sent())
        send_error(res, HTTPResponse::HTTP_INTERNAL_SERVER_ERROR, "internal error", e.what());
    }
  }

 private:
  void route(HTTPServerRequest& req, HTTPServerResponse& res) {
    static const std::regex kOne("^/api/v1/firewall/rules/([0-9]{1,10})$");
    const std::string path = Poco::URI(req.getURI()).getPath();
    const std::string& method = req.getMethod();
    std::smatch m;
    if (path == "/healthz" && method == "GET") {
      Object::Ptr o = new Object;
      o->set("status", "ok");
      return send_json(res, HTTPResponse::HTTP_OK, o);
    }
    if (path == "/readyz" && method == "GET") {
      Object::Ptr o = new Object;
      const bool ready = host_.datapath_ready();
      o->set("status", ready ? "ready" : "kernel programs not attached");
      return send_json(res, ready ? HTTPResponse::HTTP_OK : HTTPResponse::HTTP_SERVICE_UNAVAILABLE,
                       o);
    }
    if (path == "/api/v1/firewall/rules") {
      if (method == "GET") return list(res);
      if (method == "POST") return write(req, res, RAMPART_RULE_CREATE, 0);
      return send_error(res, HTTPResponse::HTTP_METHOD_NOT_ALLOWED, "method not allowed", method);
    }
    if (std::regex_match(path, m, kOne)) {
      const uint64_t id = std::stoull(m[1].str());
      if (method == "GET") return get(res, id);
      if (method == "PUT") return write(req, res, RAMPART_RULE_UPDATE, id);
      if (method == "DELETE") return write(req, res, RAMPART_RULE_DELETE, id);
      return send_error(res, HTTPResponse::HTTP_METHOD_NOT_ALLOWED, "method not allowed", method);
    }
    send_error(res, HTTPResponse::HTTP_NOT_FOUND, "not found", path);
  }

  void list(HTTPServerResponse& res) {
    Poco::JSON::Array::Ptr arr = new Poco::JSON::Array;
    for (const auto& r : host_.list_rules(kDomain)) arr->add(parse_json(r.body));
    send_json(res, HTTPResponse::HTTP_OK, arr);
  }

  void get(HTTPServerResponse& res, uint64_t id) {
    for (const auto& r : host_.list_rules(kDomain)) {
      if (r.id == id) return send_json(res, HTTPResponse::HTTP_OK, parse_json(r.body));
    }
    send_error(res, HTTPResponse::HTTP_NOT_FOUND, "rule not found",
               "no rule " + std::to_string(id));
  }

  void write(HTTPServerRequest& req, HTTPServerResponse& res, rampart_rule_change change,
             uint64_t id) {
    std::string body;
    if (change != RAMPART_RULE_DELETE) {
      if (req.getContentLength() > static_cast<std::streamsize>(settings_.max_body)) {
        return send_error(res, HTTPResponse::HTTP_REQUESTENTITYTOOLARGE, "body too large",
                          "at most " + std::to_string(settings_.max_body) + " bytes");
      }
      // Read at most max_body + 1 bytes, whatever Content-Length claims.
      body.resize(settings_.max_body + 1);
      req.stream().read(body.data(), static_cast<std::streamsize>(body.size()));
      body.resize(static_cast<size_t>(req.stream().gcount()));
      if (body.size() > settings_.max_body) {
        return send_error(res, HTTPResponse::HTTP_REQUESTENTITYTOOLARGE, "body too large",
                          "at most " + std::to_string(settings_.max_body) + " bytes");
      }
      Object::Ptr o;
      try {
        o = parse_json(body).extract<Object::Ptr>();
      } catch (const std::exception&) {
        return send_error(res, HTTPResponse::HTTP_BAD_REQUEST, "invalid rule",
                          "body is not a JSON object");
      } catch (const Poco::Exception& e) {
        return send_error(res, HTTPResponse::HTTP_BAD_REQUEST, "invalid rule",
                          "body is not a JSON object: " + e.displayText());
      }
      if (!o)
        return send_error(res, HTTPResponse::HTTP_BAD_REQUEST, "invalid rule",
                          "body is not a JSON object");
      if (change == RAMPART_RULE_CREATE) {
        if (o->has("id")) {
          const auto v = o->get("id");
          if (!v.isInteger() || v.convert<int64_t>() < 1 || v.convert<int64_t>() > 0xffffffffLL) {
            return send_error(res, HTTPResponse::HTTP_BAD_REQUEST, "invalid rule",
                              "id: must be 1-4294967295", "id");
          }
          id = v.convert<uint64_t>();
        } else {
          id = next_id();
          o->set("id", id);
        }
      } else if (!o->has("id")) {
        o->set("id", id);
      }
      std::ostringstream canon;
      o->stringify(canon);
      body = canon.str();
    }
    try {
      host_.change_rule(kDomain, change, id, body, actor(req).c_str());
    } catch (const Error& e) {
      const std::string detail = e.what();
      switch (e.status()) {
        case RAMPART_ERR_INVALID_ARGUMENT:
          return send_error(res, HTTPResponse::HTTP_BAD_REQUEST, "invalid rule", detail,
                            field_of(detail));
        case RAMPART_ERR_NOT_FOUND:
          return send_error(res, HTTPResponse::HTTP_NOT_FOUND, "rule not found", detail);
        case RAMPART_ERR_CONFLICT:
          return send_error(res, HTTPResponse::HTTP_CONFLICT, "rule exists", detail);
        case RAMPART_ERR_UNSUPPORTED:
          return send_error(res, HTTPResponse::HTTP_SERVICE_UNAVAILABLE, "firewall unavailable",
                            detail);
        default:
          return send_error(res, HTTPResponse::HTTP_INTERNAL_SERVER_ERROR, "internal error",
                            detail);
      }
    }
    if (change == RAMPART_RULE_DELETE) {
      res.setStatus(HTTPResponse::HTTP_NO_CONTENT);
      res.send();
      return;
    }
    send_json(res,
              change == RAMPART_RULE_CREATE ? HTTPResponse::HTTP_CREATED : HTTPResponse::HTTP_OK,
              parse_json(body));
  }

  uint64_t next_id() {
    uint64_t max = 0;
    for (const auto& r : host_.list_rules(kDomain)) max = std::max(max, r.id);
    return max + 1;
  }

  static std::string actor(const HTTPServerRequest& req) {
    return "rest:" + req.clientAddress().host().toString();
  }

  const Host& host_;
  Settings settings_;
};

class Factory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  Factory(const Host& host, const Settings& s) : host_(host), settings_(s) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(const HTTPServerRequest&) override {
    return new Api(host_, settings_);
  }

 private:
  const Host& host_;
  Settings settings_;
};

class RestFrontend {
 public:
  RestFrontend(Host& host, const Config& cfg) : host_(host), settings_(Settings::from(cfg)) {}

  void start() {
    server_ = rampart::frontend::start_http_server(settings_.listen, new Factory(host_, settings_),
                                                   8, 64);
    settings_.listen.port = server_->port();  // the one bound when 0 was asked for
    host_.info("listening on " + settings_.listen.text());
  }

  void stop() {
    if (server_) server_->stopAll(true);
    server_.reset();
  }

  void validate(const Config& cfg) { (void)Settings::from(cfg); }

 private:
  Host& host_;
  Settings settings_;
  std::unique_ptr<Poco::Net::HTTPServer> server_;
};

}  // namespace

RAMPART_PLUGIN(RestFrontend, RAMPART_KIND_FRONTEND, "rest", "REST API", "0.1.0", "Apache-2.0",
               "Health, readiness and the firewall rule API over HTTP (Poco)")
