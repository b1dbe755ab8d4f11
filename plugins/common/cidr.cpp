// SPDX-License-Identifier: Apache-2.0
#include "cidr.hpp"

#include <arpa/inet.h>

#include <charconv>

#include "control_chars.hpp"

namespace rampart::net {

bool Cidr::contains(const Cidr& o) const {
  if (family != o.family || prefix_len > o.prefix_len) return false;
  const int full = prefix_len / 8, rest = prefix_len % 8;
  for (int i = 0; i < full; ++i) {
    if (addr[i] != o.addr[i]) return false;
  }
  if (rest) {
    const uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
    if ((addr[full] & mask) != (o.addr[full] & mask)) return false;
  }
  return true;
}

std::optional<Cidr> parse_cidr(std::string_view s, std::string& error) {
  error = text::control_char_problem(s);
  if (!error.empty()) return std::nullopt;
  const auto slash = s.find('/');
  const std::string ip(s.substr(0, slash));
  Cidr c;
  if (inet_pton(AF_INET, ip.c_str(), c.addr.data()) == 1) {
    c.family = 4;
  } else if (inet_pton(AF_INET6, ip.c_str(), c.addr.data()) == 1) {
    c.family = 6;
  } else {
    error = "'" + std::string(s) + "' is not an IPv4 or IPv6 address or CIDR";
    return std::nullopt;
  }
  const unsigned max = c.family == 4 ? 32 : 128;
  unsigned len = max;
  if (slash != std::string_view::npos) {
    const std::string_view digits = s.substr(slash + 1);
    const auto r = std::from_chars(digits.data(), digits.data() + digits.size(), len);
    if (digits.empty() || r.ec != std::errc() || r.ptr != digits.data() + digits.size() ||
        len > max) {
      error = "'" + std::string(s) + "': prefix length must be 0-" + std::to_string(max);
      return std::nullopt;
    }
  }
  c.prefix_len = static_cast<uint8_t>(len);
  // Host bits set (10.1.2.3/8) are an operator error worth reporting.
  for (unsigned bit = len; bit < max; ++bit) {
    if (c.addr[bit / 8] & (0x80 >> (bit % 8))) {
      Cidr meant = c;
      for (unsigned b = len; b < max; ++b) meant.addr[b / 8] &= ~(0x80 >> (b % 8));
      error =
          "'" + std::string(s) + "' has host bits set (did you mean " + format_cidr(meant) + "?)";
      return std::nullopt;
    }
  }
  return c;
}

std::string format_cidr(const Cidr& c) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(c.family == 4 ? AF_INET : AF_INET6, c.addr.data(), buf, sizeof buf);
  return std::string(buf) + "/" + std::to_string(c.prefix_len);
}

}  // namespace rampart::net
