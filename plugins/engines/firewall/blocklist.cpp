// SPDX-License-Identifier: Apache-2.0
#include "blocklist.hpp"

#include <algorithm>
#include <cstring>
#include <fstream>

namespace rampart::firewall {
namespace {

uint32_t v4_of(const Cidr& c) {
  return uint32_t{c.addr[0]} << 24 | uint32_t{c.addr[1]} << 16 | uint32_t{c.addr[2]} << 8 |
         c.addr[3];
}

// DIR-24-8 while building: per /24, 0 (not listed), 1 (listed), or
// 2 + index of its 256-bit group.
struct Dir24 {
  std::vector<uint32_t> tbl24 = std::vector<uint32_t>(1u << 24, 0);
  std::vector<uint64_t> groups;

  void add(const Cidr& c) {
    const uint32_t a = v4_of(c);
    if (c.prefix_len <= 24) {
      // Whole /24s. Shorter prefixes come first (the caller sorts), so no
      // group exists yet inside the range.
      std::fill_n(tbl24.begin() + (a >> 8), 1u << (24 - c.prefix_len), 1u);
      return;
    }
    uint32_t& e = tbl24[a >> 8];
    if (e == 1) return;  // a shorter prefix covers it
    if (e == 0) {
      e = 2 + static_cast<uint32_t>(groups.size() / 4);
      groups.resize(groups.size() + 4, 0);
    }
    uint64_t* g = &groups[(e - 2) * 4];
    const uint32_t lo = a & 0xff, n = 1u << (32 - c.prefix_len);
    for (uint32_t h = lo; h < lo + n; ++h) g[h >> 6] |= 1ull << (h & 63);
  }

  // The kernel's layout: bitmaps over 64 /24s with the running group count,
  // groups renumbered in address order.
  void compact(CompiledBlocklist& bl) const {
    bl.any.assign(RAMPART_FW_BLOCK4_L1, 0);
    bl.l1.assign(RAMPART_FW_BLOCK4_L1, rampart_fw_block4_l1{});
    bl.tbl8.clear();
    bl.tbl8.reserve(groups.size());
    for (uint32_t i = 0; i < RAMPART_FW_BLOCK4_L1; ++i) {
      rampart_fw_block4_l1& e = bl.l1[i];
      e.rank = static_cast<uint32_t>(bl.tbl8.size() / 4);
      for (uint32_t bit = 0; bit < 64; ++bit) {
        const uint32_t v = tbl24[i << 6 | bit];
        if (v == 1) {
          e.listed |= 1ull << bit;
        } else if (v >= 2) {
          e.grouped |= 1ull << bit;
          const uint64_t* g = &groups[(v - 2) * 4];
          bl.tbl8.insert(bl.tbl8.end(), g, g + 4);
        }
      }
      bl.any[i] = e.listed | e.grouped;
    }
  }
};

rampart_fw_lpm6_key v6_key(const uint8_t* addr, unsigned len) {
  rampart_fw_lpm6_key k{};
  k.prefixlen = len;
  for (unsigned bit = 0; bit < len; bit += 8) {
    const unsigned keep = std::min(8u, len - bit);
    k.addr[bit / 8] = addr[bit / 8] & static_cast<uint8_t>(0xff00 >> keep);
  }
  return k;
}

bool key_less(const rampart_fw_lpm6_key& a, const rampart_fw_lpm6_key& b) {
  return std::memcmp(&a, &b, sizeof a) < 0;
}

std::string_view trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

}  // namespace

CompiledBlocklist compile_blocklist(const std::vector<Cidr>& prefixes) {
  if (prefixes.size() > RAMPART_FW_BLOCK_MAX_PREFIXES) {
    throw BlocklistError("blocklist has " + std::to_string(prefixes.size()) +
                         " prefixes; at most " + std::to_string(RAMPART_FW_BLOCK_MAX_PREFIXES) +
                         " are supported");
  }
  CompiledBlocklist bl;
  std::vector<Cidr> v4;
  for (const auto& c : prefixes) {
    if (c.family == 4) {
      v4.push_back(c);
    } else {
      bl.v6.push_back(v6_key(c.addr.data(), c.prefix_len));
    }
  }
  if (!v4.empty()) {
    bl.has_v4 = true;
    std::stable_sort(v4.begin(), v4.end(),
                     [](const Cidr& a, const Cidr& b) { return a.prefix_len < b.prefix_len; });
    v4.erase(std::unique(v4.begin(), v4.end()), v4.end());
    Dir24 d;
    for (const auto& c : v4) d.add(c);
    d.compact(bl);
  }
  std::sort(bl.v6.begin(), bl.v6.end(), key_less);
  bl.v6.erase(
      std::unique(bl.v6.begin(), bl.v6.end(),
                  [](const auto& a, const auto& b) { return std::memcmp(&a, &b, sizeof a) == 0; }),
      bl.v6.end());
  for (const auto& k : bl.v6) bl.v6_lens.push_back(static_cast<uint8_t>(k.prefixlen));
  std::sort(bl.v6_lens.rbegin(), bl.v6_lens.rend());
  bl.v6_lens.erase(std::unique(bl.v6_lens.begin(), bl.v6_lens.end()), bl.v6_lens.end());
  bl.prefixes = v4.size() + bl.v6.size();
  return bl;
}

bool blocklisted(const CompiledBlocklist& bl, uint8_t family, const uint8_t* addr) {
  if (family == 4) {
    if (!bl.has_v4) return false;
    const uint32_t a =
        uint32_t{addr[0]} << 24 | uint32_t{addr[1]} << 16 | uint32_t{addr[2]} << 8 | addr[3];
    const uint32_t bit = (a >> 8) & 63;
    if (!((bl.any[a >> 14] >> bit) & 1)) return false;
    const rampart_fw_block4_l1& e = bl.l1[a >> 14];
    if ((e.listed >> bit) & 1) return true;
    if (!((e.grouped >> bit) & 1)) return false;
    const uint64_t below = bit ? e.grouped & (~0ull >> (64 - bit)) : 0;
    const uint32_t g = e.rank + static_cast<uint32_t>(__builtin_popcountll(below));
    const uint32_t h = a & 0xff;
    return (bl.tbl8[g * 4 + (h >> 6)] >> (h & 63)) & 1;
  }
  for (const uint8_t len : bl.v6_lens) {
    if (std::binary_search(bl.v6.begin(), bl.v6.end(), v6_key(addr, len), key_less)) return true;
  }
  return false;
}

std::vector<Cidr> parse_blocklist(std::istream& in, const std::string& name) {
  std::vector<Cidr> out;
  std::string line, error;
  for (size_t n = 1; std::getline(in, line); ++n) {
    std::string_view s = line;
    s = trim(s.substr(0, s.find('#')));
    if (s.empty()) continue;
    auto c = parse_cidr(s, error);
    if (!c) throw BlocklistError(name + ":" + std::to_string(n) + ": " + error);
    out.push_back(*c);
    if (out.size() > RAMPART_FW_BLOCK_MAX_PREFIXES) {
      throw BlocklistError(name + ":" + std::to_string(n) + ": more than " +
                           std::to_string(RAMPART_FW_BLOCK_MAX_PREFIXES) + " prefixes");
    }
  }
  if (in.bad()) throw BlocklistError(name + ": read error");
  return out;
}

std::vector<Cidr> read_blocklist_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw BlocklistError(path + ": cannot open: " + std::strerror(errno));
  return parse_blocklist(in, path);
}

}  // namespace rampart::firewall
