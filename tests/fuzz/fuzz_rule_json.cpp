// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: arbitrary bytes as a firewall rule body and as a
// blocklist entry (what the REST API receives). Parsing must return a valid
// rule or entry or throw RuleError with a message; a parsed rule must
// survive a round trip through JSON unchanged, an entry's prefix through
// its text.
#include <cstddef>
#include <cstdint>
#include <string>

#include "rule_json.hpp"

namespace {

void entry(const std::string& body) {
  rampart::firewall::BlocklistEntry e;
  try {
    e = rampart::firewall::blocklist_entry_from_json(body, 7);
  } catch (const rampart::firewall::RuleError& err) {
    if (std::string(err.what()).empty()) __builtin_trap();
    return;
  }
  if (e.id != 7) __builtin_trap();  // a body that names another id is refused
  std::string why;
  const auto again = rampart::firewall::parse_cidr(rampart::firewall::format_cidr(e.prefix), why);
  if (!again || !(*again == e.prefix)) __builtin_trap();
  if (e.owner.size() > 64 || e.reason.size() > 256 || e.expires_at < 0) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  entry(body);
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
