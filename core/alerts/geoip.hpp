// SPDX-License-Identifier: Apache-2.0
// GeoIP enrichment for alerts: country, city and autonomous system of an
// address, read from MaxMind-format (.mmdb) databases with libmaxminddb.
// Both record layouts in use are read: MaxMind's GeoIP2/GeoLite2 (nested:
// country.iso_code, city.names.en) and the flat one of DB-IP-derived and
// ip-location-db files (country_code, city); ASN databases share
// autonomous_system_number / autonomous_system_organization.
// docs/alerts-enrichment.md has the configuration and the data sources.
#pragma once

#include "alerts/enrichment.hpp"
#include "alerts/settings.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace rampart::alerts {

struct GeoInfo {
  std::string country;  // ISO 3166-1 alpha-2, upper case
  std::string city;     // English name
  uint32_t asn = 0;
  std::string as_org;
  bool empty() const { return country.empty() && city.empty() && asn == 0 && as_org.empty(); }
};

class GeoIp {
 public:
  // Opens every configured database it can. Each one that cannot be used
  // (missing, unreadable, empty, not an MMDB, truncated, corrupt metadata,
  // search tree or data, wrong database type for its role, unsupported IP
  // version) adds one line "geoip.<role>: <path>: <reason>" to `problems`
  // and is left out; the others work. Never null: with no database every
  // lookup is empty.
  static std::shared_ptr<const GeoIp> open(const GeoIpPaths& paths,
                                           std::vector<std::string>& problems);

  // family 4 (4 bytes, network order) or 6 (16 bytes; ::ffff:a.b.c.d is
  // looked up as a.b.c.d). Country from the country database, or from the
  // city database when that has none; city from the city database; asn and
  // as_org from the ASN database. Thread-safe, never throws: anything the
  // databases cannot answer (no entry, IPv6 in an IPv4 database, a corrupt
  // record) leaves its fields empty.
  GeoInfo lookup(uint8_t family, const uint8_t* addr) const;

  // One line per database in use: role, path, type, IP version, build
  // time and node count, for status output.
  std::vector<std::string> describe() const;

  ~GeoIp();
  GeoIp(const GeoIp&) = delete;
  GeoIp& operator=(const GeoIp&) = delete;

  struct Db;  // one open database (geoip.cpp)

 private:
  GeoIp();
  std::unique_ptr<Db> country_, city_, asn_;
};

// The enricher's view of a GeoIp: fills the GeoIP fields of an address.
GeoLookup geo_lookup(std::shared_ptr<const GeoIp> geo);

}  // namespace rampart::alerts
