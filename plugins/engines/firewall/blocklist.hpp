// SPDX-License-Identifier: Apache-2.0
// The firewall's source blocklist: up to millions of IPv4/IPv6 prefixes
// whose packets are dropped, looked up in constant time. IPv4 uses a
// DIR-24-8 table stored as bitmaps with ranks, so its hot part fits in the
// CPU caches (layout in bpf/include/rampart/firewall.h); IPv6 one hash entry
// per prefix, probed once per distinct prefix length.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <istream>
#include <map>
#include <set>
#include <string>
#include <unordered_set>
#include <vector>

#include "rampart/firewall.h"
#include "rule.hpp"

namespace rampart::firewall {

struct CompiledBlocklist {
  size_t prefixes = 0;                   // distinct prefixes listed
  bool has_v4 = false;                   // false: any/l1/tbl8 are empty and never read
  std::vector<uint64_t> any;             // a bit per /24 with anything listed (2 MiB)
  std::vector<rampart_fw_block4_l1> l1;  // RAMPART_FW_BLOCK4_L1 entries when has_v4
  std::vector<uint64_t> tbl8;            // blocks: words 0-1 the empty one, then in use or free
  std::vector<rampart_fw_lpm6_key> v6;   // masked keys
  std::vector<uint8_t> v6_lens;          // distinct IPv6 prefix lengths, longest first
  // The kernel tables' sizes: at least tbl8's words and v6's keys, with
  // room to grow into, so that the writes that follow keep the shape.
  size_t tbl8_capacity = 0;  // words
  size_t v6_capacity = 0;    // keys
};

// l1 entry i's block as the kernel reads it: which of its 64 /24s are
// listed whole, which partly, and the latter's groups in order
// (RAMPART_FW_BLOCK4_GROUP words each).
struct Block4 {
  uint64_t listed = 0, grouped = 0;
  const uint64_t* groups = nullptr;
};
Block4 block4(const CompiledBlocklist& bl, uint32_t i);

// The blocklist as the kernel reads it, kept current one prefix at a time
// (the API's entries, which the IPS and DDoS engines write too): adding or
// removing a prefix touches the /24s it covers and the blocks of the l1
// entries they lie in, never the rest of a list of millions. A block a
// packet may read is never written: a change writes the entry's block
// anew (in a free one, or at the end of fw_block4_tbl8) and lets the old
// one go, for reuse once no packet can read it (installed(), reclaim()).
// So the host may write the changes into the live tables
// (RAMPART_PROGRAM_IN_PLACE): new blocks, then the l1 entries that point
// to them, then the `any` words; each packet finds its address listed as
// before the write or as after it.
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

  // The tables as they are now are in the kernel: the blocks the changes
  // since the last installed() let go are free once `ticket` passed (a
  // grace period begun after the write: no packet reads them then).
  void installed(uint64_t ticket);
  // Whether installed() has a use for a ticket: blocks were let go.
  bool wants_ticket() const { return !letting_go_.empty(); }
  // An install failed, and what it wrote may be in the kernel: the blocks
  // written since the last installed() are let go by ticket too.
  void install_failed() { fresh_.clear(); }
  // Blocks let go at tickets that `passed`, back in use. Call it before
  // changes.
  template <class Passed>
  void reclaim(Passed&& passed) {
    while (!retired_.empty() && passed(retired_.front().ticket)) {
      for (const auto& [at, cls] : retired_.front().blocks) free_[cls].push_back(at);
      retired_.pop_front();
    }
  }

 private:
  // An l1 entry while it changes: its groups by /24 (bit), not by rank.
  struct Entry {
    uint64_t listed = 0, grouped = 0;
    uint64_t g[64][RAMPART_FW_BLOCK4_GROUP];
  };
  static constexpr unsigned kClasses = 8;  // blocks of room for 0, 1, 2, 4 .. 64 groups

  bool present4(uint64_t key) const;
  template <class Fn>
  void each4(uint64_t lo, uint64_t hi, Fn&& fn) const;  // present keys in [lo, hi]
  bool covered24(uint32_t t, unsigned below_len) const;
  void long_bits(uint32_t t, uint64_t bits[4]) const;
  void set_listed(uint32_t first, uint32_t count, bool listed);
  void set_group(uint32_t t, const uint64_t bits[4]);
  void drop_group(uint32_t t);
  void load(uint32_t i, Entry& e) const;
  void store(uint32_t i, const Entry& e);
  uint32_t alloc(unsigned cls);
  void let_go(uint32_t at, unsigned cls);
  void ensure_v4();
  void add4(const Cidr& c);
  void remove4(const Cidr& c);
  void add6(const Cidr& c);
  void remove6(const Cidr& c);
  void rebuild_v6_lens();

  CompiledBlocklist t_;
  Changes changes_;
  std::vector<uint64_t> base4_;           // the config's IPv4 prefixes: addr << 8 | len, sorted
  std::map<uint64_t, uint32_t> extra4_;   // added since, with their counts
  std::vector<uint8_t> cls_;              // each l1 entry's block's size class
  std::vector<uint32_t> free_[kClasses];  // free blocks by size class
  std::unordered_set<uint32_t> fresh_;    // written since the last installed(): unread
  using Blocks = std::vector<std::pair<uint32_t, uint8_t>>;  // (start, size class)
  Blocks letting_go_;                                        // since the last installed()
  struct Retired {
    uint64_t ticket;
    Blocks blocks;
  };
  std::deque<Retired> retired_;
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
