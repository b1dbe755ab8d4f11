// SPDX-License-Identifier: Apache-2.0
// The SQLite rule store: CRUD per domain, audit with before/after, a failed
// commit hook leaves nothing written, and everything survives reopening.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <map>

#include "poll.hpp"
#include "store/rule_store.hpp"
#include "store/sqlite.hpp"
#include "temp_dir.hpp"

namespace {

using rampart::store::RuleStore;
using rampart::store::StoreError;

TEST(RuleStore, CrudPerDomainWithAudit) {
  rampart::test::TempDir dir;
  RuleStore s(dir / "r.db");
  EXPECT_TRUE(s.empty("firewall"));
  EXPECT_FALSE(s.change("firewall", 2, std::string(R"({"id":2})"), "alice"));
  EXPECT_FALSE(s.change("firewall", 1, std::string(R"({"id":1})"), "alice"));
  EXPECT_FALSE(s.change("ids", 1, std::string(R"({"x":1})"), "bob"));
  const auto before = s.change("firewall", 1, std::string(R"({"id":1,"v":2})"), "carol");
  ASSERT_TRUE(before);
  EXPECT_EQ(*before, R"({"id":1})");
  auto rules = s.list("firewall");
  ASSERT_EQ(rules.size(), 2u);
  EXPECT_EQ(rules[0].id, 1u);
  EXPECT_EQ(rules[0].body, R"({"id":1,"v":2})");
  EXPECT_EQ(s.list("ids").size(), 1u);
  EXPECT_TRUE(s.change("firewall", 2, std::nullopt, "dave"));
  EXPECT_FALSE(s.get("firewall", 2));

  const auto history = s.audit("firewall", 1);
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[0].action, "update");  // newest first
  EXPECT_EQ(history[0].actor, "carol");
  EXPECT_EQ(history[0].before, R"({"id":1})");
  EXPECT_EQ(history[0].after, R"({"id":1,"v":2})");
  EXPECT_EQ(history[1].action, "create");
  const auto all = s.audit("firewall");
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[0].action, "delete");
  EXPECT_EQ(all[0].before, R"({"id":2})");
  EXPECT_EQ(all[0].after, "");
}

TEST(RuleStore, FailedCommitHookWritesNothing) {
  rampart::test::TempDir dir;
  RuleStore s(dir / "r.db");
  s.change("firewall", 1, std::string("{}"), "a");
  EXPECT_THROW(s.change("firewall", 1, std::nullopt, "a",
                        [] { throw std::runtime_error("kernel said no"); }),
               std::runtime_error);
  EXPECT_TRUE(s.get("firewall", 1));
  EXPECT_THROW(s.replace_all("firewall", {{7, "{}"}}, "a", [] { throw std::runtime_error("no"); }),
               std::runtime_error);
  EXPECT_EQ(s.list("firewall").size(), 1u);
  EXPECT_EQ(s.audit("firewall").size(), 1u) << "no audit entry for what did not happen";
}

TEST(RuleStore, SurvivesReopenInWalMode) {
  rampart::test::TempDir dir;
  {
    RuleStore s(dir / "r.db");
    s.replace_all("firewall", {{1, "{\"a\":1}"}, {2, "{\"a\":2}"}}, "import");
  }
  RuleStore again(dir / "r.db");
  const auto rules = again.list("firewall");
  ASSERT_EQ(rules.size(), 2u);
  EXPECT_EQ(rules[1].body, "{\"a\":2}");
  struct stat st {};
  EXPECT_EQ(stat((dir / "r.db-wal").c_str(), &st), 0) << "write-ahead log in use";
}

