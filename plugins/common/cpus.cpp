// SPDX-License-Identifier: Apache-2.0
#include "cpus.hpp"

#include <algorithm>
#include <fstream>
#include <string>

namespace rampart::cpus {

uint32_t possible() {
  // "0-3", "0,2-5": one past the highest listed.
  std::ifstream f("/sys/devices/system/cpu/possible");
  std::string line;
  if (!std::getline(f, line)) return 0;
  uint32_t highest = 0, n = 0;
  bool digits = false;
  for (char c : line + ",") {
    if (c >= '0' && c <= '9') {
      n = n * 10 + static_cast<uint32_t>(c - '0');
      digits = true;
      if (n > 65536) return 0;
    } else {
      if (digits) highest = std::max(highest, n);
      n = 0;
      digits = false;
    }
  }
  return highest + 1;
}

}  // namespace rampart::cpus
