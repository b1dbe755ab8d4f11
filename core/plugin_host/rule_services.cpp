// SPDX-License-Identifier: Apache-2.0
// The plugin host's rule and API services: the rule domains an engine
// claims (declared in its config, stored in SQLite, changed over the API),
// handing whole rule sets to the engine, and the management API as a
// frontend plugin reaches it.
#include <filesystem>
#include <map>
#include <optional>

#include "api/management_api.hpp"
#include "plugin_host/host_handles.hpp"

namespace rampart::plugin_host {
namespace {

// Where plugins.<id> declares the rules an engine claims: list items that
// are maps with an integer `id` (how a rule engine writes its rules, and any
// engine that follows it), the first one per id. Only const access: a
// non-const operator[] would add keys to the running config.
void find_declared(const YAML::Node& node, const std::string& key, const std::string& file,
                   int depth, std::map<uint64_t, store::ConfigSource>& out) {
  if (depth > 16) return;
  if (node.IsMap()) {
    for (const auto& kv : node) {
      if (kv.first.IsScalar())
        find_declared(kv.second, key + "." + kv.first.Scalar(), file, depth + 1, out);
    }
  } else if (node.IsSequence()) {
    for (size_t i = 0; i < node.size(); ++i) {
      const YAML::Node item = node[i];
      const std::string at = key + "[" + std::to_string(i) + "]";
      // A map without an `id` gives a node that is not defined, whose
      // type must not be asked (yaml-cpp throws InvalidNode): a plugin's
      // list of maps without one (country tiers, say) failed its claim.
      const YAML::Node id_node = item.IsMap() ? item["id"] : YAML::Node();
      uint64_t id = 0;
      if (id_node.IsDefined() && id_node.IsScalar() &&
          YAML::convert<uint64_t>::decode(id_node, id)) {
        out.emplace(id, store::ConfigSource{file, item.Mark().line + 1, at});
      } else {
        find_declared(item, at, file, depth + 1, out);
      }
    }
  }
}

void report(const std::vector<rampart::store::StoredRule>& rules, rampart_rule_fn fn, void* user) {
  if (!fn) return;
  for (const auto& r : rules) {
    const rampart_rule rr{sizeof(rampart_rule), 0, r.id, rampart_str{r.body.data(), r.body.size()}};
    fn(user, &rr);
  }
}

// ABI 1.4 peer fields, when the frontend's struct has them.
void read_peer(const rampart_api_request& r, rampart::api::Request& req) {
  if (r.struct_size < RAMPART_FIELD_END(rampart_api_request, peer_pid)) return;
  req.local = (r.peer_flags & RAMPART_PEER_LOCAL) != 0;
  req.uid = r.peer_uid;
  req.pid = r.peer_pid;
}

}  // namespace

std::string PluginInstance::apply_rules(const std::string& domain,
                                        const std::vector<store::StoredRule>& rules) {
  GatePass pass(gate_);
  if (!pass) return "plugin " + id() + " is not running";
  if (!RAMPART_PLUGIN_HAS(*lib_, rules_apply)) return "plugin " + id() + " cannot apply rules";
  std::vector<rampart_rule> set;
  set.reserve(rules.size());
  for (const auto& r : rules)
    set.push_back({sizeof(rampart_rule), 0, r.id, rampart_str{r.body.data(), r.body.size()}});
  const auto r = call(Callback::rules_apply, [&] {
    return lib_->api().rules_apply(handle_, domain.c_str(), set.data(), set.size());
  });
  // INVALID_ARGUMENT is the engine refusing a rule (the API answers 422
  // with its text), not a fault of the plugin.
  if (r.status != RAMPART_ERR_INVALID_ARGUMENT) count(Callback::rules_apply, r);
  return r.error;
}

bool PluginInstance::applies_changes() const {
  return RAMPART_PLUGIN_HAS(*lib_, rules_apply_changes);
}

std::string PluginInstance::apply_changes(const std::string& domain,
                                          const std::vector<store::RuleDelta>& changes) {
  GatePass pass(gate_);
  if (!pass) return "plugin " + id() + " is not running";
  if (!applies_changes()) return "plugin " + id() + " cannot apply rule changes";
  std::vector<rampart_rule_delta> list;
  list.reserve(changes.size());
  for (const auto& c : changes) {
    const rampart_str body = c.body ? rampart_str{c.body->data(), c.body->size()} : rampart_str{};
    list.push_back({sizeof(rampart_rule_delta), static_cast<uint32_t>(c.kind), c.id, body});
  }
  const auto r = call(Callback::rules_apply, [&] {
    return lib_->api().rules_apply_changes(handle_, domain.c_str(), list.data(), list.size());
  });
  if (r.status != RAMPART_ERR_INVALID_ARGUMENT) count(Callback::rules_apply, r);
  return r.error;
}

std::string PluginInstance::domain_status(const std::string& domain) {
  GatePass pass(gate_);
  if (!pass || !RAMPART_PLUGIN_HAS(*lib_, domain_status)) return "{}";
  rampart_str out{};
  const auto r = call(Callback::domain_status,
                      [&] { return lib_->api().domain_status(handle_, domain.c_str(), &out); });
  count(Callback::domain_status, r);
  if (!r.ok() || !out.ptr) return "{}";
  return std::string(out.ptr, out.len);
}

rampart_status PluginInstance::domain_describe(const rampart_domain_desc* desc) {
  if (!desc || desc->struct_size < RAMPART_FIELD_END(rampart_domain_desc, schema) || !desc->name)
    return host_fail(RAMPART_ERR_INVALID_ARGUMENT, "malformed domain description");
  const rampart_domain_desc& d = *desc;
  if (!core_.rules) return host_fail(RAMPART_ERR_UNSUPPORTED, "no rule store");
  store::DomainInfo info{d.name, d.summary ? d.summary : "", d.schema ? d.schema : ""};
  if (!core_.rules->describe(this, std::move(info))) {
    return host_fail(RAMPART_ERR_NOT_FOUND,
                     std::string("claim the domain '") + d.name + "' before describing it");
  }
  return RAMPART_OK;
}

rampart_status PluginInstance::api_call(const rampart_api_request* request,
                                        rampart_api_response* response) {
  if (!request || !response ||
      request->struct_size < RAMPART_FIELD_END(rampart_api_request, actor) ||
      response->struct_size < RAMPART_FIELD_END(rampart_api_response, body) || !request->method ||
      !request->path || (request->body.len && !request->body.ptr))
    return host_fail(RAMPART_ERR_INVALID_ARGUMENT, "malformed API request");
  const rampart_api_request& r = *request;
  rampart_api_response& out = *response;
  if (!core_.api) return host_fail(RAMPART_ERR_UNSUPPORTED, "no management API in this host");
  api::Request req;
  req.method = r.method;
  req.path = r.path;
  if (r.body.len) req.body.assign(r.body.ptr, r.body.len);
  req.actor = r.actor ? r.actor : "plugin:" + id();
  if (r.struct_size >= RAMPART_FIELD_END(rampart_api_request, credential) && r.credential)
    req.credential = r.credential;
  read_peer(r, req);
  req.carrier = id();
  thread_local api::Response res;
  res = core_.api->handle(std::move(req), r.query ? r.query : "");
  out.status = static_cast<uint32_t>(res.status);
  out.body = rampart_str{res.body.data(), res.body.size()};
  return RAMPART_OK;
}

rampart_status PluginInstance::api_authenticate(const rampart_api_request* request,
                                                rampart_api_identity* identity) {
  if (!request || !identity ||
      request->struct_size < RAMPART_FIELD_END(rampart_api_request, credential) ||
      identity->struct_size < RAMPART_FIELD_END(rampart_api_identity, name))
    return host_fail(RAMPART_ERR_INVALID_ARGUMENT, "malformed authentication request");
  const rampart_api_request& r = *request;
  rampart_api_identity& out = *identity;
  if (!core_.api) return host_fail(RAMPART_ERR_UNSUPPORTED, "no management API in this host");
  api::Request req;
  if (r.credential) req.credential = r.credential;
  read_peer(r, req);
  thread_local std::string name;
  const auto who = core_.api->authenticate(req);
  name = who ? who->name : "";
  out.role = who ? static_cast<uint32_t>(who->role) : static_cast<uint32_t>(RAMPART_ROLE_NONE);
  out.name = rampart_str{name.data(), name.size()};
  return RAMPART_OK;
}

rampart_status PluginInstance::rules_claim(const char* domain, const rampart_rule* rules,
                                           size_t count, rampart_rule_fn fn, void* user) {
  if (!domain || (count && !rules)) return host_fail(RAMPART_ERR_INVALID_ARGUMENT, "null argument");
  if (!core_.rules) return host_fail(RAMPART_ERR_UNSUPPORTED, "no rule store");
  if (lib_->kind() != RAMPART_KIND_ENGINE)
    return host_fail(RAMPART_ERR_INVALID_ARGUMENT, "only engines own rules");
  if (const auto problem = api::ManagementApi::domain_name_problem(domain); !problem.empty())
    return host_fail(RAMPART_ERR_INVALID_ARGUMENT, problem);
  std::vector<store::StoredRule> config;
  for (size_t i = 0; i < count; ++i) {
    config.push_back(
        {rules[i].id, rules[i].body.ptr ? std::string(rules[i].body.ptr, rules[i].body.len) : ""});
  }
  // An absolute path: API clients do not know rampartd's working directory.
  std::string file = config_file_;
  if (!file.empty() && file.front() != '<') {  // not "<embedded>"
    std::error_code ec;
    if (const auto abs = std::filesystem::absolute(file, ec); !ec)
      file = abs.lexically_normal().string();
  }
  std::map<uint64_t, store::ConfigSource> sources;
  find_declared(config_node_, "plugins." + id(), file, 0, sources);
  try {
    report(
        core_.rules->claim(domain, std::static_pointer_cast<store::RuleOwner>(shared_from_this()),
                           config, std::move(sources)),
        fn, user);
  } catch (const store::StoreError& e) {
    return host_fail(RAMPART_ERR_INTERNAL, e.what());
  }
  return RAMPART_OK;
}

rampart_status PluginInstance::rules_list(const char* domain, rampart_rule_fn fn, void* user) {
  if (!domain || !fn) return host_fail(RAMPART_ERR_INVALID_ARGUMENT, "null argument");
  if (!core_.rules) return host_fail(RAMPART_ERR_UNSUPPORTED, "no rule store");
  report(core_.rules->list(domain), fn, user);
  return RAMPART_OK;
}

rampart_status PluginInstance::rules_change(const char* domain, uint32_t change, uint64_t id,
                                            rampart_str body, const char* actor) {
  if (!domain) return host_fail(RAMPART_ERR_INVALID_ARGUMENT, "null argument");
  if (!actor) actor = "";
  if (!core_.rules) return host_fail(RAMPART_ERR_UNSUPPORTED, "no rule store");
  if (change < RAMPART_RULE_CREATE || change > RAMPART_RULE_DELETE) {
    return host_fail(RAMPART_ERR_INVALID_ARGUMENT, "unknown change kind");
  }
  std::optional<std::string> text;
  if (change != RAMPART_RULE_DELETE)
    text = body.ptr ? std::string(body.ptr, body.len) : std::string();
  const auto r = core_.rules->change(domain, static_cast<rampart_rule_change>(change), id, text,
                                     std::string(actor) + " via " + this->id());
  if (r.status != RAMPART_OK) return host_fail(r.status, r.message);
  return RAMPART_OK;
}

}  // namespace rampart::plugin_host
