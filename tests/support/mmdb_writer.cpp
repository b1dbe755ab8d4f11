// SPDX-License-Identifier: Apache-2.0
#include "mmdb_writer.hpp"

#include <arpa/inet.h>

#include <cstring>
#include <fstream>
#include <stdexcept>

namespace rampart::test::mmdb {

namespace {

constexpr unsigned kStringType = 2, kDoubleType = 3, kUint16Type = 5, kUint32Type = 6, kMapType = 7,
                   kUint64Type = 9, kArrayType = 11, kBooleanType = 14;

// Control byte (type in the top 3 bits, or 0 and an extended-type byte),
// then the size: under 29 in the control byte, else 1-3 more bytes.
std::string header(unsigned type, size_t size) {
  std::string out;
  std::string extra;
  unsigned low;
  if (size < 29) {
    low = static_cast<unsigned>(size);
  } else if (size < 29 + 256) {
    low = 29;
    extra.push_back(static_cast<char>(size - 29));
  } else if (size < 285 + 65536) {
    low = 30;
    const size_t v = size - 285;
    extra = {static_cast<char>(v >> 8), static_cast<char>(v)};
  } else {
    low = 31;
    const size_t v = size - 65821;
    extra = {static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
  }
  out.push_back(static_cast<char>((type <= 7 ? type << 5 : 0) | low));
  if (type > 7) out.push_back(static_cast<char>(type - 7));
  return out + extra;
}

std::string unsigned_of(unsigned type, uint64_t v) {
  std::string bytes;
  for (; v != 0; v >>= 8) bytes.insert(bytes.begin(), static_cast<char>(v & 0xff));
  return header(type, bytes.size()) + bytes;
}

bool parse_addr(const std::string& text, uint8_t& family, uint8_t* out) {
  family = text.find(':') == std::string::npos ? 4 : 6;
  return inet_pton(family == 4 ? AF_INET : AF_INET6, text.c_str(), out) == 1;
}

unsigned __int128 to_u128(uint8_t family, const uint8_t* addr) {
  unsigned __int128 v = 0;
  for (int i = 0; i < (family == 4 ? 4 : 16); ++i) v = (v << 8) | addr[i];
  return v;
}

unsigned __int128 low_mask(unsigned bits) {
  return bits >= 128 ? ~static_cast<unsigned __int128>(0)
                     : (static_cast<unsigned __int128>(1) << bits) - 1;
}

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

Metadata meta(const std::string& type, uint16_t ip_version) {
  Metadata m;
  m.database_type = type;
  m.ip_version = ip_version;
  return m;
}

}  // namespace

std::string str(std::string_view s) { return header(kStringType, s.size()) + std::string(s); }
std::string u16(uint16_t v) { return unsigned_of(kUint16Type, v); }
std::string u32(uint32_t v) { return unsigned_of(kUint32Type, v); }
std::string u64(uint64_t v) { return unsigned_of(kUint64Type, v); }
std::string boolean(bool v) { return header(kBooleanType, v ? 1 : 0); }

std::string dbl(double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  std::string out = header(kDoubleType, 8);
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(bits >> shift));
  return out;
}

std::string map(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out = header(kMapType, fields.size());
  for (const auto& [key, value] : fields) out += str(key) + value;
  return out;
}

std::string array(const std::vector<std::string>& items) {
  std::string out = header(kArrayType, items.size());
  for (const auto& item : items) out += item;
  return out;
}

uint32_t Writer::data_offset(const std::string& record) {
  const auto [it, added] = offsets_.emplace(record, static_cast<uint32_t>(data_.size()));
  if (added) data_ += record;
  return it->second;
}

void Writer::insert(const std::string& cidr, const std::string& record) {
  const auto slash = cidr.find('/');
  uint8_t family;
  uint8_t addr[16] = {};
  if (slash == std::string::npos || !parse_addr(cidr.substr(0, slash), family, addr)) {
    throw std::invalid_argument("bad prefix " + cidr);
  }
  insert(family, addr, static_cast<unsigned>(std::stoul(cidr.substr(slash + 1))), record);
}

void Writer::insert(uint8_t family, const uint8_t* addr, unsigned prefix_len,
                    const std::string& record) {
  insert_bits(to_u128(family, addr), family == 4 ? 32 : 128, prefix_len, data_offset(record));
}

void Writer::insert_range(uint8_t family, const uint8_t* first, const uint8_t* last,
                          const std::string& record) {
  const unsigned width = family == 4 ? 32 : 128;
  auto lo = to_u128(family, first);
  const auto hi = to_u128(family, last);
  if (lo > hi) throw std::invalid_argument("range ends before it starts");
  const uint32_t data = data_offset(record);
  for (;;) {
    unsigned host_bits = 0;  // the largest aligned block from lo that stays within hi
    while (host_bits < width) {
      const auto m = low_mask(host_bits + 1);
      if ((lo & m) != 0 || lo + m < lo || lo + m > hi) break;
      ++host_bits;
    }
    insert_bits(lo, width, width - host_bits, data);
    const auto end = lo + low_mask(host_bits);
    if (end >= hi) break;
    lo = end + 1;
  }
}

void Writer::insert_bits(u128 value, unsigned width, unsigned prefix_len, uint32_t data) {
  const unsigned tree_bits = meta_.ip_version == 4 ? 32 : 128;
  if (width > tree_bits) throw std::invalid_argument("IPv6 prefix in an IPv4 database");
  if (prefix_len == 0 || prefix_len > width) throw std::invalid_argument("bad prefix length");
  prefix_len += tree_bits - width;  // IPv4 under ::/96
  uint32_t node = 0;
  for (unsigned i = 0; i < prefix_len; ++i) {
    const int bit = static_cast<int>((value >> (tree_bits - 1 - i)) & 1);
    if (i + 1 == prefix_len) {
      nodes_[node][bit] = kData | data;
      return;
    }
    uint32_t child = nodes_[node][bit];
    if (child == kEmpty || (child & kData)) {  // a new node; a larger prefix splits
      nodes_.push_back({child, child});
      child = static_cast<uint32_t>(nodes_.size() - 1);
      nodes_[node][bit] = child;
    }
    node = child;
  }
}

std::string Writer::build() const {
  const uint64_t count = nodes_.size();
  const auto value = [&](uint32_t child) -> uint64_t {
    if (child == kEmpty) return count;
    if (child & kData) return count + 16 + (child & ~kData);
    return child;
  };
  const uint64_t largest = count + 16 + data_.size();
  const unsigned bits = meta_.record_size        ? meta_.record_size
                        : largest < (1ull << 24) ? 24
                        : largest < (1ull << 28) ? 28
                                                 : 32;
  std::string out;
  const auto put = [&](uint64_t v, int bytes) {
    for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>(v >> (8 * i)));
  };
  for (const auto& node : nodes_) {
    const uint64_t l = value(node[0]), r = value(node[1]);
    if (bits == 28) {
      put(l & 0xffffff, 3);
      out.push_back(static_cast<char>(((l >> 24) & 0x0f) << 4 | ((r >> 24) & 0x0f)));
      put(r & 0xffffff, 3);
    } else {
      put(l, static_cast<int>(bits / 8));
      put(r, static_cast<int>(bits / 8));
    }
  }
  out.append(16, '\0');
  out += data_;
  out += "\xAB\xCD\xEFMaxMind.com";
  std::vector<std::pair<std::string, std::string>> meta = {
      {"binary_format_major_version", u16(meta_.major_version)},
      {"binary_format_minor_version", u16(0)},
      {"build_epoch", u64(meta_.build_epoch)},
      {"description", map({{"en", str("Rampart test database")}})},
      {"ip_version", u16(meta_.ip_version)},
      {"languages", array({str("en")})},
      {"node_count", u32(meta_.node_count.value_or(static_cast<uint32_t>(count)))},
      {"record_size", u16(static_cast<uint16_t>(bits))}};
  if (!meta_.omit_database_type) meta.emplace_back("database_type", str(meta_.database_type));
  return out + map(meta);
}

