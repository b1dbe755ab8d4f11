// SPDX-License-Identifier: Apache-2.0
// Writes MaxMind DB (.mmdb) files for tests: small databases in any record
// layout, metadata bent on purpose for the broken-file cases, the fuzz seeds,
// and an ASN database built from the @ip-location-db/asn CSV files (there is
// no ASN .mmdb package to fetch). Written from the MaxMind DB format
// specification (version 2.0): a binary search tree, 16 zero bytes, the data
// section, then "\xAB\xCD\xEFMaxMind.com" and the metadata map.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rampart::test::mmdb {

// Encoded data-section values, to nest into records.
std::string str(std::string_view s);
std::string u16(uint16_t v);
std::string u32(uint32_t v);
std::string u64(uint64_t v);
std::string dbl(double v);
std::string boolean(bool v);
std::string map(const std::vector<std::pair<std::string, std::string>>& fields);
std::string array(const std::vector<std::string>& items);

struct Metadata {
  std::string database_type = "Test-City";
  uint16_t ip_version = 6;
  uint64_t build_epoch = 1700000000;
  uint16_t record_size = 0;            // 0: the smallest of 24/28/32 that fits
  uint16_t major_version = 2;          // binary_format_major_version
  std::optional<uint32_t> node_count;  // written instead of the real count
  bool omit_database_type = false;
};

class Writer {
 public:
  explicit Writer(Metadata meta) : meta_(std::move(meta)) {}

  // `record` (an encoded value, usually a map) for a prefix; IPv4 prefixes
  // in an IPv6 tree go under ::/96. Prefixes must not overlap.
  void insert(const std::string& cidr, const std::string& record);
  void insert(uint8_t family, const uint8_t* addr, unsigned prefix_len, const std::string& record);
  // Every address from first to last (same family), as the fewest prefixes.
  void insert_range(uint8_t family, const uint8_t* first, const uint8_t* last,
                    const std::string& record);

  std::string build() const;
  size_t node_count() const { return nodes_.size(); }

 private:
  using u128 = unsigned __int128;
  void insert_bits(u128 value, unsigned width, unsigned prefix_len, uint32_t data);
  uint32_t data_offset(const std::string& record);

  Metadata meta_;
  std::vector<std::array<uint32_t, 2>> nodes_{{kEmpty, kEmpty}};
  std::string data_;
  std::map<std::string, uint32_t> offsets_;

  static constexpr uint32_t kEmpty = 0xffffffffu;
  static constexpr uint32_t kData = 0x80000000u;
};

// An ASN database (flat layout: autonomous_system_number,
// autonomous_system_organization; type "asn ipvAll") from the
// @ip-location-db/asn CSV files: first,last,asn,"organisation".
std::string asn_db_from_csv(const std::string& ipv4_csv, const std::string& ipv6_csv);

// One line of those CSV files.
struct AsnRow {
  std::string first, last;
  uint32_t asn = 0;
  std::string org;
};
std::optional<AsnRow> parse_asn_row(const std::string& line);

// Small valid databases of every role and layout: the fuzz seed corpus
// (tests/fuzz/corpus/mmdb), name -> file bytes.
std::map<std::string, std::string> seed_databases();

}  // namespace rampart::test::mmdb
