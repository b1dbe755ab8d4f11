// SPDX-License-Identifier: Apache-2.0
// Replays the fuzz seed corpus and every input a fuzzer ever crashed on
// (tests/fuzz/regressions/<target>/) through the same entry as the fuzzer:
// each must load or be refused with a ConfigError, never anything else.
// GeoIP database inputs go through the fuzzer's own checks (mmdb_check.hpp).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "config/config.hpp"
#include "mmdb_check.hpp"
#include "mmdb_writer.hpp"
#include "temp_dir.hpp"

namespace {

TEST(FuzzRegressions, ConfigInputsLoadOrFailCleanly) {
  size_t replayed = 0;
  for (const char* sub : {"/tests/fuzz/corpus/config", "/tests/fuzz/regressions/config"}) {
    const std::filesystem::path dir = std::string(RAMPART_SOURCE_DIR) + sub;
    if (!std::filesystem::exists(dir)) continue;
    for (const auto& f : std::filesystem::directory_iterator(dir)) {
      const auto text = rampart::test::read_file(f.path().string());
      try {
        rampart::config::load_string(text, f.path().filename().string());
      } catch (const rampart::config::ConfigError& e) {
        EXPECT_NE(std::string(e.what()), "") << f.path();
      } catch (const std::exception& e) {
        ADD_FAILURE() << f.path() << ": unexpected " << e.what();
      }
      ++replayed;
    }
  }
  EXPECT_GE(replayed, 4u);
}

std::string read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The seeds are the test writer's small databases; RAMPART_UPDATE_FUZZ_SEEDS=1
// writes them after a change to the writer.
TEST(FuzzRegressions, MmdbSeedsAreTheWritersDatabases) {
  const std::filesystem::path dir = std::string(RAMPART_SOURCE_DIR) + "/tests/fuzz/corpus/mmdb";
  const auto seeds = rampart::test::mmdb::seed_databases();
  ASSERT_GE(seeds.size(), 4u);
  for (const auto& [name, bytes] : seeds) {
    if (std::getenv("RAMPART_UPDATE_FUZZ_SEEDS")) {
      std::ofstream(dir / name, std::ios::binary | std::ios::trunc) << bytes;
    }
    EXPECT_EQ(read_bytes(dir / name), bytes) << name << " differs from seed_databases()";
  }
}

TEST(FuzzRegressions, MmdbInputsOpenOrFailCleanly) {
  size_t replayed = 0, opened = 0;
  for (const char* sub : {"/tests/fuzz/corpus/mmdb", "/tests/fuzz/regressions/mmdb"}) {
    const std::filesystem::path dir = std::string(RAMPART_SOURCE_DIR) + sub;
    if (!std::filesystem::exists(dir)) continue;
    for (const auto& f : std::filesystem::directory_iterator(dir)) {
      const std::string bytes = read_bytes(f.path());
      EXPECT_TRUE(rampart::fuzz::check_mmdb_input(
          f.path().string(), reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()))
          << f.path();
      std::vector<std::string> problems;
      const auto path = f.path().string();
      opened += rampart::alerts::GeoIp::open({path, path, path}, problems)->describe().size();
      ++replayed;
    }
  }
  EXPECT_GE(replayed, 4u);
  EXPECT_GE(opened, 4u);  // every seed opens in at least one role
}

}  // namespace
