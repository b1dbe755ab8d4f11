// SPDX-License-Identifier: Apache-2.0
// The management API, transport-free: what /api/v1/... means, for every
// rule domain an engine owns and for the agent itself. Frontend plugins
// (REST today, gRPC later) carry requests here through the host table
// (ABI 1.2 api_call) and add only transport concerns: HTTP, TLS, keys,
// limits. One implementation, so every frontend answers the same.
//
//   GET    /api/v1/domains
//   GET    /api/v1/{domain}/rules?limit=&cursor=&origin=&<field>=<value>
//   POST   /api/v1/{domain}/rules
//   PUT    /api/v1/{domain}/rules?dry_run= {"rules": [...]}: import, all or nothing
//   GET|PUT|PATCH|DELETE /api/v1/{domain}/rules/{id}   (409 for the config file's)
//   GET    /api/v1/{domain}/status
//   GET    /api/v1/agent/status | /api/v1/ebpf/status | /api/v1/config
//   POST   /api/v1/config/reload
//   GET    /api/v1/audit/logs?domain=&limit=
//   GET    /api/v1/audit/rules/{id}/history?domain=
//   GET    /api/v1/keys | POST /api/v1/keys | DELETE /api/v1/keys/{name}
//   GET    /api/v1/auth/whoami
//   GET    /api/v1/alerts?severity=&min_severity=&component=&since=&src=&dst=
//                        &false_positive=&limit=&cursor=
//   GET    /api/v1/alerts/{id} | POST /api/v1/alerts/{id}/false-positive {"reason"?}
//
// Access: never open. A request is someone's: a local peer (a Unix-socket
// connection whose kernel-verified uid is root's or the agent's own) is an
// admin; otherwise it needs an API key: viewer for reads, operator for
// rule writes, admin for config and keys. 401 without a valid key, 403 with
// one whose role is too low. The first start creates an admin key into a
// root-only file (store::ensure_bootstrap_key). Every error is JSON
// {error, detail, field?}.
#pragma once

#include <Poco/JSON/Object.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "alerts/alert_store.hpp"
#include "api/json_schema.hpp"
#include "store/key_store.hpp"
#include "store/rule_service.hpp"

namespace rampart::api {

struct Request {
  std::string method;
  std::string path;                          // no query string
  std::map<std::string, std::string> query;  // decoded
  std::string body;
  std::string actor;       // the transport's view of who ("rest:127.0.0.1")
  std::string credential;  // an API key token, "" if none was given
  // A Unix-socket peer: its uid and pid as the kernel saw them (SO_PEERCRED).
  bool local = false;
  uint32_t uid = 0;
  int32_t pid = 0;
  std::string carrier;  // the frontend plugin that carried the request
};

// Who a request comes from.
struct Identity {
  store::Role role = store::Role::viewer;
  std::string name;  // "key:<name>" or "local:uid=<uid>"
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
  // Runs an all-or-nothing reload for a request carried by frontend plugin
  // `carrier`; {HTTP status, JSON object saying what changed or why not}.
  std::function<std::pair<int, std::string>(const std::string& carrier)> reload;
  alerts::AlertStore* alerts = nullptr;  // none: the alert routes answer 503
};

class ManagementApi {
 public:
  // keys: nullptr for an API without access control (tests of the routes
  // alone; rampartd always passes its key store).
  ManagementApi(store::RuleService& rules, Providers providers, store::KeyStore* keys = nullptr)
      : rules_(rules), providers_(std::move(providers)), keys_(keys) {
    build_routes();
  }
  // The routes hold this object: it stays where it was built.
  ManagementApi(const ManagementApi&) = delete;
  ManagementApi& operator=(const ManagementApi&) = delete;

  Response handle(const Request& req);
  // The same with the query as received ("a=1&b=x%20y"): a query that does
  // not decode is a 400.
  Response handle(Request req, const std::string& raw_query);

  // From the request's peer and credential alone (nothing else is read):
  // a local peer running as root or as this agent's user is an admin; a
  // valid key has its role; anyone else is nobody.
  std::optional<Identity> authenticate(const Request& req) const;

  // "a=1&b=x%20y" -> {a: 1, b: "x y"}; throws std::invalid_argument on a
  // bad %-escape.
  static std::map<std::string, std::string> parse_query(const std::string& raw);

  // The API's routes as declared: method, path template
  // ("/api/v1/{domain}/rules/{id}") and the least role each needs.
  struct RouteInfo {
    std::string method, path_template;
    store::Role role;
  };
  std::vector<RouteInfo> routes() const;

  // Why an engine may not claim `domain` as a rule domain (its routes
  // would not be reachable, or would shadow one of the API's own paths,
  // with a lower role): "" when it may.
  static std::string domain_name_problem(const std::string& domain);

  static constexpr size_t kDefaultPage = 100;
  static constexpr size_t kMaxPage = 1000;

 private:
  Response list(const std::string& domain, const Request& req);
  Response get(const std::string& domain, uint64_t id);
  Response write(const std::string& domain, rampart_rule_change change, uint64_t id,
                 const Request& req);
  Response patch(const std::string& domain, uint64_t id, const Request& req);
  Response replace(const std::string& domain, const Request& req);
  // The domain's schema, read once per schema text (none: accepts all).
  std::shared_ptr<const JsonSchema> schema_of(const std::string& domain) const;
  Response audit(const Request& req, std::optional<uint64_t> rule_id);
  // A refusal (401), or who asks, with the request's actor naming them.
  std::optional<Response> authorize(Request& req, Identity& who);
  Response dispatch(const Request& req, const Identity& who);
  void build_routes();
  Response key_list();
  Response key_create(const Request& req);
  Response key_delete(const std::string& name);
  Response alert_list(const Request& req);
  Response alert_get(const std::string& id);
  Response alert_false_positive(const Request& req, const std::string& id);

  using Answer = std::function<Response(const Request&, const std::smatch&, const Identity&)>;
  struct Route {
    std::string method;
    std::string path_template;
    std::regex path;
    store::Role role;
    Answer answer;
  };
  std::vector<Route> routes_;

  store::RuleService& rules_;
  Providers providers_;
  store::KeyStore* keys_;
  mutable std::mutex schemas_mu_;
  // Per domain: the schema text and what it was read into.
  mutable std::map<std::string, std::pair<std::string, std::shared_ptr<const JsonSchema>>> schemas_;
};

}  // namespace rampart::api
