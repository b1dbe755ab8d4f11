// SPDX-License-Identifier: Apache-2.0
// Reading a /metrics scrape in tests: promtool's verdict and sample values.
#pragma once

#include <sstream>
#include <string>
#include <string_view>

#include "daemon_process.hpp"
#include "temp_dir.hpp"
#include "test_paths.hpp"

namespace rampart::test {

// "" when `promtool check metrics` accepts the text, else its complaint.
// promtool comes from tools/install-deps.sh (.cache/tools/promtool).
inline std::string promtool_check(const std::string& text, const std::string& scratch_file) {
  write_file(scratch_file, text);
  const auto r = run_command(
      {"/bin/sh", "-c", rampart::test::path::promtool() + " check metrics < " + scratch_file});
  return r.status == 0 ? "" : "promtool (" + std::to_string(r.status) + "): " + r.output;
}

// The value of the first sample whose line starts with `series`: a name,
// optionally with its first labels as rendered ("name{a=\"x\""), or -1.
inline double metric_value(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(series, 0) == 0 && line.size() > series.size() &&
        std::string_view(" {,}").find(line[series.size()]) != std::string_view::npos) {
      return std::stod(line.substr(line.rfind(' ') + 1));
    }
  }
  return -1;
}

}  // namespace rampart::test
