// SPDX-License-Identifier: Apache-2.0
// The DDoS auto-block's arithmetic (plugins/engines/ddos/auto_block.hpp):
// countries' shares of a flood's sampled sources, which countries pass
// their thresholds, which of a country's networks are listed (never one
// the host or the operator keeps), and the blocklist entries written.
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "auto_block.hpp"
#include "blocklist_client.hpp"

namespace rampart::ddos {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

net::Cidr cidr(const char* s) {
  std::string err;
  const auto c = net::parse_cidr(s, err);
  if (!c) throw std::runtime_error(err);
  return *c;
}

std::vector<std::string> texts(const std::vector<net::Cidr>& list) {
  std::vector<std::string> out;
  for (const auto& c : list) out.push_back(net::format_cidr(c));
  return out;
}

TEST(DdosAutoBlock, SharesCountEverySampleInTheWindowUnknownSourcesIncluded) {
  SourceTally t(seconds(3), 100);
  const auto t0 = seconds(1000);
  for (int i = 0; i < 6; ++i) t.add(t0, "NL");
  for (int i = 0; i < 3; ++i) t.add(t0, "BE");
  t.add(t0, "");  // a source the database places nowhere
  auto s = t.shares(t0);
  ASSERT_EQ(s.size(), 2u) << "unknown sources have no share of their own";
  EXPECT_EQ(s[0].country, "NL");
  EXPECT_EQ(s[0].samples, 6u);
  EXPECT_DOUBLE_EQ(s[0].share, 0.6);
  EXPECT_EQ(s[1].country, "BE");
  EXPECT_DOUBLE_EQ(s[1].share, 0.3);
  EXPECT_EQ(t.total(t0), 10u);

  // Older than the window: let go.
  t.add(t0 + milliseconds(2500), "JP");
  EXPECT_EQ(t.total(t0 + milliseconds(2500)), 11u);
  s = t.shares(t0 + milliseconds(3500));
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].country, "JP");
  EXPECT_DOUBLE_EQ(s[0].share, 1.0);

  // At most `cap` kept: the oldest go first.
  SourceTally small(seconds(3), 4);
  for (const char* c : {"NL", "NL", "BE", "BE", "BE", "BE"}) small.add(t0, c);
  s = small.shares(t0);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].country, "BE");
  small.clear();
  EXPECT_EQ(small.total(t0), 0u);
}

TEST(DdosAutoBlock, ACountryIsOverWhenItsPartOfTheRatePassesItsThreshold) {
  AutoBlockSettings a;
  a.country_db = "x.mmdb";
  a.thresholds = {{"NL", 5000}, {"JP", 100000}};
  a.min_samples = 10;
  const std::vector<SourceTally::Share> shares = {
      {"NL", 60, 0.6}, {"JP", 30, 0.3}, {"BE", 9, 0.09}, {"US", 1, 0.01}};
  // 20,000 packets/s: NL's part 12,000 > 5,000; JP's 6,000 < 100,000; BE
  // and US are under no threshold (no default).
  auto over = countries_over(a, 20000, shares);
  ASSERT_EQ(over.size(), 1u);
  EXPECT_EQ(over[0].first, "NL");
  EXPECT_DOUBLE_EQ(over[0].second, 12000);
  EXPECT_TRUE(countries_over(a, 8000, shares).empty()) << "NL's part 4,800";

  // A default threshold takes every country not listed, once its samples
  // are enough to believe.
  a.default_threshold = 1000;
  over = countries_over(a, 20000, shares);
  ASSERT_EQ(over.size(), 1u) << "BE has 9 samples of the 10 needed";
  a.min_samples = 5;
  over = countries_over(a, 20000, shares);
  ASSERT_EQ(over.size(), 2u);
  EXPECT_EQ(over[1].first, "BE");
  EXPECT_DOUBLE_EQ(over[1].second, 1800);
  EXPECT_DOUBLE_EQ(a.threshold("US"), 1000);
  EXPECT_DOUBLE_EQ(a.threshold("JP"), 100000);
}

TEST(DdosAutoBlock, NetworksTheHostOrTheOperatorKeepAreNeverListed) {
  const std::vector<net::Cidr> nets = {cidr("203.0.113.0/24"),  cidr("10.0.0.0/8"),
                                       cidr("198.51.100.0/25"), cidr("2001:db8::/32"),
                                       cidr("192.0.2.0/24"),    cidr("100.64.0.0/10")};
  const std::vector<net::Cidr> never = {cidr("192.0.2.7/32"),     // inside a network
                                        cidr("198.51.100.0/24"),  // around one
                                        cidr("2001:db9::/32")};   // beside one: no matter
  auto got = choose_networks(nets, never, 100);
  EXPECT_EQ(texts(got.networks), (std::vector<std::string>{"2001:db8::/32", "10.0.0.0/8",
                                                           "100.64.0.0/10", "203.0.113.0/24"}))
      << "largest first, by the addresses each covers";
  EXPECT_EQ(got.spared, 2u);
  EXPECT_EQ(got.cut, 0u);
  got = choose_networks(nets, never, 2);
  EXPECT_EQ(texts(got.networks), (std::vector<std::string>{"2001:db8::/32", "10.0.0.0/8"}));
  EXPECT_EQ(got.cut, 2u);

  // The host's own addresses and loopback are always in the never list.
  const auto host = blocklist::host_networks();
  const auto has = [&](const char* s) {
    const auto c = cidr(s);
    for (const auto& h : host)
      if (h.contains(c)) return true;
    return false;
  };
  EXPECT_TRUE(has("127.0.0.1"));
  EXPECT_TRUE(has("::1"));
  got = choose_networks({cidr("127.0.0.0/16"), cidr("0.0.0.0/0")}, host, 10);
  EXPECT_TRUE(got.networks.empty()) << texts(got.networks)[0];
}