// The expiry index holds the API rules that carry an expiry and nothing
// else (a write of any other rule keeps no entry), and a database with
// schema 1's index over every API rule loses it on opening.
TEST(RuleStore, TheExpiryIndexHoldsOnlyRulesThatExpire) {
  rampart::test::TempDir dir;
  {
    RuleStore s(dir / "r.db");
    s.replace_all("bl", {{1, R"({"expires_at":100})"}, {2, R"({"prefix":"192.0.2.2"})"}}, "t");
  }
  {
    auto db = rampart::store::open_database(dir / "r.db");
    rampart::store::exec(db, "CREATE INDEX rules_expiry ON rules (domain, id)");  // schema 1's name
  }
  RuleStore s(dir / "r.db");
  s.change("bl", 3, std::string(R"({"expires_at":50})"), "t");
  s.change("bl", 4, std::string(R"({"meta":{"expires_at":5}})"), "t");  // not at the top level
  EXPECT_EQ(s.expired("bl", 1000, 10), (std::vector<uint64_t>{3, 1})) << "soonest first";
  EXPECT_TRUE(s.expired("bl", 49, 10).empty());
  auto db = rampart::store::open_database(dir / "r.db");
  auto count = [&](const char* sql) {
    rampart::store::Stmt st(db, sql);
    return st.step() ? st.col_int(0) : -1;
  };
  EXPECT_EQ(count("SELECT COUNT(*) FROM sqlite_master WHERE name = 'rules_expiry'"), 0);
  EXPECT_EQ(count("PRAGMA user_version"), 3);
  // Through the index (INDEXED BY fails where it cannot serve the query):
  // rules 1 and 3.
  EXPECT_EQ(count("SELECT COUNT(*) FROM rules INDEXED BY rules_expires_at WHERE domain = 'bl'"
                  " AND origin = 'api' AND (CASE WHEN instr(body, '\"expires_at\"') AND"
                  " json_valid(body) AND json_type(body, '$.expires_at') = 'integer' THEN"
                  " json_extract(body, '$.expires_at') END) IS NOT NULL"),
            2);
}

// The WAL's size in pages of 4 KiB (0 if there is none).
off_t wal_pages(const std::string& db) {
  struct stat st {};
  return stat((db + "-wal").c_str(), &st) == 0 ? st.st_size / 4096 : 0;
}

// ~`pages` pages of rows, one transaction each 4 rows.
void write_pages(sqlite3* db, int pages, int& next) {
  for (int i = 0; i < pages; ++i, ++next) {
    rampart::store::Stmt st(db, "INSERT INTO t VALUES (?1, ?2)");
    st.integer(1, next).text(2, std::string(3500, 'x'));
    st.step();
  }
}

// A WAL database with table t, as the stores open theirs.
rampart::store::Database wal_db(const std::string& path) {
  auto db = rampart::store::open_database(path);
  rampart::store::exec(db, "PRAGMA journal_mode=WAL");
  rampart::store::exec(db, "CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)");
  return db;
}

// Commits do not checkpoint: the WAL grows past SQLite's 1,000-page
// automatic checkpoint while no checkpointer is asked to run.
TEST(WalCheckpointer, CommitsNeverCheckpointThemselves) {
  rampart::test::TempDir dir;
  const std::string path = dir / "w.db";
  auto db = wal_db(path);
  rampart::store::WalCheckpointer ckpt(db, path, 1 << 30);
  int next = 0;
  write_pages(db, 1500, next);
  EXPECT_GT(wal_pages(path), 1200) << "no commit checkpointed";
  EXPECT_EQ(ckpt.progress().checkpoints, 0u);
}

// Past the threshold, the checkpointer copies the WAL back on its own
// thread; stopped, it checkpoints what is left, so the next writes start
// the WAL over instead of growing it.
TEST(WalCheckpointer, CheckpointsOnItsOwnThreadPastTheThreshold) {
  rampart::test::TempDir dir;
  const std::string path = dir / "w.db";
  auto db = wal_db(path);
  auto ckpt = std::make_unique<rampart::store::WalCheckpointer>(db, path, 64);
  int next = 0;
  write_pages(db, 10, next);
  EXPECT_EQ(ckpt->progress().checkpoints, 0u) << "below the threshold";
  write_pages(db, 90, next);
  EXPECT_TRUE(rampart::test::poll_until([&] { return ckpt->progress().checkpoints >= 1; },
                                        std::chrono::seconds(30)));
  EXPECT_GT(ckpt->progress().copied, 0);
  ckpt.reset();
  // The WAL header's checkpoint sequence number counts its restarts.
  auto restarts = [&] {
    uint8_t h[16] = {};
    if (FILE* f = std::fopen((path + "-wal").c_str(), "rb")) {
      if (std::fread(h, 1, sizeof h, f) != sizeof h) h[12] = h[13] = h[14] = h[15] = 0;
      std::fclose(f);
    }
    return uint32_t(h[12]) << 24 | uint32_t(h[13]) << 16 | uint32_t(h[14]) << 8 | h[15];
  };
  const uint32_t before = restarts();
  write_pages(db, 40, next);
  EXPECT_GT(restarts(), before) << "the WAL started over: everything was checkpointed";
  rampart::store::Stmt count(db, "SELECT count(*) FROM t");
  ASSERT_TRUE(count.step());
  EXPECT_EQ(count.col_int(0), 140);
}

