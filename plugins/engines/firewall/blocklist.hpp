// SPDX-License-Identifier: Apache-2.0
// The firewall's source blocklist: up to millions of IPv4/IPv6 prefixes
// whose packets are dropped, looked up in constant time. IPv4 uses a
// DIR-24-8 table stored as bitmaps with ranks, so its hot part fits in the
// CPU caches (layout in bpf/include/rampart/firewall.h); IPv6 one hash entry
// per prefix, probed once per distinct prefix length.
#pragma once

#include <cstdint>
#include <istream>
#include <string>
#include <vector>

#include "rampart/firewall.h"
#include "rule.hpp"

namespace rampart::firewall {

struct CompiledBlocklist {
  size_t prefixes = 0;                   // distinct prefixes listed
  bool has_v4 = false;                   // false: any/l1/tbl8 are empty and never read
  std::vector<uint64_t> any;             // a bit per /24 with anything listed (2 MiB)
  std::vector<rampart_fw_block4_l1> l1;  // RAMPART_FW_BLOCK4_L1 entries when has_v4
  std::vector<uint64_t> tbl8;            // 4 words per partly listed /24, in address order
  std::vector<rampart_fw_lpm6_key> v6;   // masked keys
  std::vector<uint8_t> v6_lens;          // distinct IPv6 prefix lengths, longest first
};

class BlocklistError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Builds the tables. Throws BlocklistError past RAMPART_FW_BLOCK_MAX_PREFIXES.
CompiledBlocklist compile_blocklist(const std::vector<Cidr>& prefixes);

// Whether the tables list `addr` (network order; 4 or 16 bytes by family).
// The reference the kernel program must agree with.
bool blocklisted(const CompiledBlocklist& bl, uint8_t family, const uint8_t* addr);

// A blocklist file: one address or CIDR per line; blank lines and '#'
// comments (whole line or trailing) are ignored. Throws BlocklistError
// "<name>:<line>: <why>" on the first bad line, so nothing half-read is used.
std::vector<Cidr> parse_blocklist(std::istream& in, const std::string& name);
std::vector<Cidr> read_blocklist_file(const std::string& path);

}  // namespace rampart::firewall
