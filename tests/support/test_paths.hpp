// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>

namespace rampart::test {

// Directory holding the test plugin built for `variant` (tests/plugins).
inline std::string variant_dir(const std::string& variant) {
  return std::string(RAMPART_TEST_PLUGIN_DIR) + "/" + variant;
}

// A file of the @ip-location-db npm packages tools/install-deps.sh fetches
// into .cache/node, e.g. geoip_data("dbip-country-mmdb/dbip-country.mmdb").
inline std::string geoip_data(const std::string& file) {
  return std::string(RAMPART_GEOIP_DATA_DIR) + "/" + file;
}

}  // namespace rampart::test
