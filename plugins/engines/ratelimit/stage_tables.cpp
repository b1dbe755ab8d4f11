// SPDX-License-Identifier: Apache-2.0
#include "stage_tables.hpp"

#include <algorithm>
#include <fstream>
#include <set>

namespace rampart::ratelimit {

const std::vector<std::string>& stat_names() {
  static const std::vector<std::string> names = {
      "passed", "dropped",     "over_passed", "exempt",      "unlimited",      "not_ip",
      "errors", "new_sources", "merges",      "meta_failed", "events_dropped", "events_limited"};
  static_assert(RAMPART_RL_STAT_MAX == 12, "name every rl_stats entry");
  return names;
}

uint64_t shape_of(const Policy& p) {
  return period_ns(p) << 2 | static_cast<uint64_t>(p.algorithm);
}

namespace {

// SplitMix64's finaliser: every input bit moves every output bit.
uint64_t mix(uint64_t x) {
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace

uint8_t generation(uint32_t id, uint64_t shape) {
  return static_cast<uint8_t>(
      mix(shape ^ (static_cast<uint64_t>(id) * 0x9e3779b97f4a7c15ull)) % RAMPART_RL_GEN_MAX + 1);
}

std::map<uint32_t, Placement> place(const std::vector<const Policy*>& policies) {
  std::vector<const Policy*> by_id(policies);
  std::sort(by_id.begin(), by_id.end(), [](auto* a, auto* b) { return a->id < b->id; });
  std::vector<bool> taken(RAMPART_RL_MAX_POLICIES, false);
  std::map<uint32_t, Placement> out;
  // Small ids first: each is its own index, whatever else the set holds.
  for (const Policy* p : by_id) {
    if (p->id < RAMPART_RL_MAX_POLICIES) {
      taken[p->id] = true;
      out[p->id] = {p->id, generation(p->id, shape_of(*p))};
    }
  }
  uint32_t placed = static_cast<uint32_t>(out.size()) - (out.count(0) ? 1 : 0);
  for (const Policy* p : by_id) {
    if (p->id < RAMPART_RL_MAX_POLICIES) continue;
    if (++placed > kMaxPolicies)
      throw PolicyError("", "more than " + std::to_string(kMaxPolicies) + " policies");
    uint32_t i = static_cast<uint32_t>(mix(p->id) % kMaxPolicies) + 1;
    while (taken[i]) i = i % kMaxPolicies + 1;
    taken[i] = true;
    out[p->id] = {i, generation(p->id, shape_of(*p))};
  }
  return out;
}

Tables build_tables(const std::vector<Placed>& placed, const std::vector<net::Cidr>& exempt,
                    const geo::CountryNetworks* geo) {
  Tables t;
  t.policies.resize(RAMPART_RL_MAX_POLICIES);
  std::map<std::pair<uint8_t, std::array<uint8_t, 17>>, std::string> owner;  // prefix -> who
  const auto claim = [&](const net::Cidr& c, const std::string& who, uint32_t value) {
    std::array<uint8_t, 17> k{};
    std::copy(c.addr.begin(), c.addr.end(), k.begin());
    k[16] = c.prefix_len;
    const auto [it, fresh] = owner.emplace(std::make_pair(c.family, k), who);
    if (!fresh)
      throw PolicyError("prefixes",
                        net::format_cidr(c) + " is listed by " + it->second + " and by " + who);
    if (c.family == 4) {
      rampart_rl_lpm4_key key{};
      key.prefixlen = c.prefix_len;
      std::copy_n(c.addr.begin(), 4, reinterpret_cast<uint8_t*>(&key.addr));
      t.src4.emplace_back(key, value);
      if (t.src4.size() > RAMPART_RL_MAX_PREFIXES)
        throw PolicyError(
            "prefixes", "more than " + std::to_string(RAMPART_RL_MAX_PREFIXES) + " IPv4 prefixes");
    } else {
      rampart_rl_lpm6_key key{};
      key.prefixlen = c.prefix_len;
      std::copy(c.addr.begin(), c.addr.end(), key.addr);
      t.src6.emplace_back(key, value);
      if (t.src6.size() > RAMPART_RL_MAX_PREFIXES)
        throw PolicyError(
            "prefixes", "more than " + std::to_string(RAMPART_RL_MAX_PREFIXES) + " IPv6 prefixes");
    }
  };
  for (const auto& c : exempt) claim(c, "the exempt list", RAMPART_RL_EXEMPT);
  std::map<std::string, std::string> country_owner;
  for (const auto& [at, p] : placed) {
    if (!p->enabled) continue;
    t.policies.at(at.index) = kernel_policy(*p, at.gen);
    const std::string who = "policy " + std::to_string(p->id);
    for (const auto& c : p->prefixes) claim(c, who, at.index);
    for (const auto& code : p->countries) {
      if (!geo)
        throw PolicyError("countries", who + " holds countries, and no country_db is configured");
      if (!geo->present.count(code))
        throw PolicyError("countries", code + " is not a country of the country database");
      const auto [it, fresh] = country_owner.emplace(code, who);
      if (!fresh)
        throw PolicyError("countries", code + " is listed by " + it->second + " and by " + who);
      const auto nets = geo->by_country.find(code);
      if (nets == geo->by_country.end()) continue;
      for (const auto& c : nets->second) {
        if (c.family == 4) {
          rampart_rl_lpm4_key key{};
          key.prefixlen = c.prefix_len;
          std::copy_n(c.addr.begin(), 4, reinterpret_cast<uint8_t*>(&key.addr));
          t.geo4.emplace_back(key, at.index);
        } else {
          rampart_rl_lpm6_key key{};
          key.prefixlen = c.prefix_len;
          std::copy(c.addr.begin(), c.addr.end(), key.addr);
          t.geo6.emplace_back(key, at.index);
        }
      }
    }
  }
  if (t.geo4.size() > kMaxCountryNetworks || t.geo6.size() > kMaxCountryNetworks)
    throw PolicyError("countries", "more than " + std::to_string(kMaxCountryNetworks) +
                                       " networks of one family in the countries' policies");
  return t;
}

namespace {

template <class K>
sdk::MapImage lpm(const char* name, const std::vector<std::pair<K, uint32_t>>& entries,
                  uint32_t max_entries = RAMPART_RL_MAX_PREFIXES) {
  sdk::MapImage m;
  m.name = name;
  m.max_entries = max_entries;  // one shape, whatever the count (no prealloc)
  m.key_size = sizeof(K);
  m.value_size = sizeof(uint32_t);
  for (const auto& [k, v] : entries) m.add(k, v);
  return m;
}

}  // namespace

sdk::ProgramImage program_image(const Tables& t, const StageSettings& s) {
  sdk::ProgramImage p;
  p.object = RAMPART_NAME(RAMPART_RL_PROGRAM);
  p.program = RAMPART_NAME(RAMPART_RL_PROGRAM);
  p.slot = kStageName;
  p.hook = RAMPART_PROGRAM_XDP;
  p.priority = kStagePriority;
  // Limits keep holding while rampartd restarts.
  p.flags = RAMPART_PROGRAM_KEEP_ON_EXIT;
  for (const char* m : kPersistentMaps) {
    auto image = sdk::MapImage::persistent(m);
    if (std::string_view(m) == RAMPART_NAME(RAMPART_RL_MAP_STATE))
      image.max_entries = std::clamp(s.max_sources, kMinSources, kMaxSources);
    p.maps.push_back(std::move(image));
  }
  sdk::MapImage policies;
  policies.name = RAMPART_NAME(RAMPART_RL_MAP_POLICIES);
  policies.borrow_dense(t.policies);
  p.maps.push_back(std::move(policies));
  p.maps.push_back(lpm(RAMPART_NAME(RAMPART_RL_MAP_SRC4), t.src4));
  p.maps.push_back(lpm(RAMPART_NAME(RAMPART_RL_MAP_SRC6), t.src6));
  p.maps.push_back(lpm(RAMPART_NAME(RAMPART_RL_MAP_GEO4), t.geo4, kMaxCountryNetworks));
  p.maps.push_back(lpm(RAMPART_NAME(RAMPART_RL_MAP_GEO6), t.geo6, kMaxCountryNetworks));
  p.set<uint32_t>(RAMPART_NAME(RAMPART_RL_SET_NCPUS), std::max(1u, s.ncpus));
  p.set<uint32_t>(RAMPART_NAME(RAMPART_RL_SET_EVENT_SOURCE), s.event_source);
  p.set<uint32_t>(RAMPART_NAME(RAMPART_RL_SET_EVENT_RATE), s.event_rate);
  if (s.test_clock) p.set<uint8_t>("rampart_clock_from_map", 1);
  return p;
}

}  // namespace rampart::ratelimit