TEST(DdosAutoBlock, AnEntryIsABlocklistBodyThatExpires) {
  const std::string body = blocklist::entry(12, cidr("203.0.113.0/24"), "ddos",
                                            "udp_amplification flood: \"quoted\"", 1767225600);
  Poco::JSON::Parser parser;
  const auto o = parser.parse(body).extract<Poco::JSON::Object::Ptr>();
  EXPECT_EQ(o->getValue<std::string>("prefix"), "203.0.113.0/24");
  EXPECT_EQ(o->getValue<std::string>("owner"), "ddos");
  EXPECT_EQ(o->getValue<std::string>("reason"), "udp_amplification flood: \"quoted\"");
  EXPECT_EQ(o->getValue<int64_t>("expires_at"), 1767225600);
  EXPECT_EQ(o->getValue<uint64_t>("id"), 12u);
  EXPECT_EQ(o->size(), 5u);
}

TEST(DdosAutoBlock, ThresholdBodiesAreCheckedFieldByField) {
  const auto t = threshold_from_json(R"({"country": "NL", "rate": 5000})", 7);
  EXPECT_EQ(t, (Threshold{7, "NL", 5000}));
  EXPECT_EQ(threshold_from_json(threshold_to_json(t), 0), t) << "a body round-trips";
  EXPECT_EQ(threshold_from_json(R"({"id": 3, "country": "default", "rate": 1})", 0).country,
            "default");
  const std::pair<const char*, const char*> bad[] = {
      {R"({"country": "nl", "rate": 5})",
       "country: 'nl' is not a country code (two capital letters, ISO 3166-1 alpha-2) or default"},
      {R"({"country": "NLD", "rate": 5})", "country: 'NLD' is not a country code"},
      {R"({"country": 31, "rate": 5})", "country: expected a string"},
      {R"({"rate": 5})", "country: required"},
      {R"({"country": "NL"})", "rate: required"},
      {R"({"country": "NL", "rate": 0})", "rate: must be 1-10000000"},
      {R"({"country": "NL", "rate": -5})", "rate: must be 1-10000000"},
      {R"({"country": "NL", "rate": 10000001})", "rate: must be 1-10000000"},
      {R"({"country": "NL", "rate": 18446744073709551615})", "rate: must be 1-10000000"},
      {R"({"country": "NL", "rate": 2.5})", "rate: must be 1-10000000"},
      {R"({"country": "NL", "rate": "5"})", "rate: must be 1-10000000"},
      {R"({"id": 8, "country": "NL", "rate": 5})", "id: the body says 8, the path 7"},
      {R"({"id": 0, "country": "NL", "rate": 5})", "id: must be 1-4294967295"},
      {R"({"country": "NL", "rate": 5, "burst": 9})", "burst: unknown field"},
      {R"({"country": "N\u0000L", "rate": 5})", "country: contains a NUL byte"},
      {R"([1, 2])", ": expected a JSON object"},
      {R"({"country": )", ": not valid JSON"},
  };
  for (const auto& [body, says] : bad) {
    try {
      threshold_from_json(body, 7);
      ADD_FAILURE() << body;
    } catch (const ThresholdError& e) {
      EXPECT_EQ(std::string(e.what()).rfind(says, 0), 0u) << body << " -> " << e.what();
    }
  }
}

TEST(DdosAutoBlock, ASetOfThresholdsNamesEachCountryOnce) {
  AutoBlockSettings a;
  set_thresholds(a, {{1, "NL", 5000}, {2, "default", 50000}, {3, "BE", 100}});
  EXPECT_DOUBLE_EQ(a.threshold("NL"), 5000);
  EXPECT_DOUBLE_EQ(a.threshold("BE"), 100);
  EXPECT_DOUBLE_EQ(a.threshold("JP"), 50000);
  try {
    set_thresholds(a, {{1, "NL", 5000}, {9, "NL", 7}});
    FAIL();
  } catch (const ThresholdError& e) {
    EXPECT_EQ(std::string(e.what()), "country: NL is in threshold 1 and in threshold 9");
  }
  EXPECT_DOUBLE_EQ(a.threshold("NL"), 5000) << "a refused set changes nothing";
  set_thresholds(a, {});
  EXPECT_DOUBLE_EQ(a.threshold("NL"), 0) << "no thresholds: nothing is blocked";
}

TEST(DdosAutoBlock, TheFirewallsAllowRulesSourcesAreNeverBlocked) {
  const auto got = blocklist::allowed_sources({
      R"({"id": 1, "action": "allow", "src_ip": "198.51.100.0/24"})",
      R"({"id": 2, "action": "deny", "src_ip": "203.0.113.0/24"})",
      R"({"id": 3, "action": "allow", "dst_port": "22"})",
      R"({"id": 4, "action": "allow", "src_ip": "2001:db8::/32"})",
      R"(not json)",
      R"([1])",
      R"({"id": 5, "action": "allow", "src_ip": "no address"})",
  });
  EXPECT_EQ(texts(got), (std::vector<std::string>{"198.51.100.0/24", "2001:db8::/32"}));
}

}  // namespace
}  // namespace rampart::ddos
