// SPDX-License-Identifier: Apache-2.0
// Group commit in the rule service: changes that arrive while one is being
// applied are applied together (one owner application, one transaction),
// each answered once in effect; a refused change in a batch is refused
// alone.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <map>

#include "poll.hpp"
#include "store/apply_gate.hpp"
#include "store/rule_expiry.hpp"
#include "store/rule_service.hpp"
#include "store/sqlite.hpp"
#include "temp_dir.hpp"

namespace {

using rampart::store::ChangeResult;
using rampart::store::RuleService;
using rampart::store::RuleStore;
using rampart::store::StoredRule;

// Where an owner holds its first change until the test opens it.
class Hold {
 public:
  // Under the owner's lock: the first call waits for open().
  void first(std::unique_lock<std::mutex>& lock) {
    if (entered_) return;
    entered_ = true;
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
  }
  void wait_entered(std::mutex& mu) {
    std::unique_lock lock(mu);
    cv_.wait(lock, [&] { return entered_; });
  }
  void open(std::mutex& mu) {
    std::lock_guard lock(mu);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::condition_variable cv_;
  bool entered_ = false, open_ = false;
};

// Holds its first application after the claim's until open(); refuses any
// rule whose body is "bad"; records the size of every set it applied.
class GatedOwner : public rampart::store::RuleOwner {
 public:
  std::string apply_rules(const std::string&, const std::vector<StoredRule>& rules) override {
    std::unique_lock lock(mu_);
    sizes_.push_back(rules.size());
    if (sizes_.size() >= 2) hold_.first(lock);  // the first is the claim's
    for (const auto& r : rules) {
      if (r.body == "bad") return "rule " + std::to_string(r.id) + " is bad";
    }
    return "";
  }
  void wait_entered() { hold_.wait_entered(mu_); }
  void open() { hold_.open(mu_); }
  std::vector<size_t> sizes() {
    std::lock_guard lock(mu_);
    return sizes_;
  }

