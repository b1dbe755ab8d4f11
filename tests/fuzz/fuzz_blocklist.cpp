// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: arbitrary bytes as a blocklist file (an IOC feed the
// operator points the firewall at). Parsing must return prefixes or throw
// BlocklistError naming the line; every prefix read must print and parse
// back to itself; IPv6-only lists are compiled and must list every prefix
// they were built from (IPv4 tables are 70 MB: too slow per input).
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "blocklist.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  std::vector<rampart::firewall::Cidr> list;
  try {
    list = rampart::firewall::parse_blocklist(in, "feed");
  } catch (const rampart::firewall::BlocklistError& e) {
    if (std::string(e.what()).rfind("feed:", 0) != 0) __builtin_trap();
    return 0;
  }
  bool v6_only = true;
  for (const auto& c : list) {
    std::string err;
    const auto again = rampart::firewall::parse_cidr(rampart::firewall::format_cidr(c), err);
    if (!again || !(*again == c)) __builtin_trap();
    v6_only = v6_only && c.family == 6;
  }
  if (!v6_only) return 0;
  const auto bl = rampart::firewall::compile_blocklist(list);
  for (const auto& c : list) {
    if (!rampart::firewall::blocklisted(bl, 6, c.addr.data())) __builtin_trap();
  }
  return 0;
}
