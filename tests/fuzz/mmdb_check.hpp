// SPDX-License-Identifier: Apache-2.0
// What fuzz_mmdb checks of one input, shared with the regression replay in
// tests/unit/fuzz_regressions_test.cpp: the file at `path`, named as every
// role at once, is opened or refused with one well-formed problem line per
// role, and lookups of fixed addresses and of two taken from the input
// return only well-formed fields.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "alerts/geoip.hpp"

namespace rampart::fuzz {

inline bool well_formed(const alerts::GeoInfo& info) {
  if (!info.country.empty()) {
    if (info.country.size() != 2) return false;
    for (char c : info.country) {
      if (c < 'A' || c > 'Z') return false;
    }
  }
  return info.city.size() <= 256 && info.as_org.size() <= 256;
}

inline bool check_mmdb_input(const std::string& path, const uint8_t* data, size_t size) {
  std::vector<std::string> problems;
  const auto geo = alerts::GeoIp::open({path, path, path}, problems);
  if (!geo || problems.size() + geo->describe().size() != 3) return false;
  for (const auto& p : problems) {
    if (p.rfind("geoip.", 0) != 0 || p.find(": " + path + ": ") == std::string::npos) return false;
  }
  static const uint8_t kFixed[][17] = {
      {4, 1, 2, 3, 4},
      {4, 8, 8, 8, 8},
      {4, 0, 0, 0, 0},
      {4, 255, 255, 255, 255},
      {6, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
      {6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4},
      {6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
      {6, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
       0xff}};
  for (const auto& a : kFixed) {
    if (!well_formed(geo->lookup(a[0], a + 1))) return false;
  }
  uint8_t from_input[16] = {};
  std::memcpy(from_input, data, size < 16 ? size : 16);
  return well_formed(geo->lookup(4, from_input)) && well_formed(geo->lookup(6, from_input));
}

}  // namespace rampart::fuzz