 private:
  std::mutex mu_;
  Hold hold_;
  std::vector<size_t> sizes_;
};

// A store and a service whose domain "fw" `Owner` owns (and applied).
template <class Owner>
struct Owned {
  rampart::test::TempDir dir;
  RuleStore store{dir / "rules.db"};
  RuleService service{store};
  std::shared_ptr<Owner> owner = std::make_shared<Owner>();
  Owned() { owner->apply_rules("fw", service.claim("fw", owner, {})); }
  // The database refuses the audit row of rule `id` (a trigger standing
  // for a full disk), or takes it again.
  void fail_audit_of(uint64_t id) {
    auto db = rampart::store::open_database(dir / "rules.db");
    rampart::store::exec(
        db, ("CREATE TRIGGER full_disk BEFORE INSERT ON audit WHEN NEW.rule_id = " +
             std::to_string(id) + " BEGIN SELECT RAISE(ABORT, 'disk full (injected)'); END")
                .c_str());
  }
  void heal() {
    auto db = rampart::store::open_database(dir / "rules.db");
    rampart::store::exec(db, "DROP TRIGGER full_disk");
  }
  // The COMMIT fails once rule `id`'s audit row is written: the row leaves
  // a deferred foreign key dangling, which SQLite checks at COMMIT, after
  // every write of the transaction (and after an owner's kernel writes).
  void fail_commit_after(uint64_t id) {
    auto db = rampart::store::open_database(dir / "rules.db");
    rampart::store::exec(
        db, ("CREATE TABLE parent (id INTEGER PRIMARY KEY);"
             " CREATE TABLE orphan (pid INTEGER REFERENCES parent (id)"
             " DEFERRABLE INITIALLY DEFERRED);"
             " CREATE TRIGGER failing_commit AFTER INSERT ON audit WHEN NEW.rule_id = " +
             std::to_string(id) + " BEGIN INSERT INTO orphan VALUES (42); END")
                .c_str());
  }
};

struct Fixture : Owned<GatedOwner> {
  ChangeResult create(uint64_t id, const std::string& body = "ok") {
    return service.change("fw", RAMPART_RULE_CREATE, id, body, "tester");
  }
};

TEST(RuleServiceGroupCommit, ChangesArrivingDuringAnApplyAreAppliedTogether) {
  Fixture f;
  ChangeResult first;
  std::thread leader([&] { first = f.create(1); });
  f.owner->wait_entered();  // change 1 is being applied, and held there
  constexpr uint64_t kMore = 20;
  std::vector<ChangeResult> results(kMore);
  std::vector<std::thread> writers;
  for (uint64_t i = 0; i < kMore; ++i)
    writers.emplace_back([&, i] { results[i] = f.create(2 + i); });
  ASSERT_TRUE(rampart::test::poll_until([&] { return f.service.waiting("fw") == kMore; },
                                        std::chrono::seconds(20)));
  f.owner->open();
  leader.join();
  for (auto& t : writers) t.join();

  EXPECT_EQ(first.status, RAMPART_OK) << first.message;
  for (const auto& r : results) EXPECT_EQ(r.status, RAMPART_OK) << r.message;
  // The claim's set, change 1 alone, then the 20 together.
  EXPECT_EQ(f.owner->sizes(), (std::vector<size_t>{0, 1, 1 + kMore}));
  EXPECT_EQ(f.service.batches(), 2u);
  EXPECT_EQ(f.service.batched_changes(), 1 + kMore);
  EXPECT_EQ(f.store.list("fw").size(), 1 + kMore);
  for (uint64_t id = 1; id <= 1 + kMore; ++id) {
    const auto history = f.store.audit("fw", id);
    ASSERT_EQ(history.size(), 1u) << id;
    EXPECT_EQ(history[0].action, "create");
    EXPECT_EQ(history[0].actor, "tester");
  }
  EXPECT_EQ(f.service.waiting("fw"), 0u);
}

TEST(RuleServiceGroupCommit, ARefusedChangeIsRefusedAloneAndTheRestAreMade) {
  Fixture f;
  ChangeResult first;
  std::thread leader([&] { first = f.create(1); });
  f.owner->wait_entered();
  ChangeResult good, bad, twice_a, twice_b, missing;
  std::vector<std::thread> writers;
  writers.emplace_back([&] { good = f.create(2); });
  writers.emplace_back([&] { bad = f.create(3, "bad"); });
  writers.emplace_back([&] { twice_a = f.create(4); });
  writers.emplace_back([&] { twice_b = f.create(4); });
  writers.emplace_back(
      [&] { missing = f.service.change("fw", RAMPART_RULE_DELETE, 99, std::nullopt, "tester"); });
  ASSERT_TRUE(rampart::test::poll_until([&] { return f.service.waiting("fw") == 5; },
                                        std::chrono::seconds(20)));
  f.owner->open();
  leader.join();
  for (auto& t : writers) t.join();

  EXPECT_EQ(first.status, RAMPART_OK);
  EXPECT_EQ(good.status, RAMPART_OK) << good.message;
  EXPECT_EQ(bad.status, RAMPART_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(bad.message, "rule 3 is bad");
  // One of the two creates of rule 4 came first.
  EXPECT_EQ((twice_a.status == RAMPART_OK) + (twice_b.status == RAMPART_OK), 1);
  EXPECT_EQ((twice_a.status == RAMPART_ERR_CONFLICT) + (twice_b.status == RAMPART_ERR_CONFLICT), 1);
  EXPECT_EQ(missing.status, RAMPART_ERR_NOT_FOUND);
  std::vector<uint64_t> ids;
  for (const auto& r : f.store.list("fw")) ids.push_back(r.id);
  EXPECT_EQ(ids, (std::vector<uint64_t>{1, 2, 4}));
  EXPECT_TRUE(f.store.audit("fw", 3).empty()) << "a refused change leaves no trace";
}

// An owner that applies changes (ABI 1.8): keeps the set the changes
// make, holds its first change until open(), refuses a "bad" body, and
// records every call (whole sets and changes).
class DeltaOwner : public rampart::store::RuleOwner {
 public:
  bool applies_changes() const override { return true; }
  std::string apply_rules(const std::string&, const std::vector<StoredRule>& rules) override {
    std::lock_guard lock(mu_);
    calls_.push_back("set:" + std::to_string(rules.size()));
    held_.clear();
    for (const auto& r : rules) held_[r.id] = r.body;
    return "";
  }
  std::string apply_changes(const std::string&,
                            const std::vector<rampart::store::RuleDelta>& changes) override {
    std::unique_lock lock(mu_);
    calls_.push_back("changes:" + std::to_string(changes.size()));
    hold_.first(lock);
    auto next = held_;
    for (const auto& c : changes) {
      if (c.kind == RAMPART_RULE_DELETE) {
        if (!next.erase(c.id)) return "deleted " + std::to_string(c.id) + ", which I lack";
        continue;
      }
      if (*c.body == "bad") return "rule " + std::to_string(c.id) + " is bad";
      if ((c.kind == RAMPART_RULE_CREATE) == (next.count(c.id) > 0))
        return "a create of an id I hold, or an update of one I lack: " + std::to_string(c.id);
      next[c.id] = *c.body;
    }
    held_ = std::move(next);
    return "";
  }
  void wait_entered() { hold_.wait_entered(mu_); }
  void open() { hold_.open(mu_); }
  std::vector<std::string> calls() {
    std::lock_guard lock(mu_);
    return calls_;
  }
  std::map<uint64_t, std::string> held() {
    std::lock_guard lock(mu_);
    return held_;
  }

 private:
  std::mutex mu_;
  Hold hold_;
  std::vector<std::string> calls_;
  std::map<uint64_t, std::string> held_;
};

struct DeltaFixture {
  rampart::test::TempDir dir;
  RuleStore store{dir / "rules.db"};
  RuleService service{store};
  std::shared_ptr<DeltaOwner> owner = std::make_shared<DeltaOwner>();
  DeltaFixture() { owner->apply_rules("bl", service.claim("bl", owner, {{7, "config-rule"}})); }
  ChangeResult change(rampart_rule_change kind, uint64_t id, const std::string& body = "ok") {
    return service.change(
        "bl", kind, id, kind == RAMPART_RULE_DELETE ? std::nullopt : std::optional(body), "tester");
  }
  std::map<uint64_t, std::string> stored() {
    std::map<uint64_t, std::string> out;
    for (const auto& r : store.list("bl")) out[r.id] = r.body;
    return out;
  }
};

TEST(RuleServiceChanges, AnOwnerThatAppliesChangesGetsEachBatchNotTheWholeSet) {
  DeltaFixture f;
  ChangeResult first;
  std::thread leader([&] { first = f.change(RAMPART_RULE_CREATE, 1); });
  f.owner->wait_entered();  // change 1 is being applied, and held there
  // While it is held: creates, an update and a delete of what those make,
  // and changes the store refuses before the owner hears of them.
  std::vector<std::pair<rampart_rule_change, uint64_t>> batch = {{RAMPART_RULE_CREATE, 2},
                                                                 {RAMPART_RULE_CREATE, 3},
                                                                 {RAMPART_RULE_UPDATE, 1},
                                                                 {RAMPART_RULE_DELETE, 99},
                                                                 {RAMPART_RULE_UPDATE, 7}};
  std::vector<ChangeResult> results(batch.size());
  std::vector<std::thread> writers;
  for (size_t i = 0; i < batch.size(); ++i) {
    writers.emplace_back([&, i] {
      results[i] = f.change(batch[i].first, batch[i].second, "v" + std::to_string(i));
    });
    // In this order: the update of 1 after its create, which is held.
    ASSERT_TRUE(rampart::test::poll_until([&] { return f.service.waiting("bl") == i + 1; },
                                          std::chrono::seconds(20)));
  }
  f.owner->open();
  leader.join();
  for (auto& t : writers) t.join();

  EXPECT_EQ(first.status, RAMPART_OK) << first.message;
  EXPECT_EQ(results[0].status, RAMPART_OK) << results[0].message;
  EXPECT_EQ(results[1].status, RAMPART_OK) << results[1].message;
  EXPECT_EQ(results[2].status, RAMPART_OK) << results[2].message;
  EXPECT_EQ(results[3].status, RAMPART_ERR_NOT_FOUND);
  EXPECT_EQ(results[4].status, RAMPART_ERR_CONFLICT) << "rule 7 is the config file's";
  // The claim's whole set, then change 1, then the three the store let by.
  EXPECT_EQ(f.owner->calls(), (std::vector<std::string>{"set:1", "changes:1", "changes:3"}));
  EXPECT_EQ(f.owner->held(), f.stored()) << "the owner's set and the store's agree";
  EXPECT_EQ(f.stored().at(1), "v2");
  EXPECT_EQ(f.service.batches(), 2u);
}

TEST(RuleServiceChanges, ARefusedChangeIsRefusedAloneWhenAppliedAsChanges) {
  DeltaFixture f;
  ChangeResult first;
  std::thread leader([&] { first = f.change(RAMPART_RULE_CREATE, 1); });
  f.owner->wait_entered();
  ChangeResult good, bad, later;
  std::vector<std::thread> writers;
  writers.emplace_back([&] { good = f.change(RAMPART_RULE_CREATE, 2); });
  writers.emplace_back([&] { bad = f.change(RAMPART_RULE_CREATE, 3, "bad"); });
  writers.emplace_back([&] { later = f.change(RAMPART_RULE_CREATE, 4); });
  ASSERT_TRUE(rampart::test::poll_until([&] { return f.service.waiting("bl") == 3; },
                                        std::chrono::seconds(20)));
  f.owner->open();
  leader.join();
  for (auto& t : writers) t.join();
  EXPECT_EQ(good.status, RAMPART_OK) << good.message;
  EXPECT_EQ(bad.status, RAMPART_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(bad.message, "rule 3 is bad");
  EXPECT_EQ(later.status, RAMPART_OK) << later.message;
  // The batch of three refused whole, then each alone.
  EXPECT_EQ(f.owner->calls(), (std::vector<std::string>{"set:1", "changes:1", "changes:3",
                                                        "changes:1", "changes:1", "changes:1"}));
  EXPECT_EQ(f.owner->held(), f.stored());
  EXPECT_EQ(f.stored().count(3), 0u);
}

TEST(RuleServiceChanges, AfterAReloadThatWasNotCommittedTheNextChangeHandsTheWholeSet) {
  DeltaFixture f;
  f.owner->open();
  ASSERT_EQ(f.change(RAMPART_RULE_CREATE, 1).status, RAMPART_OK);
  // A reload claims the domain, the owner applies what the claim returns,
  // and the reload is refused: the store keeps what it had, the owner may not.
  f.service.begin_transaction();
  f.owner->apply_rules("bl", f.service.claim("bl", f.owner, {{7, "config-rule"}, {8, "new"}}));
  f.service.end_transaction();
  EXPECT_NE(f.owner->held(), f.stored());
  ASSERT_EQ(f.change(RAMPART_RULE_CREATE, 2).status, RAMPART_OK);
  EXPECT_EQ(f.owner->calls().back(), "set:3") << "the whole stored set, not one change";
  EXPECT_EQ(f.owner->held(), f.stored());
  ASSERT_EQ(f.change(RAMPART_RULE_DELETE, 2).status, RAMPART_OK);
  EXPECT_EQ(f.owner->calls().back(), "changes:1") << "and changes again after it";
  EXPECT_EQ(f.owner->held(), f.stored());
}

TEST(RuleStorePaging, PagesAndTheHighestIdComeFromTheIndex) {
  rampart::test::TempDir dir;
  RuleStore store(dir / "rules.db");
  EXPECT_EQ(store.max_id("bl"), 0u);
  for (uint64_t id : {5, 1, 9, 3, 7}) store.change("bl", id, "{}", "tester");
  store.change("other", 100, "{}", "tester");
  auto ids = [](const std::vector<StoredRule>& rules) {
    std::vector<uint64_t> out;
    for (const auto& r : rules) out.push_back(r.id);
    return out;
  };
  EXPECT_EQ(ids(store.page("bl", 0, 2)), (std::vector<uint64_t>{1, 3}));
  EXPECT_EQ(ids(store.page("bl", 4, 2)), (std::vector<uint64_t>{5, 7}));
  EXPECT_EQ(ids(store.page("bl", 8, 0)), (std::vector<uint64_t>{9}));
  EXPECT_EQ(ids(store.page("bl", 10, 5)), (std::vector<uint64_t>{}));
  EXPECT_EQ(store.max_id("bl"), 9u);
}

// A clock the test sets.
struct Clock {
  std::atomic<int64_t> now{1'800'000'000};
  std::function<int64_t()> fn() {
    return [this] { return now.load(); };
  }
};

TEST(RuleExpiry, ExpiredApiRulesAreDeletedThroughTheirOwnerAndAudited) {
  DeltaFixture f;
  f.owner->open();
  Clock clock;
  const int64_t t = clock.now;
  auto body = [](int64_t at) {
    return R"({"prefix":"192.0.2.1","expires_at":)" + std::to_string(at) + "}";
  };
  ASSERT_EQ(f.change(RAMPART_RULE_CREATE, 1, body(t + 10)).status, RAMPART_OK);
  ASSERT_EQ(f.change(RAMPART_RULE_CREATE, 2, body(t + 20)).status, RAMPART_OK);
  ASSERT_EQ(f.change(RAMPART_RULE_CREATE, 3, R"({"prefix":"192.0.2.3"})").status, RAMPART_OK);
  ASSERT_EQ(f.change(RAMPART_RULE_CREATE, 4, R"({"expires_at":"soon"})").status, RAMPART_OK);
  ASSERT_EQ(f.change(RAMPART_RULE_CREATE, 5, "not json").status, RAMPART_OK);
  rampart::store::RuleExpiry expiry(f.service, clock.fn());
  EXPECT_EQ(expiry.sweep(), 0u) << "nothing is due yet";
  clock.now = t + 10;
  EXPECT_EQ(expiry.sweep(), 1u);
  EXPECT_EQ(f.stored().count(1), 0u);
  EXPECT_EQ(f.owner->held(), f.stored()) << "the owner applied the deletion";
  const auto history = f.store.audit("bl", 1);
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[0].action, "delete");
  EXPECT_EQ(history[0].actor, "expiry");
  clock.now = t + 1000;
  EXPECT_EQ(expiry.sweep(), 1u) << "rule 2; not 3 (no expiry), 4 (not a time) or 5 (not JSON)";
  EXPECT_EQ(f.stored().size(), 4u) << "config rule 7 and rules 3, 4 and 5";
  EXPECT_EQ(expiry.sweep(), 0u);
}

TEST(RuleExpiry, TheSweeperThreadDeletesWhatIsDue) {
  DeltaFixture f;
  f.owner->open();
  Clock clock;
  ASSERT_EQ(
      f.change(RAMPART_RULE_CREATE, 1, R"({"expires_at":)" + std::to_string(clock.now + 5) + "}")
          .status,
      RAMPART_OK);
  rampart::store::RuleExpiry expiry(f.service, clock.fn());
  expiry.start();
  clock.now += 5;
  EXPECT_TRUE(rampart::test::poll_until([&] { return f.stored().count(1) == 0; },
                                        std::chrono::seconds(20)));
  expiry.stop();
  EXPECT_EQ(f.owner->held(), f.stored());
}

}  // namespace

namespace {

class AcceptingOwner : public rampart::store::RuleOwner {
 public:
  std::string apply_rules(const std::string&, const std::vector<StoredRule>&) override {
    return "";
  }
};

// An import compares bodies as JSON: the same values in another key order
// or spacing are the rule unchanged; a value of another kind ("true" for
// true, 1.5 for 1), a nested difference or a key more is a change; bodies
// that are not JSON compare as text.
TEST(RuleServiceImport, BodiesCompareAsJsonNotAsText) {
  rampart::test::TempDir dir;
  RuleStore store(dir / "rules.db");
  RuleService service(store);
  const auto owner = std::make_shared<AcceptingOwner>();
  service.claim("fw", owner, {});
  const std::vector<StoredRule> before{{1, R"({"a":1,"b":[1,{"c":"x"}]})"},
                                       {2, R"({"a":true})"},
                                       {3, R"({"a":1})"},
                                       {4, R"({"a":{"b":null}})"},
                                       {5, "not json"},
                                       {6, R"({"a":[1,2]})"},
                                       {7, R"({"a":1})"},
                                       {8, "not json"},
                                       {9, R"({"a":100})"}};
  ASSERT_EQ(service.replace_api_rules("fw", before, "tester", false).result.status, RAMPART_OK);
  const std::vector<StoredRule> after{{1, R"( { "b" : [ 1, {"c":"x"} ], "a" : 1 } )"},
                                      {2, R"({"a":"true"})"},
                                      {3, R"({"a":1,"z":0})"},
                                      {4, R"({ "a": { "b": null } })"},
                                      {5, "not json"},
                                      {6, R"({"a":[1,3]})"},
                                      {7, R"({"a":1.5})"},
                                      {8, "not  json"},
                                      // Spelt as the API never writes a body: taken as changed
                                      // (written again), without parsing either body.
                                      {9, R"({"a":1e2})"}};
  const auto plan = service.replace_api_rules("fw", after, "tester", true).plan;
  std::vector<uint64_t> changed;
  for (const auto& c : plan.changed) changed.push_back(c.id);
  EXPECT_EQ(changed, (std::vector<uint64_t>{2, 3, 6, 7, 8, 9}));
  EXPECT_EQ(plan.unchanged, 3u) << "1, 4 and 5";
  EXPECT_TRUE(plan.added.empty());
  EXPECT_TRUE(plan.removed.empty());
}

// A config file's rule in an import is compared as JSON however it is
// spelt: there a difference would be a refusal, not a rewrite.
TEST(RuleServiceImport, AConfigRuleSpeltAnotherWayIsTheSameRule) {
  rampart::test::TempDir dir;
  RuleStore store(dir / "rules.db");
  RuleService service(store);
  const auto owner = std::make_shared<AcceptingOwner>();
  service.claim("fw", owner, {{1, R"({"a":100,"s":"A"})"}});
  const auto same =
      service.replace_api_rules("fw", {{1, R"({"s":"\u0041","a":1e2})"}}, "tester", false);
  EXPECT_EQ(same.result.status, RAMPART_OK) << same.result.message;
  EXPECT_EQ(same.plan.config_owned, 1u);
  const auto other =
      service.replace_api_rules("fw", {{1, R"({"a":101,"s":"A"})"}}, "tester", false);
  EXPECT_EQ(other.result.status, RAMPART_ERR_CONFLICT);
}

// The ids of `domain` another connection sees in the database: what is
// committed.
std::vector<uint64_t> committed_ids(const std::string& db_path, const std::string& domain) {
  auto db = rampart::store::open_database(db_path);
  rampart::store::Stmt st(db, "SELECT id FROM rules WHERE domain = ?1 ORDER BY id");
  st.text(1, domain);
  std::vector<uint64_t> ids;
  while (st.step()) ids.push_back(static_cast<uint64_t>(st.col_int(0)));
  return ids;
}

std::vector<uint64_t> ids_of(const std::vector<StoredRule>& rules) {
  std::vector<uint64_t> ids;
  for (const auto& r : rules) ids.push_back(r.id);
  return ids;
}

// Stands for an engine that writes the kernel as the host lets it: its
// "kernel" (the ids of the set it installed last) is written only past the
// apply gate, where the host holds program installs and map writes. It
// refuses a body "bad" before writing anything, as a parse would.
class KernelOwner : public rampart::store::RuleOwner {
 public:
  std::function<void()> on_written;  // runs once the gate lets the write go
  std::string apply_rules(const std::string&, const std::vector<StoredRule>& rules) override {
    for (const auto& r : rules) {
      if (r.body == "bad") return "rule " + std::to_string(r.id) + " is bad";
    }
    if (auto* gate = rampart::store::ApplyGate::current()) {
      ++gated;
      if (auto failure = gate->wait_written(); !failure.empty()) return "not installed: " + failure;
      if (on_written) on_written();
    }
    kernel = ids_of(rules);
    installed.push_back(kernel);
    return "";
  }
  std::vector<uint64_t> kernel;
  std::vector<std::vector<uint64_t>> installed;  // every set installed, in order
  int gated = 0;                                 // applies that went through a gate
};

// An import is written by the store on a thread of its own while the owner
// applies it; the owner's kernel write waits until the set is written, the
// commit until the owner has applied it, and a refused set is rolled back.
TEST(RuleServiceImport, TheStoreWritesBesideTheOwnerAndCommitsOnlyWhatItApplied) {
  Owned<KernelOwner> f;
  auto& [dir, store, service, owner] = f;
  ASSERT_EQ(service.replace_api_rules("fw", {{1, "a"}, {2, "b"}}, "t").result.status, RAMPART_OK);
  EXPECT_EQ(owner->gated, 1) << "the claim's apply is not an import's";

  std::vector<uint64_t> seen_at_write;
  owner->on_written = [&] { seen_at_write = committed_ids(dir / "rules.db", "fw"); };
  const auto r = service.replace_api_rules("fw", {{2, "b2"}, {3, "c"}}, "t");
  ASSERT_EQ(r.result.status, RAMPART_OK) << r.result.message;
  EXPECT_EQ(seen_at_write, (std::vector<uint64_t>{1, 2}))
      << "written but not committed while the owner installs";
  EXPECT_EQ(owner->kernel, (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(committed_ids(dir / "rules.db", "fw"), (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(r.plan.added, (std::vector<uint64_t>{3}));
  EXPECT_EQ(r.plan.removed, (std::vector<uint64_t>{1}));

  owner->on_written = nullptr;
  const auto refused = service.replace_api_rules("fw", {{2, "b2"}, {4, "bad"}}, "t");
  EXPECT_EQ(refused.result.status, RAMPART_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(refused.result.message, "rule 4 is bad");
  EXPECT_EQ(committed_ids(dir / "rules.db", "fw"), (std::vector<uint64_t>{2, 3})) << "rolled back";
  EXPECT_EQ(owner->kernel, (std::vector<uint64_t>{2, 3}));
  EXPECT_TRUE(store.audit("fw", 4, 10).empty()) << "nothing audited of the refused import";

  // The set the owner holds already: nothing applied, stored or audited.
  const int gated = owner->gated;
  const auto audited = store.audit("fw", std::nullopt, 100).size();
  const auto same = service.replace_api_rules("fw", {{3, "c"}, {2, "b2"}}, "t");
  EXPECT_EQ(same.result.status, RAMPART_OK);
  EXPECT_EQ(same.plan.unchanged, 2u);
  EXPECT_EQ(owner->gated, gated);
  EXPECT_EQ(store.audit("fw", std::nullopt, 100).size(), audited);
}

// The database refusing a row mid-import (a trigger standing for a full
// disk): the import fails as the store's error, the owner's kernel write is
// refused at the gate, so the kernel keeps the old set, as the store does;
// the same import goes through once the store takes it.
TEST(RuleServiceImport, ASetTheStoreFailsToWriteNeverReachesTheKernel) {
  Owned<KernelOwner> f;
  auto& [dir, store, service, owner] = f;
  ASSERT_EQ(service.replace_api_rules("fw", {{1, "a"}}, "t").result.status, RAMPART_OK);
  f.fail_audit_of(12);
  const std::vector<StoredRule> next{{10, "x"}, {11, "y"}, {12, "z"}};
  const auto r = service.replace_api_rules("fw", next, "t");
  EXPECT_EQ(r.result.status, RAMPART_ERR_INTERNAL);
  EXPECT_NE(r.result.message.find("disk full (injected)"), std::string::npos) << r.result.message;
  EXPECT_EQ(owner->kernel, (std::vector<uint64_t>{1})) << "the kernel write was refused";
  EXPECT_EQ(committed_ids(dir / "rules.db", "fw"), (std::vector<uint64_t>{1}));
  EXPECT_EQ(ids_of(store.list("fw")), (std::vector<uint64_t>{1}));

  f.heal();
  ASSERT_EQ(service.replace_api_rules("fw", next, "t").result.status, RAMPART_OK);
  EXPECT_EQ(owner->kernel, (std::vector<uint64_t>{10, 11, 12}));
  EXPECT_EQ(committed_ids(dir / "rules.db", "fw"), (std::vector<uint64_t>{10, 11, 12}));
}

// A COMMIT that fails after the owner's kernel write (a full disk shows
// there: SQLite writes its log at the COMMIT): the answer is the store's
// error, and the owner is handed the stored set again, so the kernel is back
// to what the store holds.
TEST(RuleServiceImport, ACommitThatFailsAfterTheKernelWriteIsUndoneInTheKernel) {
  Owned<KernelOwner> f;
  auto& [dir, store, service, owner] = f;
  ASSERT_EQ(service.replace_api_rules("fw", {{1, "a"}}, "t").result.status, RAMPART_OK);
  f.fail_commit_after(3);
  const auto r = service.replace_api_rules("fw", {{2, "b"}, {3, "c"}}, "t");
  EXPECT_EQ(r.result.status, RAMPART_ERR_INTERNAL);
  EXPECT_NE(r.result.message.find("FOREIGN KEY"), std::string::npos)
      << "SQLite's own words, not a failed ROLLBACK's: " << r.result.message;
  EXPECT_EQ(owner->gated, 2) << "the import's kernel write went through the gate";
  EXPECT_EQ(owner->installed, (std::vector<std::vector<uint64_t>>{{}, {1}, {2, 3}, {1}}))
      << "the claim's, the first import's, the failed one's, then the stored set again";
  EXPECT_EQ(committed_ids(dir / "rules.db", "fw"), (std::vector<uint64_t>{1}));
  // The next change is stored and applied as usual.
  ASSERT_EQ(service.replace_api_rules("fw", {{1, "a"}, {4, "d"}}, "t").result.status, RAMPART_OK);
  EXPECT_EQ(owner->kernel, (std::vector<uint64_t>{1, 4}));
}

// An owner that applied the set without a gated write (state of its own in
// user space) before the store failed is given the stored set back.
TEST(RuleServiceImport, AnOwnerThatAppliedBeforeTheStoreFailedGetsTheStoredSetBack) {
  class UserSpaceOwner : public rampart::store::RuleOwner {
   public:
    std::string apply_rules(const std::string&, const std::vector<StoredRule>& rules) override {
      sets.push_back(ids_of(rules));
      return "";
    }
    std::vector<std::vector<uint64_t>> sets;
  };
  Owned<UserSpaceOwner> f;
  auto& [dir, store, service, owner] = f;
  ASSERT_EQ(service.replace_api_rules("fw", {{1, "a"}, {2, "b"}}, "t").result.status, RAMPART_OK);
  f.fail_audit_of(3);
  const auto r = service.replace_api_rules("fw", {{1, "a"}, {3, "c"}}, "t");
  EXPECT_EQ(r.result.status, RAMPART_ERR_INTERNAL) << r.result.message;
  ASSERT_GE(owner->sets.size(), 2u);
  EXPECT_EQ(owner->sets.back(), (std::vector<uint64_t>{1, 2})) << "the stored set, applied again";
  EXPECT_EQ(ids_of(store.list("fw")), (std::vector<uint64_t>{1, 2}));
}

}  // namespace
