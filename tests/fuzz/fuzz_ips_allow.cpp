// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: arbitrary bytes as an IPS allow entry body (what the
// REST API receives for the domain `ips`). Parsing must return an entry
// within every stated bound or throw BodyError with a "field: why"
// message; a parsed prefix must survive a round trip through its text.
#include <cstddef>
#include <cstdint>
#include <string>

#include "allow_entry.hpp"
#include "control_chars.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  rampart::ips::AllowEntry e;
  try {
    e = rampart::ips::allow_entry_from_json(body, 11);
  } catch (const rampart::json::BodyError& err) {
    if (std::string(err.what()).find(": ") == std::string::npos) __builtin_trap();
    return 0;
  }
  if (e.id != 11) __builtin_trap();  // a body that names another id is refused
  if (e.note.size() > 256 || !rampart::text::control_char_problem(e.note).empty()) __builtin_trap();
  std::string why;
  const auto again = rampart::net::parse_cidr(rampart::net::format_cidr(e.prefix), why);
  if (!again || !(*again == e.prefix)) __builtin_trap();
  return 0;
}
