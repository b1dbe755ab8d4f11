// SPDX-License-Identifier: Apache-2.0
#include "store/rule_service.hpp"

#include <algorithm>

namespace rampart::store {

std::vector<StoredRule> RuleService::claim(const std::string& domain,
                                           std::weak_ptr<RuleOwner> owner,
                                           const std::vector<StoredRule>& config_rules) {
  std::lock_guard lock(mu_);
  owners_[domain] = {owner.lock().get(), owner};
  store_.sync_origin(domain, "config", config_rules, "config");
  ++applied_[domain];  // the owner applies what this returns
  return store_.list(domain);
}

void RuleService::release(const RuleOwner* owner) {
  std::lock_guard lock(mu_);
  std::erase_if(owners_, [&](const auto& kv) { return kv.second.first == owner; });
}

bool RuleService::describe(const RuleOwner* owner, DomainInfo info) {
  std::lock_guard lock(mu_);
  const auto it = owners_.find(info.name);
  if (it == owners_.end() || it->second.first != owner) return false;
  described_[info.name] = std::move(info);
  return true;
}

std::vector<DomainInfo> RuleService::domains() const {
  std::lock_guard lock(mu_);
  std::vector<DomainInfo> out;
  for (const auto& [name, o] : owners_) {
    const auto d = described_.find(name);
    out.push_back(d != described_.end() ? d->second : DomainInfo{name, "", ""});
  }
  return out;
}

bool RuleService::owned(const std::string& domain) const {
  std::lock_guard lock(mu_);
  return owners_.count(domain) != 0;
}

std::optional<std::string> RuleService::status(const std::string& domain) {
  std::shared_ptr<RuleOwner> owner;
  {
    std::lock_guard lock(mu_);
    owner = owner_locked(domain);
  }
  if (!owner) return std::nullopt;
  return owner->domain_status(domain);
}

std::shared_ptr<RuleOwner> RuleService::owner_locked(const std::string& domain) const {
  const auto it = owners_.find(domain);
  return it == owners_.end() ? nullptr : it->second.second.lock();
}

ChangeResult RuleService::apply_then_commit(
    const std::string& domain, RuleOwner& owner, const std::vector<StoredRule>& next,
    const std::function<void(const std::function<void()>&)>& write) {
  std::string refusal;
  try {
    write([&] {
      refusal = owner.apply_rules(domain, next);
      if (!refusal.empty()) throw std::runtime_error(refusal);
    });
  } catch (const StoreError& e) {
    return {RAMPART_ERR_INTERNAL, e.what()};
  } catch (const std::exception& e) {
    if (!refusal.empty()) return {RAMPART_ERR_INVALID_ARGUMENT, refusal};
    return {RAMPART_ERR_INTERNAL, e.what()};
  }
  ++applied_[domain];
  return {};
}

static ChangeResult no_owner(const std::string& domain) {
  return {RAMPART_ERR_UNSUPPORTED, "no running engine owns the rule domain '" + domain + "'"};
}

ChangeResult RuleService::change(const std::string& domain, rampart_rule_change kind, uint64_t id,
                                 const std::optional<std::string>& body, const std::string& actor) {
  std::lock_guard lock(mu_);
  const auto owner = owner_locked(domain);
  if (!owner) return no_owner(domain);

  std::vector<StoredRule> next = store_.list(domain);
  auto pos =
      std::find_if(next.begin(), next.end(), [&](const StoredRule& r) { return r.id == id; });
  const bool exists = pos != next.end();
  if (kind == RAMPART_RULE_CREATE && exists) {
    return {RAMPART_ERR_CONFLICT, "rule " + std::to_string(id) + " already exists"};
  }
  if (kind != RAMPART_RULE_CREATE && !exists) {
    return {RAMPART_ERR_NOT_FOUND, "no rule " + std::to_string(id)};
  }
  std::optional<std::string> stored;
  if (kind == RAMPART_RULE_DELETE) {
    next.erase(pos);
  } else {
    stored = body.value_or("");
    if (exists)
      pos->body = *stored;
    else
      next.push_back({id, *stored});
  }
  return apply_then_commit(domain, *owner, next, [&](const std::function<void()>& apply) {
    store_.change(domain, id, stored, actor, apply);
  });
}

ChangeResult RuleService::replace_api_rules(const std::string& domain,
                                            const std::vector<StoredRule>& rules,
                                            const std::string& actor) {
  std::lock_guard lock(mu_);
  const auto owner = owner_locked(domain);
  if (!owner) return no_owner(domain);
  std::vector<StoredRule> next = store_.list(domain, "config");
  for (const auto& r : rules) {
    if (std::any_of(next.begin(), next.end(), [&](const StoredRule& c) { return c.id == r.id; }))
      return {RAMPART_ERR_CONFLICT,
              "rule " + std::to_string(r.id) + " is managed by the config file"};
  }
  next.insert(next.end(), rules.begin(), rules.end());
  return apply_then_commit(domain, *owner, next, [&](const std::function<void()>& apply) {
    store_.sync_origin(domain, "api", rules, actor, apply);
  });
}

std::map<std::string, uint64_t> RuleService::applied() const {
  std::lock_guard lock(mu_);
  return applied_;
}

}  // namespace rampart::store
