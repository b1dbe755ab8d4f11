// SPDX-License-Identifier: Apache-2.0
#include "offenses.hpp"

#include <algorithm>
#include <cstring>

namespace rampart::ips {

size_t OffenseTracker::KeyHash::operator()(const Key& k) const noexcept {
  uint64_t a = 0, b = 0;
  std::memcpy(&a, k.addr.data(), 8);
  std::memcpy(&b, k.addr.data() + 8, 8);
  uint64_t h = (a ^ (b * 0x9e3779b97f4a7c15ull) ^ k.family) * 0xff51afd7ed558ccdull;
  return static_cast<size_t>(h ^ (h >> 33));
}

void OffenseTracker::set_policy(const Policy& p) {
  policy_ = p;
  while (sources_.size() > policy_.max_sources) {
    sources_.erase(sources_lru_.back());
    sources_lru_.pop_back();
    ++forgotten_;
  }
  while (subnets_.size() > policy_.max_sources) {
    subnets_.erase(subnets_lru_.back());
    subnets_lru_.pop_back();
  }
}

net::Cidr OffenseTracker::subnet_of(const net::Cidr& src) const {
  net::Cidr c = src;
  c.prefix_len = src.family == 4 ? policy_.ipv4_prefix : policy_.ipv6_prefix;
  const int full = c.prefix_len / 8, rest = c.prefix_len % 8;
  if (rest) c.addr[full] &= static_cast<uint8_t>(0xff << (8 - rest));
  for (size_t i = static_cast<size_t>(full) + (rest ? 1 : 0); i < c.addr.size(); ++i) c.addr[i] = 0;
  return c;
}

template <class Map>
void OffenseTracker::touch(Map& /*m*/, std::list<Key>& lru, typename Map::iterator it) {
  lru.splice(lru.begin(), lru, it->second.lru);
}

template <class Map>
typename Map::iterator OffenseTracker::find_or_add(Map& m, std::list<Key>& lru, const Key& k) {
  auto it = m.find(k);
  if (it != m.end()) {
    touch(m, lru, it);
    return it;
  }
  if (m.size() >= policy_.max_sources && !lru.empty()) {
    m.erase(lru.back());
    lru.pop_back();
    if (&m == static_cast<void*>(&sources_)) ++forgotten_;
  }
  lru.push_front(k);
  it = m.emplace(k, typename Map::mapped_type{}).first;
  it->second.lru = lru.begin();
  return it;
}

void OffenseTracker::expire_blocks(Clock::time_point now) {
  std::erase_if(host_blocks_, [&](const auto& b) { return b.second.until <= now; });
  std::erase_if(subnet_blocks_, [&](const ActiveBlock& b) { return b.until <= now; });
}

std::optional<OffenseTracker::Span> OffenseTracker::block_of(const net::Cidr& src,
                                                             Clock::time_point now) {
  if (auto it = host_blocks_.find(key_of(src)); it != host_blocks_.end()) {
    if (it->second.until > now) return it->second;
    host_blocks_.erase(it);
  }
  for (const auto& b : subnet_blocks_) {
    if (b.until > now && b.network.contains(src)) return Span{b.since, b.until};
  }
  return std::nullopt;
}

bool OffenseTracker::is_blocked(const net::Cidr& src, Clock::time_point now) {
  return block_of(src, now).has_value();
}

std::optional<Block> OffenseTracker::offend(const net::Cidr& src, Clock::time_point now,
                                            bool subnet_spared) {
  if (const auto b = block_of(src, now)) {
    if (now - b->since < kStale) return std::nullopt;
    host_blocks_.erase(key_of(src));
    std::erase_if(subnet_blocks_, [&](const ActiveBlock& a) { return a.network.contains(src); });
  }
  const Key k = key_of(src);

  // The source's offences within the window.
  auto s = find_or_add(sources_, sources_lru_, k);
  auto& hits = s->second.hits;
  while (!hits.empty() && now - hits.front() >= policy_.window) hits.pop_front();
  hits.push_back(now);
  const auto count = static_cast<uint32_t>(hits.size());

  // The subnet's distinct offenders within the escalation window.
  uint32_t hosts = 0;
  const net::Cidr subnet = subnet_of(src);
  if (policy_.escalate_hosts) {
    auto n = find_or_add(subnets_, subnets_lru_, key_of(subnet));
    auto& members = n->second.hosts;
    std::erase_if(members,
                  [&](const auto& m) { return now - m.second >= policy_.escalate_window; });
    if (members.size() < policy_.max_sources) members[k] = now;
    hosts = static_cast<uint32_t>(members.size());
    if (hosts >= policy_.escalate_hosts && !subnet_spared) {
      subnets_lru_.erase(n->second.lru);  // its hosts start afresh once the block ends
      subnets_.erase(n);
      hits.clear();
      return Block{subnet, true, count, hosts, policy_.escalate_for};
    }
  }
  if (count >= policy_.hits) {
    hits.clear();
    return Block{src, false, count, hosts, policy_.block_for};
  }
  return std::nullopt;
}

void OffenseTracker::blocked(const net::Cidr& network, Clock::time_point since,
                             Clock::time_point until) {
  const bool host = network.prefix_len == (network.family == 4 ? 32 : 128);
  if (host) {
    host_blocks_[key_of(network)] = Span{since, until};
    return;
  }
  for (auto& b : subnet_blocks_) {
    if (b.network == network) {
      b.since = since;
      b.until = std::max(b.until, until);
      return;
    }
  }
  subnet_blocks_.push_back({network, since, until});
}

void OffenseTracker::unblocked(const net::Cidr& network) {
  if (network.prefix_len == (network.family == 4 ? 32 : 128)) {
    host_blocks_.erase(key_of(network));
    return;
  }
  std::erase_if(subnet_blocks_, [&](const ActiveBlock& b) { return b.network == network; });
}

std::vector<OffenseTracker::ActiveBlock> OffenseTracker::active(Clock::time_point now) {
  expire_blocks(now);
  std::vector<ActiveBlock> out(subnet_blocks_);
  for (const auto& [k, span] : host_blocks_) {
    net::Cidr c;
    c.family = k.family;
    c.addr = k.addr;
    c.prefix_len = k.family == 4 ? 32 : 128;
    out.push_back({c, span.since, span.until});
  }
  return out;
}

}  // namespace rampart::ips
