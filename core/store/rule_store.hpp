// SPDX-License-Identifier: Apache-2.0
// Every domain's rules and their audit log, in SQLite (WAL). A rule is a
// JSON body under (domain, id); every change records who made it, when, and
// the body before and after. Writes are transactions: a change and its audit
// entry land together or not at all.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "store/audit_settings.hpp"
#include "store/sqlite.hpp"

struct sqlite3;

namespace rampart::store {

// Who manages a rule: the config file (plugins.<engine>.rules, synced at
// start and on reload) or the API (kept until deleted over the API).
inline constexpr const char* kConfigOrigin = "config";
inline constexpr const char* kApiOrigin = "api";

struct StoredRule {
  // A constructor rather than an aggregate: {id, body} stays the way to
  // write a rule, origin and all (writes do not read it).
  StoredRule(uint64_t id_, std::string body_, std::string origin_ = "")
      : id(id_), body(std::move(body_)), origin(std::move(origin_)) {}
  uint64_t id;
  std::string body;    // JSON
  std::string origin;  // kConfigOrigin or kApiOrigin in what the store lists
};

struct AuditEntry {
  uint64_t seq;
  int64_t time_ms;
  std::string actor, domain, action;  // action: create | update | delete
  uint64_t rule_id;
  std::string before, after;  // JSON, "" when absent
};

class RuleStore {
 public:
  // Opens (creating if needed) the database at path and applies the audit
  // retention. `clock_ms` (ms since the epoch) stamps audit entries and
  // ages them; tests pass their own. Throws StoreError.
  explicit RuleStore(const std::string& path, const AuditSettings& retention = {},
                     std::function<int64_t()> clock_ms = {});
  ~RuleStore();
  RuleStore(const RuleStore&) = delete;
  RuleStore& operator=(const RuleStore&) = delete;

  std::vector<StoredRule> list(const std::string& domain) const;
  // What the database holds, as of a read: a version read later is equal
  // only if nothing wrote since, through this store or any other
  // connection (SQLite's data_version).
  struct Version {
    uint64_t own = 0;    // transactions this store ended
    int64_t others = 0;  // PRAGMA data_version
    bool operator==(const Version&) const = default;
  };
  // list(), and the version it read.
  std::vector<StoredRule> list(const std::string& domain, Version& at) const;
  // Only the rules a source manages: "config" (the file) or "api".
  std::vector<StoredRule> list(const std::string& domain, const std::string& origin) const;
  // Up to `limit` rules (0: all) from id `first` on, in id order, of
  // `origin` ("" any): one page of a domain that may hold millions.
  std::vector<StoredRule> page(const std::string& domain, uint64_t first, size_t limit,
                               const std::string& origin = "") const;
  uint64_t max_id(const std::string& domain) const;  // 0 when the domain is empty
  // Up to `limit` identifiers of the domain's API rules whose body says
  // "expires_at": N (seconds since the epoch, top level) with N <= now,
  // soonest first: found through an index, however large the domain.
  std::vector<uint64_t> expired(const std::string& domain, int64_t now, size_t limit) const;
  std::optional<std::string> get(const std::string& domain, uint64_t id) const;
  // kConfigOrigin or kApiOrigin; nullopt when there is no such rule.
  std::optional<std::string> origin(const std::string& domain, uint64_t id) const;
  bool empty(const std::string& domain) const;
  std::map<std::string, uint64_t> counts() const;  // rules per domain

  // One change: put (create or update) or erase (body nullopt). `commit`
  // runs inside the transaction after the row is written and before COMMIT;
  // if it throws, nothing is written. Returns the previous body, if any.
  std::optional<std::string> change(const std::string& domain, uint64_t id,
                                    const std::optional<std::string>& body,
                                    const std::string& actor,
                                    const std::function<void()>& commit = {});
  // Several changes in one transaction (one commit hook, one fsync), each
  // audited as change() would.
  struct Change {
    uint64_t id;
    std::optional<std::string> body;  // nullopt: erase
    std::string actor;
  };
  void change_all(const std::string& domain, const std::vector<Change>& changes,
                  const std::function<void()>& commit = {});
  // Makes the rules of `origin` (e.g. "config") in `domain` exactly `rules`:
  // new and changed ones are written, ones no longer listed removed; rules
  // of other origins (the API's) are left alone. Audited per change.
  // `known`: the domain's rules by id as a list() at `at` read them, used
  // instead of reading them again when the store is still at that version
  // (an import's plan read them a moment before).
  struct Known {
    Version at;
    const std::map<uint64_t, StoredRule>* rules;
  };
  void sync_origin(const std::string& domain, const std::string& origin,
                   const std::vector<StoredRule>& rules, const std::string& actor,
                   const std::function<void()>& commit = {}, const Known* known = nullptr);
  // Replaces a whole domain (import, seeding), audited per rule.
  void replace_all(const std::string& domain, const std::vector<StoredRule>& rules,
                   const std::string& actor, const std::function<void()>& commit = {});

  std::vector<AuditEntry> audit(const std::string& domain, std::optional<uint64_t> rule_id = {},
                                size_t limit = 1000) const;
  // New limits (on reload), applied now. Every write applies them too, in
  // its own transaction, so the log never outgrows them.
  void set_audit_retention(const AuditSettings& retention);

 private:
  void exec(const char* sql) const;
  void audit_locked(const std::string& domain, uint64_t id, const char* action,
                    const std::string& actor, const std::optional<std::string>& before,
                    const std::optional<std::string>& after);
  std::optional<std::string> get_locked(const std::string& domain, uint64_t id) const;
  std::optional<std::string> change_locked(const std::string& domain, const Change& c);
  void erase_locked(const std::string& domain, uint64_t id, const std::string& actor,
                    const std::optional<std::string>& before);
  // BEGIN IMMEDIATE; work; commit hook; COMMIT — or ROLLBACK on any throw.
  void in_transaction(const std::function<void()>& work, const std::function<void()>& commit);
  void put_locked(const std::string& domain, uint64_t id, const std::string& body,
                  const std::string& origin);
  // Rules written and audited ("create" without a body before, else
  // "update"), in order, many to a statement.
  struct Put {
    uint64_t id;
    const std::string* body;
    const std::string* before;  // null: none
  };
  void put_audited_locked(const std::string& domain, const std::string& origin,
                          const std::string& actor, const std::vector<Put>& puts);
  // Deletes audit entries beyond the retention: index range deletes, never
  // a scan of what stays.
  void prune_audit_locked();
  // Heads of rules whose entries were all pruned go, once kSweepAfter
  // entries were pruned since the last sweep (a scan of the heads).
  void sweep_heads_locked();
  static constexpr uint64_t kSweepAfter = 65536;
  void chain_schema_2_audit();
  Version version_locked() const;
  std::vector<StoredRule> page_locked(const std::string& domain, uint64_t first, size_t limit,
                                      const std::string& origin) const;

  mutable std::mutex mu_;
  uint64_t transactions_ = 0;  // ended (Version::own)
  uint64_t pruned_ = 0;        // audit entries, since the last sweep of heads
  Database db_;
  std::unique_ptr<WalCheckpointer> checkpointer_;  // stopped before db_ closes
  mutable std::optional<StatementCache> stmts_;    // finalized before db_ closes
  std::string path_;
  AuditSettings retention_;
  std::function<int64_t()> clock_ms_;
};

}  // namespace rampart::store
