// SPDX-License-Identifier: Apache-2.0
// A compiled rule set as the contents of the classifier instance's maps and
// its load-time settings: what the host loads as one program instance and
// swaps in atomically.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "compiler.hpp"

namespace rampart::firewall {

struct MapImage {
  std::string name;
  uint32_t max_entries = 0;
  uint32_t value_size = 0;     // 0: as declared
  std::vector<uint8_t> dense;  // array maps: values of keys 0..n-1
  std::vector<std::pair<std::vector<uint8_t>, std::vector<uint8_t>>> entries;
};

struct TableSet {
  std::string program = "xdp_firewall_classify";
  std::map<std::string, std::vector<uint8_t>> settings;  // const volatile globals
  std::vector<MapImage> maps;
};

TableSet to_tables(const CompiledRuleset& rs);

}  // namespace rampart::firewall
