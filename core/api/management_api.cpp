// SPDX-License-Identifier: Apache-2.0
#include "api/management_api.hpp"

#include <Poco/DateTime.h>
#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeParser.h>

#include "api/import_split.hpp"
#include "api/json_schema.hpp"
#include "api/openapi.hpp"
#include "util/json.hpp"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/URI.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <future>
#include <regex>
#include <set>
#include <sstream>
#include <unordered_set>

namespace rampart::api {
namespace {

using Poco::JSON::Array;
using Poco::JSON::Object;
using util::to_json;

Poco::Dynamic::Var parse(const std::string& text) { return Poco::JSON::Parser().parse(text); }

Response json(int status, const Poco::Dynamic::Var& v) { return {status, to_json(v)}; }

// Request text echoed in an error (paths, identifiers) may be any bytes: keep
// printable ASCII, so the answer is always valid JSON.
std::string printable(const std::string& s) {
  std::string out = s.substr(0, 512);
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = '?';
  }
  return out;
}

Object::Ptr error_object(const std::string& error, const std::string& detail,
                         const std::string& field) {
  Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  o->set("error", error);
  o->set("detail", printable(detail));
  if (!field.empty()) o->set("field", printable(field));  // may echo a query key
  return o;
}

Response error(int status, const std::string& error, const std::string& detail,
               const std::string& field = "") {
  return json(status, error_object(error, detail, field));
}

// 409 for a write to a rule the config file manages, saying where to
// change it instead (file and line as fields, for tools).
Response managed_by_config(const store::ChangeResult& r, const std::string& field = "") {
  Object::Ptr o = error_object("managed by the config file", r.message, field);
  if (r.config && !r.config->file.empty()) o->set("file", printable(r.config->file));
  if (r.config && r.config->line > 0) o->set("line", r.config->line);
  return json(409, o);
}

Response not_allowed(const std::string& method, const std::string& allowed) {
  return error(405, "method not allowed", method + " (allowed: " + allowed + ")");
}

// Engine messages read "rule <id>: <field>: <why>".
std::string field_of(const std::string& detail) {
  static const std::regex kField("^rule [0-9]+: ([a-z_]+): ");
  std::smatch m;
  return std::regex_search(detail, m, kField) ? m[1].str() : "";
}

bool parse_u64(const std::string& s, uint64_t& out) {
  return !s.empty() && std::from_chars(s.data(), s.data() + s.size(), out).ec == std::errc() &&
         std::to_string(out) == s;
}

// The paging of a list request: `limit` (1-kMaxPage) and `cursor` (a
// number an earlier page gave out); a 400 naming the field otherwise.
struct Page {
  size_t limit = ManagementApi::kDefaultPage;
  uint64_t cursor = 0;  // 0: the first page
};
std::optional<Response> read_page(const std::map<std::string, std::string>& query, Page& page) {
  uint64_t n = 0;
  if (const auto l = query.find("limit"); l != query.end()) {
    if (!parse_u64(l->second, n) || n == 0 || n > ManagementApi::kMaxPage)
      return error(400, "invalid query",
                   "limit must be 1-" + std::to_string(ManagementApi::kMaxPage), "limit");
    page.limit = n;
  }
  if (const auto c = query.find("cursor"); c != query.end()) {
    if (!parse_u64(c->second, n) || n > INT64_MAX)
      return error(400, "invalid query", "cursor is not one we gave", "cursor");
    page.cursor = n;
  }
  return std::nullopt;
}

// A JSON object body, or why not.
Object::Ptr object_of(const std::string& body, std::string& why) {
  try {
    auto v = parse(body);
    if (v.type() == typeid(Object::Ptr)) {
      auto o = v.extract<Object::Ptr>();
      if (o) return o;
    }
    why = "body is not a JSON object";
  } catch (const Poco::Exception& e) {
    why = "body is not a JSON object: " + e.displayText();
  } catch (const std::exception& e) {
    why = std::string("body is not a JSON object: ") + e.what();
  }
  return nullptr;
}

// A query filter matches a top-level scalar field by its text.
bool matches(const Object::Ptr& rule, const std::map<std::string, std::string>& filters) {
  for (const auto& [k, v] : filters) {
    if (!rule->has(k)) return false;
    const auto field = rule->get(k);
    if (field.isEmpty() || field.isArray() || field.type() == typeid(Object::Ptr)) return false;
    if (field.toString() != v) return false;
  }
  return true;
}

std::string audit_json(const store::AuditEntry& e) {
  Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  o->set("seq", e.seq);
  o->set("time_ms", e.time_ms);
  o->set("actor", e.actor);
  o->set("domain", e.domain);
  o->set("action", e.action);
  o->set("rule_id", e.rule_id);
  o->set("before", e.before.empty() ? Poco::Dynamic::Var() : parse(e.before));
  o->set("after", e.after.empty() ? Poco::Dynamic::Var() : parse(e.after));
  // Which top-level fields changed, for a quick read of the history.
  Array::Ptr changed = new Array;
  Object::Ptr b =
      e.before.empty() ? Object::Ptr(new Object) : parse(e.before).extract<Object::Ptr>();
  Object::Ptr a = e.after.empty() ? Object::Ptr(new Object) : parse(e.after).extract<Object::Ptr>();
  std::vector<std::string> keys;
  for (const auto& [k, v] : *b) keys.push_back(k);
  for (const auto& [k, v] : *a) keys.push_back(k);
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  for (const auto& k : keys) {
    const bool in_b = b->has(k), in_a = a->has(k);
    if (in_b != in_a || (in_b && to_json(b->get(k)) != to_json(a->get(k)))) changed->add(k);
  }
  o->set("changed", changed);
  return to_json(o);
}

// A domain's schema as an object; null when it has none or it does not
// parse as one.
Object::Ptr schema_object(const std::string& schema) {
  if (schema.empty()) return nullptr;
  try {
    const auto s = parse(schema);
    return s.type() == typeid(Object::Ptr) ? s.extract<Object::Ptr>() : nullptr;
  } catch (const Poco::Exception&) {
    return nullptr;
  }
}

}  // namespace

