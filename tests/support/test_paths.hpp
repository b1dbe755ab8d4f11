// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>

namespace rampart::test {

// Directory holding the test plugin built for `variant` (tests/plugins).
inline std::string variant_dir(const std::string& variant) {
  return std::string(RAMPART_TEST_PLUGIN_DIR) + "/" + variant;
}

}  // namespace rampart::test
