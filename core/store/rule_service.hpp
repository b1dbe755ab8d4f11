// SPDX-License-Identifier: Apache-2.0
// Rule domains over the store: which engine owns which domain, and the
// rule of every change: the owner applies the new whole set first, and only
// then is the change committed (with its audit entry). Changes to a domain
// are serialised, so the kernel and the store never disagree.
#pragma once

#include <rampart/sdk/abi.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "store/rule_store.hpp"

namespace rampart::store {

// One change to a domain's set, as an owner that applies changes gets it.
struct RuleDelta {
  rampart_rule_change kind;
  uint64_t id;
  const std::string* body;  // nullptr for a delete
};

class RuleOwner {
 public:
  virtual ~RuleOwner() = default;
  // "" when the whole set was checked and applied; else why not.
  virtual std::string apply_rules(const std::string& domain,
                                  const std::vector<StoredRule>& rules) = 0;
  // Owners that apply changes to the set they applied last (ABI 1.8) get
  // each API batch as its changes, not the domain's whole set: "" when all
  // were applied, else why none was.
  virtual bool applies_changes() const { return false; }
  virtual std::string apply_changes(const std::string& domain,
                                    const std::vector<RuleDelta>& changes) {
    return "this engine applies whole rule sets only";
  }
  // The domain's state as a JSON object (installed rules, hit counters...).
  virtual std::string domain_status(const std::string& domain) { return "{}"; }
};

// What an engine says about a domain it owns, for the API and its docs.
struct DomainInfo {
  std::string name;
  std::string summary;  // one line
  std::string schema;   // JSON Schema (OpenAPI 3.0 subset) of a rule body; "" if none
};

// Where the config file declares a rule: a refused write names it, so the
// writer knows what to edit instead.
struct ConfigSource {
  std::string file;  // the config file; "" when unknown
  int line = 0;      // 1-based; 0 when unknown
  std::string key;   // e.g. "plugins.<id>.rules[0]"; "" when unknown
};

struct ChangeResult {
  ChangeResult() = default;
  ChangeResult(rampart_status s, std::string m) : status(s), message(std::move(m)) {}
  rampart_status status = RAMPART_OK;
  std::string message;
  // Set when the refusal (RAMPART_ERR_CONFLICT) is that the config file
  // manages rule `rule_id`.
  std::optional<ConfigSource> config;
  uint64_t rule_id = 0;
};

// What an import changes among a domain's API rules, or would (dry run).
struct ImportPlan {
  struct Change {
    uint64_t id;
    std::string before, after;  // JSON
  };
  std::vector<uint64_t> added, removed;  // by id
  std::vector<Change> changed;
  size_t unchanged = 0;     // API rules imported as they are
  size_t config_owned = 0;  // imported rules identical to the config file's: left to it
};

struct ImportResult {
  ChangeResult result;
  ImportPlan plan;  // empty unless result is OK
};

class RuleService {
 public:
  explicit RuleService(RuleStore& store) : store_(store) {}

  // Registers the owner and syncs its config-declared rules (declared at
  // `sources`, by id, as far as known); returns the whole stored set for
  // the owner to apply.
  std::vector<StoredRule> claim(const std::string& domain, std::weak_ptr<RuleOwner> owner,
                                const std::vector<StoredRule>& config_rules,
                                std::map<uint64_t, ConfigSource> sources = {});
  void release(const RuleOwner* owner);

  // The owner of `domain` describes it; false if `owner` does not own it.
  bool describe(const RuleOwner* owner, DomainInfo info);
  // Owned domains (described or not), by name.
  std::vector<DomainInfo> domains() const;
  bool owned(const std::string& domain) const;
  // The owner's status JSON; nullopt if no running engine owns the domain.
  std::optional<std::string> status(const std::string& domain) const;

  std::vector<StoredRule> list(const std::string& domain) const { return store_.list(domain); }
  std::vector<StoredRule> page(const std::string& domain, uint64_t first, size_t limit) const {
    return store_.page(domain, first, limit);
  }
  std::optional<std::string> get(const std::string& domain, uint64_t id) const {
    return store_.get(domain, id);
  }
  uint64_t max_id(const std::string& domain) const { return store_.max_id(domain); }
  // OK, or the refusal a change of rule `id` gets because the config file
  // manages it (the API asks before checking a body, so that is the answer
  // whatever the body). change() checks again under its lock.
  ChangeResult writable(const std::string& domain, uint64_t id) const;
  // Config-file rules are refused (writable); the file is where they change.
  // Group commit: changes to a domain that arrive while one is being
  // applied wait, and are then checked in arrival order, applied by the
  // owner as one new set and stored in one transaction; each returns once
  // its own change is in effect (or refused: when the owner refuses the
  // set, the batch's changes are retried one at a time, so only the change
  // at fault is refused).
  ChangeResult change(const std::string& domain, rampart_rule_change kind, uint64_t id,
                      const std::optional<std::string>& body, const std::string& actor);
  // Owner applications made for API changes, and the changes they carried.
  uint64_t batches() const { return batches_.load(); }
  uint64_t batched_changes() const { return batched_changes_.load(); }
  // Changes to `domain` waiting for the batch in progress to end.
  size_t waiting(const std::string& domain);
  // Import: the API-managed rules of a domain become exactly `rules`, all or
  // nothing (the owner applies the whole result first). Config-file rules
  // stay: an imported one identical to the file's (same JSON) is a no-op,
  // one that differs is a conflict. A dry run only plans: neither the
  // owner, the store nor the audit log hears of it.
  ImportResult replace_api_rules(const std::string& domain, const std::vector<StoredRule>& rules,
                                 const std::string& actor, bool dry_run = false);