std::map<std::string, std::string> ManagementApi::parse_query(const std::string& raw) {
  std::map<std::string, std::string> out;
  std::istringstream in(raw);
  std::string pair;
  while (std::getline(in, pair, '&')) {
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    std::string k, v;
    try {
      Poco::URI::decode(pair.substr(0, eq), k, true);
      if (eq != std::string::npos) Poco::URI::decode(pair.substr(eq + 1), v, true);
    } catch (const Poco::Exception& e) {
      throw std::invalid_argument("query: " + e.displayText());
    }
    out[k] = v;
  }
  return out;
}

Response ManagementApi::handle(Request req, const std::string& raw_query) {
  Identity who;
  if (auto refused = authorize(req, who)) return *refused;  // before looking at anything else
  try {
    req.query = parse_query(raw_query);
  } catch (const std::invalid_argument& e) {
    return error(400, "invalid query", e.what());
  }
  return dispatch(req, who);
}

Response ManagementApi::handle(const Request& in) {
  Request req = in;
  Identity who;
  if (auto refused = authorize(req, who)) return *refused;
  return dispatch(req, who);
}

std::optional<Identity> ManagementApi::authenticate(const Request& req) const {
  // Root, and the user the agent runs as, administer it through the local
  // socket: the way back in when every key is lost.
  if (req.local && (req.uid == 0 || req.uid == geteuid()))
    return Identity{store::Role::admin, "local:uid=" + std::to_string(req.uid)};
  if (keys_ && !req.credential.empty()) {
    if (const auto key = keys_->verify(req.credential))
      return Identity{key->role, "key:" + key->name};
  }
  return std::nullopt;
}

std::optional<Response> ManagementApi::authorize(Request& req, Identity& who) {
  if (!keys_) {  // route tests only: no access control
    who = Identity{store::Role::admin, "test"};
    return std::nullopt;
  }
  const auto id = authenticate(req);
  if (!id) {
    return error(401, "unauthorized",
                 req.credential.empty()
                     ? "an API key is required: Authorization: Bearer <key> or X-API-Key: <key> "
                       "(root on this host: rampartctl uses the local socket)"
                     : "the API key is not valid");
  }
  who = *id;
  // The audit trail names who, and through which door.
  const std::string via =
      req.local ? "local:uid=" + std::to_string(req.uid) + ",pid=" + std::to_string(req.pid)
                : who.name;
  req.actor = via + (req.actor.empty() ? "" : "@" + req.actor);
  return std::nullopt;
}

// The route for the request's path and method, its role checked, answers.
Response ManagementApi::dispatch(const Request& req, const Identity& who) {
  std::smatch g;
  std::string allowed;
  for (const Route& r : routes_) {
    if (!std::regex_match(req.path, g, r.path)) continue;
    if (r.method != req.method) {
      if (allowed.find(r.method) == std::string::npos)
        allowed += (allowed.empty() ? "" : ", ") + r.method;
      continue;
    }
    if (static_cast<int>(who.role) < static_cast<int>(r.role)) {
      return error(403, "forbidden",
                   req.method + " " + req.path + " needs the " + role_name(r.role) + " role; " +
                       who.name + " has " + role_name(who.role));
    }
    try {
      return r.answer(req, g, who);
    } catch (const std::exception& e) {
      return error(500, "internal error", e.what());
    }
  }
  if (!allowed.empty()) return not_allowed(req.method, allowed);
  return error(404, "not found", req.path);
}

std::string ManagementApi::domain_name_problem(const std::string& domain) {
  static const std::regex kDomain("^[a-z][a-z0-9_]{0,31}$");
  if (!std::regex_match(domain, kDomain))
    return "a rule domain is 1-32 of a-z, 0-9 and _, starting with a letter: '" + domain + "'";
  // The first segments of the API's own paths: a domain named like one
  // would put operator-level rule routes under an admin prefix.
  static const std::set<std::string> kReserved = {"agent",   "alerts",  "audit",  "auth",
                                                  "config",  "domains", "ebpf",   "keys",
                                                  "openapi", "healthz", "readyz", "metrics"};
  if (kReserved.count(domain)) return "rule domain '" + domain + "' is reserved by the API";
  return "";
}

