// SPDX-License-Identifier: Apache-2.0
// The rate limit arithmetic (rampart/ratelimit_algo.h) against each
// algorithm's closed form, and per-CPU state against the global limit,
// over virtual CPUs (algo_model.hpp runs the kernel's code).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>

#include "algo_model.hpp"
#include "policy.hpp"
#include "rl_policy.hpp"

namespace rampart::ratelimit {
namespace {

constexpr uint64_t kStart = 1'000'000'000'000ull;  // a clock well past 0, on every grid
constexpr uint64_t kSecond = 1'000'000'000ull;

Policy policy(Algorithm a, uint32_t rate, uint32_t burst_or_window) {
  return rampart::test::rl_policy(a, rate, burst_or_window);
}

struct Load {
  double pps;  // offered, all CPUs together
  double seconds;
  uint32_t cpus = 1;
  uint32_t block = 1;  // packets in a row on one CPU before the next CPU's turn
};

// Offers `load` evenly spaced from kStart: what the model admits.
uint64_t run(AlgoModel& m, const Load& load, uint64_t start = kStart) {
  const auto n = static_cast<uint64_t>(load.pps * load.seconds);
  const double gap = 1e9 / load.pps;
  for (uint64_t i = 0; i < n; ++i) {
    const uint32_t cpu = static_cast<uint32_t>((i / load.block) % load.cpus);
    m.packet(cpu, start + static_cast<uint64_t>(static_cast<double>(i) * gap));
  }
  return m.admitted();
}

// Within ±5 % of `expected`.
void near5(uint64_t got, double expected, const std::string& what) {
  EXPECT_GE(static_cast<double>(got), expected * 0.95) << what;
  EXPECT_LE(static_cast<double>(got), expected * 1.05) << what;
}

TEST(RateLimitModel, TokenBucketAdmitsBurstPlusRateTimesTime) {
  for (auto [rate, burst] : {std::pair{1000u, 200u},
                             {2000u, 200u},
                             {100u, 1u},
                             {50000u, 100000u},
                             {1u, 1u},
                             {10000000u, 16777215u}}) {
    const auto p = policy(Algorithm::token_bucket, rate, burst);
    AlgoModel m(kernel_policy(p, 1), 1);
    const double secs = rate >= 1000000 ? 1 : 10;
    const double pps = 5.0 * rate;
    const auto got = run(m, {pps, secs});
    // By the last packet (one gap before the end) the bucket has refilled
    // that long: whole packets only.
    const double last = (std::floor(pps * secs) - 1) / pps;
    near5(got, std::floor(burst + rate * last),
          "rate " + std::to_string(rate) + " burst " + std::to_string(burst));
  }
}

TEST(RateLimitModel, LeakyBucketAdmitsWhatTheTokenBucketDoes) {
  const auto tb = policy(Algorithm::token_bucket, 3000, 500);
  auto lb = tb;
  lb.algorithm = Algorithm::leaky_bucket;
  AlgoModel a(kernel_policy(tb, 1), 1), b(kernel_policy(lb, 1), 1);
  std::mt19937_64 rng(11);
  std::exponential_distribution<double> gap(9000);  // Poisson arrivals, 3x the rate
  double t = 0;
  for (int i = 0; i < 90000; ++i) {
    t += gap(rng);
    const auto now = kStart + static_cast<uint64_t>(t * 1e9);
    ASSERT_EQ(a.packet(0, now), b.packet(0, now)) << "packet " << i;
  }
  near5(a.admitted(), 500 + 3000 * t, "poisson");
}

TEST(RateLimitModel, FixedWindowAdmitsItsLimitPerWindow) {
  const auto p = policy(Algorithm::fixed_window, 1000, 250);  // 250 per 250 ms window
  ASSERT_EQ(window_limit(p), 250u);
  AlgoModel m(kernel_policy(p, 1), 1);
  // 40 windows of 250 ms, each full at once: exactly 250 each.
  EXPECT_EQ(run(m, {5000, 10}), 40u * 250);
}

TEST(RateLimitModel, SlidingWindowBoundsEveryWindow) {
  const auto p = policy(Algorithm::sliding_window, 1000, 1000);
  AlgoModel m(kernel_policy(p, 1), 1);
  const double pps = 5000;
  std::vector<uint64_t> admitted_at;
  for (uint64_t i = 0; i < 50000; ++i) {
    const uint64_t now = kStart + static_cast<uint64_t>(static_cast<double>(i) * 1e9 / pps);
    if (m.packet(0, now)) admitted_at.push_back(now);
  }
  near5(m.admitted(), 1000.0 * 10, "total");
  // Any window of 1 s, wherever it starts, holds at most the limit (+5 %).
  size_t lo = 0, most = 0;
  for (size_t hi = 0; hi < admitted_at.size(); ++hi) {
    while (admitted_at[hi] - admitted_at[lo] >= kSecond) ++lo;
    most = std::max(most, hi - lo + 1);
  }
  EXPECT_LE(most, 1050u);
  EXPECT_GE(most, 1000u);
}

TEST(RateLimitModel, AnIdleSourceRefillsToItsBurstOnly) {
  const auto p = policy(Algorithm::token_bucket, 100, 40);
  AlgoModel m(kernel_policy(p, 1), 1);
  run(m, {1000, 2});  // drained
  const uint64_t before = m.admitted();
  // An hour idle, then a flood of 10,000 in 1 ms: the burst, not an hour's refill.
  const uint64_t later = kStart + 3600 * kSecond;
  for (int i = 0; i < 10000; ++i) m.packet(0, later + static_cast<uint64_t>(i) * 100);
  EXPECT_NEAR(static_cast<double>(m.admitted() - before), 40, 1);
}

TEST(RateLimitModel, APolicyOfAnotherGenerationStartsAfresh) {
  const auto p = policy(Algorithm::fixed_window, 100, 1000);
  AlgoModel m(kernel_policy(p, 1), 1);
  run(m, {1000, 0.5});  // the window's 100 spent
  EXPECT_EQ(m.admitted(), 100u);
  EXPECT_FALSE(m.packet(0, kStart + kSecond / 2 + 1));
  m.set_policy(kernel_policy(p, 2));  // new generation: a new count in the same window
  EXPECT_TRUE(m.packet(0, kStart + kSecond / 2 + 2));
}

// Two shapes of one policy whose generations came out the same (one chance
// in 63): the old shape's states, slot numbers of another length, are no
// state of the new one's, never a later slot to move to, and the source
// does not merge on every packet.
TEST(RateLimitModel, AnotherShapesStatesUnderTheSameGenerationAreLeftAlone) {
  const auto tb = policy(Algorithm::token_bucket, 10000, 100);  // 5 ms slots
  auto fw = policy(Algorithm::fixed_window, 1000, 60000);       // 60 s
  AlgoModel m(kernel_policy(tb, 1), 2);
  uint64_t t = kStart;
  for (int i = 0; i < 1000; ++i, t += 100000) m.packet(i % 2, t);
  m.set_policy(kernel_policy(fw, 1));  // the same generation
  const uint64_t merges = m.merges(), admitted = m.admitted();
  for (int i = 0; i < 20000; ++i, t += 1000) m.packet(0, t);
  EXPECT_LT(m.merges() - merges, 100u);
  EXPECT_EQ(m.admitted() - admitted, 20000u) << "60,000 a window: all within";
}

// Per-CPU state against the global limit: CPUs take turns in blocks (of
// 1: every packet on another CPU, the worst case for stale views). The
// stated error (docs/ratelimit.md) is 1 % either way with up to 64 CPUs;
// merges stay near one per admitted packet, not one per packet.
TEST(RateLimitModel, PerCpuStateMeetsTheGlobalLimitWithinItsBound) {
  std::printf(
      "algorithm        cpus block  admitted  expected  error   merges/admit pokes/admit\n");
  for (auto algo : {Algorithm::token_bucket, Algorithm::fixed_window, Algorithm::sliding_window}) {
    const auto p = policy(algo, 2000, algo == Algorithm::token_bucket ? 200 : 1000);
    const auto k = kernel_policy(p, 1);
    AlgoModel one(k, 1);
    const double expected = static_cast<double>(run(one, {10000, 5}));
    const double slots = 5e9 / static_cast<double>(k.period_ns);
    for (uint32_t cpus : {2u, 4u, 8u, 16u, 64u}) {
      for (uint32_t block : {1u, 7u, 1000u}) {
        AlgoModel m(k, cpus);
        const auto got = static_cast<double>(run(m, {10000, 5, cpus, block}));
        std::printf("%-16s %4u %5u %9.0f %9.0f %+6.2f%% %8.3f %8.3f\n",
                    std::string(algorithm_name(algo)).c_str(), cpus, block, got, expected,
                    100 * (got - expected) / expected, static_cast<double>(m.merges()) / got,
                    static_cast<double>(m.pokes()) / got);
        EXPECT_NEAR(got / expected, 1.0, 0.01) << cpus << " cpus, blocks of " << block;
        EXPECT_LE(static_cast<double>(m.merges()), 2.5 * got + cpus * slots)
            << cpus << " cpus, blocks of " << block;
      }
    }
  }
}

// Sources spread by RSS rarely alternate evenly: 90 % of the packets on
// one CPU, the rest on three others, at random.
TEST(RateLimitModel, AnUnevenSpreadStaysWithinTheBound) {
  for (auto algo : {Algorithm::token_bucket, Algorithm::leaky_bucket, Algorithm::fixed_window,
                    Algorithm::sliding_window}) {
    const auto p = policy(
        algo, 5000, algo == Algorithm::token_bucket || algo == Algorithm::leaky_bucket ? 500 : 100);
    const auto k = kernel_policy(p, 1);
    AlgoModel one(k, 1), four(k, 4);
    std::mt19937 rng(5);
    std::uniform_int_distribution<int> pct(0, 99), other(1, 3);
    for (uint64_t i = 0; i < 100000; ++i) {
      const uint64_t now = kStart + i * 50000;  // 20,000 pps for 5 s
      one.packet(0, now);
      four.packet(pct(rng) < 90 ? 0 : static_cast<uint32_t>(other(rng)), now);
    }
    EXPECT_NEAR(static_cast<double>(four.admitted()) / static_cast<double>(one.admitted()), 1.0,
                0.01)
        << algorithm_name(algo);
  }
}

}  // namespace
}  // namespace rampart::ratelimit
