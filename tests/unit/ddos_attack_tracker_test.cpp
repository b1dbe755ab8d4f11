// SPDX-License-Identifier: Apache-2.0
// An attack's lifecycle from counters sampled every 100 ms, on a made-up
// clock: detected and confirmed within the bounds docs/ddos.md gives, a
// burst never reported, mitigation seen, the end after the hold.
#include <gtest/gtest.h>

#include <vector>

#include "attack_tracker.hpp"

namespace {

using rampart::ddos::AttackStep;
using rampart::ddos::AttackTracker;
using rampart::ddos::Phase;
using namespace std::chrono_literals;

// Feeds `secs` seconds of 100 ms samples at `pps` (and `acted_pps` acted
// on); returns the steps with the time each happened at.
struct Feed {
  AttackTracker t;
  std::chrono::nanoseconds now{1s};
  uint64_t seen = 0, acted = 0;
  std::vector<std::pair<std::chrono::nanoseconds, AttackStep>> steps;
  explicit Feed(AttackTracker::Options o) : t(o) { t.sample(now, 0, 0); }
  void run(double secs, double pps, double acted_pps = 0) {
    for (int i = 0; i < static_cast<int>(secs * 10 + 0.5); ++i) {
      now += 100ms;
      seen += static_cast<uint64_t>(pps / 10);
      acted += static_cast<uint64_t>(acted_pps / 10);
      if (auto s = t.sample(now, seen, acted)) steps.emplace_back(now, *s);
    }
  }
};

AttackTracker::Options options(double threshold, std::chrono::seconds hold) {
  AttackTracker::Options o;
  o.threshold = threshold;
  o.hold = hold;
  return o;
}

TEST(AttackTracker, AFloodIsActiveWithinTwoSecondsAndEndsWithinTwoSecondsPlusTheHold) {
  Feed f(options(1000, 5s));
  f.run(3, 100);  // quiet
  EXPECT_TRUE(f.steps.empty());
  const auto start = f.now;
  f.run(5, 50000, 49000);  // a flood the kernel drops most of
  ASSERT_GE(f.steps.size(), 3u);
  EXPECT_EQ(f.steps[0].second.to, Phase::detecting);
  EXPECT_LE(f.steps[0].first - start, 200ms);
  EXPECT_EQ(f.steps[1].second.to, Phase::active);
  EXPECT_LE(f.steps[1].first - start, 2s);
  EXPECT_GE(f.steps[1].first - start, 1s);  // confirmed, not a burst
  EXPECT_EQ(f.steps[2].second.to, Phase::mitigating);
  EXPECT_GT(f.steps[1].second.peak, 40000);
  const auto stop = f.now;
  f.run(20, 100);
  ASSERT_EQ(f.steps.size(), 4u);
  EXPECT_EQ(f.steps[3].second.to, Phase::ended);
  EXPECT_LE(f.steps[3].first - stop, 2s + 5s);
  EXPECT_GE(f.steps[3].first - stop, 5s);
  EXPECT_NEAR(static_cast<double>(f.steps[3].second.packets), 5 * 50000 + 1000, 3000);
  EXPECT_NEAR(static_cast<double>(f.steps[3].second.mitigated), 5 * 49000, 1000);
  EXPECT_EQ(f.t.phase(), Phase::normal);
}

TEST(AttackTracker, ABurstShorterThanTheConfirmationIsNotAnAttack) {
  Feed f(options(1000, 5s));
  f.run(0.5, 50000);
  f.run(5, 0);
  ASSERT_EQ(f.steps.size(), 1u);
  EXPECT_EQ(f.steps[0].second.to, Phase::detecting);
  EXPECT_EQ(f.t.phase(), Phase::normal);
}

TEST(AttackTracker, AnAttackThatDipsShorterThanTheHoldGoesOn) {
  Feed f(options(1000, 5s));
  f.run(3, 20000);
  f.run(2, 0);  // under for 2 s, less than the hold
  f.run(3, 20000);
  for (const auto& [at, s] : f.steps) EXPECT_NE(s.to, Phase::ended);
  f.run(10, 0);
  EXPECT_EQ(f.steps.back().second.to, Phase::ended);
}

TEST(AttackTracker, ActiveWithoutTheKernelActingIsNotMitigating) {
  Feed f(options(1000, 1s));
  f.run(3, 5000, 0);  // over the rate, nothing dropped (an alert-only setting)
  ASSERT_EQ(f.steps.size(), 2u);
  EXPECT_EQ(f.steps[1].second.to, Phase::active);
  EXPECT_EQ(f.t.phase(), Phase::active);
}

TEST(AttackTracker, CountersThatGoBackAreANewBaselineNotARate) {
  Feed f(options(1000, 1s));
  f.run(1, 100);
  f.seen = 0;  // a new stage's counters
  f.run(3, 100);
  EXPECT_TRUE(f.steps.empty());
  EXPECT_LT(f.t.rate(), 1000);
}

}  // namespace
