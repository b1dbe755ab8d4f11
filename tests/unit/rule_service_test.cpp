// SPDX-License-Identifier: Apache-2.0
// Group commit in the rule service: changes that arrive while one is being
// applied are applied together (one owner application, one transaction),
// each answered once in effect; a refused change in a batch is refused
// alone.
#include <gtest/gtest.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "poll.hpp"
#include "store/rule_service.hpp"
#include "temp_dir.hpp"

namespace {

using rampart::store::ChangeResult;
using rampart::store::RuleService;
using rampart::store::RuleStore;
using rampart::store::StoredRule;

// Holds its first application until open(); refuses any rule whose body is
// "bad"; records the size of every set it applied.
class GatedOwner : public rampart::store::RuleOwner {
 public:
  std::string apply_rules(const std::string&, const std::vector<StoredRule>& rules) override {
    std::unique_lock lock(mu_);
    sizes_.push_back(rules.size());
    if (sizes_.size() == 2) {  // the first is the claim's; the next, the first change's
      entered_ = true;
      cv_.notify_all();
      cv_.wait(lock, [&] { return open_; });
    }
    for (const auto& r : rules) {
      if (r.body == "bad") return "rule " + std::to_string(r.id) + " is bad";
    }
    return "";
  }
  void wait_entered() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return entered_; });
  }
  void open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  std::vector<size_t> sizes() {
    std::lock_guard lock(mu_);
    return sizes_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool entered_ = false, open_ = false;
  std::vector<size_t> sizes_;
};

struct Fixture {
  rampart::test::TempDir dir;
  RuleStore store{dir / "rules.db"};
  RuleService service{store};
  std::shared_ptr<GatedOwner> owner = std::make_shared<GatedOwner>();
  Fixture() { owner->apply_rules("fw", service.claim("fw", owner, {})); }

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

}  // namespace
