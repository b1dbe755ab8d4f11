// SPDX-License-Identifier: Apache-2.0
// Rate limit policy bodies: what parses, what each bad field says, and
// the kernel form.
#include <gtest/gtest.h>

#include "policy.hpp"
#include "stage_tables.hpp"

#include <set>

namespace rampart::ratelimit {
namespace {

std::string field_of(const std::string& body, bool is_default = false) {
  try {
    policy_from_json(body, 0, is_default);
  } catch (const PolicyError& e) {
    return e.field() + " | " + e.what();
  }
  return "(accepted)";
}

TEST(RateLimitPolicy, ABodyParsesAndRoundTrips) {
  const auto p = policy_from_json(
      R"({"id": 5, "prefixes": ["203.0.113.0/24", "2001:db8::/48"], "algorithm": "sliding_window",
          "rate": 100, "window_ms": 500, "action": "alert", "description": "scanners",
          "expires_at": 2000000000})");
  EXPECT_EQ(p.id, 5u);
  ASSERT_EQ(p.prefixes.size(), 2u);
  EXPECT_EQ(net::format_cidr(p.prefixes[1]), "2001:db8::/48");
  EXPECT_EQ(p.algorithm, Algorithm::sliding_window);
  EXPECT_EQ(p.window_ms, 500u);
  EXPECT_EQ(window_limit(p), 50u);
  EXPECT_EQ(p.action, Action::alert);
  EXPECT_EQ(policy_from_json(policy_to_json(p)), p);
}

TEST(RateLimitPolicy, DefaultsAreATokenBucketOfOneSecondAndDrop) {
  const auto p = policy_from_json(R"({"prefixes": ["10.0.0.1"], "rate": 300})", 9);
  EXPECT_EQ(p.id, 9u);
  EXPECT_EQ(p.algorithm, Algorithm::token_bucket);
  EXPECT_EQ(p.burst, 300u);
  EXPECT_EQ(p.action, Action::drop);
  EXPECT_TRUE(p.enabled);
  EXPECT_EQ(net::format_cidr(p.prefixes[0]), "10.0.0.1/32");
  const auto w =
      policy_from_json(R"({"prefixes": ["10.0.0.1"], "rate": 300, "algorithm": "fixed_window"})");
  EXPECT_EQ(w.window_ms, 1000u);
  const auto d = policy_from_json(R"({"rate": 10000, "burst": 20000})", 0, true);
  EXPECT_EQ(d.id, 0u);
  EXPECT_TRUE(d.prefixes.empty());
}

TEST(RateLimitPolicy, EveryBadFieldIsNamed) {
  const std::pair<const char*, const char*> cases[] = {
      {R"([1])", " | expected a JSON object"},
      {R"({"prefixes": ["10.0.0.0/8"], "rate": 1, "colour": 1})", "colour | colour: unknown field"},
      {R"({"rate": 10})", "prefixes | prefixes: required (or countries)"},
      {R"({"prefixes": [], "rate": 10})", "prefixes | prefixes: 1-64 prefixes"},
      {R"({"prefixes": "10.0.0.0/8", "rate": 10})",
       "prefixes | prefixes: expected an array of CIDR strings"},
      {R"({"prefixes": [7], "rate": 10})", "prefixes[0] | prefixes[0]: expected a CIDR string"},
      {R"({"prefixes": ["10.0.0.1/8"], "rate": 10})",
       "prefixes[0] | prefixes[0]: '10.0.0.1/8' has host bits set (did you mean 10.0.0.0/8?)"},
      {R"({"prefixes": ["0.0.0.0/0"], "rate": 10})",
       "prefixes[0] | prefixes[0]: a /0 holds every source: set default_policy instead"},
      {R"({"prefixes": ["10.0.0.0/8", "10.0.0.0/8"], "rate": 10})",
       "prefixes[1] | prefixes[1]: 10.0.0.0/8 is listed twice"},
      {R"({"prefixes": ["10.0.0.0/8"]})", "rate | rate: required"},
      {R"({"prefixes": ["10.0.0.0/8"], "rate": 0})", "rate | rate: must be 1-10000000"},
      {R"({"prefixes": ["10.0.0.0/8"], "rate": -5})", "rate | rate: must be 1-10000000"},
      {R"({"prefixes": ["10.0.0.0/8"], "rate": 10000001})", "rate | rate: must be 1-10000000"},
      {R"({"prefixes": ["10.0.0.0/8"], "rate": 18446744073709551615})",
       "rate | rate: must be 1-10000000"},
      {R"({"prefixes": ["10.0.0.0/8"], "rate": 1.5})", "rate | rate: expected an integer"},
      {R"({"prefixes": ["10.0.0.0/8"], "rate": "10"})", "rate | rate: expected an integer"},
      {R"({"prefixes": ["10.0.0.0/8"], "rate": 10, "burst": 0})",
       "burst | burst: must be 1-16777215"},
      {R"({"prefixes": ["10.0.0.0/8"], "rate": 10, "burst": 16777216})",
       "burst | burst: must be 1-16777215"},
      {R"({"prefixes": ["10.0.0.0/8"], "rate": 10, "algorithm": "fixed_window", "burst": 5})",
       "burst | burst: only for token_bucket and leaky_bucket (windows have window_ms)"},
      {R"({"prefixes": ["10.0.0.0/8"], "rate": 10, "window_ms": 100})",
       "window_ms | window_ms: only for fixed_window and sliding_window (buckets have a burst)"},
      {R"({"prefixes": ["10.0.0.0/8"], "rate": 10, "algorithm": "sliding_window", "window_ms": 9})",
       "window_ms | window_ms: must be 10-60000"},
      {R"({"prefixes": ["10.0.0.0/8"], "rate": 10, "algorithm": "fixed_window", "window_ms": 50})",
       "rate | rate: admits no packet in a 50 ms window: rate x window_ms must be at least 1000"},
      {R"({"prefixes": ["10.0.0.0/8"], "rate": 10, "algorithm": "gcra"})",
       "algorithm | algorithm: expected token_bucket, leaky_bucket, fixed_window or "
       "sliding_window"},
      {R"({"prefixes": ["10.0.0.0/8"], "rate": 10, "action": "reject"})",
       "action | action: expected drop or alert"},
      {R"({"prefixes": ["10.0.0.0/8"], "rate": 10, "enabled": 1})",
       "enabled | enabled: expected true or false"},
      {R"({"prefixes": ["10.0.0.0/8"], "rate": 10, "description": "a\u0000b"})",
       "description | description: contains a NUL byte (offset 1)"},
      {R"({"prefixes": ["10.0.0.0/8"], "rate": 10, "expires_at": 0})",
       "expires_at | expires_at: must be 1-253402300799"},
      {R"({"id": 0, "prefixes": ["10.0.0.0/8"], "rate": 10})", "id | id: must be 1-4294967295"},
      {R"({"prefixes": ["10.0.0.0/8"], "rate": 10)", ""},  // truncated: not JSON (checked below)
  };
  for (const auto& [body, want] : cases) {
    const auto got = field_of(body);
    if (*want)
      EXPECT_EQ(got, want) << body;
    else
      EXPECT_NE(got.find(" | not valid JSON: "), std::string::npos) << got;
  }
  EXPECT_EQ(field_of(R"({"id": 3, "rate": 10})", true), "id | id: not for the default policy");
  EXPECT_EQ(field_of(R"({"prefixes": ["10.0.0.0/8"], "rate": 10})", true),
            "prefixes | prefixes: not for the default policy");
  EXPECT_THROW(policy_from_json(R"({"id": 4, "prefixes": ["10.0.0.0/8"], "rate": 1})", 5),
               PolicyError);
  std::string many = R"({"rate": 5, "prefixes": [)";
  for (int i = 0; i < 65; ++i) many += (i ? ",\"10.0." : "\"10.0.") + std::to_string(i) + ".0/24\"";
  EXPECT_EQ(field_of(many + "]}"), "prefixes | prefixes: 1-64 prefixes");
}

TEST(RateLimitPolicy, TheKernelFormRefillsTheRateExactly) {
  for (uint32_t rate : {1u, 3u, 7u, 100u, 999u, 2000u, 123457u, 10000000u}) {
    for (uint32_t burst : {1u, 10u, 200u, 65536u, 16777215u}) {
      Policy p;
      p.rate = rate;
      p.burst = burst;
      const auto k = kernel_policy(p, 3);
      EXPECT_EQ(k.gen, 3);
      EXPECT_EQ(k.limit, burst);
      EXPECT_GE(k.period_ns, 990000u) << rate << "/" << burst;  // 1 ms, within rounding
      EXPECT_LE(k.period_ns, 1000000000u) << rate << "/" << burst;
      ASSERT_GT(k.refill_q8, 0u);
      // Tokens a second the kernel refills, against the rate: 1 ppm.
      const double per_second = k.refill_q8 / 256.0 * 1e9 / static_cast<double>(k.period_ns);
      EXPECT_NEAR(per_second / rate, 1.0, 1e-6) << rate << "/" << burst;
    }
  }
  Policy w;
  w.algorithm = Algorithm::fixed_window;
  w.rate = 2500;
  w.window_ms = 40;
  const auto k = kernel_policy(w, 1);
  EXPECT_EQ(k.period_ns, 40000000u);
  EXPECT_EQ(k.limit, 100u);
  EXPECT_EQ(k.refill_q8, 0u);
}

}  // namespace
}  // namespace rampart::ratelimit

