// SPDX-License-Identifier: Apache-2.0
#include "store/rule_store.hpp"

#include "store/sqlite.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <map>
#include <set>

namespace rampart::store {
namespace {

// A rule body's top-level integer expires_at, or NULL (a body that is not
// JSON included). The index is on this very expression. A body without the
// key is not parsed (instr first): SQLite evaluates it at every write, for
// the row written and for the row it replaces.
constexpr const char* kExpiresAt =
    "(CASE WHEN instr(body, '\"expires_at\"') AND json_valid(body)"
    " AND json_type(body, '$.expires_at') = 'integer'"
    " THEN json_extract(body, '$.expires_at') END)";

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

RuleStore::RuleStore(const std::string& path, const AuditSettings& retention,
                     std::function<int64_t()> clock_ms)
    : path_(path), retention_(retention), clock_ms_(clock_ms ? std::move(clock_ms) : now_ms) {
  db_ = open_database(path);
  stmts_.emplace(db_);
  try {
    exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA synchronous=NORMAL");
    exec("PRAGMA foreign_keys=ON");
    exec(
        "CREATE TABLE IF NOT EXISTS rules ("
        " domain TEXT NOT NULL, id INTEGER NOT NULL, body TEXT NOT NULL, updated_ms INTEGER NOT "
        "NULL,"
        " PRIMARY KEY (domain, id))");
    // A rule's entries are a chain, newest first: audit_head holds the
    // newest's seq, each entry its predecessor's (prev). Schema 2 indexed
    // (domain, rule_id, seq) instead, and an import of 4,096 changed rules
    // then wrote into every leaf of that index (each rule's entries lie
    // together in it): two thirds of the import's SQLite time. Entries
    // are appended in seq order; heads are one small row per rule.
    exec(
        "CREATE TABLE IF NOT EXISTS audit ("
        " seq INTEGER PRIMARY KEY AUTOINCREMENT, time_ms INTEGER NOT NULL, actor TEXT NOT NULL,"
        " domain TEXT NOT NULL, rule_id INTEGER NOT NULL, action TEXT NOT NULL, before TEXT, after "
        "TEXT, prev INTEGER)");
    exec(
        "CREATE TABLE IF NOT EXISTS audit_head (domain TEXT NOT NULL, rule_id INTEGER NOT NULL,"
        " seq INTEGER NOT NULL, PRIMARY KEY (domain, rule_id)) WITHOUT ROWID");
    exec("CREATE INDEX IF NOT EXISTS audit_time ON audit (time_ms)");  // retention by age
    chain_schema_2_audit();
    // Schema 1 added rules.origin; databases from before it get the column.
    bool has_origin = false;
    {
      Stmt st(db_, "SELECT name FROM pragma_table_info('rules')");
      while (st.step()) has_origin |= st.col_text(0) == "origin";
    }
    if (!has_origin) exec("ALTER TABLE rules ADD COLUMN origin TEXT NOT NULL DEFAULT 'api'");
    // Rules that carry an expiry (expires_at, seconds since the epoch, at
    // the body's top level), found by domain and time without a scan. Only
    // those are in the index, so a write of a rule without one changes no
    // index entry. (Schema 1's index, rules_expiry, held every API rule:
    // an import of 4,096 changed rules spent a third of its SQLite time
    // keeping it.)
    exec("DROP INDEX IF EXISTS rules_expiry");
    exec(("CREATE INDEX IF NOT EXISTS rules_expires_at ON rules (domain, " +
          std::string(kExpiresAt) + ") WHERE origin = 'api' AND " + kExpiresAt + " IS NOT NULL")
             .c_str());
    exec("PRAGMA user_version = 3");
    prune_audit_locked();  // what an earlier run, or earlier limits, left
    sweep_heads_locked();
    // A rule write is answered once in effect: no checkpoint in its commit.
    checkpointer_ = std::make_unique<WalCheckpointer>(db_, path);
  } catch (const StoreError& e) {
    throw StoreError(path + ": " + e.what());
  }
}

// A database of schema 2 (or of an older rampartd after this one): its
// entries chained by the index it kept, which then goes. In one
// transaction: a failure leaves schema 2 as it was.
void RuleStore::chain_schema_2_audit() {
  bool has_prev = false;
  {
    Stmt st(db_, "SELECT name FROM pragma_table_info('audit')");
    while (st.step()) has_prev |= st.col_text(0) == "prev";
  }
  bool indexed = false;
  {
    Stmt st(db_, "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'audit_rule'");
    indexed = st.step();
  }
  if (has_prev && !indexed) return;
  in_transaction(
      [&] {
        if (!has_prev) exec("ALTER TABLE audit ADD COLUMN prev INTEGER");
        if (!indexed) exec("CREATE INDEX audit_rule ON audit (domain, rule_id, seq)");
        exec(
            "UPDATE audit SET prev = (SELECT MAX(a.seq) FROM audit a WHERE a.domain = "
            "audit.domain AND a.rule_id = audit.rule_id AND a.seq < audit.seq)");
        exec("DELETE FROM audit_head");
        exec(
            "INSERT INTO audit_head (domain, rule_id, seq)"
            " SELECT domain, rule_id, MAX(seq) FROM audit GROUP BY domain, rule_id");
        exec("DROP INDEX audit_rule");
      },
      {});
}

RuleStore::~RuleStore() = default;

void RuleStore::exec(const char* sql) const { store::exec(db_, sql); }

std::vector<StoredRule> RuleStore::list(const std::string& domain) const {
  return page(domain, 0, 0);
}

std::vector<StoredRule> RuleStore::list(const std::string& domain, Version& at) const {
  std::lock_guard lock(mu_);
  at = version_locked();
  return page_locked(domain, 0, 0, "");
}

RuleStore::Version RuleStore::version_locked() const {
  Stmt st(*stmts_, "PRAGMA data_version");
  st.step();
  return {transactions_, st.col_int(0)};
}

std::vector<StoredRule> RuleStore::list(const std::string& domain,
                                        const std::string& origin) const {
  return page(domain, 0, 0, origin);
}

std::vector<StoredRule> RuleStore::page(const std::string& domain, uint64_t first, size_t limit,
                                        const std::string& origin) const {
  std::lock_guard lock(mu_);
  return page_locked(domain, first, limit, origin);
}

std::vector<StoredRule> RuleStore::page_locked(const std::string& domain, uint64_t first,
                                               size_t limit, const std::string& origin) const {
  // The primary key's order: a page costs its own rows, not the domain's.
  Stmt st(*stmts_,
          "SELECT id, body, origin FROM rules WHERE domain = ?1 AND id >= ?2"
          " AND (?3 = '' OR origin = ?3) ORDER BY id LIMIT ?4");
  st.text(1, domain)
      .integer(2, static_cast<int64_t>(first))
      .text(3, origin)
      .integer(4, limit ? static_cast<int64_t>(limit) : -1);
  std::vector<StoredRule> out;
  while (st.step())
    out.push_back({static_cast<uint64_t>(st.col_int(0)), st.col_text(1), st.col_text(2)});
  return out;
}

std::vector<uint64_t> RuleStore::expired(const std::string& domain, int64_t now,
                                         size_t limit) const {
  std::lock_guard lock(mu_);
  const std::string sql =
      std::string("SELECT id FROM rules WHERE domain = ?1 AND origin = 'api' AND ") + kExpiresAt +
      " <= ?2 ORDER BY " + kExpiresAt + " LIMIT ?3";
  Stmt st(*stmts_, sql.c_str());
  st.text(1, domain).integer(2, now).integer(3, static_cast<int64_t>(limit));
  std::vector<uint64_t> out;
  while (st.step()) out.push_back(static_cast<uint64_t>(st.col_int(0)));
  return out;
}

uint64_t RuleStore::max_id(const std::string& domain) const {
  std::lock_guard lock(mu_);
  Stmt st(*stmts_, "SELECT MAX(id) FROM rules WHERE domain = ?1");
  st.text(1, domain);
  return st.step() ? static_cast<uint64_t>(st.col_int(0)) : 0;
}

std::optional<std::string> RuleStore::origin(const std::string& domain, uint64_t id) const {
  std::lock_guard lock(mu_);
  Stmt st(*stmts_, "SELECT origin FROM rules WHERE domain = ?1 AND id = ?2");
  st.text(1, domain).integer(2, static_cast<int64_t>(id));
  if (st.step()) return st.col_text(0);
  return std::nullopt;
}

std::optional<std::string> RuleStore::get_locked(const std::string& domain, uint64_t id) const {
  Stmt st(*stmts_, "SELECT body FROM rules WHERE domain = ?1 AND id = ?2");
  st.text(1, domain).integer(2, static_cast<int64_t>(id));
  if (st.step()) return st.col_text(0);
  return std::nullopt;
}

std::optional<std::string> RuleStore::get(const std::string& domain, uint64_t id) const {
  std::lock_guard lock(mu_);
  return get_locked(domain, id);
}

std::map<std::string, uint64_t> RuleStore::counts() const {
  std::lock_guard lock(mu_);
  Stmt st(*stmts_, "SELECT domain, COUNT(*) FROM rules GROUP BY domain");
  std::map<std::string, uint64_t> out;
  while (st.step()) out[st.col_text(0)] = static_cast<uint64_t>(st.col_int(1));
  return out;
}

bool RuleStore::empty(const std::string& domain) const {
  std::lock_guard lock(mu_);
  Stmt st(*stmts_, "SELECT 1 FROM rules WHERE domain = ?1 LIMIT 1");
  st.text(1, domain);
  return !st.step();
}

void RuleStore::audit_locked(const std::string& domain, uint64_t id, const char* action,
                             const std::string& actor, const std::optional<std::string>& before,
                             const std::optional<std::string>& after) {
  Stmt st(*stmts_,
          "INSERT INTO audit (time_ms, actor, domain, rule_id, action, before, after, prev)"
          " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7,"
          " (SELECT seq FROM audit_head WHERE domain = ?3 AND rule_id = ?4))");
  st.integer(1, clock_ms_())
      .text(2, actor)
      .text(3, domain)
      .integer(4, static_cast<int64_t>(id))
      .text(5, action);
  st.text_or_null(6, before).text_or_null(7, after);
  st.step();
  Stmt head(*stmts_,
            "INSERT INTO audit_head (domain, rule_id, seq) VALUES (?1, ?2, last_insert_rowid())"
            " ON CONFLICT (domain, rule_id) DO UPDATE SET seq = excluded.seq");
  head.text(1, domain).integer(2, static_cast<int64_t>(id));
  head.step();
}

void RuleStore::put_locked(const std::string& domain, uint64_t id, const std::string& body,
                           const std::string& origin) {
  Stmt st(*stmts_,
          "INSERT INTO rules (domain, id, body, updated_ms, origin) VALUES (?1, ?2, ?3, ?4, ?5)"
          " ON CONFLICT (domain, id) DO UPDATE SET body = excluded.body,"
          " updated_ms = excluded.updated_ms, origin = excluded.origin");
  st.text(1, domain)
      .integer(2, static_cast<int64_t>(id))
      .text(3, body)
      .integer(4, clock_ms_())
      .text(5, origin);
  st.step();
}

namespace {

// Rows a statement of put_audited_locked writes: SQLite opens a table's
// and its indexes' cursors once a statement, so a 4,096-rule import's
// 8,192 rows took 24-28 ms one row a statement and 15-20 ms 32 at a time.
constexpr size_t kRowsPerStatement = 32;

std::string rows_sql(const char* head, const char* row, const char* tail) {
  std::string sql = head;
  for (size_t i = 0; i < kRowsPerStatement; ++i) sql += (i ? "," : "") + std::string(row);
  return sql + tail;
}

}  // namespace

void RuleStore::put_audited_locked(const std::string& domain, const std::string& origin,
                                   const std::string& actor, const std::vector<Put>& puts) {
  static const std::string kPuts = rows_sql(
      "INSERT INTO rules (domain, id, body, updated_ms, origin) VALUES ", "(?, ?, ?, ?, ?)",
      " ON CONFLICT (domain, id) DO UPDATE SET body = excluded.body,"
      " updated_ms = excluded.updated_ms, origin = excluded.origin");
  // Each entry chained to its rule's newest (the identifiers of `puts` are
  // distinct: each row's prev is read before the statement's heads move),
  // with seqs given here, so the heads can name them.
  static const std::string kAudits = rows_sql(
      "INSERT INTO audit (seq, time_ms, actor, domain, rule_id, action, before, after, prev)"
      " VALUES ",
      "(?, ?, ?, ?, ?, ?, ?, ?, (SELECT seq FROM audit_head WHERE domain = ? AND rule_id = ?))",
      "");
  static const std::string kHeads =
      rows_sql("INSERT INTO audit_head (domain, rule_id, seq) VALUES ", "(?, ?, ?)",
               " ON CONFLICT (domain, rule_id) DO UPDATE SET seq = excluded.seq");
  // The rows' texts are bound without copies (text_view): each statement
  // steps before anything bound to it changes.
  static const std::string kUpdate = "update", kCreate = "create";
  const int64_t now = clock_ms_();
  int64_t seq = 0;  // the last given: AUTOINCREMENT never gives a number twice
  if (puts.size() >= kRowsPerStatement) {
    Stmt last(*stmts_,
              "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'audit'), 0),"
              " COALESCE((SELECT MAX(seq) FROM audit), 0))");
    last.step();
    seq = last.col_int(0);
  }
  size_t i = 0;
  for (; i + kRowsPerStatement <= puts.size(); i += kRowsPerStatement) {
    Stmt rules(*stmts_, kPuts.c_str());
    for (size_t k = 0; k < kRowsPerStatement; ++k) {
      const Put& p = puts[i + k];
      const int at = static_cast<int>(k) * 5;
      rules.text_view(at + 1, domain)
          .integer(at + 2, static_cast<int64_t>(p.id))
          .text_view(at + 3, *p.body)
          .integer(at + 4, now)
          .text_view(at + 5, origin);
    }
    rules.step();
    Stmt audit(*stmts_, kAudits.c_str());
    Stmt heads(*stmts_, kHeads.c_str());
    for (size_t k = 0; k < kRowsPerStatement; ++k) {
      const Put& p = puts[i + k];
      const int at = static_cast<int>(k) * 10;
      const auto id = static_cast<int64_t>(p.id);
      audit.integer(at + 1, seq + 1 + static_cast<int64_t>(k))
          .integer(at + 2, now)
          .text_view(at + 3, actor)
          .text_view(at + 4, domain)
          .integer(at + 5, id)
          .text_view(at + 6, p.before ? kUpdate : kCreate)
          .text_view_or_null(at + 7, p.before)
          .text_view(at + 8, *p.body)
          .text_view(at + 9, domain)
          .integer(at + 10, id);
      const int h = static_cast<int>(k) * 3;
      heads.text_view(h + 1, domain)
          .integer(h + 2, id)
          .integer(h + 3, seq + 1 + static_cast<int64_t>(k));
    }
    audit.step();
    heads.step();
    seq += static_cast<int64_t>(kRowsPerStatement);
  }
  for (; i < puts.size(); ++i) {
    const Put& p = puts[i];
    put_locked(domain, p.id, *p.body, origin);
    audit_locked(domain, p.id, p.before ? "update" : "create", actor,
                 p.before ? std::optional(*p.before) : std::nullopt, *p.body);
  }
}

void RuleStore::erase_locked(const std::string& domain, uint64_t id, const std::string& actor,
                             const std::optional<std::string>& before) {
  Stmt st(*stmts_, "DELETE FROM rules WHERE domain = ?1 AND id = ?2");
  st.text(1, domain).integer(2, static_cast<int64_t>(id));
  st.step();
  audit_locked(domain, id, "delete", actor, before, std::nullopt);
}

void RuleStore::in_transaction(const std::function<void()>& work,
                               const std::function<void()>& commit) {
  exec("BEGIN IMMEDIATE");
  try {
    work();
    prune_audit_locked();
    if (commit) commit();
    exec("COMMIT");
    ++transactions_;
  } catch (...) {
    ++transactions_;
    // A COMMIT that failed on a full disk or an I/O error may have rolled
    // the transaction back already: a ROLLBACK then would fail and its
    // error would hide the one that matters.
    if (!sqlite3_get_autocommit(db_)) {
      try {
        exec("ROLLBACK");
      } catch (const StoreError&) {
      }
    }
    throw;
  }
}

std::optional<std::string> RuleStore::change(const std::string& domain, uint64_t id,
                                             const std::optional<std::string>& body,
                                             const std::string& actor,
                                             const std::function<void()>& commit) {
  std::lock_guard lock(mu_);
  std::optional<std::string> before;
  in_transaction([&] { before = change_locked(domain, {id, body, actor}); }, commit);
  return before;
}

void RuleStore::change_all(const std::string& domain, const std::vector<Change>& changes,
                           const std::function<void()>& commit) {
  std::lock_guard lock(mu_);
  in_transaction(
      [&] {
        for (const auto& c : changes) change_locked(domain, c);
      },
      commit);
}

std::optional<std::string> RuleStore::change_locked(const std::string& domain, const Change& c) {
  auto before = get_locked(domain, c.id);
  if (c.body) {
    put_locked(domain, c.id, *c.body, kApiOrigin);
    audit_locked(domain, c.id, before ? "update" : "create", c.actor, before, c.body);
  } else {
    erase_locked(domain, c.id, c.actor, before);
  }
  return before;
}

void RuleStore::replace_all(const std::string& domain, const std::vector<StoredRule>& rules,
                            const std::string& actor, const std::function<void()>& commit) {
  std::lock_guard lock(mu_);
  in_transaction(
      [&] {
        std::vector<StoredRule> old;
        {
          Stmt st(*stmts_, "SELECT id, body FROM rules WHERE domain = ?1");
          st.text(1, domain);
          while (st.step()) old.push_back({static_cast<uint64_t>(st.col_int(0)), st.col_text(1)});
        }
        for (const auto& r : old) erase_locked(domain, r.id, actor, r.body);
        std::vector<Put> puts;
        for (const auto& r : rules) puts.push_back({r.id, &r.body, nullptr});
        put_audited_locked(domain, kApiOrigin, actor, puts);
      },
      commit);
}

void RuleStore::sync_origin(const std::string& domain, const std::string& origin,
                            const std::vector<StoredRule>& rules, const std::string& actor,
                            const std::function<void()>& commit, const Known* known) {
  std::lock_guard lock(mu_);
  in_transaction(
      [&] {
        // The origin's rules by id: as `known` holds them where nothing
        // wrote since it was read (BEGIN IMMEDIATE holds off other
        // connections now), else read here.
        std::map<uint64_t, const std::string*> mine;
        std::deque<std::string> read;
        if (known && known->at == version_locked()) {
          for (const auto& [id, r] : *known->rules) {
            if (r.origin == origin) mine.emplace_hint(mine.end(), id, &r.body);
          }
        } else {
          Stmt st(*stmts_, "SELECT id, body FROM rules WHERE domain = ?1 AND origin = ?2");
          st.text(1, domain).text(2, origin);
          while (st.step())
            mine[static_cast<uint64_t>(st.col_int(0))] = &read.emplace_back(st.col_text(1));
        }
        std::set<uint64_t> listed;
        std::vector<Put> puts;
        std::deque<std::string> taken;  // bodies of other origins taken over
        for (const auto& r : rules) {
          listed.insert(r.id);
          // Mine as read above; one of another origin taken over as stored.
          const auto it = mine.find(r.id);
          if (it != mine.end() && *it->second == r.body) continue;
          const std::string* before = nullptr;
          if (it != mine.end()) {
            before = it->second;
          } else if (auto other = get_locked(domain, r.id)) {
            before = &taken.emplace_back(std::move(*other));
          }
          puts.push_back({r.id, &r.body, before});
        }
        put_audited_locked(domain, origin, actor, puts);
        for (const auto& [id, body] : mine) {
          if (!listed.count(id)) erase_locked(domain, id, actor, *body);
        }
      },
      commit);
}

void RuleStore::prune_audit_locked() {
  if (retention_.max_age_s > 0) {
    Stmt st(*stmts_, "DELETE FROM audit WHERE time_ms < ?1");  // audit_time
    st.integer(1, clock_ms_() - static_cast<int64_t>(retention_.max_age_s * 1000));
    st.step();
    pruned_ += static_cast<uint64_t>(sqlite3_changes(db_));
  }
  if (retention_.max_count > 0) {
    // seq grows by one per entry (AUTOINCREMENT: a rolled-back insert
    // gives its number back) and entries only go oldest first, so the
    // newest max_count are those above MAX(seq) - max_count: a primary-key
    // range, where counting with OFFSET would walk every entry kept. After
    // an age prune with a clock that stepped back the range keeps fewer,
    // never more.
    Stmt st(*stmts_, "DELETE FROM audit WHERE seq <= (SELECT MAX(seq) FROM audit) - ?1");
    st.integer(1, static_cast<int64_t>(std::min<uint64_t>(retention_.max_count, INT64_MAX)));
    st.step();
    pruned_ += static_cast<uint64_t>(sqlite3_changes(db_));
  }
  if (pruned_ >= kSweepAfter) sweep_heads_locked();
}

void RuleStore::sweep_heads_locked() {
  Stmt st(*stmts_,
          "DELETE FROM audit_head WHERE NOT EXISTS"
          " (SELECT 1 FROM audit WHERE audit.seq = audit_head.seq)");
  st.step();
  pruned_ = 0;
}

void RuleStore::set_audit_retention(const AuditSettings& retention) {
  std::lock_guard lock(mu_);
  retention_ = retention;
  prune_audit_locked();
}

std::vector<AuditEntry> RuleStore::audit(const std::string& domain, std::optional<uint64_t> rule_id,
                                         size_t limit) const {
  std::lock_guard lock(mu_);
  // A rule's entries: its chain from the head, each a primary-key lookup.
  // (A chain ends at an entry pruned; prunes go oldest first, by seq or by
  // age, so what lies past it was pruned too, unless the clock stepped
  // back across the age limit.)
  Stmt st(*stmts_,
          rule_id ? "WITH RECURSIVE chain(seq) AS ("
                    " SELECT seq FROM audit_head WHERE domain = ?1 AND rule_id = ?2"
                    " UNION ALL SELECT audit.prev FROM chain JOIN audit ON audit.seq = chain.seq"
                    " WHERE audit.prev IS NOT NULL LIMIT ?3)"
                    " SELECT seq, time_ms, actor, domain, action, rule_id, before, after FROM audit"
                    " WHERE seq IN (SELECT seq FROM chain) ORDER BY seq DESC LIMIT ?3"
                  : "SELECT seq, time_ms, actor, domain, action, rule_id, before, after FROM audit"
                    " WHERE domain = ?1 ORDER BY seq DESC LIMIT ?3");
  st.text(1, domain)
      .integer(2, static_cast<int64_t>(rule_id.value_or(0)))
      .integer(3, static_cast<int64_t>(limit));
  std::vector<AuditEntry> out;
  while (st.step()) {
    out.push_back({static_cast<uint64_t>(st.col_int(0)), st.col_int(1), st.col_text(2),
                   st.col_text(3), st.col_text(4), static_cast<uint64_t>(st.col_int(5)),
                   st.col_text(6), st.col_text(7)});
  }
  return out;
}

}  // namespace rampart::store
