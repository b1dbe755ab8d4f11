// SPDX-License-Identifier: Apache-2.0
// Writes fuzz_mmdb's seed corpus (the test MMDB writer's small synthetic
// databases) into a directory: the build makes the seeds, the repository
// holds only the code that makes them.
//
//   mmdb_seeds <dir>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "mmdb_writer.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: mmdb_seeds <dir>\n";
    return 2;
  }
  std::filesystem::create_directories(argv[1]);
  for (const auto& [name, bytes] : rampart::test::mmdb::seed_databases()) {
    std::ofstream out(std::filesystem::path(argv[1]) / name, std::ios::binary | std::ios::trunc);
    out << bytes;
    if (!out) {
      std::cerr << "mmdb_seeds: cannot write " << name << "\n";
      return 1;
    }
  }
  return 0;
}