std::optional<AsnRow> parse_asn_row(const std::string& line) {
  std::vector<std::string> fields;
  std::string field;
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c != '"') {
        field += c;
      } else if (i + 1 < line.size() && line[i + 1] == '"') {
        field += '"', ++i;
      } else {
        quoted = false;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.push_back(std::move(field));
      field.clear();
    } else {
      field += c;
    }
  }
  fields.push_back(std::move(field));
  if (fields.size() != 4 || fields[2].empty()) return std::nullopt;
  AsnRow row{fields[0], fields[1], 0, fields[3]};
  try {
    row.asn = static_cast<uint32_t>(std::stoul(fields[2]));
  } catch (const std::exception&) {
    return std::nullopt;
  }
  return row;
}

std::string asn_db_from_csv(const std::string& ipv4_csv, const std::string& ipv6_csv) {
  Writer w(meta("asn ipvAll", 6));
  for (const auto* path : {&ipv4_csv, &ipv6_csv}) {
    for (const auto& line : read_lines(*path)) {
      const auto row = parse_asn_row(line);
      uint8_t f1, f2;
      uint8_t first[16], last[16];
      if (!row || !parse_addr(row->first, f1, first) || !parse_addr(row->last, f2, last) ||
          f1 != f2) {
        throw std::runtime_error(*path + ": bad line: " + line);
      }
      w.insert_range(f1, first, last,
                     map({{"autonomous_system_number", u32(row->asn)},
                          {"autonomous_system_organization", str(row->org)}}));
    }
  }
  return w.build();
}

