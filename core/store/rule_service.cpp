// SPDX-License-Identifier: Apache-2.0
#include "store/rule_service.hpp"

#include "store/apply_gate.hpp"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <array>
#include <optional>
#include <set>
#include <thread>

namespace rampart::store {
namespace {

// Two parsed JSON values are the same: objects with the same keys (in any
// order) of the same values, arrays element by element, scalars of the
// same kind and text.
bool same_value(const Poco::Dynamic::Var& a, const Poco::Dynamic::Var& b) {
  using Poco::JSON::Array;
  using Poco::JSON::Object;
  const bool oa = a.type() == typeid(Object::Ptr), ob = b.type() == typeid(Object::Ptr);
  const bool aa = a.type() == typeid(Array::Ptr), ab = b.type() == typeid(Array::Ptr);
  if (oa || ob || aa || ab) {
    if (oa != ob || aa != ab) return false;
    if (oa) {
      const auto x = a.extract<Object::Ptr>(), y = b.extract<Object::Ptr>();
      if (x->size() != y->size()) return false;
      for (const auto& [k, v] : *x) {
        if (!y->has(k) || !same_value(v, y->get(k))) return false;
      }
      return true;
    }
    const auto x = a.extract<Array::Ptr>(), y = b.extract<Array::Ptr>();
    if (x->size() != y->size()) return false;
    for (size_t i = 0; i < x->size(); ++i) {
      if (!same_value(x->get(i), y->get(i))) return false;
    }
    return true;
  }
  if (a.isEmpty() || b.isEmpty()) return a.isEmpty() == b.isEmpty();
  const bool ba = a.type() == typeid(bool), bb = b.type() == typeid(bool);
  return a.isString() == b.isString() && ba == bb && a.toString() == b.toString();
}

// Whether a and b hold the same bytes but for ASCII whitespace, in any
// order: what two spellings of one JSON value that differ only in key order
// and spacing have in common.
bool same_bytes(const std::string& a, const std::string& b) {
  std::array<int32_t, 256> n{};
  const auto space = [](unsigned char c) {
    return c == ' ' || c == '\n' || c == '\t' || c == '\r';
  };
  for (unsigned char c : a) n[c] += space(c) ? 0 : 1;
  for (unsigned char c : b) n[c] -= space(c) ? 0 : 1;
  return std::all_of(n.begin(), n.end(), [](int32_t x) { return x == 0; });
}

// Two rule bodies are the same rule when they are the same JSON, whatever
// their key order or spacing (a listing re-serialises what the engine
// stored). Bodies that do not parse compare as text.
bool same_json(const std::string& a, const std::string& b) {
  if (a == b) return true;
  try {
    Poco::JSON::Parser parser;
    const auto va = parser.parse(a);
    parser.reset();
    return same_value(va, parser.parse(b));
  } catch (const std::exception&) {  // Poco's exceptions too
    return false;
  }
}

// Whether an imported body leaves an API rule as it is stored: same_json,
// without parsing either where their bytes differ beyond key order and
// spacing (an import where every rule changed parsed 8,192 bodies for
// nothing). The API stores every body as one serialiser writes it, which
// spells each value one way; a body spelt otherwise (1e2 for 100, \u0041
// for A) is taken as changed and written again, never lost. (A config
// file's rule is compared by same_json alone: there a difference is a
// refusal.)
bool same_api_body(const std::string& stored, const std::string& imported) {
  return stored == imported || (same_bytes(stored, imported) && same_json(stored, imported));
}

}  // namespace

std::vector<StoredRule> RuleService::claim(const std::string& domain,
                                           std::weak_ptr<RuleOwner> owner,
                                           const std::vector<StoredRule>& config_rules,
                                           std::map<uint64_t, ConfigSource> sources) {
  std::lock_guard lock(mu_);
  owners_[domain] = {owner.lock().get(), owner};
  sources_[domain] = std::move(sources);
  ++applied_[domain];  // the owner applies what this returns
  if (!transaction_.owns_lock()) {
    store_.sync_origin(domain, kConfigOrigin, config_rules, "config");
    return store_.list(domain);
  }
  // In a reload: what sync_origin will make of the store, unwritten. The
  // file's rules replace the file's earlier ones and take their identifiers over.
  held_claims_[domain] = config_rules;
  std::set<uint64_t> declared;
  for (const auto& r : config_rules) declared.insert(r.id);
  std::vector<StoredRule> next;
  for (auto& r : store_.list(domain)) {
    if (r.origin != kConfigOrigin && !declared.count(r.id)) next.push_back(std::move(r));
  }
  for (const auto& r : config_rules) next.push_back({r.id, r.body, kConfigOrigin});
  std::sort(next.begin(), next.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  return next;
}

void RuleService::begin_transaction() {
  transaction_.lock();
  transaction_thread_ = std::this_thread::get_id();
  std::lock_guard lock(mu_);
  held_claims_.clear();
}

void RuleService::commit_transaction() {
  std::lock_guard lock(mu_);
  for (const auto& [domain, rules] : held_claims_)
    store_.sync_origin(domain, kConfigOrigin, rules, "config");
  held_claims_.clear();
}

void RuleService::end_transaction() {
  {
    std::lock_guard lock(mu_);
    // Claims not committed: their owners may have applied what the store
    // never got.
    for (const auto& [domain, rules] : held_claims_) resync_.insert(domain);
    held_claims_.clear();
  }
  transaction_thread_ = std::thread::id();
  if (transaction_.owns_lock()) transaction_.unlock();
}

std::unique_lock<std::mutex> RuleService::wait_for_reload() {
  // The reload's own thread (an engine changing a rule while it reloads)
  // must not wait for itself.
  if (transaction_thread_.load() == std::this_thread::get_id()) return {};
  return std::unique_lock(writes_mu_);
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

std::optional<std::string> RuleService::status(const std::string& domain) const {
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
    const std::string& domain, RuleOwner& owner, const std::function<std::string()>& apply,
    const std::function<void(const std::function<void()>&)>& write) {
  std::string refusal;
  bool applied = false;
  try {
    write([&] {
      refusal = apply();
      if (!refusal.empty()) throw std::runtime_error(refusal);
      applied = true;
    });
  } catch (const std::exception& e) {
    if (!refusal.empty()) return {RAMPART_ERR_INVALID_ARGUMENT, refusal};
    if (applied) restore_stored(domain, owner);  // the COMMIT failed
    return {RAMPART_ERR_INTERNAL, e.what()};
  }
  ++applied_[domain];
  return {};
}

ChangeResult RuleService::apply_beside_store(
    const std::string& domain, RuleOwner& owner, const std::vector<StoredRule>& next,
    const std::function<void(const std::function<void()>&)>& write) {
  struct Refused {};
  ApplyGate gate;
  std::optional<std::string> store_failure;
  std::thread sql([&] {
    try {
      write([&] {
        gate.written("");
        if (!gate.wait_applied()) throw Refused{};  // rolled back
      });
    } catch (const Refused&) {
    } catch (const std::exception& e) {
      store_failure = *e.what() ? e.what() : "the rule store failed";
    }
    // No effect once written (then the COMMIT failed); never leaves the
    // owner waiting, whatever `write` did.
    gate.written(store_failure.value_or("the rule store did not write the set"));
  });
  std::string refusal;
  try {
    ApplyGate::Scope scope(gate);
    refusal = owner.apply_rules(domain, next);
  } catch (...) {
    gate.applied(false);
    sql.join();
    throw;
  }
  gate.applied(refusal.empty());
  sql.join();
  if (store_failure) {
    // Applied all the same: the store failed after the owner's kernel
    // writes (the COMMIT), or the owner made none.
    if (refusal.empty()) restore_stored(domain, owner);
    return {RAMPART_ERR_INTERNAL, *store_failure};
  }
  if (!refusal.empty()) return {RAMPART_ERR_INVALID_ARGUMENT, refusal};
  ++applied_[domain];
  return {};
}

void RuleService::restore_stored(const std::string& domain, RuleOwner& owner) {
  try {
    if (owner.apply_rules(domain, store_.list(domain)).empty()) {
      resync_.erase(domain);
      return;
    }
  } catch (const std::exception&) {
  }
  resync_.insert(domain);  // the next change hands the owner the whole set
}

static ChangeResult no_owner(const std::string& domain) {
  return {RAMPART_ERR_UNSUPPORTED, "no running engine owns the rule domain '" + domain + "'"};
}

ChangeResult RuleService::config_owned(const std::string& domain, uint64_t id,
                                       const std::string& why) const {
  ConfigSource src;
  if (const auto d = sources_.find(domain); d != sources_.end()) {
    if (const auto it = d->second.find(id); it != d->second.end()) src = it->second;
  }
  std::string at;
  if (!src.file.empty()) at = src.file + (src.line > 0 ? ":" + std::to_string(src.line) : "");
  if (!src.key.empty()) at += (at.empty() ? "" : ", ") + src.key;
  ChangeResult r{RAMPART_ERR_CONFLICT,
                 "rule " + std::to_string(id) + " is managed by the config file" +
                     (at.empty() ? "" : " (declared at " + at + ")") + why +
                     "; change it there and reload (SIGHUP or POST /api/v1/config/reload)"};
  r.config = std::move(src);
  r.rule_id = id;
  return r;
}

ChangeResult RuleService::writable(const std::string& domain, uint64_t id) const {
  std::lock_guard lock(mu_);
  if (store_.origin(domain, id) == kConfigOrigin) return config_owned(domain, id);
  return {};
}

ChangeResult RuleService::check(const std::string& domain, const std::optional<std::string>& origin,
                                const Pending& p) const {
  // A change here would be undone by the next reload, which syncs the file.
  if (origin && *origin == kConfigOrigin) return config_owned(domain, p.id);
  if (p.kind == RAMPART_RULE_CREATE && origin) {
    return {RAMPART_ERR_CONFLICT, "rule " + std::to_string(p.id) + " already exists"};
  }
  if (p.kind != RAMPART_RULE_CREATE && !origin) {
    return {RAMPART_ERR_NOT_FOUND, "no rule " + std::to_string(p.id)};
  }
  return {};
}

ChangeResult RuleService::plan(const std::string& domain, std::vector<StoredRule>& rules,
                               const Pending& p, std::optional<std::string>& stored) const {
  auto pos =
      std::find_if(rules.begin(), rules.end(), [&](const StoredRule& r) { return r.id == p.id; });
  const bool exists = pos != rules.end();
  if (auto refused = check(domain, exists ? std::optional(pos->origin) : std::nullopt, p);
      refused.status != RAMPART_OK)
    return refused;
  stored.reset();
  if (p.kind == RAMPART_RULE_DELETE) {
    rules.erase(pos);
  } else {
    stored = p.body.value_or("");
    if (exists)
      pos->body = *stored;
    else
      rules.push_back({p.id, *stored});
  }
  return {};
}

void RuleService::run_batch(const std::string& domain, const std::vector<Pending*>& batch) {
  const auto writes = wait_for_reload();
  std::lock_guard lock(mu_);
  const auto owner = owner_locked(domain);
  if (!owner) {
    for (auto* p : batch) p->result = no_owner(domain);
    return;
  }
  if (owner->applies_changes() && !resync_.count(domain)) {
    run_delta_batch(domain, *owner, batch);
    return;
  }
  std::vector<StoredRule> next = store_.list(domain);
  std::vector<Pending*> accepted;
  std::vector<RuleStore::Change> changes;
  for (auto* p : batch) {
    std::optional<std::string> stored;
    p->result = plan(domain, next, *p, stored);
    if (p->result.status != RAMPART_OK) continue;
    accepted.push_back(p);
    changes.push_back({p->id, std::move(stored), p->actor});
  }
  if (accepted.empty()) return;
  batches_.fetch_add(1);
  batched_changes_.fetch_add(accepted.size());
  const ChangeResult r = apply_then_commit(
      domain, *owner, [&] { return owner->apply_rules(domain, next); },
      [&](const std::function<void()>& apply) { store_.change_all(domain, changes, apply); });
  if (r.status == RAMPART_OK) resync_.erase(domain);  // the owner holds the stored set again
  // A store failure is every change's: retrying them one by one would only
  // fail (and restore the owner) once per change.
  if (r.status != RAMPART_ERR_INVALID_ARGUMENT || accepted.size() == 1) {
    for (auto* p : accepted) p->result = r;
    return;
  }
  // The set was refused: one change at a time, so that only the one at
  // fault is refused and the others are still made.
  for (auto* p : accepted) {
    std::vector<StoredRule> one = store_.list(domain);
    std::optional<std::string> stored;
    p->result = plan(domain, one, *p, stored);
    if (p->result.status != RAMPART_OK) continue;
    p->result = apply_then_commit(
        domain, *owner, [&] { return owner->apply_rules(domain, one); },
        [&](const std::function<void()>& apply) {
          store_.change(domain, p->id, stored, p->actor, apply);
        });
  }
}

void RuleService::run_delta_batch(const std::string& domain, RuleOwner& owner,
                                  const std::vector<Pending*>& batch) {
  // Each id's origin as the batch's earlier changes leave it (nullopt: no
  // such rule), asked of the store once per id.
  std::map<uint64_t, std::optional<std::string>> origins;
  const auto origin_of = [&](uint64_t id) -> std::optional<std::string>& {
    auto it = origins.find(id);
    if (it == origins.end()) it = origins.emplace(id, store_.origin(domain, id)).first;
    return it->second;
  };
  std::vector<Pending*> accepted;
  std::vector<RuleStore::Change> changes;
  std::vector<RuleDelta> deltas;
  for (auto* p : batch) {
    auto& origin = origin_of(p->id);
    p->result = check(domain, origin, *p);
    if (p->result.status != RAMPART_OK) continue;
    accepted.push_back(p);
    std::optional<std::string> stored;
    if (p->kind != RAMPART_RULE_DELETE) stored = p->body.value_or("");
    origin = stored ? std::optional<std::string>(kApiOrigin) : std::nullopt;
    changes.push_back({p->id, std::move(stored), p->actor});
  }
  if (accepted.empty()) return;
  // Pointing into `changes`, now that it has stopped growing.
  for (size_t i = 0; i < accepted.size(); ++i)
    deltas.push_back(
        {accepted[i]->kind, accepted[i]->id, changes[i].body ? &*changes[i].body : nullptr});
  batches_.fetch_add(1);
  batched_changes_.fetch_add(accepted.size());
  const ChangeResult r = apply_then_commit(
      domain, owner, [&] { return owner.apply_changes(domain, deltas); },
      [&](const std::function<void()>& apply) { store_.change_all(domain, changes, apply); });
  if (r.status != RAMPART_ERR_INVALID_ARGUMENT || accepted.size() == 1) {
    for (auto* p : accepted) p->result = r;
    return;
  }
  // Refused as a whole, so none was applied: one at a time, so that only
  // the change at fault is refused.
  for (size_t i = 0; i < accepted.size(); ++i) {
    Pending& p = *accepted[i];
    p.result = check(domain, store_.origin(domain, p.id), p);
    if (p.result.status != RAMPART_OK) continue;
    const std::vector<RuleDelta> one{deltas[i]};
    p.result = apply_then_commit(
        domain, owner, [&] { return owner.apply_changes(domain, one); },
        [&](const std::function<void()>& apply) {
          store_.change(domain, p.id, changes[i].body, p.actor, apply);
        });
  }
}

size_t RuleService::waiting(const std::string& domain) {
  std::lock_guard lock(queue_mu_);
  const auto it = queues_.find(domain);
  if (it == queues_.end()) return 0;
  // The leader's own change is in the queue until it takes the batch.
  return it->second.waiting.size();
}

ChangeResult RuleService::change(const std::string& domain, rampart_rule_change kind, uint64_t id,
                                 const std::optional<std::string>& body, const std::string& actor) {
  // The reload's own thread (an engine changing a rule while it reloads)
  // goes at once: a batch would wait for that very reload.
  if (transaction_thread_.load() == std::this_thread::get_id()) {
    Pending p{kind, id, body, actor, {}};
    run_batch(domain, {&p});
    return p.result;
  }
  auto mine = std::make_shared<Pending>(Pending{kind, id, body, actor, {}});
  std::unique_lock lock(queue_mu_);
  auto& q = queues_[domain];
  q.waiting.push_back(mine);
  if (!q.busy) {
    q.busy = true;
    mine->lead = true;
  }
  queue_cv_.wait(lock, [&] { return mine->done || mine->lead; });
  if (mine->done) return mine->result;
  // This change leads: everything waiting now is its batch.
  std::vector<std::shared_ptr<Pending>> batch(q.waiting.begin(), q.waiting.end());
  q.waiting.clear();
  lock.unlock();
  std::vector<Pending*> raw;
  for (const auto& p : batch) raw.push_back(p.get());
  try {
    run_batch(domain, raw);
  } catch (const std::exception& e) {
    for (auto* p : raw) p->result = {RAMPART_ERR_INTERNAL, e.what()};
  }
  lock.lock();
  for (const auto& p : batch) p->done = true;
  // The next batch is led by the change that has waited longest.
  if (!q.waiting.empty())
    q.waiting.front()->lead = true;
  else
    q.busy = false;
  lock.unlock();
  queue_cv_.notify_all();
  return mine->result;
}

ImportResult RuleService::replace_api_rules(const std::string& domain,
                                            const std::vector<StoredRule>& rules,
                                            const std::string& actor, bool dry_run) {
  const auto writes = wait_for_reload();
  std::lock_guard lock(mu_);
  const auto owner = owner_locked(domain);
  if (!owner) return {no_owner(domain), {}};
  RuleStore::Version read_at;
  std::map<uint64_t, StoredRule> stored;
  for (auto& r : store_.list(domain, read_at))
    stored.emplace_hint(stored.end(), r.id, std::move(r));
  ImportPlan plan;
  std::vector<StoredRule> api;  // the domain's API rules after the import
  for (const auto& r : rules) {
    const auto it = stored.find(r.id);
    if (it == stored.end()) {
      plan.added.push_back(r.id);
      api.push_back(r);
    } else if (it->second.origin == kConfigOrigin) {
      // What a listing or an export shows of the file's rules imports back
      // as it is; anything else would be undone by the next reload.
      if (!same_json(it->second.body, r.body))
        return {config_owned(domain, r.id, " and the import differs from it"), {}};
      ++plan.config_owned;
    } else if (same_api_body(it->second.body, r.body)) {
      ++plan.unchanged;
      api.push_back(it->second);  // as stored: the store then writes and audits nothing
    } else {
      plan.changed.push_back({r.id, it->second.body, r.body});
      api.push_back(r);
    }
  }
  std::sort(plan.added.begin(), plan.added.end());
  std::sort(plan.changed.begin(), plan.changed.end(),
            [](const auto& a, const auto& b) { return a.id < b.id; });
  std::set<uint64_t> imported;
  for (const auto& r : rules) imported.insert(r.id);
  for (const auto& [id, r] : stored) {
    if (r.origin != kConfigOrigin && !imported.count(id)) plan.removed.push_back(id);
  }
  if (dry_run) return {{}, std::move(plan)};
  // The set the owner holds already: nothing to apply, store or audit.
  if (plan.added.empty() && plan.removed.empty() && plan.changed.empty() && !resync_.count(domain))
    return {{}, std::move(plan)};

  std::vector<StoredRule> next;
  for (const auto& [id, r] : stored) {
    if (r.origin == kConfigOrigin) next.push_back(r);
  }
  next.insert(next.end(), api.begin(), api.end());
  // The store's write compares with the rules read above, not read again.
  const RuleStore::Known known{read_at, &stored};
  auto result = apply_beside_store(domain, *owner, next, [&](const std::function<void()>& written) {
    store_.sync_origin(domain, kApiOrigin, api, actor, written, &known);
  });
  if (result.status != RAMPART_OK) return {std::move(result), {}};
  resync_.erase(domain);
  return {{}, std::move(plan)};
}

std::map<std::string, uint64_t> RuleService::applied() const {
  std::lock_guard lock(mu_);
  return applied_;
}

}  // namespace rampart::store