TEST(RuleStore, ConfigRulesFollowTheFileApiRulesStay) {
  rampart::test::TempDir dir;
  RuleStore s(dir / "r.db");
  s.sync_origin("firewall", "config", {{1, "a"}, {2, "b"}}, "config");
  s.change("firewall", 10, std::string("api rule"), "rest");
  s.sync_origin("firewall", "config", {{1, "a"}, {2, "b"}}, "config");  // unchanged: no audit
  EXPECT_EQ(s.audit("firewall").size(), 3u);
  s.sync_origin("firewall", "config", {{2, "b2"}}, "config");  // 1 removed, 2 changed
  const auto rules = s.list("firewall");
  ASSERT_EQ(rules.size(), 2u);
  EXPECT_EQ(rules[0].id, 2u);
  EXPECT_EQ(rules[0].body, "b2");
  EXPECT_EQ(rules[1].id, 10u) << "rules created over the API are not the file's to remove";
  EXPECT_EQ(s.audit("firewall", 1)[0].action, "delete");
  EXPECT_EQ(s.audit("firewall", 2)[0].action, "update");
}

// A large sync writes its rows many to a statement: every rule and audit
// entry is as one written alone would be, in order, whatever batch or tail
// it fell in (52 rules written: a statement of 32 and 20 alone), including
// a rule of another origin taken over with its body as the entry's before.
TEST(RuleStore, ALargeSyncWritesAndAuditsEveryRuleInOrder) {
  rampart::test::TempDir dir;
  RuleStore s(dir / "r.db");
  std::vector<rampart::store::StoredRule> first;
  for (uint64_t id = 1; id <= 40; ++id) first.push_back({id, "v1-" + std::to_string(id)});
  s.sync_origin("firewall", "api", first, "alice");
  s.sync_origin("firewall", "config", {{50, "file-50"}}, "config");
  std::vector<rampart::store::StoredRule> second;
  for (uint64_t id = 1; id <= 70; ++id) {
    if (id % 10 == 0) continue;  // 10, 20, ... removed (and 50 taken from the file below)
    second.push_back({id, id % 3 == 0 ? "v1-" + std::to_string(id) : "v2-" + std::to_string(id)});
  }
  second.push_back({50, "api-50"});
  s.sync_origin("firewall", "api", second, "bob");
  std::map<uint64_t, std::string> stored;
  for (const auto& r : s.list("firewall")) stored[r.id] = r.body;
  std::map<uint64_t, std::string> want;
  for (const auto& r : second) want[r.id] = r.body;
  EXPECT_EQ(stored, want);
  // bob's entries, oldest first: each changed or new rule once, in order,
  // then the removals.
  auto entries = s.audit("firewall", std::nullopt, 1000);
  std::reverse(entries.begin(), entries.end());
  std::vector<std::string> got, expected;
  for (const auto& e : entries) {
    if (e.actor == "bob")
      got.push_back(e.action + " " + std::to_string(e.rule_id) + " " + e.before + ">" + e.after);
  }
  for (const auto& r : second) {
    if (r.id <= 40 && r.id % 3 == 0) continue;  // unchanged: no entry
    const std::string before = r.id == 50   ? "file-50"
                               : r.id <= 40 ? "v1-" + std::to_string(r.id)
                                            : "";
    expected.push_back(std::string(before.empty() ? "create" : "update") + " " +
                       std::to_string(r.id) + " " + before + ">" + r.body);
  }
  for (uint64_t id = 10; id <= 40; id += 10) {
    expected.push_back("delete " + std::to_string(id) + " v1-" + std::to_string(id) + ">");
  }
  EXPECT_EQ(got, expected);
}