std::map<std::string, std::string> seed_databases() {
  std::map<std::string, std::string> out;

  // MaxMind's nested layout, IPv6 tree with IPv4 under ::/96.
  Writer city(meta("GeoLite2-City", 6));
  const auto nested = [](const char* iso, const char* country, const char* name) {
    return map({{"city", map({{"geoname_id", u32(2147714)}, {"names", map({{"en", str(name)}})}})},
                {"country", map({{"iso_code", str(iso)}, {"names", map({{"en", str(country)}})}})},
                {"location", map({{"latitude", dbl(-33.86)}, {"longitude", dbl(151.2)}})},
                {"subdivisions", array({map({{"iso_code", str("NSW")}})})},
                {"traits", map({{"is_anycast", boolean(true)}})}});
  };
  city.insert("1.2.3.0/24", nested("AU", "Australia", "Sydney"));
  city.insert("8.8.8.0/24", nested("US", "United States", "Mountain View"));
  city.insert("2001:db8::/32", nested("DE", "Germany", "Berlin"));
  out["city-nested.mmdb"] = city.build();

  // The flat layout of DB-IP-derived files, IPv4-only tree.
  Writer flat(meta("city ipv4", 4));
  const auto flat_city = [](const char* cc, const char* name) {
    return map({{"city", str(name)},
                {"country_code", str(cc)},
                {"latitude", dbl(48.85)},
                {"longitude", dbl(2.35)},
                {"state1", str("Ile-de-France")}});
  };
  flat.insert("1.2.3.0/25", flat_city("FR", "Paris"));
  flat.insert("1.2.3.128/25", flat_city("FR", "Lyon"));
  flat.insert("8.8.0.0/16", flat_city("US", "Mountain View"));
  out["city-flat-v4.mmdb"] = flat.build();

  Writer country(meta("country ipvAll", 6));
  country.insert("1.2.0.0/16", map({{"country_code", str("JP")}}));
  country.insert("2001:db8::/33", map({{"country_code", str("NL")}}));
  out["country-flat.mmdb"] = country.build();

  Writer asn(meta("GeoLite2-ASN", 6));
  asn.insert("1.2.3.0/24", map({{"autonomous_system_number", u32(64500)},
                                {"autonomous_system_organization", str("Example Net")}}));
  asn.insert("8.8.8.0/24", map({{"autonomous_system_number", u16(15169)},
                                {"autonomous_system_organization", str("Google LLC")}}));
  asn.insert("2001:db8::/32", map({{"autonomous_system_number", u64(4200000000u)},
                                   {"autonomous_system_organization", str("Doc Net")}}));
  out["asn.mmdb"] = asn.build();
  return out;
}

}  // namespace rampart::test::mmdb
