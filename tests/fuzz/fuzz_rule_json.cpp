// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: arbitrary bytes as a firewall rule body (what the REST
// API receives). Parsing must return a valid rule or throw RuleError with a
// message; a parsed rule must survive a round trip through JSON unchanged.
#include <cstddef>
#include <cstdint>
#include <string>

#include "rule_json.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  rampart::firewall::Rule r;
  try {
    r = rampart::firewall::rule_from_json(body, 0);
  } catch (const rampart::firewall::RuleError& e) {
    if (std::string(e.what()).empty()) __builtin_trap();
    return 0;
  }
  if (!rampart::firewall::validate(r).empty()) __builtin_trap();  // accepted means valid
  const auto again = rampart::firewall::rule_from_json(rampart::firewall::rule_to_json(r), 0);
  if (!(again == r)) __builtin_trap();
  return 0;
}