std::vector<ManagementApi::RouteInfo> ManagementApi::routes() const {
  std::vector<RouteInfo> out;
  for (const Route& r : routes_) out.push_back({r.method, r.path_template, r.role});
  return out;
}

Response ManagementApi::key_list() {
  Array::Ptr arr = new Array;
  for (const auto& k : keys_->list()) {
    Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    o->set("name", k.name);
    o->set("role", store::role_name(k.role));
    o->set("id", k.id);
    o->set("created_ms", k.created_ms);
    arr->add(o);
  }
  Object::Ptr o = new Object;
  o->set("keys", arr);
  return json(200, o);
}

Response ManagementApi::key_create(const Request& req) {
  static const std::regex kName("^[A-Za-z0-9_.-]{1,64}$");
  std::string why;
  Object::Ptr body = object_of(req.body, why);
  if (!body) return error(400, "invalid key", why);
  const std::string n = body->optValue<std::string>("name", "");
  if (!std::regex_match(n, kName))
    return error(400, "invalid key", "name: 1-64 of A-Z a-z 0-9 _ . -", "name");
  const auto role = store::parse_role(body->optValue<std::string>("role", ""));
  if (!role) return error(400, "invalid key", "role: expected viewer, operator or admin", "role");
  for (const auto& [k, v] : *body) {
    if (k != "name" && k != "role") return error(400, "invalid key", k + ": unknown field", k);
  }
  try {
    const auto [key, token] = keys_->create(n, *role);
    Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    o->set("name", key.name);
    o->set("role", store::role_name(key.role));
    o->set("id", key.id);
    o->set("token", token);  // shown once; only its salted hash is stored
    return json(201, o);
  } catch (const store::KeyError& e) {
    return error(409, "key exists", e.what(), "name");
  }
}

Response ManagementApi::key_delete(const std::string& name) {
  if (!keys_->remove(name)) return error(404, "not found", "no key named '" + name + "'");
  return {204, ""};
}

