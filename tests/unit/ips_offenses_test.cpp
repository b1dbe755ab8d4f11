// SPDX-License-Identifier: Apache-2.0
// The IPS's decisions (plugins/engines/ips/offenses.hpp): hits within the
// window block a host, distinct offenders of a subnet escalate to it,
// blocks expire, memory stays bounded; and its allow entries' bodies.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "allow_entry.hpp"
#include "offenses.hpp"

namespace rampart::ips {
namespace {

using std::chrono::seconds;

net::Cidr cidr(const char* s) {
  std::string err;
  auto c = net::parse_cidr(s, err);
  EXPECT_TRUE(c) << s << ": " << err;
  return c.value_or(net::Cidr{});
}

Policy policy(uint32_t hits, uint32_t hosts) {
  Policy p;
  p.hits = hits;
  p.window = seconds(60);
  p.block_for = seconds(600);
  p.escalate_hosts = hosts;
  p.escalate_window = seconds(300);
  p.escalate_for = seconds(3600);
  return p;
}

TEST(IpsOffenses, ASourceIsBlockedOnceItsOffencesInTheWindowReachHits) {
  OffenseTracker t(policy(3, 0));
  const auto t0 = Clock::now();
  const auto src = cidr("198.18.0.5");
  EXPECT_FALSE(t.offend(src, t0));
  EXPECT_FALSE(t.offend(src, t0 + seconds(20)));
  EXPECT_FALSE(t.offend(src, t0 + seconds(70))) << "the first offence left the window";
  const auto b = t.offend(src, t0 + seconds(71));
  ASSERT_TRUE(b);
  EXPECT_EQ(net::format_cidr(b->network), "198.18.0.5/32");
  EXPECT_FALSE(b->subnet);
  EXPECT_EQ(b->hits, 3u);
  EXPECT_EQ(b->for_s, seconds(600));
  EXPECT_FALSE(t.offend(cidr("198.18.0.6"), t0 + seconds(71))) << "another source counts alone";
}

// Offences from a blocked source: its packets in flight when the block
// was written count nothing; one later means the block is gone (XDP drops
// a listed source), deleted by hand, and the source is counted again.
TEST(IpsOffenses, ABlockedSourceCountsNothingUntilItsBlockIsGone) {
  OffenseTracker t(policy(1, 0));
  const auto t0 = Clock::now();
  const auto src = cidr("2001:db8::7");
  const auto b = t.offend(src, t0);
  ASSERT_TRUE(b);
  EXPECT_EQ(net::format_cidr(b->network), "2001:db8::7/128");
  t.blocked(b->network, t0, t0 + b->for_s);
  EXPECT_TRUE(t.is_blocked(src, t0 + seconds(599)));
  EXPECT_FALSE(t.offend(src, t0 + seconds(1))) << "in flight when the block was written";
  EXPECT_EQ(t.active(t0 + seconds(1)).size(), 1u);
  EXPECT_TRUE(t.offend(src, t0 + OffenseTracker::kStale)) << "the block is gone: blocked again";
  EXPECT_TRUE(t.active(t0 + seconds(3)).empty());

  // A block that ended: the next offence counts.
  t.blocked(b->network, t0, t0 + seconds(600));
  EXPECT_FALSE(t.is_blocked(src, t0 + seconds(600)));
  EXPECT_TRUE(t.offend(src, t0 + seconds(600)));
  t.blocked(b->network, t0 + seconds(600), t0 + seconds(1200));
  t.unblocked(b->network);
  EXPECT_TRUE(t.offend(src, t0 + seconds(601))) << "unblocked: counts again";

  // A subnet's block, its hosts alike.
  OffenseTracker s(policy(1, 0));
  s.blocked(cidr("198.18.7.0/24"), t0, t0 + seconds(60));
  EXPECT_FALSE(s.offend(cidr("198.18.7.9"), t0 + seconds(1)));
  EXPECT_TRUE(s.offend(cidr("198.18.7.9"), t0 + seconds(5)));
  EXPECT_FALSE(s.is_blocked(cidr("198.18.7.10"), t0 + seconds(5)))
      << "the subnet's block forgotten";
}

TEST(IpsOffenses, DistinctHostsOfASubnetEscalateToIt) {
  OffenseTracker t(policy(5, 3));
  const auto t0 = Clock::now();
  EXPECT_FALSE(t.offend(cidr("198.18.7.1"), t0));
  EXPECT_FALSE(t.offend(cidr("198.18.7.1"), t0 + seconds(1))) << "the same host twice is one";
  EXPECT_FALSE(t.offend(cidr("198.18.8.2"), t0 + seconds(1))) << "another /24";
  EXPECT_FALSE(t.offend(cidr("198.18.7.2"), t0 + seconds(2)));
  const auto b = t.offend(cidr("198.18.7.3"), t0 + seconds(3));
  ASSERT_TRUE(b);
  EXPECT_TRUE(b->subnet);
  EXPECT_EQ(net::format_cidr(b->network), "198.18.7.0/24");
  EXPECT_EQ(b->hosts, 3u);
  EXPECT_EQ(b->for_s, seconds(3600));
  t.blocked(b->network, t0 + seconds(3), t0 + seconds(3603));
  EXPECT_TRUE(t.is_blocked(cidr("198.18.7.200"), t0 + seconds(4))) << "every host of it";
  EXPECT_FALSE(t.is_blocked(cidr("198.18.8.2"), t0 + seconds(4)));

  // Offenders older than the escalation window no longer count.
  OffenseTracker late(policy(5, 2));
  EXPECT_FALSE(late.offend(cidr("2001:db8:1:2::1"), t0));
  EXPECT_FALSE(late.offend(cidr("2001:db8:1:3::9"), t0 + seconds(300)));
  const auto v6 = late.offend(cidr("2001:db8:1:4::2"), t0 + seconds(301));
  ASSERT_TRUE(v6);
  EXPECT_EQ(net::format_cidr(v6->network), "2001:db8:1::/48");
}

TEST(IpsOffenses, ASparedSubnetIsNotEscalatedAndItsHostsAreStillBlocked) {
  OffenseTracker t(policy(1, 2));
  const auto t0 = Clock::now();
  const auto a = t.offend(cidr("203.0.113.1"), t0, true);
  ASSERT_TRUE(a);
  EXPECT_FALSE(a->subnet);
  const auto b = t.offend(cidr("203.0.113.2"), t0, true);
  ASSERT_TRUE(b);
  EXPECT_FALSE(b->subnet) << "the subnet holds an address never to block";
  EXPECT_EQ(net::format_cidr(b->network), "203.0.113.2/32");
}

TEST(IpsOffenses, MemoryIsBoundedByMaxSources) {
  Policy p = policy(2, 0);
  p.max_sources = 16;
  OffenseTracker t(p);
  const auto t0 = Clock::now();
  for (int i = 0; i < 100; ++i) {
    const std::string a = "198.18.1." + std::to_string(i);
    EXPECT_FALSE(t.offend(cidr(a.c_str()), t0));
  }
  EXPECT_EQ(t.sources(), 16u);
  EXPECT_EQ(t.forgotten(), 84u);
  EXPECT_FALSE(t.offend(cidr("198.18.1.0"), t0)) << "forgotten: its first offence again";
  EXPECT_TRUE(t.offend(cidr("198.18.1.99"), t0)) << "remembered: its second";
  p.max_sources = 4;
  t.set_policy(p);
  EXPECT_EQ(t.sources(), 4u);
}

TEST(IpsAllowEntry, BodiesAreReadOrRefusedNamingTheField) {
  const auto e = allow_entry_from_json(R"({"prefix": "198.51.100.0/24", "note": "partner"})", 4);
  EXPECT_EQ(e.id, 4u);
  EXPECT_EQ(net::format_cidr(e.prefix), "198.51.100.0/24");
  EXPECT_EQ(e.note, "partner");
  const std::pair<const char*, const char*> bad[] = {
      {R"({})", "prefix: required"},
      {R"({"prefix": "198.51.100.1/24"})", "prefix: "},
      {R"({"prefix": 7})", "prefix: expected a string"},
      {R"({"prefix": "10.0.0.1", "note": "a\nb"})", "note: "},
      {R"({"prefix": "10.0.0.1", "owner": "x"})", "owner: unknown field"},
      {R"({"id": 5, "prefix": "10.0.0.1"})", "id: the body says 5, the path 4"},
      {R"([1])", "expected a JSON object"},
  };
  for (const auto& [body, why] : bad) {
    try {
      allow_entry_from_json(body, 4);
      ADD_FAILURE() << body;
    } catch (const json::BodyError& err) {
      EXPECT_NE(std::string(err.what()).find(why), std::string::npos) << body << ": " << err.what();
    }
  }
}

}  // namespace
}  // namespace rampart::ips
