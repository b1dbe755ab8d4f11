// SPDX-License-Identifier: Apache-2.0
// An IPv4 or IPv6 network as operators write it ("10.0.0.0/8", "2001:db8::/32",
// a bare address for its host route), for every engine that keys on
// prefixes. Part of the static library rampart_plugin_common (hidden
// visibility: it never leaks out of a plugin's .so).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace rampart::net {

struct Cidr {
  uint8_t family = 4;              // 4 or 6
  std::array<uint8_t, 16> addr{};  // network order, host bits zero
  uint8_t prefix_len = 0;

  bool contains(const Cidr& other) const;  // same family and this ⊇ other
  bool operator==(const Cidr&) const = default;
};

// nullopt with `error` set for anything else: not an address, a length past
// the family's, host bits set (the message names the network meant) or a
// control character.
std::optional<Cidr> parse_cidr(std::string_view s, std::string& error);
std::string format_cidr(const Cidr& c);

}  // namespace rampart::net
