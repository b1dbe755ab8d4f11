// SPDX-License-Identifier: Apache-2.0
// The API's OpenAPI document checked by the tools operators and code
// generators use: swagger-cli validates it against the OpenAPI 3.0 schema,
// Spectral lints it with its `spectral:oas` ruleset (path parameters,
// operation descriptions and tags, servers, ...), warnings failing too.
// Both come from npm through tools/install-deps.sh.
#pragma once

#include <string>

#include "daemon_process.hpp"
#include "temp_dir.hpp"
#include "test_paths.hpp"

namespace rampart::test {

// "" when both accept the document at `file`; else what they said.
inline std::string openapi_problems(const std::string& file) {
  std::string out;
  const auto valid = run_command({"/usr/bin/env", "node", path::swagger_cli(), "validate", file});
  if (valid.status != 0) out += "swagger-cli: " + valid.output;
  const std::string ruleset = file + ".spectral.yaml";
  write_file(ruleset, "extends: [\"spectral:oas\"]\n");
  const auto lint = run_command({"/usr/bin/env", "node", path::spectral(), "lint", "--ruleset",
                                 ruleset, "--fail-severity=warn", file});
  if (lint.status != 0) out += "spectral: " + lint.output;
  return out;
}

}  // namespace rampart::test
