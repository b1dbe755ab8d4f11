// SPDX-License-Identifier: Apache-2.0
// The inputs a fuzz target is replayed on in the ordinary test run: its
// seed corpus and every input it once crashed on
// (tests/fuzz/{corpus,regressions}/<target>/).
#pragma once

#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>

#include "test_paths.hpp"

namespace rampart::test {

// Calls fn(path, bytes) for each input of `target`; returns how many.
inline size_t for_each_fuzz_input(
    const std::string& target,
    const std::function<void(const std::filesystem::path&, const std::string&)>& fn) {
  size_t n = 0;
  for (const char* kind : {"corpus", "regressions"}) {
    const std::filesystem::path dir =
        rampart::test::path::source() + "/tests/fuzz/" + kind + "/" + target;
    if (!std::filesystem::exists(dir)) continue;
    for (const auto& f : std::filesystem::directory_iterator(dir)) {
      std::ifstream in(f.path(), std::ios::binary);
      fn(f.path(), std::string(std::istreambuf_iterator<char>(in), {}));
      ++n;
    }
  }
  return n;
}

}  // namespace rampart::test
