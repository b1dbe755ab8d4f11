// SPDX-License-Identifier: Apache-2.0
#include "alerts/enrichment.hpp"

#include <algorithm>
#include <cctype>

namespace rampart::alerts {
namespace {

std::string address_key(uint8_t family, const uint8_t* addr) {
  std::string k(1, static_cast<char>(family));
  k.append(reinterpret_cast<const char*>(addr), family == 4 ? 4 : 16);
  return k;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (!out.empty() && out.back() == '.') out.pop_back();  // "example.com." == "example.com"
  return out;
}

}  // namespace

void Enricher::set_geo(GeoLookup geo) {
  std::unique_lock lock(mu_);
  geo_ = geo ? std::make_shared<const GeoLookup>(std::move(geo)) : nullptr;
}

// Full tables first shed expired entries, then (still full) an arbitrary
// half: bounded memory whatever engines publish.
template <class Map>
void Enricher::make_room(Map& map, TimePoint now) {
  if (map.size() < kMaxNames) return;
  std::erase_if(map, [&](const auto& kv) { return kv.second.until <= now; });
  if (map.size() < kMaxNames) return;
  size_t n = 0;
  std::erase_if(map, [&](const auto&) { return n++ % 2 == 0; });
}

void Enricher::publish_name(uint8_t family, const uint8_t* addr, std::string_view name,
                            std::chrono::seconds ttl) {
  if ((family != 4 && family != 6) || !addr) return;
  const auto now = std::chrono::steady_clock::now();
  std::unique_lock lock(mu_);
  make_room(names_, now);
  names_[address_key(family, addr)] = Name{lower(name), now + ttl};
}

void Enricher::publish_reputation(std::string_view name, int32_t score, std::chrono::seconds ttl) {
  const auto now = std::chrono::steady_clock::now();
  std::unique_lock lock(mu_);
  make_room(scores_, now);
  scores_[lower(name)] = Score{std::clamp(score, 0, 100), now + ttl};
}

void Enricher::enrich_one(uint8_t family, const std::array<uint8_t, 16>& addr, Enrichment& out,
                          TimePoint now) const {
  if (names_.empty()) return;  // nothing published: no key to build
  const auto n = names_.find(address_key(family, addr.data()));
  if (n == names_.end() || n->second.until <= now) return;
  out.name = n->second.name;
  const auto s = scores_.find(out.name);
  if (s != scores_.end() && s->second.until > now) out.reputation = s->second.score;
}

void Enricher::enrich(AlertRecord& a) const {
  if (a.ip_family != 4 && a.ip_family != 6) return;
  std::shared_ptr<const GeoLookup> geo;
  {
    std::shared_lock lock(mu_);
    const auto now = std::chrono::steady_clock::now();
    enrich_one(a.ip_family, a.src_addr, a.src_info, now);
    enrich_one(a.ip_family, a.dst_addr, a.dst_info, now);
    geo = geo_;
  }
  if (geo) {
    (*geo)(a.ip_family, a.src_addr.data(), a.src_info);
    (*geo)(a.ip_family, a.dst_addr.data(), a.dst_info);
  }
}

}  // namespace rampart::alerts