  // A reload's claims, all or none (plugin_host::PluginManager): from
  // begin_transaction() on, API changes wait, and claims by this thread
  // return the set the store will hold without writing it;
  // commit_transaction() writes them (StoreError on failure);
  // end_transaction() forgets what was not committed and lets changes go.
  void begin_transaction();
  void commit_transaction();
  void end_transaction();

  RuleStore& store() { return store_; }
  // Rule sets handed to each domain's owner (claims at start and reload,
  // API changes, imports), for metrics.
  std::map<std::string, uint64_t> applied() const;

 private:
  // Changes go after a reload in progress (held until its end).
  std::unique_lock<std::mutex> wait_for_reload();
  std::shared_ptr<RuleOwner> owner_locked(const std::string& domain) const;
  struct Pending {
    rampart_rule_change kind;
    uint64_t id;
    std::optional<std::string> body;
    std::string actor;
    ChangeResult result;
    bool lead = false, done = false;  // under queue_mu_
  };
  // Whether `p` may change a rule whose origin is `origin` (nullopt: no
  // such rule).
  ChangeResult check(const std::string& domain, const std::optional<std::string>& origin,
                     const Pending& p) const;
  // Checks `p` against `rules` (the set as earlier changes leave it) and
  // makes it there; `stored` is what the store is to hold (nullopt: erase).
  ChangeResult plan(const std::string& domain, std::vector<StoredRule>& rules, const Pending& p,
                    std::optional<std::string>& stored) const;
  // Under writes_mu_ and mu_: one owner application for the whole batch.
  void run_batch(const std::string& domain, const std::vector<Pending*>& batch);
  // The same for an owner that applies changes: the store is asked about
  // the batch's identifiers only, and the owner gets the changes.
  void run_delta_batch(const std::string& domain, RuleOwner& owner,
                       const std::vector<Pending*>& batch);
  // The refusal of a write to config rule `id`: where to change it instead.
  ChangeResult config_owned(const std::string& domain, uint64_t id,
                            const std::string& why = "") const;
  // The owner applies `next` inside the store transaction `write` opens
  // (write gets the apply step as its commit hook); a refusal rolls back.
  ChangeResult apply_then_commit(const std::string& domain, RuleOwner& owner,
                                 const std::function<std::string()>& apply,
                                 const std::function<void(const std::function<void()>&)>& write);
  // The same for a whole set, the store writing it on a thread of its own
  // while the owner applies it (ApplyGate: the owner's kernel writes wait
  // for the store's; `write` calls its hook once written, and commits
  // when the hook returns).
  ChangeResult apply_beside_store(const std::string& domain, RuleOwner& owner,
                                  const std::vector<StoredRule>& next,
                                  const std::function<void(const std::function<void()>&)>& write);
  // The store failed after `owner` applied a set: the owner gets the
  // stored set back, or (that refused too) the whole set at the next change.
  void restore_stored(const std::string& domain, RuleOwner& owner);

  RuleStore& store_;
  // Held by a reload transaction for its whole length; changes take it
  // before mu_, so they never hold a lock the reload's engines need.
  std::mutex writes_mu_;
  std::unique_lock<std::mutex> transaction_{writes_mu_, std::defer_lock};
  std::atomic<std::thread::id> transaction_thread_{};
  std::map<std::string, std::vector<StoredRule>> held_claims_;  // domain -> config rules
  mutable std::mutex mu_;                                       // serialises changes
  std::map<std::string, std::pair<const RuleOwner*, std::weak_ptr<RuleOwner>>> owners_;
  std::map<std::string, DomainInfo> described_;
  std::map<std::string, std::map<uint64_t, ConfigSource>> sources_;  // by domain, from claims
  std::map<std::string, uint64_t> applied_;
  // Domains whose owner may hold a set the store does not (a reload that
  // claimed them was not committed): their next change hands the whole set.
  std::set<std::string> resync_;
  // Group commit: per domain, the changes waiting, and whether a batch runs.
  struct DomainQueue {
    std::deque<std::shared_ptr<Pending>> waiting;
    bool busy = false;
  };
  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::map<std::string, DomainQueue> queues_;
  std::atomic<uint64_t> batches_{0}, batched_changes_{0};
};

}  // namespace rampart::store
