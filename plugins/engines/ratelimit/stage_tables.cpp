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

uint8_t Indexes::next_gen(uint32_t index) {
  uint8_t& g = last_gen_[index];
  g = static_cast<uint8_t>(g % RAMPART_RL_GEN_MAX + 1);  // 1..63, never 0
  return g;
}

Placement Indexes::place(uint32_t id, uint64_t shape, Clock::time_point now) {
  if (auto it = by_id_.find(id); it != by_id_.end()) {
    if (it->second.shape != shape) {
      it->second.shape = shape;
      it->second.at.gen = next_gen(it->second.at.index);
    }
    return it->second.at;
  }
  uint32_t index = 0;
  if (id != 0) {
    std::set<uint32_t> taken;
    for (const auto& [other, e] : by_id_) taken.insert(e.at.index);
    for (uint32_t i = 1; i < RAMPART_RL_MAX_POLICIES && !index; ++i) {
      if (taken.count(i)) continue;
      const auto f = freed_.find(i);
      if (f != freed_.end() && now - f->second < quarantine_) continue;
      index = i;
    }
    if (!index)
      throw PolicyError(
          "", "no room for policy " + std::to_string(id) + ": " + std::to_string(kMaxPolicies) +
                  " policies at most (a removed policy's place is free after " +
                  std::to_string(
                      std::chrono::duration_cast<std::chrono::seconds>(quarantine_).count()) +
                  " s)");
    freed_.erase(index);
  }
  Entry e{{index, next_gen(index)}, shape};
  by_id_.emplace(id, e);
  return e.at;
}

void Indexes::keep_only(const std::vector<uint32_t>& keep, Clock::time_point now) {
  const std::set<uint32_t> kept(keep.begin(), keep.end());
  for (auto it = by_id_.begin(); it != by_id_.end();) {
    if (kept.count(it->first)) {
      ++it;
      continue;
    }
    if (it->second.at.index != 0) freed_[it->second.at.index] = now;
    it = by_id_.erase(it);
  }
}

std::optional<Placement> Indexes::find(uint32_t id) const {
  const auto it = by_id_.find(id);
  if (it == by_id_.end()) return std::nullopt;
  return it->second.at;
}

Tables build_tables(const std::vector<Placed>& placed, const std::vector<net::Cidr>& exempt) {
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
  for (const auto& [at, p] : placed) {
    if (!p->enabled) continue;
    t.policies.at(at.index) = kernel_policy(*p, at.gen);
    const std::string who = "policy " + std::to_string(p->id);
    for (const auto& c : p->prefixes) claim(c, who, at.index);
  }
  return t;
}

namespace {

template <class K>
sdk::MapImage lpm(const char* name, const std::vector<std::pair<K, uint32_t>>& entries) {
  sdk::MapImage m;
  m.name = name;
  m.max_entries = RAMPART_RL_MAX_PREFIXES;  // one shape, whatever the count (no prealloc)
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
  p.set<uint32_t>(RAMPART_NAME(RAMPART_RL_SET_NCPUS), std::max(1u, s.ncpus));
  p.set<uint32_t>(RAMPART_NAME(RAMPART_RL_SET_EVENT_SOURCE), s.event_source);
  p.set<uint32_t>(RAMPART_NAME(RAMPART_RL_SET_EVENT_RATE), s.event_rate);
  if (s.test_clock) p.set<uint8_t>("rampart_clock_from_map", 1);
  return p;
}

uint32_t possible_cpus() {
  // "0-3", "0,2-5": one past the highest listed.
  std::ifstream f("/sys/devices/system/cpu/possible");
  std::string line;
  if (!std::getline(f, line)) return 0;
  uint32_t highest = 0, n = 0;
  bool digits = false;
  for (char c : line + ",") {
    if (c >= '0' && c <= '9') {
      n = n * 10 + static_cast<uint32_t>(c - '0');
      digits = true;
      if (n > 65536) return 0;
    } else {
      if (digits) highest = std::max(highest, n);
      n = 0;
      digits = false;
    }
  }
  return highest + 1;
}

}  // namespace rampart::ratelimit
