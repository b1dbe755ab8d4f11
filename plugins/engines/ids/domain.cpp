// SPDX-License-Identifier: Apache-2.0
#include "domain.hpp"

#include <map>

namespace rampart::ids {

Entry entry_from_json(const std::string& body, uint64_t id) {
  const auto o = json::object_of(body);
  json::only_fields(*o, {"id", "rule", "enabled"});
  Entry e;
  e.sid = static_cast<uint32_t>(json::entry_id(*o, id, UINT32_MAX));
  if (e.sid == 0) throw json::BodyError("id: required (the rule's sid)");
  if (o->has("rule")) {
    e.rule = json::string_field(*o, "rule");
    if (e.rule->empty() || e.rule->size() > kMaxRuleLength)
      throw json::BodyError("rule: must be 1-" + std::to_string(kMaxRuleLength) + " bytes");
  }
  if (o->has("enabled")) e.enabled = json::bool_field(*o, "enabled");
  if (!e.rule && e.enabled)
    throw json::BodyError("rule: required unless the entry disables a rule (enabled: false)");
  return e;
}

std::string entry_to_json(const Entry& e) {
  Poco::JSON::Object o(Poco::JSON_PRESERVE_KEY_ORDER);
  o.set("id", e.sid);
  if (e.rule) o.set("rule", *e.rule);
  o.set("enabled", e.enabled);
  return json::to_text(o);
}

const char* entry_schema_json() {
  return R"json({
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "id": {"type": "integer", "minimum": 1, "maximum": 4294967295,
           "description": "the rule's sid"},
    "rule": {"type": "string", "minLength": 1, "maxLength": 65536,
             "description": "a rule in Suricata syntax whose sid is the id; none: a rule of the config's files, switched by enabled"},
    "enabled": {"type": "boolean", "default": true}
  }
})json";
}

Composed compose(const std::vector<FileRules>& files, const std::vector<Entry>& entries,
                 const Variables& vars) {
  std::map<uint32_t, const Entry*> by_sid;
  for (const auto& e : entries) by_sid[e.sid] = &e;
  Composed c;
  for (const auto& f : files) {
    for (const auto& r : f.loaded.rules) {
      const auto it = by_sid.find(r.sid);
      if (it == by_sid.end()) {
        c.rules.push_back(r);
      } else if (!it->second->enabled) {
        ++c.disabled;
      } else if (it->second->rule) {
        ++c.replaced;  // the entry's rule goes in below
      } else {
        c.rules.push_back(r);
      }
    }
    c.refused.insert(c.refused.end(), f.loaded.refused.begin(), f.loaded.refused.end());
  }
  for (const auto& [sid, e] : by_sid) {
    if (!e->rule) continue;
    Rule r;
    try {
      r = parse_rule(*e->rule, vars);
    } catch (const RuleError& err) {
      throw json::BodyError(std::string("rule: ") + err.what());
    }
    if (r.sid != sid)
      throw json::BodyError("rule: its sid is " + std::to_string(r.sid) + ", the entry's " +
                            std::to_string(sid));
    if (e->enabled)
      c.rules.push_back(std::move(r));
    else
      ++c.disabled;
  }
  return c;
}

}  // namespace rampart::ids
