// SPDX-License-Identifier: Apache-2.0
// Replays the fuzz seed corpus and every input a fuzzer ever crashed on
// (tests/fuzz/regressions/<target>/) through the same entry as the fuzzer:
// each must load or be refused with a ConfigError, never anything else.
#include <gtest/gtest.h>

#include <filesystem>

#include "config/config.hpp"
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

}  // namespace
