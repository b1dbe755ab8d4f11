// SPDX-License-Identifier: Apache-2.0
// Engines that block sources (the DDoS engine's auto-block, the IPS) write
// entries into the firewall's `blocklist` rule domain (docs/firewall.md),
// through the rule store like any API client: stored, audited, in the
// kernel when the write returns, and deleted by the core when their
// `expires_at` passes. What they must never block is gathered here too.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cidr.hpp"
#include "rampart/sdk/host.hpp"

namespace rampart::blocklist {

// The firewall's rule domain of entries.
inline constexpr const char* kDomain = "blocklist";

// The host's own addresses (every interface's, as host routes) and
// loopback: never blocked, whatever an engine concludes.
std::vector<net::Cidr> host_networks();

// The sources the firewall's allow rules name (bodies of its rule domain;
// others, and bodies it cannot read, are skipped): never blocked.
std::vector<net::Cidr> allowed_sources(const std::vector<std::string>& firewall_rules);

// Entry `id` of the blocklist domain for `network`, listed by `owner`.
std::string entry(uint64_t id, const net::Cidr& network, std::string_view owner,
                  const std::string& reason, int64_t expires_at);

// Whether `c` lies inside (or over) any of `never`: either containing the
// other, since blocking a network that holds a spared address blocks it.
bool overlaps_any(const net::Cidr& c, const std::vector<net::Cidr>& never);

// Writes one owner's entries. Ids are the domain's next free ones (as the
// API's POST takes them): an id another writer took meanwhile is a
// conflict, and the next free one is read again. Not thread-safe: one
// writer per thread.
class Writer {
 public:
  Writer(const sdk::Host& host, std::string owner, std::string actor)
      : host_(host), owner_(std::move(owner)), actor_(std::move(actor)) {}

  // Lists `network` until `expires_at` (seconds since the epoch); returns
  // the entry's id. Throws sdk::Error (no firewall: NOT_FOUND).
  uint64_t add(const net::Cidr& network, const std::string& reason, int64_t expires_at);
  // Deletes entry `id`; false if it was gone already (expired, deleted).
  bool remove(uint64_t id);
  // The sources the firewall's allow rules let in (none without a firewall).
  std::vector<net::Cidr> allowed_by_firewall() const;

 private:
  const sdk::Host& host_;
  std::string owner_, actor_;
  uint64_t next_ = 0;  // 0: read the domain's largest id again
};

}  // namespace rampart::blocklist