// Every route of the API, with the least role it needs: the one table
// routing and authorization both read. A path pattern is matched whole;
// the first route whose pattern and method match answers.
void ManagementApi::build_routes() {
  using store::Role;
  const std::string domain = "([a-z][a-z0-9_]{0,31})";
  const std::string uuid = "([0-9a-f-]{36})";
  auto add = [&](const char* method, const std::string& tmpl, const std::string& pattern, Role role,
                 Answer answer) {
    routes_.push_back(
        Route{method, tmpl, std::regex("^" + pattern + "$"), role, std::move(answer)});
  };
  add("GET", "/api/v1/auth/whoami", "/api/v1/auth/whoami", Role::viewer,
      [](const Request&, const std::smatch&, const Identity& who) {
        Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
        const bool key = who.name.rfind("key:", 0) == 0;
        o->set("name", key ? who.name.substr(4) : who.name);
        o->set("role", role_name(who.role));
        o->set("via", key ? "key" : "local");
        return json(200, o);
      });
  add("GET", "/api/v1/domains", "/api/v1/domains", Role::viewer,
      [this](const Request&, const std::smatch&, const Identity&) {
        Array::Ptr arr = new Array;
        for (const auto& d : rules_.domains()) {
          Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
          o->set("name", d.name);
          o->set("summary", d.summary);
          o->set("rules", "/api/v1/" + d.name + "/rules");
          // Short forms the domain offers a shell (`rampartctl block ...`):
          // its schema's x-rampart-verbs, as the engine wrote them.
          // And the values a rule has where its body leaves a field out
          // (the schema's defaults), for tables of effective values.
          if (const auto s = schema_object(d.schema)) {
            if (const auto verbs = s->getObject("x-rampart-verbs")) o->set("verbs", verbs);
            Object::Ptr defaults = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
            if (const auto props = s->getObject("properties")) {
              for (const auto& [k, v] : *props) {
                if (props->isObject(k) && props->getObject(k)->has("default"))
                  defaults->set(k, props->getObject(k)->get("default"));
              }
            }
            if (defaults->size()) o->set("defaults", defaults);
          }
          arr->add(o);
        }
        Object::Ptr o = new Object;
        o->set("domains", arr);
        return json(200, o);
      });
  auto provided = [](const std::function<std::string()>& f, const char* what) {
    return [&f, what](const Request&, const std::smatch&, const Identity&) -> Response {
      if (!f) return error(503, "unavailable", std::string(what) + " is not available here");
      return {200, f()};
    };
  };
  add("GET", "/api/v1/agent/status", "/api/v1/agent/status", Role::viewer,
      provided(providers_.agent_status, "/api/v1/agent/status"));
  add("GET", "/api/v1/ebpf/status", "/api/v1/ebpf/status", Role::viewer,
      provided(providers_.ebpf_status, "/api/v1/ebpf/status"));
  // Secrets are redacted, but the config says where everything is.
  add("GET", "/api/v1/config", "/api/v1/config", Role::admin,
      provided(providers_.config, "/api/v1/config"));
  add("POST", "/api/v1/config/reload", "/api/v1/config/reload", Role::admin,
      [this](const Request& req, const std::smatch&, const Identity&) -> Response {
        if (!providers_.reload) return error(503, "unavailable", "reload is not available here");
        const auto [status, body] = providers_.reload(req.carrier);
        return {status, body};
      });
  add("GET", "/api/v1/openapi.json", "/api/v1/openapi.json", Role::viewer,
      [this](const Request&, const std::smatch&, const Identity&) -> Response {
        return {200, openapi_document(rules_.domains())};
      });
  auto with_alerts = [this](auto f) {
    return [this, f](const Request& req, const std::smatch& g, const Identity&) -> Response {
      if (!providers_.alerts)
        return error(503, "unavailable", "the alert store is not available here");
      return f(req, g);
    };
  };
  add("GET", "/api/v1/alerts", "/api/v1/alerts", Role::viewer,
      with_alerts([this](const Request& req, const std::smatch&) { return alert_list(req); }));
  add("GET", "/api/v1/alerts/{id}", "/api/v1/alerts/" + uuid, Role::viewer,
      with_alerts([this](const Request&, const std::smatch& g) { return alert_get(g[1]); }));
  add("POST", "/api/v1/alerts/{id}/false-positive", "/api/v1/alerts/" + uuid + "/false-positive",
      Role::operator_, with_alerts([this](const Request& req, const std::smatch& g) {
        return alert_false_positive(req, g[1]);
      }));
  auto with_keys = [this](auto f) {
    return [this, f](const Request& req, const std::smatch& g, const Identity&) -> Response {
      if (!keys_) return error(503, "unavailable", "API keys are not available here");
      return f(req, g);
    };
  };
  add("GET", "/api/v1/keys", "/api/v1/keys", Role::admin,
      with_keys([this](const Request&, const std::smatch&) { return key_list(); }));
  add("POST", "/api/v1/keys", "/api/v1/keys", Role::admin,
      with_keys([this](const Request& req, const std::smatch&) { return key_create(req); }));
  add("DELETE", "/api/v1/keys/{name}", "/api/v1/keys/([^/]+)", Role::admin,
      with_keys([this](const Request&, const std::smatch& g) { return key_delete(g[1]); }));
  add("GET", "/api/v1/audit/logs", "/api/v1/audit/logs", Role::viewer,
      [this](const Request& req, const std::smatch&, const Identity&) {
        return audit(req, std::nullopt);
      });
  add("GET", "/api/v1/audit/rules/{id}/history", "/api/v1/audit/rules/([^/]+)/history",
      Role::viewer, [this](const Request& req, const std::smatch& g, const Identity&) {
        uint64_t id = 0;
        if (!parse_u64(g[1].str(), id)) return error(400, "invalid id", g[1].str(), "id");
        return audit(req, id);
      });
  // A rule domain's routes: the domain must be one an engine claimed.
  auto in_domain = [this](auto f) {
    return [this, f](const Request& req, const std::smatch& g, const Identity&) -> Response {
      const std::string d = g[1].str();
      if (!rules_.owned(d)) return error(404, "not found", "no rule domain '" + d + "'");
      return f(d, req, g);
    };
  };
  auto with_rule = [in_domain](auto f) {
    return in_domain([f](const std::string& d, const Request& req, const std::smatch& g) {
      uint64_t id = 0;
      if (!parse_u64(g[2].str(), id) || id == 0 || id > 0xffffffffull) {
        return error(400, "invalid id", "rule id must be 1-4294967295, got '" + g[2].str() + "'",
                     "id");
      }
      return f(d, id, req);
    });
  };
  const std::string rules = "/api/v1/" + domain + "/rules";
  const std::string rule = rules + "/([^/]+)";
  add("GET", "/api/v1/{domain}/rules", rules, Role::viewer,
      in_domain([this](const std::string& d, const Request& req, const std::smatch&) {
        return list(d, req);
      }));
  add("POST", "/api/v1/{domain}/rules", rules, Role::operator_,
      in_domain([this](const std::string& d, const Request& req, const std::smatch&) {
        return write(d, RAMPART_RULE_CREATE, 0, req);
      }));
  add("PUT", "/api/v1/{domain}/rules", rules, Role::operator_,
      in_domain([this](const std::string& d, const Request& req, const std::smatch&) {
        return replace(d, req);
      }));
  add("GET", "/api/v1/{domain}/rules/{id}", rule, Role::viewer,
      with_rule([this](const std::string& d, uint64_t id, const Request&) { return get(d, id); }));
  add("PUT", "/api/v1/{domain}/rules/{id}", rule, Role::operator_,
      with_rule([this](const std::string& d, uint64_t id, const Request& req) {
        return write(d, RAMPART_RULE_UPDATE, id, req);
      }));
  add("PATCH", "/api/v1/{domain}/rules/{id}", rule, Role::operator_,
      with_rule([this](const std::string& d, uint64_t id, const Request& req) {
        return patch(d, id, req);
      }));
  add("DELETE", "/api/v1/{domain}/rules/{id}", rule, Role::operator_,
      with_rule([this](const std::string& d, uint64_t id, const Request& req) {
        return write(d, RAMPART_RULE_DELETE, id, req);
      }));
  add("GET", "/api/v1/{domain}/status", "/api/v1/" + domain + "/status", Role::viewer,
      [this](const Request&, const std::smatch& g, const Identity&) -> Response {
        const auto st = rules_.status(g[1].str());
        if (!st) return error(404, "not found", "no rule domain '" + g[1].str() + "'");
        return {200, *st};
      });
}

