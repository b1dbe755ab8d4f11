// SPDX-License-Identifier: Apache-2.0
// The IPS's memory of offenders: which sources offended how often within
// a window, which subnets hold several of them, and what is blocked until
// when. It decides; the engine (ips_engine.cpp) writes the blocks. Bounded:
// at most max_sources sources and as many subnets, the least recently
// offending forgotten first. Not thread-safe: the engine's worker owns it.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <list>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "cidr.hpp"

namespace rampart::ips {

using Clock = std::chrono::steady_clock;

struct Policy {
  uint32_t hits = 1;  // offences within `window` that block a source
  std::chrono::seconds window{60};
  std::chrono::seconds block_for{600};
  // A subnet (ipv4_prefix / ipv6_prefix) is blocked once `escalate_hosts`
  // distinct hosts of it offended within escalate_window; 0: never.
  uint32_t escalate_hosts = 3;
  std::chrono::seconds escalate_window{600};
  std::chrono::seconds escalate_for{3600};
  uint8_t ipv4_prefix = 24;
  uint8_t ipv6_prefix = 48;
  size_t max_sources = 65536;
};

// What to block after an offence.
struct Block {
  net::Cidr network;    // a host route, or the offenders' subnet
  bool subnet = false;  // escalated
  uint32_t hits = 0;    // the source's offences in the window
  uint32_t hosts = 0;   // distinct offenders of the subnet (subnet)
  std::chrono::seconds for_s{0};
};

class OffenseTracker {
 public:
  explicit OffenseTracker(Policy p = {}) : policy_(p) {}
  // A new policy; counts and blocks stay (a reload is not an amnesty).
  void set_policy(const Policy& p);
  const Policy& policy() const { return policy_; }

  // An offence by host `src` (a /32 or /128) at `now`: the block it earns,
  // if any: the subnet's when its hosts pass escalate_hosts (unless
  // `subnet_spared` says the subnet holds an address never to block),
  // else the host's when its offences pass `hits`. Nothing while the
  // source lies in a block written less than kStale ago (its packets in
  // flight then); an offence from inside an older block means the block
  // is gone (deleted by hand: XDP drops a listed source's packets before
  // any engine sees them), and it is forgotten.
  static constexpr std::chrono::seconds kStale{2};
  std::optional<Block> offend(const net::Cidr& src, Clock::time_point now,
                              bool subnet_spared = false);
  // `network` is blocked from `since` until `until` (the engine wrote it).
  void blocked(const net::Cidr& network, Clock::time_point since, Clock::time_point until);
  // A block removed early (deleted over the API): offences count again.
  void unblocked(const net::Cidr& network);
  // The blocks not yet expired at `now` that contain `src`.
  bool is_blocked(const net::Cidr& src, Clock::time_point now);
  // The subnet escalation would block for `src`.
  net::Cidr subnet_of(const net::Cidr& src) const;

  struct ActiveBlock {
    net::Cidr network;
    Clock::time_point since, until;
  };
  std::vector<ActiveBlock> active(Clock::time_point now);
  size_t sources() const { return sources_.size(); }
  size_t subnets() const { return subnets_.size(); }
  uint64_t forgotten() const { return forgotten_; }  // evicted past max_sources

 private:
  struct Key {
    uint8_t family = 0;
    std::array<uint8_t, 16> addr{};
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const noexcept;
  };
  struct Source {
    std::deque<Clock::time_point> hits;  // within the window, oldest first
    std::list<Key>::iterator lru;
  };
  struct Subnet {
    std::unordered_map<Key, Clock::time_point, KeyHash> hosts;  // last offence
    std::list<Key>::iterator lru;
  };
  static Key key_of(const net::Cidr& c) { return Key{c.family, c.addr}; }
  template <class Map>
  void touch(Map& m, std::list<Key>& lru, typename Map::iterator it);
  template <class Map>
  typename Map::iterator find_or_add(Map& m, std::list<Key>& lru, const Key& k);
  void expire_blocks(Clock::time_point now);

  Policy policy_;
  std::unordered_map<Key, Source, KeyHash> sources_;
  std::list<Key> sources_lru_;  // most recent first
  std::unordered_map<Key, Subnet, KeyHash> subnets_;
  std::list<Key> subnets_lru_;
  struct Span {
    Clock::time_point since, until;
  };
  // The block holding `src` at `now`, if any (expired ones dropped).
  std::optional<Span> block_of(const net::Cidr& src, Clock::time_point now);
  std::unordered_map<Key, Span, KeyHash> host_blocks_;
  std::vector<ActiveBlock> subnet_blocks_;  // few: one per escalation
  uint64_t forgotten_ = 0;
};

}  // namespace rampart::ips
