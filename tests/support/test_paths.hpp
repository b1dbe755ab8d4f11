// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>

// Where the build put what the tests and benches run and read. The paths
// are compiled into test_paths.cpp alone: every other test source is then
// the same text in any checkout, so ccache reuses its objects wherever a
// tree is cloned (CI clones afresh).
namespace rampart::test::path {

const std::string& rampartd();
const std::string& rampartctl();
const std::string& rampartctl_completion();  // the bash completion script
const std::string& plugins();                // the built-in plugins' directory
const std::string& test_plugins();           // tests/plugins/<variant>/
const std::string& example_plugins();        // the SDK example built out of tree
const std::string& bpf();                    // the core's and the tests' BPF objects
const std::string& alert_client();           // rampart_test_alert_client
const std::string& asn_mmdb();               // the geoip_asn fixture's database
const std::string& source();                 // the source tree
const std::string& build();                  // the build tree
const std::string& promtool();
const std::string& swagger_cli();
const std::string& spectral();
const std::string& geoip_data_dir();  // the @ip-location-db npm packages
const std::string& et_open_dir();     // ET Open rule files (test data outside the tree; "" if none)

}  // namespace rampart::test::path

namespace rampart::test {

// Directory holding the test plugin built for `variant` (tests/plugins).
inline std::string variant_dir(const std::string& variant) {
  return path::test_plugins() + "/" + variant;
}

// A file of the @ip-location-db npm packages tools/install-deps.sh fetches
// into .cache/node, e.g. geoip_data("dbip-country-mmdb/dbip-country.mmdb").
inline std::string geoip_data(const std::string& file) {
  return path::geoip_data_dir() + "/" + file;
}

}  // namespace rampart::test