Response ManagementApi::alert_list(const Request& req) {
  static const std::regex kRfc3339(
      "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{"
      "2})$");
  auto* store = providers_.alerts;  // the route checked it is there
  Page page;
  if (auto refused = read_page(req.query, page)) return *refused;
  alerts::AlertQuery q;
  q.limit = page.limit;
  q.before_seq = static_cast<int64_t>(page.cursor);
  for (const auto& [k, v] : req.query) {
    uint64_t n = 0;
    uint32_t sev = 0;
    if (k == "limit" || k == "cursor") {
      continue;
    } else if (k == "severity" || k == "min_severity") {
      if (!alerts::parse_severity(v, sev))
        return error(400, "invalid query", k + " must be low, medium, high or critical", k);
      (k == "severity" ? q.severity : q.min_severity) = sev;
    } else if (k == "component") {
      q.component = v;
    } else if (k == "since") {
      int tzd = 0;
      Poco::DateTime dt;
      if (parse_u64(v, n) && n < 1ull << 33) {
        q.since_ns = n * 1000000000ull;
      } else if (std::regex_match(v, kRfc3339) &&
                 Poco::DateTimeParser::tryParse(Poco::DateTimeFormat::ISO8601_FRAC_FORMAT, v, dt,
                                                tzd)) {
        dt.makeUTC(tzd);
        q.since_ns = static_cast<uint64_t>(dt.timestamp().epochMicroseconds()) * 1000ull;
      } else {
        return error(400, "invalid query",
                     "since must be unix seconds or RFC 3339 (2026-11-27T18:00:00Z)", "since");
      }
    } else if (k == "src" || k == "dst") {
      (k == "src" ? q.src : q.dst) = v;
    } else if (k == "false_positive") {
      if (v != "true" && v != "false")
        return error(400, "invalid query", "false_positive must be true or false", k);
      q.false_positive = v == "true";
    } else {
      return error(400, "invalid query",
                   "unknown filter '" + k +
                       "' (severity, min_severity, component, since, src, dst, false_positive, "
                       "limit, cursor)",
                   k);
    }
  }
  ++q.limit;  // one more says whether there is a next page
  auto rows = store->list(q);
  const bool more = rows.size() == q.limit;
  if (more) rows.pop_back();
  std::string body = R"({"alerts":[)";
  for (size_t i = 0; i < rows.size(); ++i) body += (i ? "," : "") + rows[i].json;
  body += R"(],"next_cursor":)";
  body += more ? "\"" + std::to_string(rows.back().seq) + "\"" : std::string("null");
  body += "}";
  return {200, body};
}

Response ManagementApi::alert_get(const std::string& id) {
  auto* store = providers_.alerts;  // the route checked it is there
  const auto a = store->get(id);
  if (!a) return error(404, "alert not found", "no alert '" + id + "'");
  return {200, a->json};
}

Response ManagementApi::alert_false_positive(const Request& req, const std::string& id) {
  auto* store = providers_.alerts;  // the route checked it is there
  std::string reason;
  if (!req.body.empty()) {
    std::string why;
    const auto o = object_of(req.body, why);
    if (!o) return error(400, "invalid body", why);
    for (const auto& [k, v] : *o) {
      if (k != "reason") return error(400, "invalid body", "unknown field '" + k + "'", k);
      if (!v.isString()) return error(400, "invalid body", "reason must be a string", "reason");
      reason = v.toString();
      if (reason.size() > 1000)
        return error(400, "invalid body", "reason: at most 1000 bytes", "reason");
    }
  }
  const auto a = store->mark_false_positive(id, req.actor, reason);
  if (!a) return error(404, "alert not found", "no alert '" + id + "'");
  return {200, a->json};
}

Response ManagementApi::list(const std::string& domain, const Request& req) {
  Page paging;
  if (auto refused = read_page(req.query, paging)) return *refused;
  const size_t limit = paging.limit;
  const uint64_t after = paging.cursor;
  std::map<std::string, std::string> filters;
  std::optional<std::string> origin;
  for (const auto& [k, v] : req.query) {
    if (k == "origin") {
      if (v != store::kConfigOrigin && v != store::kApiOrigin)
        return error(400, "invalid query", "origin must be config or api", "origin");
      origin = v;
    } else if (k != "limit" && k != "cursor") {
      filters[k] = v;
    }
  }
  Array::Ptr page = new Array;
  // Beside the rules, not in them: each body stays a valid rule of the
  // domain's schema, so a listing imports back as it is (origins ignored).
  Object::Ptr origins = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  uint64_t last = 0;
  bool more = false;
  // Read from the store a chunk at a time in id order: a page of a domain
  // of millions (a blocklist) costs the rows it looks at, not the domain.
  const size_t chunk = std::max<size_t>(limit + 1, 256);
  for (uint64_t first = after + 1; first != 0 && !more;) {  // 0: past the last id
    const auto rows = rules_.page(domain, first, chunk);
    for (const auto& r : rows) {
      first = r.id + 1;
      if (origin && r.origin != *origin) continue;
      auto o = parse(r.body).extract<Object::Ptr>();
      if (!matches(o, filters)) continue;
      if (page->size() == limit) {
        more = true;
        break;
      }
      page->add(o);
      origins->set(std::to_string(r.id), r.origin);
      last = r.id;
    }
    if (rows.size() < chunk) break;
  }
  Object::Ptr out = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  out->set("rules", page);
  out->set("origins", origins);
  out->set("next_cursor", more ? Poco::Dynamic::Var(std::to_string(last)) : Poco::Dynamic::Var());
  return json(200, out);
}

