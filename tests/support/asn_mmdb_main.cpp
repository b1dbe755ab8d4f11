// SPDX-License-Identifier: Apache-2.0
// rampart_test_asn_mmdb <asn-ipv4.csv> <asn-ipv6.csv> <out.mmdb>
//
// Builds the ASN database the GeoIpAsnData tests read, once per ctest run
// (the geoip_asn fixture) rather than once in each test's process: half a
// million CSV ranges take seconds, minutes under ASan.
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

#include "mmdb_writer.hpp"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s <asn-ipv4.csv> <asn-ipv6.csv> <out.mmdb>\n", argv[0]);
    return 2;
  }
  try {
    const std::string out = argv[3];
    const std::string tmp = out + ".tmp";
    {
      std::ofstream file(tmp, std::ios::binary | std::ios::trunc);
      file << rampart::test::mmdb::asn_db_from_csv(argv[1], argv[2]);
      if (!file.flush()) throw std::runtime_error("cannot write " + tmp);
    }
    std::filesystem::rename(tmp, out);  // readers never see half a file
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s (tools/install-deps.sh fetches the CSV files)\n", e.what());
    return 1;
  }
  return 0;
}
