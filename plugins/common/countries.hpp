// SPDX-License-Identifier: Apache-2.0
// The networks of countries, from a MaxMind-format country database
// (GeoLite2-Country, DB-IP's country lite): the whole search tree walked,
// each network's country read once per record, neighbours of one country
// merged. The rate limit's country policies hold them, the DDoS engine's
// auto-block lists them. Part of rampart_plugin_geo (libmaxminddb).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "cidr.hpp"

struct MMDB_s;

namespace rampart::geo {

// An unusable database: the message names the file and what is wrong.
class CountryError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct CountryNetworks {
  std::map<std::string, std::vector<net::Cidr>> by_country;  // of the countries asked for
  std::set<std::string> present;                             // every country the database names
  size_t records = 0;  // networks with a record, before merging
};

// The networks of each country in `wanted` (ISO 3166-1 alpha-2, upper
// case). IPv4 in an IPv6 tree is read under ::/96; the tree's aliases of
// it (::ffff:0:0/96, 2002::/16) are skipped. Throws CountryError for a file
// that cannot be opened or whose tree is corrupt.
CountryNetworks country_networks(const std::string& path, const std::set<std::string>& wanted);

// Whether `code` looks like a country code: two letters A-Z.
bool country_code(const std::string& code);

// What identifies a file's contents for a reload: device, inode, size and
// modification time; all zero when it cannot be stat'ed.
struct FileStamp {
  dev_t dev = 0;
  ino_t ino = 0;
  off_t size = 0;
  int64_t mtime_ns = 0;
  bool operator==(const FileStamp&) const = default;
};
FileStamp stamp_of(const std::string& path);

// One address's country from such a database, opened once (read-only
// mapping: lookups from any thread). Throws CountryError for a file that
// cannot be opened.
class CountryLookup {
 public:
  explicit CountryLookup(const std::string& path);
  ~CountryLookup();
  CountryLookup(const CountryLookup&) = delete;
  CountryLookup& operator=(const CountryLookup&) = delete;

  // The country code (as country_networks reads it) of the address, 4 or
  // 16 bytes in network order for `family` 4 or 6; "" when the database
  // places it nowhere.
  std::string country(int family, const uint8_t* addr) const;
  const std::string& path() const { return path_; }
  const FileStamp& stamp() const { return stamp_; }

 private:
  std::string path_;
  FileStamp stamp_;
  std::unique_ptr<MMDB_s> db_;
};

}  // namespace rampart::geo
