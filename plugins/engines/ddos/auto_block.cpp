// SPDX-License-Identifier: Apache-2.0
#include "auto_block.hpp"

#include <Poco/JSON/Object.h>
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <sstream>
#include <unordered_map>

namespace rampart::ddos {

double AutoBlockSettings::threshold(const std::string& country) const {
  const auto it = thresholds.find(country);
  return it != thresholds.end() ? it->second : default_threshold;
}

void SourceTally::add(Clock now, std::string country) {
  expire(now);
  if (samples_.size() >= cap_) samples_.pop_front();
  samples_.emplace_back(now, std::move(country));
}

void SourceTally::expire(Clock now) {
  while (!samples_.empty() && now - samples_.front().first > window_) samples_.pop_front();
}

size_t SourceTally::total(Clock now) {
  expire(now);
  return samples_.size();
}

std::vector<SourceTally::Share> SourceTally::shares(Clock now) {
  expire(now);
  std::unordered_map<std::string, size_t> by;
  for (const auto& [t, c] : samples_) {
    if (!c.empty()) ++by[c];
  }
  std::vector<Share> out;
  for (const auto& [c, n] : by)
    out.push_back({c, n, static_cast<double>(n) / static_cast<double>(samples_.size())});
  std::sort(out.begin(), out.end(), [](const Share& a, const Share& b) {
    return a.samples != b.samples ? a.samples > b.samples : a.country < b.country;
  });
  return out;
}

std::vector<std::pair<std::string, double>> countries_over(
    const AutoBlockSettings& s, double rate, const std::vector<SourceTally::Share>& shares) {
  std::vector<std::pair<std::string, double>> out;
  for (const auto& sh : shares) {
    if (sh.samples < s.min_samples) continue;
    const double limit = s.threshold(sh.country);
    const double part = rate * sh.share;
    if (limit > 0 && part > limit) out.emplace_back(sh.country, part);
  }
  return out;  // in the shares' order: largest first
}

ChosenNetworks choose_networks(std::vector<net::Cidr> networks, const std::vector<net::Cidr>& never,
                               size_t max) {
  ChosenNetworks out;
  std::stable_sort(networks.begin(), networks.end(), [](const net::Cidr& a, const net::Cidr& b) {
    // Largest first: IPv4 /8 before IPv6 /48 by the addresses each covers.
    const int ha = (a.family == 4 ? 32 : 128) - a.prefix_len;
    const int hb = (b.family == 4 ? 32 : 128) - b.prefix_len;
    return ha > hb;
  });
  for (const auto& c : networks) {
    const bool overlaps = std::any_of(never.begin(), never.end(), [&](const net::Cidr& n) {
      return n.contains(c) || c.contains(n);
    });
    if (overlaps) {
      ++out.spared;
    } else if (out.networks.size() < max) {
      out.networks.push_back(c);
    } else {
      ++out.cut;
    }
  }
  return out;
}

std::vector<net::Cidr> host_networks() {
  std::vector<net::Cidr> out;
  std::string err;
  for (const char* lo : {"127.0.0.0/8", "::1/128", "::ffff:127.0.0.0/104"})
    out.push_back(*net::parse_cidr(lo, err));
  ifaddrs* ifs = nullptr;
  if (getifaddrs(&ifs) != 0) return out;
  for (const ifaddrs* i = ifs; i; i = i->ifa_next) {
    if (!i->ifa_addr) continue;
    net::Cidr c;
    if (i->ifa_addr->sa_family == AF_INET) {
      c.family = 4;
      c.prefix_len = 32;
      std::memcpy(c.addr.data(), &reinterpret_cast<const sockaddr_in*>(i->ifa_addr)->sin_addr, 4);
    } else if (i->ifa_addr->sa_family == AF_INET6) {
      c.family = 6;
      c.prefix_len = 128;
      std::memcpy(c.addr.data(), &reinterpret_cast<const sockaddr_in6*>(i->ifa_addr)->sin6_addr,
                  16);
    } else {
      continue;
    }
    out.push_back(c);
  }
  freeifaddrs(ifs);
  return out;
}

std::string blocklist_entry(uint64_t id, const net::Cidr& network, const std::string& reason,
                            int64_t expires_at) {
  Poco::JSON::Object o;
  o.set("id", id);
  o.set("prefix", net::format_cidr(network));
  o.set("owner", "ddos");
  o.set("reason", reason);
  o.set("expires_at", expires_at);
  std::ostringstream out;
  o.stringify(out);
  return out.str();
}

}  // namespace rampart::ddos
