// SPDX-License-Identifier: Apache-2.0
#include "auto_block.hpp"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <set>
#include <sstream>
#include <unordered_map>

#include "blocklist_client.hpp"
#include "control_chars.hpp"
#include "countries.hpp"

namespace rampart::ddos {

Threshold threshold_from_json(const std::string& body, uint64_t id) {
  const auto o = json::object_of(body);
  json::only_fields(*o, {"id", "country", "rate"});
  Threshold t;
  t.id = json::entry_id(*o, id, UINT32_MAX);
  t.country = json::required_string(*o, "country");
  if (auto bad = text::control_char_problem(t.country); !bad.empty())
    throw ThresholdError("country: " + bad);
  if (t.country != "default" && !geo::country_code(t.country))
    throw ThresholdError("country: '" + t.country +
                         "' is not a country code (two capital letters, ISO 3166-1 alpha-2) or "
                         "default");
  if (!o->has("rate")) throw ThresholdError("rate: required");
  t.rate = static_cast<uint32_t>(json::positive(*o, "rate", kMaxThresholdRate));
  return t;
}

std::string threshold_to_json(const Threshold& t) {
  Poco::JSON::Object o(Poco::JSON_PRESERVE_KEY_ORDER);
  o.set("id", t.id);
  o.set("country", t.country);
  o.set("rate", t.rate);
  return json::to_text(o);
}

const char* threshold_schema_json() {
  return R"json({
  "type": "object",
  "required": ["country", "rate"],
  "additionalProperties": false,
  "properties": {
    "id": {"type": "integer", "minimum": 1, "maximum": 4294967295},
    "country": {"type": "string", "pattern": "^([A-Z]{2}|default)$",
                "description": "ISO 3166-1 alpha-2 code, or default: every country without its own"},
    "rate": {"type": "integer", "minimum": 1, "maximum": 10000000,
             "description": "packets a second of the country's part of a flood over which its networks are blocked"}
  }
})json";
}

void set_thresholds(AutoBlockSettings& s, const std::vector<Threshold>& set) {
  std::map<std::string, double> by;
  double fallback = 0;
  std::map<std::string, uint64_t> seen;
  for (const auto& t : set) {
    const auto [it, fresh] = seen.emplace(t.country, t.id);
    if (!fresh)
      throw ThresholdError("country: " + t.country + " is in threshold " +
                           std::to_string(it->second) + " and in threshold " +
                           std::to_string(t.id));
    if (t.country == "default")
      fallback = t.rate;
    else
      by[t.country] = t.rate;
  }
  s.thresholds = std::move(by);
  s.default_threshold = fallback;
}

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
    if (blocklist::overlaps_any(c, never)) {
      ++out.spared;
    } else if (out.networks.size() < max) {
      out.networks.push_back(c);
    } else {
      ++out.cut;
    }
  }
  return out;
}

}  // namespace rampart::ddos
