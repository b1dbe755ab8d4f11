// SPDX-License-Identifier: Apache-2.0
// Countries (plugins/common/countries.hpp) and the rate limit's use of
// them: a tree walked whole (IPv4 under ::/96, its aliases skipped, halves
// of one country merged), the real DB-IP database, one address's country,
// country policies in the tables, and every unusable file refused with its
// name.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <fstream>

#include "countries.hpp"
#include "mmdb_writer.hpp"
#include "policy.hpp"
#include "stage_tables.hpp"
#include "temp_dir.hpp"
#include "test_paths.hpp"

namespace rampart::ratelimit {
namespace {

namespace mmdb = rampart::test::mmdb;
using geo::country_networks;
using geo::CountryError;
using geo::CountryLookup;
using geo::CountryNetworks;

std::string country(const char* code) { return mmdb::map({{"country_code", mmdb::str(code)}}); }

std::vector<std::string> texts(const std::vector<net::Cidr>& list) {
  std::vector<std::string> out;
  for (const auto& c : list) out.push_back(net::format_cidr(c));
  return out;
}

std::string write(const rampart::test::TempDir& dir, const std::string& name,
                  const std::string& bytes) {
  const auto path = dir / name;
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

TEST(RateLimitCountries, TheTreeIsWalkedWholeAndNeighboursMerged) {
  mmdb::Metadata meta;
  meta.database_type = "Test-Country";
  mmdb::Writer w(meta);
  // 10.0.0.0/9 as two halves of NL: one /8 after merging.
  w.insert("10.0.0.0/9", country("NL"));
  w.insert("10.128.0.0/9", country("NL"));
  w.insert("11.0.0.0/16", country("BE"));
  w.insert("11.1.0.0/16", country("NL"));  // not BE's sibling: stays apart
  w.insert("2001:db8::/33", country("NL"));
  w.insert("2001:db8:8000::/33", country("NL"));
  w.insert("2a00::/16", mmdb::map({{"country", mmdb::map({{"iso_code", mmdb::str("BE")}})}}));
  w.insert("12.0.0.0/8", mmdb::map({{"city", mmdb::str("no country")}}));
  rampart::test::TempDir dir;
  const auto path = write(dir, "c.mmdb", w.build());
  const auto got = country_networks(path, {"NL", "BE"});
  EXPECT_EQ(texts(got.by_country.at("NL")),
            (std::vector<std::string>{"10.0.0.0/8", "11.1.0.0/16", "2001:db8::/32"}));
  EXPECT_EQ(texts(got.by_country.at("BE")), (std::vector<std::string>{"11.0.0.0/16", "2a00::/16"}));
  EXPECT_EQ(got.present, (std::set<std::string>{"BE", "NL"}));
  EXPECT_EQ(got.records, 8u);
  EXPECT_FALSE(country_networks(path, {"BE"}).by_country.count("NL")) << "only what is asked for";
}

TEST(RateLimitCountries, TheRealDatabaseHoldsEveryCountrysNetworks) {
  const auto path = rampart::test::geoip_data("dbip-country-mmdb/dbip-country.mmdb");
  const auto start = std::chrono::steady_clock::now();
  const auto got = country_networks(path, {"NL", "JP"});
  std::printf(
      "%s: %zu records walked in %.0f ms; NL %zu networks, JP %zu (merged)\n", path.c_str(),
      got.records,
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count(),
      got.by_country.at("NL").size(), got.by_country.at("JP").size());
  EXPECT_GT(got.present.size(), 200u);
  for (const char* code : {"NL", "JP"}) {
    const auto& nets = got.by_country.at(code);
    size_t v4 = 0, v6 = 0;
    for (const auto& c : nets) (c.family == 4 ? v4 : v6) += 1;
    EXPECT_GT(v4, 100u) << code;
    EXPECT_GT(v6, 100u) << code;
    // In address order, none inside another (the tree has no overlaps).
    for (size_t i = 1; i < nets.size(); ++i) {
      if (nets[i].family != nets[i - 1].family) continue;
      EXPECT_FALSE(nets[i - 1].contains(nets[i])) << code << " " << net::format_cidr(nets[i]);
      EXPECT_LT(nets[i - 1].addr, nets[i].addr) << code;
    }
  }
}

TEST(RateLimitCountries, AnUnusableFileIsRefusedWithItsName) {
  rampart::test::TempDir dir;
  const auto missing = dir / "none.mmdb";
  try {
    country_networks(missing, {"NL"});
    FAIL();
  } catch (const CountryError& e) {
    EXPECT_NE(std::string(e.what()).find(missing + ": "), std::string::npos) << e.what();
  }
  mmdb::Writer w{mmdb::Metadata{}};
  w.insert("10.0.0.0/8", country("NL"));
  const std::string good = w.build();
  // Cut short, and garbage in the tree: a clear error, never a crash (the
  // fuzzers cover the reader's parsing itself).
  for (const auto& [name, bytes] : std::vector<std::pair<std::string, std::string>>{
           {"short", good.substr(0, good.size() / 3)},
           {"garbage", std::string(4096, '\xff') + good.substr(good.size() - 400)},
           {"empty", ""}}) {
    const auto path = write(dir, name + ".mmdb", bytes);
    EXPECT_THROW(country_networks(path, {"NL"}), CountryError) << name;
  }
  mmdb::Metadata lying;
  lying.node_count = 1000000;  // more nodes than the file holds
  mmdb::Writer liar(lying);
  liar.insert("10.0.0.0/8", country("NL"));
  EXPECT_THROW(country_networks(write(dir, "liar.mmdb", liar.build()), {"NL"}), CountryError);
}

TEST(RateLimitCountries, OneAddresssCountryIsLookedUp) {
  mmdb::Writer w{mmdb::Metadata{}};
  w.insert("10.0.0.0/8", country("NL"));
  w.insert("2001:db8::/32", mmdb::map({{"country", mmdb::map({{"iso_code", mmdb::str("BE")}})}}));
  w.insert("12.0.0.0/8", mmdb::map({{"city", mmdb::str("no country")}}));
  rampart::test::TempDir dir;
  const CountryLookup db(write(dir, "c.mmdb", w.build()));
  const auto v4 = [](const char* a) {
    std::array<uint8_t, 4> b{};
    inet_pton(AF_INET, a, b.data());
    return b;
  };
  std::array<uint8_t, 16> v6{};
  inet_pton(AF_INET6, "2001:db8::7", v6.data());
  EXPECT_EQ(db.country(4, v4("10.1.2.3").data()), "NL");
  EXPECT_EQ(db.country(6, v6.data()), "BE");
  EXPECT_EQ(db.country(4, v4("12.0.0.1").data()), "") << "a record without a country";
  EXPECT_EQ(db.country(4, v4("192.0.2.1").data()), "") << "no record";
  // The real database agrees with its own walk.
  const auto real = rampart::test::geoip_data("dbip-country-mmdb/dbip-country.mmdb");
  const CountryLookup dbip(real);
  const auto nl = country_networks(real, {"NL"}).by_country.at("NL");
  for (const auto& c : {nl.front(), nl.back()})
    EXPECT_EQ(dbip.country(c.family, c.addr.data()), "NL");
  EXPECT_THROW(CountryLookup(dir / "none.mmdb"), CountryError);
  EXPECT_THROW(CountryLookup(write(dir, "junk.mmdb", std::string(1000, 'x'))), CountryError);
}

TEST(RateLimitCountries, CountryPoliciesFillTheCountryTablesOnly) {
  CountryNetworks geo;
  std::string err;
  geo.present = {"NL", "BE", "JP"};
  geo.by_country["NL"] = {*net::parse_cidr("10.0.0.0/8", err),
                          *net::parse_cidr("2001:db8::/32", err)};
  geo.by_country["BE"] = {*net::parse_cidr("11.0.0.0/16", err)};
  auto nl = policy_from_json(R"({"countries": ["NL", "BE"], "rate": 100})", 5);
  auto jp = policy_from_json(R"({"countries": ["JP"], "rate": 100})", 6);
  auto src = policy_from_json(R"({"prefixes": ["10.1.0.0/16"], "rate": 100})", 7);
  const auto t = build_tables({{{5, 1}, &nl}, {{6, 1}, &jp}, {{7, 1}, &src}}, {}, &geo);
  EXPECT_EQ(t.geo4.size(), 2u);
  EXPECT_EQ(t.geo6.size(), 1u);
  EXPECT_EQ(t.src4.size(), 1u) << "the prefix policy's own table";
  EXPECT_EQ(t.geo4[0].second, 5u);
  try {
    auto other = policy_from_json(R"({"countries": ["BE"], "rate": 9})", 8);
    build_tables({{{5, 1}, &nl}, {{8, 1}, &other}}, {}, &geo);
    FAIL();
  } catch (const PolicyError& e) {
    EXPECT_EQ(std::string(e.what()), "countries: BE is listed by policy 5 and by policy 8");
  }
  auto atlantis = policy_from_json(R"({"countries": ["XA"], "rate": 9})", 9);
  EXPECT_THROW(build_tables({{{9, 1}, &atlantis}}, {}, &geo), PolicyError);
  EXPECT_THROW(build_tables({{{5, 1}, &nl}}, {}, nullptr), PolicyError) << "no database";
}

TEST(RateLimitCountries, CountryFieldsAreChecked) {
  const std::pair<const char*, const char*> bad[] = {
      {R"({"countries": ["nl"], "rate": 5})",
       "countries[0]: 'nl' is not a country code (two capital letters, ISO 3166-1 alpha-2)"},
      {R"({"countries": ["NLD"], "rate": 5})",
       "countries[0]: 'NLD' is not a country code (two capital letters, ISO 3166-1 alpha-2)"},
      {R"({"countries": [1], "rate": 5})", "countries[0]: expected a country code"},
      {R"({"countries": [], "rate": 5})", "countries: 1-64 countries"},
      {R"({"countries": ["NL", "NL"], "rate": 5})", "countries[1]: NL is listed twice"},
      {R"({"countries": ["NL"], "prefixes": ["10.0.0.0/8"], "rate": 5})",
       "countries: a policy holds prefixes or countries, not both"},
      {R"({"countries": "NL", "rate": 5})", "countries: expected an array of country codes"},
      {R"({"rate": 5})", "prefixes: required (or countries)"},
  };
  for (const auto& [body, says] : bad) {
    try {
      policy_from_json(body, 1);
      ADD_FAILURE() << body;
    } catch (const PolicyError& e) {
      EXPECT_EQ(std::string(e.what()), says) << body;
    }
  }
  const auto p = policy_from_json(R"({"countries": ["NL", "BE"], "rate": 5})", 1);
  EXPECT_EQ(policy_from_json(policy_to_json(p), 1), p);
}

}  // namespace
}  // namespace rampart::ratelimit
