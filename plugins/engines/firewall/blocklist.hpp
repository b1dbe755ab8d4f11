// SPDX-License-Identifier: Apache-2.0
// The firewall's source blocklist: up to millions of IPv4/IPv6 prefixes
// whose packets are dropped, looked up in constant time. IPv4 uses a
// DIR-24-8 table stored as bitmaps with ranks, so its hot part fits in the
// CPU caches (layout in bpf/include/rampart/firewall.h); IPv6 one hash entry
// per prefix, probed once per distinct prefix length.
#pragma once

#include <array>
#include <cstdint>
#include <istream>
#include <map>
#include <set>
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
  // The kernel tables' sizes: at least tbl8's words and v6's keys, with
  // room to grow into, so that the writes that follow keep the shape.
  size_t tbl8_capacity = 0;  // words
  size_t v6_capacity = 0;    // keys
};

// The blocklist as the kernel reads it, kept current one prefix at a time
// (the API's entries, which the IPS and DDoS engines write too): adding or
// removing a prefix touches the /24s it covers (their bits in `any` and
// `l1`) and the group of the /24 it lies in, never the rest of a list of
// millions. Each /64-/24 run's groups sit together in fw_block4_tbl8 (the
// kernel finds them by rank), in a block with room for more; a block that
// fills up moves to a larger one, from the free ones or the end.
class Blocklist {
 public:
  Blocklist() = default;
  // The config's prefixes, compiled once (compile_blocklist).
  explicit Blocklist(const std::vector<Cidr>& base);

  // Prefixes are counted: one listed twice (by the config and the API, or
  // by two API entries) is listed until both are removed. remove() takes
  // back one add(); BlocklistError if there is none to take back (the
  // config's own prefixes change on reload, not here). add() throws past
  // RAMPART_FW_BLOCK_MAX_PREFIXES, having changed nothing.
  void add(const Cidr& c);
  void remove(const Cidr& c);

  const CompiledBlocklist& tables() const { return t_; }

  // The bytes of each table that may differ since clear_changes() (since
  // it was built: all of them), for the host to compare and write only
  // there (ABI 1.8 change lists).
  struct Changes {
    bool all = true;
    std::vector<std::pair<uint64_t, uint64_t>> any, l1, tbl8;  // (offset, length)
    bool v6 = false;                                           // the IPv6 keys changed
  };
  const Changes& changes() const { return changes_; }
  // Once the tables as they are now were installed.
  void clear_changes() { changes_ = Changes{false, {}, {}, {}, false}; }

 private:
  bool present4(uint64_t key) const;
  template <class Fn>
  void each4(uint64_t lo, uint64_t hi, Fn&& fn) const;  // present keys in [lo, hi]
  bool covered24(uint32_t t, unsigned below_len) const;
  void long_bits(uint32_t t, uint64_t bits[4]) const;
  void set_listed(uint32_t first, uint32_t count, bool listed);
  void set_group(uint32_t t, const uint64_t bits[4]);
  void drop_group(uint32_t t);
  void move_block(uint32_t i, uint32_t need);
  void ensure_v4();
  void add4(const Cidr& c);
  void remove4(const Cidr& c);
  void add6(const Cidr& c);
  void remove6(const Cidr& c);
  void rebuild_v6_lens();

  void touch_l1(uint32_t i);                      // any[i] and l1[i]
  void touch_groups(uint32_t first, uint32_t n);  // n groups of tbl8 from `first`

  CompiledBlocklist t_;
  Changes changes_;
  std::vector<uint64_t> base4_;          // the config's IPv4 prefixes: addr << 8 | len, sorted
  std::map<uint64_t, uint32_t> extra4_;  // added since, with their counts
  std::vector<uint8_t> cap_;             // groups each l1 entry's block holds
  std::vector<std::pair<uint32_t, uint32_t>> free_[7];   // (first group, capacity) by log2
  std::map<std::array<uint8_t, 20>, uint32_t> v6count_;  // every IPv6 key's count
  std::set<std::array<uint8_t, 20>> v6base_;             // the config's
  std::array<uint32_t, 129> v6_len_count_{};
};

class BlocklistError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// BlocklistError past RAMPART_FW_BLOCK_MAX_PREFIXES.
void check_blocklist_size(size_t prefixes);

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