// An import's plan lists the domain's rules, and the store's write takes
// them as its own instead of reading them again, while nothing wrote since:
// through this store or another connection to the file. Shown with a
// listed body the file does not hold: taken while the version is the same
// (the rule looks unchanged, nothing is written), never once it moved.
TEST(RuleStore, ASyncTakesTheListedRulesOnlyWhileNothingWroteSince) {
  using rampart::store::StoredRule;
  rampart::test::TempDir dir;
  RuleStore s(dir / "r.db");
  s.sync_origin("firewall", "api", {{1, "a"}, {2, "b"}}, "alice");
  auto listed_now = [&](RuleStore::Version& at) {
    std::map<uint64_t, StoredRule> known;
    for (auto& r : s.list("firewall", at)) known.emplace(r.id, std::move(r));
    known.at(1).body = "x";  // what the store would write if it read the file
    return known;
  };
  auto body_of = [&](uint64_t id) { return s.get("firewall", id).value_or("(none)"); };

  RuleStore::Version at;
  auto known = listed_now(at);
  const RuleStore::Known current{at, &known};
  s.sync_origin("firewall", "api", {{1, "x"}, {2, "b"}}, "bob", {}, &current);
  EXPECT_EQ(body_of(1), "a") << "the listed rows were taken: rule 1 looked unchanged";
  EXPECT_EQ(s.audit("firewall", 1).size(), 1u);

  // A write through this store since the list: read again.
  known = listed_now(at);
  s.change("firewall", 3, std::string("c"), "carol");
  const RuleStore::Known before_a_write{at, &known};
  s.sync_origin("firewall", "api", {{1, "x"}, {2, "b"}}, "bob", {}, &before_a_write);
  EXPECT_EQ(body_of(1), "x");
  EXPECT_EQ(body_of(3), "(none)") << "rule 3, written after the list, was removed as unlisted";
  const auto entries = s.audit("firewall", 1);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].before, "a") << "the entry's before is the file's, not the list's";

  // A write through another connection since the list: read again.
  known = listed_now(at);
  {
    RuleStore other(dir / "r.db");
    other.change("firewall", 1, std::string("y"), "dave");
  }
  const RuleStore::Known before_another{at, &known};
  s.sync_origin("firewall", "api", {{1, "x"}, {2, "b"}}, "bob", {}, &before_another);
  EXPECT_EQ(body_of(1), "x");
  EXPECT_EQ(s.audit("firewall", 1)[0].before, "y");
}

// A rule's audit entries, as its chain gives them, are exactly the
// domain's entries for that rule, newest first, whatever wrote them (alone,
// 32 to a statement, deletes) and whatever the retention pruned.
TEST(RuleStore, ARulesEntriesAreTheDomainsForItNewestFirst) {
  using rampart::store::AuditEntry;
  using rampart::store::StoredRule;
  rampart::test::TempDir dir;
  RuleStore s(dir / "r.db", {.max_age_s = 0, .max_count = 700});
  auto check = [&](const std::string& step) {
    for (const std::string domain : {"firewall", "blocklist"}) {
      const auto all = s.audit(domain, std::nullopt, 100000);
      for (uint64_t id = 1; id <= 80; ++id) {
        std::vector<uint64_t> want, got;
        for (const auto& e : all) {
          if (e.rule_id == id) want.push_back(e.seq);
        }
        for (const auto& e : s.audit(domain, id, 100000)) got.push_back(e.seq);
        ASSERT_EQ(got, want) << step << ": " << domain << " rule " << id;
        const auto two = s.audit(domain, id, 2);
        ASSERT_EQ(two.size(), std::min<size_t>(2, want.size())) << step;
        for (size_t k = 0; k < two.size(); ++k) ASSERT_EQ(two[k].seq, want[k]) << step;
      }
    }
  };
  uint32_t seed = 20261202;
  auto pick = [&](uint32_t n) {
    seed = seed * 1103515245u + 12345u;
    return (seed >> 8) % n;
  };
  for (int round = 0; round < 40; ++round) {
    const std::string domain = pick(3) ? "firewall" : "blocklist";
    const std::string step = "round " + std::to_string(round);
    switch (pick(3)) {
      case 0:  // one rule written or deleted
        s.change(domain, 1 + pick(80),
                 pick(4) ? std::optional<std::string>("v" + std::to_string(round)) : std::nullopt,
                 "alice");
        break;
      case 1: {  // an import: 32 to a statement, the rest alone, the unlisted deleted
        std::vector<StoredRule> set;
        for (uint64_t id = 1; id <= 80; ++id) {
          if (pick(5)) set.push_back({id, "r" + std::to_string(round) + "-" + std::to_string(id)});
        }
        s.sync_origin(domain, "api", set, "bob");
        break;
      }
      default:  // the file's rules
        s.sync_origin(domain, "config", {{70 + pick(10), "file" + std::to_string(round)}},
                      "config");
    }
    check(step);
  }
  EXPECT_EQ(s.audit("firewall", std::nullopt, 100000).size() +
                s.audit("blocklist", std::nullopt, 100000).size(),
            700u)
      << "the retention pruned (and the chains above end where it did)";
}

