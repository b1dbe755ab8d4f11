// SPDX-License-Identifier: Apache-2.0
// The management API, transport-free: what /api/v1/... means, for every
// rule domain an engine owns and for the agent itself. Frontend plugins
// (REST today, gRPC later) carry requests here through the host table
// (ABI 1.2 api_call) and add only transport concerns: HTTP, TLS, keys,
// limits. One implementation, so every frontend answers the same.
//
//   GET    /api/v1/domains
//   GET    /api/v1/{domain}/rules?limit=&cursor=&<field>=<value>
//   POST   /api/v1/{domain}/rules
//   GET|PUT|PATCH|DELETE /api/v1/{domain}/rules/{id}
//   GET    /api/v1/{domain}/status
//   GET    /api/v1/agent/status | /api/v1/ebpf/status | /api/v1/config
//   POST   /api/v1/config/reload
//   GET    /api/v1/audit/logs?domain=&limit=
//   GET    /api/v1/audit/rules/{id}/history?domain=
//
// Every error is JSON {error, detail, field?}.
#pragma once

#include <functional>
#include <map>
#include <string>

#include "store/rule_service.hpp"

namespace rampart::api {

struct Request {
  std::string method;
  std::string path;                          // no query string
  std::map<std::string, std::string> query;  // decoded
  std::string body;
  std::string actor;  // who, for the audit log ("rest:127.0.0.1", "key:ops")
};

struct Response {
  int status = 200;
  std::string body;  // JSON; empty for 204
};

// The agent-wide answers, supplied by the daemon (tests supply their own).
struct Providers {
  std::function<std::string()> agent_status;  // JSON object
  std::function<std::string()> ebpf_status;   // JSON object
  std::function<std::string()> config;        // JSON object, secrets redacted
  // Runs an all-or-nothing reload; {ok, JSON object saying what changed or why not}.
  std::function<std::pair<bool, std::string>()> reload;
};

class ManagementApi {
 public:
  ManagementApi(store::RuleService& rules, Providers providers)
      : rules_(rules), providers_(std::move(providers)) {}

  Response handle(const Request& req);
  // The same with the query as received ("a=1&b=x%20y"): a query that does
  // not decode is a 400.
  Response handle(Request req, const std::string& raw_query);

  // "a=1&b=x%20y" -> {a: 1, b: "x y"}; throws std::invalid_argument on a
  // bad %-escape.
  static std::map<std::string, std::string> parse_query(const std::string& raw);

  static constexpr size_t kDefaultPage = 100;
  static constexpr size_t kMaxPage = 1000;

 private:
  Response list(const std::string& domain, const Request& req);
  Response get(const std::string& domain, uint64_t id);
  Response write(const std::string& domain, rampart_rule_change change, uint64_t id,
                 const Request& req);
  Response patch(const std::string& domain, uint64_t id, const Request& req);
  Response audit(const Request& req, std::optional<uint64_t> rule_id);

  store::RuleService& rules_;
  Providers providers_;
};

}  // namespace rampart::api