Response ManagementApi::get(const std::string& domain, uint64_t id) {
  if (auto body = rules_.get(domain, id)) return {200, std::move(*body)};
  return error(404, "rule not found", "no rule " + std::to_string(id));
}

// The domain's JSON schema, read once per schema text; one that accepts
// every body if the engine gave none (or a broken one: the engine still
// checks every body).
std::shared_ptr<const JsonSchema> ManagementApi::schema_of(const std::string& domain) const {
  std::string text;
  for (const auto& d : rules_.domains()) {
    if (d.name == domain && !d.schema.empty()) {
      text = d.schema;
      break;
    }
  }
  std::lock_guard lock(schemas_mu_);
  auto& cached = schemas_[domain];
  if (!cached.second || cached.first != text) {
    Poco::Dynamic::Var parsed;
    try {
      if (!text.empty()) parsed = parse(text);
    } catch (...) {
    }
    cached = {text, std::make_shared<const JsonSchema>(parsed)};
  }
  return cached.second;
}

namespace {

// Where an import's rule `i` is, as its errors name it.
std::string import_rule(size_t i) { return "rules[" + std::to_string(i) + "]"; }

// A body against its domain's schema: 400 naming the field, or nothing.
// `at`: the body's index in an import's rules, named in the error.
std::optional<Response> check_body(const JsonSchema& schema, const Object::Ptr& body,
                                   std::optional<size_t> at = std::nullopt) {
  const auto bad = schema.check(body);
  if (!bad) return std::nullopt;
  const std::string field = (at ? import_rule(*at) + "." : std::string()) + bad->field;
  return error(400, "invalid rule", (field.empty() ? "" : field + ": ") + bad->why, field);
}

// A rule id as JSON gives it: an integer 1-4294967295.
std::optional<uint64_t> rule_id_of(const Poco::Dynamic::Var& v) {
  if (!v.isInteger() || v.convert<int64_t>() < 1 || v.convert<int64_t>() > 0xffffffffLL)
    return std::nullopt;
  return v.convert<uint64_t>();
}

// What the rule service said, as an answer: nothing when it worked.
std::optional<Response> refusal(const store::ChangeResult& r, const std::string& domain,
                                const std::string& invalid) {
  if (r.config) return managed_by_config(r);
  switch (r.status) {
    case RAMPART_OK:
      return std::nullopt;
    case RAMPART_ERR_INVALID_ARGUMENT:
      return error(400, invalid, r.message, field_of(r.message));
    case RAMPART_ERR_NOT_FOUND:
      return error(404, "rule not found", r.message);
    case RAMPART_ERR_CONFLICT:
      return error(409, "rule exists", r.message);
    case RAMPART_ERR_UNSUPPORTED:
      return error(503, domain + " unavailable", r.message);
    default:
      return error(500, "internal error", r.message);
  }
}

}  // namespace

Response ManagementApi::write(const std::string& domain, rampart_rule_change change, uint64_t id,
                              const Request& req) {
  // A rule the config file manages is refused whatever the body says: the
  // answer to give is where to change it.
  if (change != RAMPART_RULE_CREATE) {
    if (auto refused = refusal(rules_.writable(domain, id), domain, "invalid rule"))
      return *refused;
  }
  std::optional<std::string> body;
  if (change != RAMPART_RULE_DELETE) {
    std::string why;
    Object::Ptr o = object_of(req.body, why);
    if (!o) return error(400, "invalid rule", why);
    if (change == RAMPART_RULE_CREATE) {
      if (o->has("id")) {
        const auto given = rule_id_of(o->get("id"));
        if (!given) return error(400, "invalid rule", "id: must be 1-4294967295", "id");
        id = *given;
        if (auto refused = refusal(rules_.writable(domain, id), domain, "invalid rule"))
          return *refused;
      } else {
        id = rules_.max_id(domain) + 1;
        o->set("id", id);
      }
    } else if (!o->has("id")) {
      o->set("id", id);
    } else if (rule_id_of(o->get("id")) != id) {
      return error(400, "invalid rule", "id: the body's id differs from the path's", "id");
    }
    if (auto bad = check_body(*schema_of(domain), o)) return *bad;
    body = to_json(o);
  }
  if (auto refused =
          refusal(rules_.change(domain, change, id, body, req.actor), domain, "invalid rule"))
    return *refused;
  if (change == RAMPART_RULE_DELETE) return {204, ""};
  return {change == RAMPART_RULE_CREATE ? 201 : 200, *body};
}

