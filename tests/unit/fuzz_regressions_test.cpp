// SPDX-License-Identifier: Apache-2.0
// Replays the fuzz seed corpus and every input a fuzzer ever crashed on
// (tests/fuzz/regressions/<target>/) through the same entry as the fuzzer:
// each must load or be refused with a ConfigError, never anything else.
// GeoIP database inputs go through the fuzzer's own checks (mmdb_check.hpp).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include "config/config.hpp"
#include "fuzz_inputs.hpp"
#include "mmdb_check.hpp"
#include "mmdb_writer.hpp"
#include "temp_dir.hpp"
#include "test_paths.hpp"

namespace {

TEST(FuzzRegressions, ConfigInputsLoadOrFailCleanly) {
  const size_t replayed =
      rampart::test::for_each_fuzz_input("config", [](const auto& path, const std::string& text) {
        try {
          rampart::config::load_string(text, path.filename().string());
        } catch (const rampart::config::ConfigError& e) {
          EXPECT_NE(std::string(e.what()), "") << path;
        } catch (const std::exception& e) {
          ADD_FAILURE() << path << ": unexpected " << e.what();
        }
      });
  EXPECT_GE(replayed, 4u);
}

std::string read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The seeds (the test writer's small databases, which the fuzz build writes
// into its corpus) and every regression input go through the fuzzer's checks.
TEST(FuzzRegressions, MmdbInputsOpenOrFailCleanly) {
  std::map<std::string, std::string> inputs = rampart::test::mmdb::seed_databases();
  ASSERT_GE(inputs.size(), 4u);
  const std::filesystem::path dir = rampart::test::path::source() + "/tests/fuzz/regressions/mmdb";
  for (const auto& f : std::filesystem::directory_iterator(dir))
    inputs["regressions/" + f.path().filename().string()] = read_bytes(f.path());
  rampart::test::TempDir tmp;
  size_t opened = 0;
  for (const auto& [name, bytes] : inputs) {
    const std::string path = tmp / "input.mmdb";
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
    EXPECT_TRUE(rampart::fuzz::check_mmdb_input(
        path, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()))
        << name;
    std::vector<std::string> problems;
    opened += rampart::alerts::GeoIp::open({path, path, path}, problems)->describe().size();
  }
  EXPECT_GE(opened, 4u);  // every seed opens in at least one role
}

}  // namespace
