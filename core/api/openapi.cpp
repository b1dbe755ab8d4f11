// SPDX-License-Identifier: Apache-2.0
#include "api/openapi.hpp"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <cctype>
#include <map>
#include <sstream>
#include <tuple>

namespace rampart::api {
namespace {

using Poco::JSON::Array;
using Poco::JSON::Object;

Object::Ptr obj() { return new Object(Poco::JSON_PRESERVE_KEY_ORDER); }

Object::Ptr schema_ref(const std::string& schema) {
  auto o = obj();
  o->set("$ref", "#/components/schemas/" + schema);
  return o;
}

Object::Ptr json_content(const Object::Ptr& schema) {
  auto media = obj();
  media->set("schema", schema);
  auto content = obj();
  content->set("application/json", media);
  return content;
}

Object::Ptr response(const std::string& description, const Object::Ptr& schema = nullptr) {
  auto r = obj();
  r->set("description", description);
  if (schema) r->set("content", json_content(schema));
  return r;
}

Object::Ptr any_object() {
  auto o = obj();
  o->set("type", "object");
  return o;
}

// An operation with the usual error answers.
Object::Ptr operation(const std::string& id, const std::string& summary, const std::string& tag,
                      const std::vector<std::pair<std::string, Object::Ptr>>& ok,
                      std::vector<int> errors) {
  auto op = obj();
  op->set("operationId", id);
  op->set("summary", summary);
  op->set("description", summary + ".");
  Array::Ptr tags = new Array;
  tags->add(tag);
  op->set("tags", tags);
  auto responses = obj();
  for (const auto& [code, r] : ok) responses->set(code, r);
  errors.push_back(401);
  errors.push_back(403);
  for (int code : errors) {
    static const std::map<int, const char*> kWhat = {
        {400, "Invalid request; `field` names the culprit"},
        {401, "No valid API key"},
        {403, "The key's role is too low"},
        {404, "Not found"},
        {409,
         "Conflict; for a rule the config file manages, `file` and `line` say where to "
         "change it instead"},
        {413, "Body too large"},
        {422, "Refused"},
        {429, "Too many writes from this client"},
        {503, "Owner not running"}};
    responses->set(std::to_string(code), response(kWhat.at(code), schema_ref("Error")));
  }
  op->set("responses", responses);
  return op;
}

Object::Ptr param(const std::string& name, const std::string& in, const std::string& type,
                  const std::string& description, bool required) {
  auto p = obj();
  p->set("name", name);
  p->set("in", in);
  p->set("required", required);
  p->set("description", description);
  auto s = obj();
  s->set("type", type);
  p->set("schema", s);
  return p;
}

Object::Ptr with_body(Object::Ptr op, const Object::Ptr& schema) {
  auto body = obj();
  body->set("required", true);
  body->set("content", json_content(schema));
  op->set("requestBody", body);
  return op;
}

Object::Ptr with_params(Object::Ptr op, const std::vector<Object::Ptr>& params) {
  Array::Ptr a = new Array;
  for (const auto& p : params) a->add(p);
  op->set("parameters", a);
  return op;
}

std::string camel(const std::string& name) {
  std::string out;
  bool up = true;
  for (char c : name) {
    if (c == '_') {
      up = true;
      continue;
    }
    out += up ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    up = false;
  }
  return out;
}

}  // namespace

std::string openapi_document(const std::vector<store::DomainInfo>& domains) {
  auto doc = obj();
  doc->set("openapi", "3.0.3");
  auto info = obj();
  info->set("title", "Rampart management API");
  info->set("version", RAMPART_VERSION);
  info->set("description",
            "Rule domains of the running engines, agent and kernel status, configuration and "
            "audit. Until the first API key exists the API is open; then send a key as "
            "`Authorization: Bearer <key>` or `X-API-Key: <key>`.");
  info->set("contact", Poco::JSON::Parser().parse(R"({"name":"Rampart maintainers"})"));
  info->set("license", Poco::JSON::Parser().parse(R"({"name":"Apache-2.0"})"));
  doc->set("info", info);
  // The API's paths are absolute on whatever address serves the document.
  doc->set("servers", Poco::JSON::Parser().parse(
                          R"([{"url":"/","description":"the agent serving this document"}])"));

  auto schemas = obj();
  auto error = obj();
  error->set("type", "object");
  error->set("required", Poco::JSON::Parser().parse(R"(["error","detail"])"));
  error->set("properties",
             Poco::JSON::Parser().parse(R"({"error":{"type":"string"},"detail":{"type":"string"},)"
                                        R"("field":{"type":"string"},"file":{"type":"string"},)"
                                        R"("line":{"type":"integer"}})"));
  schemas->set("Error", error);
  schemas->set("ImportResult",
               Poco::JSON::Parser().parse(
                   R"({"type":"object","required":["replaced","config_owned"],"properties":{)"
                   R"("replaced":{"type":"integer","description":"API rules the domain now has"},)"
                   R"("config_owned":{"type":"integer","description":)"
                   R"("Imported rules identical to the config file's, left to it"}}})"));

  auto paths = obj();
  for (const auto& d : domains) {
    const std::string rule = camel(d.name) + "Rule";
    Object::Ptr schema = any_object();
    if (!d.schema.empty()) {
      try {
        schema = Poco::JSON::Parser().parse(d.schema).extract<Object::Ptr>();
      } catch (...) {
        // An engine's broken schema must not break the document.
      }
    }
    schemas->set(rule, schema);
    auto list = obj();
    list->set("type", "object");
    auto props = obj();
    auto items = obj();
    items->set("type", "array");
    items->set("items", schema_ref(rule));
    props->set("rules", items);
    auto cursor = obj();
    cursor->set("type", "string");
    cursor->set("nullable", true);
    props->set("next_cursor", cursor);
    props->set(
        "origins",
        Poco::JSON::Parser().parse(
            R"({"type":"object","readOnly":true,"description":"Who manages each rule )"
            R"(listed, by id: the config file (read-only here) or the API. Ignored on )"
            R"(import.","additionalProperties":{"type":"string","enum":["config","api"]}})"));
    list->set("properties", props);
    list->set("required", Poco::JSON::Parser().parse(R"(["rules"])"));
    schemas->set(rule + "List", list);
    // What a dry-run import answers: the change to the API rules.
    auto diff = obj();
    diff->set("type", "object");
    auto id_array = Poco::JSON::Parser().parse(R"({"type":"array","items":{"type":"integer"}})");
    auto change = obj();
    change->set("type", "object");
    auto change_props = obj();
    change_props->set("id", Poco::JSON::Parser().parse(R"({"type":"integer"})"));
    change_props->set("before", schema_ref(rule));
    change_props->set("after", schema_ref(rule));
    change->set("properties", change_props);
    auto changes = obj();
    changes->set("type", "array");
    changes->set("items", change);
    auto diff_props = obj();
    diff_props->set("dry_run", Poco::JSON::Parser().parse(R"({"type":"boolean"})"));
    diff_props->set("added", id_array);
    diff_props->set("removed", id_array);
    diff_props->set("changed", changes);
    diff_props->set("unchanged", Poco::JSON::Parser().parse(R"({"type":"integer"})"));
    diff_props->set("config_owned", Poco::JSON::Parser().parse(R"({"type":"integer"})"));
    diff->set("properties", diff_props);
    schemas->set(camel(d.name) + "ImportDiff", diff);

    const std::string base = "/api/v1/" + d.name;
    const std::string tag = d.name;
    auto collection = obj();
    collection->set(
        "get",
        with_params(
            operation(d.name + "_list", "List " + d.name + " rules (paged)", tag,
                      {{"200", response("A page of rules", schema_ref(rule + "List"))}}, {400}),
            {param("limit", "query", "integer", "1-1000, default 100", false),
             param("cursor", "query", "string", "next_cursor of the previous page", false),
             param("origin", "query", "string", "config or api: only the rules it manages",
                   false)}));
    collection->set("post",
                    with_body(operation(d.name + "_create", "Create a rule", tag,
                                        {{"201", response("Stored and applied", schema_ref(rule))}},
                                        {400, 409, 413, 429, 503}),
                              schema_ref(rule)));
    auto imported = obj();
    Array::Ptr either = new Array;
    either->add(schema_ref("ImportResult"));
    either->add(schema_ref(camel(d.name) + "ImportDiff"));
    imported->set("oneOf", either);
    collection->set(
        "put",
        with_params(
            with_body(operation(d.name + "_import",
                                "Replace the API-managed rules (all or nothing); a listing "
                                "imports back as it is",
                                tag,
                                {{"200", response("Replaced, or with dry_run what would change",
                                                  imported)}},
                                {400, 409, 413, 429, 503}),
                      schema_ref(rule + "List")),
            {param("dry_run", "query", "boolean",
                   "true: the same checks and the diff; nothing is applied", false)}));
    paths->set(base + "/rules", collection);

    const auto id = param("id", "path", "integer", "Rule id", true);
    auto one = obj();
    one->set("get",
             with_params(operation(d.name + "_get", "Get a rule", tag,
                                   {{"200", response("The rule", schema_ref(rule))}}, {400, 404}),
                         {id}));
    one->set("put",
             with_params(with_body(operation(d.name + "_replace", "Replace a rule", tag,
                                             {{"200", response("Applied", schema_ref(rule))}},
                                             {400, 404, 409, 413, 429, 503}),
                                   schema_ref(rule)),
                         {id}));
    one->set("patch",
             with_params(with_body(operation(d.name + "_patch",
                                             "Change some fields (JSON merge patch; null removes)",
                                             tag, {{"200", response("Applied", schema_ref(rule))}},
                                             {400, 404, 409, 413, 429, 503}),
                                   any_object()),
                         {id}));
    one->set("delete",
             with_params(operation(d.name + "_delete", "Delete a rule", tag,
                                   {{"204", response("Deleted")}}, {400, 404, 409, 429, 503}),
                         {id}));
    paths->set(base + "/rules/{id}", one);
    auto status = obj();
    status->set("get", operation(d.name + "_status", d.summary.empty() ? "Status" : d.summary, tag,
                                 {{"200", response("The engine's view", any_object())}}, {404}));
    paths->set(base + "/status", status);
  }

  auto system = [&](const std::string& path, const std::string& method, const std::string& id,
                    const std::string& summary, std::vector<int> errors) {
    auto item = paths->has(path) ? paths->getObject(path) : obj();
    item->set(method, operation(id, summary, "agent",
                                {{method == "delete"                           ? "204"
                                  : method == "post" && path == "/api/v1/keys" ? "201"
                                                                               : "200",
                                  response("OK", any_object())}},
                                errors));
    paths->set(path, item);
  };
  system("/api/v1/domains", "get", "domains", "Rule domains", {});
  system("/api/v1/agent/status", "get", "agent_status", "Version, plugins, interfaces", {});
  system("/api/v1/ebpf/status", "get", "ebpf_status", "Kernel maps and counters", {});
  system("/api/v1/config", "get", "config", "Running configuration, secrets redacted", {});
  system("/api/v1/config/reload", "post", "config_reload", "Reload the configuration file", {422});
  system("/api/v1/audit/logs", "get", "audit_logs", "Audit log, newest first", {400});
  system("/api/v1/audit/rules/{id}/history", "get", "audit_history", "One rule's history", {400});
  system("/api/v1/keys", "get", "keys_list", "API keys", {});
  system("/api/v1/keys", "post", "keys_create", "Create an API key (token shown once)", {400, 409});
  system("/api/v1/keys/{name}", "delete", "keys_delete", "Delete an API key", {404});
  with_params(paths->getObject("/api/v1/keys/{name}")->getObject("delete"),
              {param("name", "path", "string", "the key's name", true)});
  with_params(paths->getObject("/api/v1/audit/rules/{id}/history")->getObject("get"),
              {param("id", "path", "integer", "the rule's id", true),
               param("domain", "query", "string",
                     "the rule's domain, as GET /api/v1/domains names it", false),
               param("limit", "query", "integer", "entries, 1-1000 (default 100)", false)});
  with_params(paths->getObject("/api/v1/audit/logs")->getObject("get"),
              {param("domain", "query", "string", "only this rule domain's entries", false),
               param("limit", "query", "integer", "entries, 1-1000 (default 100)", false)});
  with_body(
      paths->getObject("/api/v1/keys")->getObject("post"),
      Poco::JSON::Parser()
          .parse(R"({"type":"object","required":["name","role"],"additionalProperties":false,)"
                 R"("properties":{"name":{"type":"string","pattern":"^[A-Za-z0-9_.-]{1,64}$"},)"
                 R"("role":{"type":"string","enum":["viewer","operator","admin"]}}})")
          .extract<Object::Ptr>());
  system("/api/v1/auth/whoami", "get", "whoami", "The key's name and role", {});
  system("/api/v1/alerts", "get", "alerts_list", "Stored alerts, newest first", {400, 503});
  {
    auto list = paths->getObject("/api/v1/alerts")->getObject("get");
    std::vector<Object::Ptr> params;
    for (const auto& [name, what] : std::vector<std::pair<std::string, std::string>>{
             {"severity", "low, medium, high or critical: exactly"},
             {"min_severity", "low, medium, high or critical: at least"},
             {"component", "the engine that raised it"},
             {"since", "unix seconds or RFC 3339"},
             {"src", "source address"},
             {"dst", "destination address"},
             {"false_positive", "true or false"},
             {"limit", "page size, 1-1000"},
             {"cursor", "next_cursor of the previous page"}})
      params.push_back(param(name, "query", "string", what, false));
    with_params(list, params);
  }
  system("/api/v1/alerts/{id}", "get", "alerts_get", "One alert", {404, 503});
  system("/api/v1/alerts/{id}/false-positive", "post", "alerts_false_positive",
         "Mark an alert as a false positive (body: {\"reason\"?})", {400, 404, 503});
  for (const char* path : {"/api/v1/alerts/{id}", "/api/v1/alerts/{id}/false-positive"}) {
    auto item = paths->getObject(path);
    for (const auto& [method, op] : *item)
      with_params(op.extract<Object::Ptr>(),
                  {param("id", "path", "string", "the alert's id (a UUID)", true)});
  }
  auto fp = with_body(
      paths->getObject("/api/v1/alerts/{id}/false-positive")->getObject("post"),
      Poco::JSON::Parser()
          .parse(R"({"type":"object","additionalProperties":false,"properties":{"reason":)"
                 R"({"type":"string","maxLength":1000}}})")
          .extract<Object::Ptr>());
  fp->getObject("requestBody")->set("required", false);
  // The REST frontend's probes: no key needed.
  for (const auto& [path, id, summary] :
       {std::tuple{"/healthz", "healthz", "The frontend is up"},
        std::tuple{"/readyz", "readyz",
                   "Ready means enforcing: every enabled engine on every interface "
                   "(503 and what is missing otherwise)"}}) {
    auto op = operation(id, summary, "probes", {{"200", response("OK", any_object())}}, {});
    auto responses = op->getObject("responses");
    responses->remove("401");
    responses->remove("403");
    if (std::string(path) == "/readyz")
      responses->set("503", response("Not ready: what is missing", any_object()));
    op->set("security", Array::Ptr(new Array));
    auto item = obj();
    item->set("get", op);
    paths->set(path, item);
  }
  doc->set("paths", paths);

  // Every tag an operation names, described once.
  Array::Ptr tags = new Array;
  auto tag = [&](const std::string& name, const std::string& description) {
    auto t = obj();
    t->set("name", name);
    t->set("description", description);
    tags->add(t);
  };
  tag("agent", "The agent: status, configuration, audit, API keys and alerts");
  tag("probes", "Liveness and readiness, for orchestrators and load balancers");
  for (const auto& d : domains)
    tag(d.name, d.summary.empty() ? "The " + d.name + " rule domain" : d.summary);
  doc->set("tags", tags);

  auto components = obj();
  components->set("schemas", schemas);
  components->set("securitySchemes",
                  Poco::JSON::Parser().parse(
                      R"({"bearer":{"type":"http","scheme":"bearer"},)"
                      R"("apiKey":{"type":"apiKey","in":"header","name":"X-API-Key"}})"));
  doc->set("components", components);
  doc->set("security", Poco::JSON::Parser().parse(R"([{"bearer":[]},{"apiKey":[]}])"));
  std::ostringstream os;
  doc->stringify(os);
  return os.str();
}

}  // namespace rampart::api