namespace {

// A stored or imported rule body as JSON (a diff shows them as objects).
Poco::Dynamic::Var body_json(const std::string& body) {
  try {
    return parse(body);
  } catch (...) {
    return body;
  }
}

// What a dry run answers: the import's effect on the API rules.
Response diff_json(const store::ImportPlan& plan) {
  auto id_array = [](const std::vector<uint64_t>& v) {
    Array::Ptr a = new Array;
    for (const auto id : v) a->add(id);
    return a;
  };
  Array::Ptr changed = new Array;
  for (const auto& c : plan.changed) {
    Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    o->set("id", c.id);
    o->set("before", body_json(c.before));
    o->set("after", body_json(c.after));
    changed->add(o);
  }
  Object::Ptr out = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  out->set("dry_run", true);
  out->set("added", id_array(plan.added));
  out->set("removed", id_array(plan.removed));
  out->set("changed", changed);
  out->set("unchanged", static_cast<uint64_t>(plan.unchanged));
  out->set("config_owned", static_cast<uint64_t>(plan.config_owned));
  return json(200, out);
}

}  // namespace

// Imports from this many rules read, check and write out their bodies on
// two threads.
constexpr size_t kParallelImport = 512;

// fn(from, to) over [0, n): in two halves on two threads from
// kParallelImport on. The future's destructor waits for the second half
// whatever the first threw; get() hands on what the second threw.
template <class Fn>
void in_halves(size_t n, const Fn& fn) {
  if (n < kParallelImport) return fn(0, n);
  auto second = std::async(std::launch::async, [&] { fn(n / 2, n); });
  fn(0, n / 2);
  second.get();
}

namespace {

// An import's rules, each read by `element(i, parser, object)` (object
// left null: not a JSON object; false: unreadable, nothing is read),
// checked against the schema and written out, with the identifiers the import
// gives them: a rule without one gets the next above every id given or
// stored (`stored_max`). `bad`: the first error in the array's order. A rule
// that gives its id is checked and written out as it is read (the split
// path frees it then); the others once every id is known.
struct ImportRead {
  std::vector<store::StoredRule> rules;
  std::optional<Response> bad;
};
template <class Element>
std::optional<ImportRead> read_import(size_t n, const Element& element, uint64_t stored_max,
                                      const JsonSchema& schema) {
  ImportRead out{std::vector<store::StoredRule>(n, {0, ""}), std::nullopt};
  enum : char { kNotObject, kGivesId, kNoId };
  std::vector<char> kind(n, kNotObject);
  std::vector<std::optional<uint64_t>> given(n);  // the id a rule gives, if valid
  std::vector<Object::Ptr> pending(n);            // rules without an id, until each is given one
  std::vector<std::optional<Response>> bad(n);    // each rule's schema error
  std::atomic<bool> unreadable{false};
  in_halves(n, [&](size_t from, size_t to) {
    Poco::JSON::Parser parser;
    for (size_t i = from; i < to && !unreadable.load(std::memory_order_relaxed); ++i) {
      Object::Ptr o;
      if (!element(i, parser, o)) {
        unreadable = true;
        return;
      }
      if (!o) continue;
      if (!o->has("id")) {
        kind[i] = kNoId;
        pending[i] = std::move(o);
        continue;
      }
      kind[i] = kGivesId;
      given[i] = rule_id_of(o->get("id"));
      if (!given[i]) continue;
      bad[i] = check_body(schema, o, i);
      if (!bad[i]) out.rules[i].body = to_json(o);
    }
  });
  if (unreadable) return std::nullopt;
  uint64_t next_id = stored_max;
  for (const auto& id : given) next_id = std::max(next_id, id.value_or(0));
  // Ids in order, up to the first bad one (`checked`: the rules before it).
  std::unordered_set<uint64_t> seen_id;
  seen_id.reserve(n);
  size_t checked = 0;
  std::optional<Response> id_error;
  for (; checked < n; ++checked) {
    const size_t i = checked;
    if (kind[i] == kNotObject) {
      id_error =
          error(400, "invalid rules", import_rule(i) + ": not a JSON object", import_rule(i));
      break;
    }
    if (kind[i] == kGivesId && !given[i]) {
      id_error = error(400, "invalid rules", import_rule(i) + ".id: must be 1-4294967295",
                       import_rule(i) + ".id");
      break;
    }
    const uint64_t id = kind[i] == kGivesId ? *given[i] : ++next_id;
    if (!seen_id.insert(id).second) {
      id_error =
          error(400, "invalid rules", import_rule(i) + ".id: " + std::to_string(id) + " twice",
                import_rule(i) + ".id");
      break;
    }
    out.rules[i].id = id;
  }
  in_halves(checked, [&](size_t from, size_t to) {
    for (size_t i = from; i < to; ++i) {
      if (kind[i] != kNoId) continue;
      pending[i]->set("id", out.rules[i].id);
      bad[i] = check_body(schema, pending[i], i);
      if (!bad[i]) out.rules[i].body = to_json(pending[i]);
      pending[i] = nullptr;
    }
  });
  for (size_t i = 0; i < checked && !out.bad; ++i) out.bad = std::move(bad[i]);
  if (!out.bad) out.bad = std::move(id_error);
  return out;
}

}  // namespace