namespace rampart::ratelimit {
namespace {

Policy with(uint32_t id, std::vector<const char*> prefixes, Algorithm a = Algorithm::token_bucket) {
  Policy p;
  p.id = id;
  p.algorithm = a;
  p.rate = 100;
  p.burst = 100;
  p.window_ms = 1000;
  for (const char* s : prefixes) {
    std::string err;
    p.prefixes.push_back(*net::parse_cidr(s, err));
  }
  return p;
}

TEST(RateLimitTables, APolicyKeepsItsPlaceWhateverElseTheSetHolds) {
  const Policy a = with(5, {"10.0.0.0/8"}), b = with(900, {"10.1.0.0/16"}),
               big = with(4000000000u, {"10.2.0.0/16"}), other = with(77777, {"10.3.0.0/16"});
  const auto one = place({&a, &big});
  const auto two = place({&other, &b, &a, &big});
  EXPECT_EQ(one.at(5).index, 5u) << "a small id is its own index";
  EXPECT_EQ(two.at(900).index, 900u);
  EXPECT_EQ(one.at(4000000000u), two.at(4000000000u)) << "a hashed id's place holds too";
  EXPECT_EQ(one.at(5), two.at(5));
  std::set<uint32_t> used;
  for (const auto& [id, at] : two) {
    EXPECT_TRUE(used.insert(at.index).second) << "index " << at.index << " given twice";
    EXPECT_GE(at.gen, 1);
    EXPECT_LE(at.gen, RAMPART_RL_GEN_MAX);
  }
  // A new shape is a new generation (but for one chance in 63).
  int differ = 0;
  for (uint32_t id = 1; id < 200; ++id) {
    Policy p = with(id, {"10.0.0.0/8"}), q = p;
    q.algorithm = Algorithm::sliding_window;
    differ += generation(id, shape_of(p)) != generation(id, shape_of(q));
  }
  EXPECT_GE(differ, 190);
}

TEST(RateLimitTables, APrefixTwoPoliciesListIsRefusedNamingBoth) {
  const Policy a = with(1, {"10.0.0.0/8"}), b = with(2, {"192.0.2.0/24", "10.0.0.0/8"});
  try {
    build_tables({{{1, 1}, &a}, {{2, 1}, &b}}, {});
    FAIL() << "accepted";
  } catch (const PolicyError& e) {
    EXPECT_EQ(std::string(e.what()), "prefixes: 10.0.0.0/8 is listed by policy 1 and by policy 2");
  }
  std::string err;
  try {
    build_tables({{{1, 1}, &a}}, {*net::parse_cidr("10.0.0.0/8", err)});
    FAIL() << "accepted";
  } catch (const PolicyError& e) {
    EXPECT_EQ(std::string(e.what()),
              "prefixes: 10.0.0.0/8 is listed by the exempt list and by policy 1");
  }
  Policy off = with(3, {"10.0.0.0/8"});
  off.enabled = false;  // a disabled policy holds nothing
  const auto t = build_tables({{{1, 1}, &a}, {{3, 1}, &off}}, {});
  EXPECT_EQ(t.src4.size(), 1u);
  EXPECT_EQ(t.policies[3].flags, 0);
  EXPECT_EQ(t.policies[1].flags, RAMPART_RL_POLICY_ACTIVE | RAMPART_RL_POLICY_COARSE_CLOCK)
      << "a 500 ms slot: the tick clock";
  EXPECT_EQ(t.policies[1].id, 1u);
}

TEST(RateLimitTables, MoreThanTheKernelHoldsIsRefused) {
  std::vector<Policy> many;
  for (uint32_t i = 0; i < kMaxPolicies + 1; ++i) many.push_back(with(100000 + i, {}));
  std::vector<const Policy*> ptrs;
  for (const auto& p : many) ptrs.push_back(&p);
  EXPECT_THROW(place(ptrs), PolicyError);
  ptrs.pop_back();
  EXPECT_EQ(place(ptrs).size(), kMaxPolicies);
}

}  // namespace
}  // namespace rampart::ratelimit