// A database of schema 2 (entries found by an index on rule and seq) is
// chained when opened, the index dropped; new entries go on its chains.
TEST(RuleStore, ASchema2AuditLogIsChainedWhenOpened) {
  rampart::test::TempDir dir;
  {
    auto db = rampart::store::open_database(dir / "r.db");
    for (const char* sql : {
             "CREATE TABLE rules (domain TEXT NOT NULL, id INTEGER NOT NULL, body TEXT NOT NULL,"
             " updated_ms INTEGER NOT NULL, origin TEXT NOT NULL DEFAULT 'api',"
             " PRIMARY KEY (domain, id))",
             "CREATE TABLE audit (seq INTEGER PRIMARY KEY AUTOINCREMENT, time_ms INTEGER NOT NULL,"
             " actor TEXT NOT NULL, domain TEXT NOT NULL, rule_id INTEGER NOT NULL,"
             " action TEXT NOT NULL, before TEXT, after TEXT)",
             "CREATE INDEX audit_rule ON audit (domain, rule_id, seq)",
             "CREATE INDEX audit_time ON audit (time_ms)",
             "INSERT INTO rules VALUES ('firewall', 1, 'a2', 1, 'api'), ('firewall', 2, 'b1', 1, "
             "'api')",
             "INSERT INTO audit (time_ms, actor, domain, rule_id, action, before, after) VALUES"
             " (1, 'x', 'firewall', 1, 'create', NULL, 'a1'),"
             " (2, 'x', 'firewall', 2, 'create', NULL, 'b1'),"
             " (3, 'x', 'blocklist', 1, 'create', NULL, 'p1'),"
             " (4, 'x', 'firewall', 1, 'update', 'a1', 'a2')",
             "PRAGMA user_version = 2",
         }) {
      rampart::store::exec(db, sql);
    }
  }
  RuleStore s(dir / "r.db", {.max_age_s = 0, .max_count = 0});  // entries of 1970 kept
  s.change("firewall", 1, std::string("a3"), "y");
  auto afters = [&](const std::string& domain, uint64_t id) {
    std::vector<std::string> out;
    for (const auto& e : s.audit(domain, id)) out.push_back(e.after);
    return out;
  };
  EXPECT_EQ(afters("firewall", 1), (std::vector<std::string>{"a3", "a2", "a1"}));
  EXPECT_EQ(afters("firewall", 2), (std::vector<std::string>{"b1"}));
  EXPECT_EQ(afters("blocklist", 1), (std::vector<std::string>{"p1"}));
  auto db = rampart::store::open_database(dir / "r.db");
  rampart::store::Stmt st(db, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'audit_rule'");
  ASSERT_TRUE(st.step());
  EXPECT_EQ(st.col_int(0), 0) << "the index an import wrote into every leaf of is gone";
}

// The head of a rule whose every entry was pruned goes (here when the
// store opens; while it runs, after 65,536 entries pruned): heads do not
// pile up as ids come and go.
TEST(RuleStore, HeadsOfRulesWithNoEntryLeftAreSwept) {
  rampart::test::TempDir dir;
  {
    RuleStore s(dir / "r.db", {.max_age_s = 0, .max_count = 10});
    for (uint64_t id = 1; id <= 20; ++id) s.change("firewall", id, std::string("{}"), "a");
  }
  RuleStore s(dir / "r.db", {.max_age_s = 0, .max_count = 10});
  auto db = rampart::store::open_database(dir / "r.db");
  rampart::store::Stmt st(db, "SELECT MIN(rule_id), COUNT(*) FROM audit_head");
  ASSERT_TRUE(st.step());
  EXPECT_EQ(st.col_int(0), 11);
  EXPECT_EQ(st.col_int(1), 10);
  EXPECT_EQ(s.audit("firewall", 11).size(), 1u);
  EXPECT_TRUE(s.audit("firewall", 10).empty());
}

// Rule ids of a domain's audit entries, newest first.
std::vector<uint64_t> audited(const RuleStore& s) {
  std::vector<uint64_t> ids;
  for (const auto& e : s.audit("firewall")) ids.push_back(e.rule_id);
  return ids;
}

TEST(RuleStore, AuditKeepsTheNewestMaxCountEntries) {
  rampart::test::TempDir dir;
  {
    RuleStore s(dir / "r.db", {.max_age_s = 0, .max_count = 3});
    for (uint64_t id = 1; id <= 5; ++id) s.change("firewall", id, std::string("{}"), "a");
    EXPECT_EQ(audited(s), (std::vector<uint64_t>{5, 4, 3})) << "pruned with each write";
    s.replace_all("firewall", {{6, "{}"}, {7, "{}"}}, "import");  // 5 deletes, 2 creates
    EXPECT_EQ(audited(s), (std::vector<uint64_t>{7, 6, 5}));
    EXPECT_EQ(s.list("firewall").size(), 2u) << "rules are never pruned";
    s.set_audit_retention({.max_age_s = 0, .max_count = 1});
    EXPECT_EQ(audited(s), (std::vector<uint64_t>{7})) << "new limits apply at once";
    s.set_audit_retention({.max_age_s = 0, .max_count = 0});
    s.change("firewall", 8, std::string("{}"), "a");
    s.change("firewall", 9, std::string("{}"), "a");
    EXPECT_EQ(audited(s), (std::vector<uint64_t>{9, 8, 7})) << "0: no limit";
  }
  RuleStore reopened(dir / "r.db", {.max_age_s = 0, .max_count = 2});
  EXPECT_EQ(audited(reopened), (std::vector<uint64_t>{9, 8})) << "applied on open";
  EXPECT_EQ(reopened.list("firewall").size(), 4u);
}

TEST(RuleStore, AuditDropsEntriesOlderThanMaxAge) {
  rampart::test::TempDir dir;
  constexpr int64_t kDay = 86400 * 1000;
  int64_t now = 1764266400000;  // 2025-11-27T18:00:00Z
  auto clock = [&] { return now; };
  {
    RuleStore s(dir / "r.db", {.max_age_s = 10 * 86400.0, .max_count = 0}, clock);
    s.change("firewall", 1, std::string("{}"), "a");
    now += 6 * kDay;
    s.change("firewall", 2, std::string("{}"), "a");
    now += 4 * kDay - 1;
    s.change("firewall", 3, std::string("{}"), "a");
    EXPECT_EQ(audited(s), (std::vector<uint64_t>{3, 2, 1})) << "1 is not yet 10 days old";
    now += 2;
    s.change("firewall", 4, std::string("{}"), "a");
    EXPECT_EQ(audited(s), (std::vector<uint64_t>{4, 3, 2})) << "1 is past 10 days";
    EXPECT_EQ(s.audit("firewall")[0].time_ms, now) << "entries carry the store's clock";
    s.set_audit_retention({.max_age_s = 4 * 86400.0, .max_count = 0});
    EXPECT_EQ(audited(s), (std::vector<uint64_t>{4, 3})) << "2 is 4 days and 1 ms old";
  }
  now += 30 * kDay;  // nothing written meanwhile
  RuleStore reopened(dir / "r.db", {.max_age_s = 10 * 86400.0, .max_count = 0}, clock);
  EXPECT_TRUE(audited(reopened).empty()) << "pruned on open";
  EXPECT_EQ(reopened.list("firewall").size(), 4u) << "rules are never pruned";
}

TEST(RuleStore, UnopenableDatabaseIsAClearError) {
  rampart::test::TempDir dir;
  rampart::test::write_file(dir / "not-a-db", std::string(4096, 'x'));
  try {
    RuleStore s(dir / "not-a-db");
    FAIL() << "opened garbage";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("not-a-db"), std::string::npos) << e.what();
  }
}

}  // namespace