// Import: {"rules": [...]} becomes the domain's API-managed set, at once;
// with ?dry_run=true, the same checks and the diff, and nothing applied.
// `origins` and `next_cursor` (a listing's) are read-only and ignored.
Response ManagementApi::replace(const std::string& domain, const Request& req) {
  bool dry_run = false;
  for (const auto& [k, v] : req.query) {
    // A misspelt dry run must not import for real.
    if (k != "dry_run")
      return error(400, "invalid query", "unknown parameter '" + k + "' (dry_run)", k);
    if (v != "true" && v != "false")
      return error(400, "invalid query", "dry_run must be true or false", "dry_run");
    dry_run = v == "true";
  }
  const auto schema = schema_of(domain);
  const uint64_t stored_max = rules_.max_id(domain);
  // Each rule parsed from its own text where the body allows (see
  // import_elements), else from the body's tree.
  std::optional<ImportRead> read;
  if (const auto texts = import_elements(req.body)) {
    read = read_import(
        texts->size(),
        [&](size_t i, Poco::JSON::Parser& parser, Object::Ptr& o) {
          try {
            parser.reset();
            o = parser.parse(std::string((*texts)[i])).extract<Object::Ptr>();
            return o != nullptr;
          } catch (...) {
            return false;  // the whole body's parse words the error
          }
        },
        stored_max, *schema);
  }
  if (!read) {
    std::string why;
    const Object::Ptr whole = object_of(req.body, why);
    if (!whole) return error(400, "invalid rules", why);
    if (!whole->has("rules") || !whole->isArray("rules"))
      return error(400, "invalid rules", "expected {\"rules\": [...]}", "rules");
    const Array::Ptr arr = whole->getArray("rules");
    read = read_import(
        arr->size(),
        [&](size_t i, Poco::JSON::Parser&, Object::Ptr& o) {
          if (arr->isObject(i)) o = arr->getObject(i);
          return true;
        },
        stored_max, *schema);
  }
  if (read->bad) return std::move(*read->bad);
  const std::vector<store::StoredRule>& rules = read->rules;
  const auto imported = rules_.replace_api_rules(domain, rules, req.actor, dry_run);
  if (imported.result.config) {
    const auto at = std::find_if(rules.begin(), rules.end(),
                                 [&](const auto& r) { return r.id == imported.result.rule_id; });
    return managed_by_config(imported.result,
                             at == rules.end() ? std::string() : import_rule(at - rules.begin()));
  }
  if (auto refused = refusal(imported.result, domain, "invalid rules")) return *refused;
  if (dry_run) return diff_json(imported.plan);
  Object::Ptr out = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  out->set("replaced", static_cast<uint64_t>(rules.size() - imported.plan.config_owned));
  out->set("config_owned", static_cast<uint64_t>(imported.plan.config_owned));
  return json(200, out);
}

// JSON merge patch (RFC 7396) on the top level: fields given replace the
// stored ones, null removes one; the result is checked like a PUT.
Response ManagementApi::patch(const std::string& domain, uint64_t id, const Request& req) {
  std::string why;
  Object::Ptr changes = object_of(req.body, why);
  if (!changes) return error(400, "invalid rule", why);
  const auto stored = rules_.get(domain, id);
  if (!stored) return error(404, "rule not found", "no rule " + std::to_string(id));
  Object::Ptr merged = parse(*stored).extract<Object::Ptr>();
  for (const auto& [k, v] : *changes) {
    if (v.isEmpty()) {
      merged->remove(k);
    } else {
      merged->set(k, v);
    }
  }
  Request put = req;
  put.body = to_json(merged);
  return write(domain, RAMPART_RULE_UPDATE, id, put);
}

Response ManagementApi::audit(const Request& req, std::optional<uint64_t> rule_id) {
  size_t limit = 100;
  if (const auto l = req.query.find("limit"); l != req.query.end()) {
    uint64_t n = 0;
    if (!parse_u64(l->second, n) || n == 0 || n > kMaxPage)
      return error(400, "invalid query", "limit must be 1-" + std::to_string(kMaxPage), "limit");
    limit = n;
  }
  std::vector<std::string> domains;
  if (const auto d = req.query.find("domain"); d != req.query.end()) {
    domains.push_back(d->second);
  } else {
    for (const auto& d : rules_.domains()) domains.push_back(d.name);
  }
  std::vector<store::AuditEntry> entries;
  for (const auto& d : domains) {
    auto part = rules_.store().audit(d, rule_id, limit);
    entries.insert(entries.end(), part.begin(), part.end());
  }
  std::sort(entries.begin(), entries.end(),
            [](const auto& a, const auto& b) { return a.seq > b.seq; });
  if (entries.size() > limit) entries.resize(limit);
  std::string out = "{\"entries\":[";
  for (size_t i = 0; i < entries.size(); ++i) out += (i ? "," : "") + audit_json(entries[i]);
  return {200, out + "]}"};
}

}  // namespace rampart::api
