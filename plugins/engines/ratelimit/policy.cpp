// SPDX-License-Identifier: Apache-2.0
#include "policy.hpp"

#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>

#include <cmath>
#include <set>
#include <sstream>

#include "control_chars.hpp"
#include "countries.hpp"

namespace rampart::ratelimit {
namespace {

const std::set<std::string> kFields = {"id",      "prefixes",    "countries", "algorithm",
                                       "rate",    "burst",       "window_ms", "action",
                                       "enabled", "description", "expires_at"};

Poco::JSON::Object::Ptr object_of(const std::string& body) {
  Poco::Dynamic::Var v;
  try {
    Poco::JSON::Parser parser;
    v = parser.parse(body);
  } catch (const Poco::Exception& e) {
    throw PolicyError("", "not valid JSON: " + e.message());
  }
  if (v.type() != typeid(Poco::JSON::Object::Ptr)) throw PolicyError("", "expected a JSON object");
  auto o = v.extract<Poco::JSON::Object::Ptr>();
  std::vector<std::string> names;
  o->getNames(names);
  for (const auto& n : names) {
    if (!kFields.count(n)) throw PolicyError(n, "unknown field");
  }
  return o;
}

int64_t integer(const Poco::JSON::Object& o, const std::string& key, int64_t lo, int64_t hi) {
  const auto v = o.get(key);
  if (!v.isInteger()) throw PolicyError(key, "expected an integer");
  int64_t x = 0;
  bool fits = true;
  try {
    if (v.isSigned()) {
      x = v.convert<int64_t>();
    } else {
      const auto u = v.convert<uint64_t>();
      fits = u <= static_cast<uint64_t>(INT64_MAX);
      x = fits ? static_cast<int64_t>(u) : 0;
    }
  } catch (const Poco::Exception&) {
    fits = false;
  }
  if (!fits || x < lo || x > hi)
    throw PolicyError(key, "must be " + std::to_string(lo) + "-" + std::to_string(hi));
  return x;
}

std::string text(const Poco::JSON::Object& o, const std::string& key) {
  const auto v = o.get(key);
  if (!v.isString()) throw PolicyError(key, "expected a string");
  auto s = v.convert<std::string>();
  if (auto bad = text::control_char_problem(s); !bad.empty()) throw PolicyError(key, bad);
  return s;
}

}  // namespace

std::string_view algorithm_name(Algorithm a) {
  switch (a) {
    case Algorithm::token_bucket:
      return "token_bucket";
    case Algorithm::leaky_bucket:
      return "leaky_bucket";
    case Algorithm::fixed_window:
      return "fixed_window";
    case Algorithm::sliding_window:
      return "sliding_window";
  }
  return "?";
}

std::string_view action_name(Action a) { return a == Action::alert ? "alert" : "drop"; }

std::optional<Algorithm> parse_algorithm(std::string_view s) {
  for (auto a : {Algorithm::token_bucket, Algorithm::leaky_bucket, Algorithm::fixed_window,
                 Algorithm::sliding_window}) {
    if (s == algorithm_name(a)) return a;
  }
  return std::nullopt;
}

std::optional<Action> parse_action(std::string_view s) {
  if (s == "drop") return Action::drop;
  if (s == "alert") return Action::alert;
  return std::nullopt;
}

Policy policy_from_json(const std::string& body, uint64_t id, bool is_default) {
  const auto o = object_of(body);
  Policy p;
  if (is_default) {
    for (const char* f : {"id", "prefixes", "countries", "expires_at"}) {
      if (o->has(f)) throw PolicyError(f, "not for the default policy");
    }
  } else {
    if (o->has("id")) {
      p.id = static_cast<uint32_t>(integer(*o, "id", 1, UINT32_MAX));
      if (id && p.id != id)
        throw PolicyError(
            "id", "the body says " + std::to_string(p.id) + ", the path " + std::to_string(id));
    } else {
      if (id > UINT32_MAX) throw PolicyError("id", "must be 1-4294967295");
      p.id = static_cast<uint32_t>(id);
    }
    if (o->has("countries")) {
      if (o->has("prefixes"))
        throw PolicyError("countries", "a policy holds prefixes or countries, not both");
      const auto v = o->get("countries");
      if (v.type() != typeid(Poco::JSON::Array::Ptr))
        throw PolicyError("countries", "expected an array of country codes");
      const auto arr = v.extract<Poco::JSON::Array::Ptr>();
      if (arr->size() == 0 || arr->size() > kMaxCountriesPerPolicy)
        throw PolicyError("countries",
                          "1-" + std::to_string(kMaxCountriesPerPolicy) + " countries");
      for (size_t i = 0; i < arr->size(); ++i) {
        const std::string where = "countries[" + std::to_string(i) + "]";
        const auto e = arr->get(i);
        if (!e.isString()) throw PolicyError(where, "expected a country code");
        const std::string code = e.convert<std::string>();
        if (auto bad = text::control_char_problem(code); !bad.empty())
          throw PolicyError(where, bad);
        if (!geo::country_code(code))
          throw PolicyError(
              where,
              "'" + code + "' is not a country code (two capital letters, ISO 3166-1 alpha-2)");
        for (const auto& seen : p.countries) {
          if (seen == code) throw PolicyError(where, code + " is listed twice");
        }
        p.countries.push_back(code);
      }
    } else {
      if (!o->has("prefixes")) throw PolicyError("prefixes", "required (or countries)");
      const auto v = o->get("prefixes");
      if (v.type() != typeid(Poco::JSON::Array::Ptr))
        throw PolicyError("prefixes", "expected an array of CIDR strings");
      const auto arr = v.extract<Poco::JSON::Array::Ptr>();
      if (arr->size() == 0 || arr->size() > kMaxPrefixesPerPolicy)
        throw PolicyError("prefixes", "1-" + std::to_string(kMaxPrefixesPerPolicy) + " prefixes");
      for (size_t i = 0; i < arr->size(); ++i) {
        const std::string where = "prefixes[" + std::to_string(i) + "]";
        const auto e = arr->get(i);
        if (!e.isString()) throw PolicyError(where, "expected a CIDR string");
        std::string err;
        const auto c = net::parse_cidr(e.convert<std::string>(), err);
        if (!c) throw PolicyError(where, err);
        if (c->prefix_len == 0)
          throw PolicyError(where, "a /0 holds every source: set default_policy instead");
        if (c->family == 6 && c->prefix_len > 64)
          throw PolicyError(where, "an IPv6 source is its /64: at most /64, got /" +
                                       std::to_string(c->prefix_len));
        for (const auto& seen : p.prefixes) {
          if (seen == *c) throw PolicyError(where, net::format_cidr(*c) + " is listed twice");
        }
        p.prefixes.push_back(*c);
      }
    }
  }
  if (o->has("algorithm")) {
    const auto a = parse_algorithm(text(*o, "algorithm"));
    if (!a)
      throw PolicyError("algorithm",
                        "expected token_bucket, leaky_bucket, fixed_window or sliding_window");
    p.algorithm = *a;
  }
  if (!o->has("rate")) throw PolicyError("rate", "required");
  p.rate = static_cast<uint32_t>(integer(*o, "rate", 1, RAMPART_RL_MAX_RATE));
  if (p.bucket()) {
    if (o->has("window_ms"))
      throw PolicyError("window_ms",
                        "only for fixed_window and sliding_window (buckets have a burst)");
    p.burst = o->has("burst") ? static_cast<uint32_t>(integer(*o, "burst", 1, RAMPART_RL_MAX_BURST))
                              : std::min(p.rate, RAMPART_RL_MAX_BURST);
  } else {
    if (o->has("burst"))
      throw PolicyError("burst", "only for token_bucket and leaky_bucket (windows have window_ms)");
    p.window_ms = o->has("window_ms")
                      ? static_cast<uint32_t>(integer(*o, "window_ms", kMinWindowMs, kMaxWindowMs))
                      : 1000;
    if (window_limit(p) == 0)
      throw PolicyError("rate", "admits no packet in a " + std::to_string(p.window_ms) +
                                    " ms window: rate x window_ms must be at least 1000");
  }
  if (o->has("action")) {
    const auto a = parse_action(text(*o, "action"));
    if (!a) throw PolicyError("action", "expected drop or alert");
    p.action = *a;
  }
  if (o->has("enabled")) {
    const auto v = o->get("enabled");
    if (!v.isBoolean()) throw PolicyError("enabled", "expected true or false");
    p.enabled = v.convert<bool>();
  }
  if (o->has("description")) {
    p.description = text(*o, "description");
    if (p.description.size() > kMaxDescription)
      throw PolicyError("description", "at most " + std::to_string(kMaxDescription) + " bytes");
  }
  if (o->has("expires_at")) p.expires_at = integer(*o, "expires_at", 1, 253402300799LL);
  return p;
}

std::string policy_to_json(const Policy& p) {
  Poco::JSON::Object o(Poco::JSON_PRESERVE_KEY_ORDER);
  if (p.id) o.set("id", p.id);
  if (!p.prefixes.empty()) {
    Poco::JSON::Array a;
    for (const auto& c : p.prefixes) a.add(net::format_cidr(c));
    o.set("prefixes", a);
  }
  if (!p.countries.empty()) {
    Poco::JSON::Array a;
    for (const auto& c : p.countries) a.add(c);
    o.set("countries", a);
  }
  o.set("algorithm", std::string(algorithm_name(p.algorithm)));
  o.set("rate", p.rate);
  if (p.bucket())
    o.set("burst", p.burst);
  else
    o.set("window_ms", p.window_ms);
  o.set("action", std::string(action_name(p.action)));
  o.set("enabled", p.enabled);
  if (!p.description.empty()) o.set("description", p.description);
  if (p.expires_at) o.set("expires_at", p.expires_at);
  std::ostringstream out;
  o.stringify(out);
  return out.str();
}

const char* policy_schema_json() {
  return R"json({
  "type": "object",
  "required": ["rate"],
  "additionalProperties": false,
  "properties": {
    "id": {"type": "integer", "minimum": 1, "maximum": 4294967295,
           "description": "Assigned when absent on create"},
    "prefixes": {"type": "array", "items": {"type": "string"},
                 "description": "1-64 IPv4/IPv6 CIDRs whose sources the policy holds, each source on its own (an IPv6 source is its /64); the longest prefix over all policies wins",
                 "example": ["203.0.113.0/24"]},
    "countries": {"type": "array", "items": {"type": "string", "pattern": "^[A-Z]{2}$"},
                  "description": "Instead of prefixes: 1-64 countries (ISO 3166-1 alpha-2) whose sources the policy holds, from the country database (country_db); a prefix policy wins over a country policy",
                  "example": ["NL", "BE"]},
    "algorithm": {"type": "string", "enum": ["token_bucket", "leaky_bucket", "fixed_window", "sliding_window"],
                  "description": "token_bucket when absent"},
    "rate": {"type": "integer", "minimum": 1, "maximum": 10000000, "description": "Packets per second per source"},
    "burst": {"type": "integer", "minimum": 1, "maximum": 16777215,
              "description": "Buckets only: packets admitted at once after idling; the rate when absent"},
    "window_ms": {"type": "integer", "minimum": 10, "maximum": 60000,
                  "description": "Windows only: the window, 1000 when absent; it admits rate x window packets"},
    "action": {"type": "string", "enum": ["drop", "alert"],
               "description": "Over the limit: drop, or pass and alert; drop when absent"},
    "enabled": {"type": "boolean"},
    "description": {"type": "string", "maxLength": 256},
    "expires_at": {"type": "integer", "minimum": 1, "maximum": 253402300799,
                   "description": "When the policy is removed, in seconds since the epoch; never when absent"}
  }
})json";
}

uint32_t window_limit(const Policy& p) {
  return static_cast<uint32_t>(static_cast<uint64_t>(p.rate) * p.window_ms / 1000);
}

uint64_t period_ns(const Policy& p) {
  if (!p.bucket()) return static_cast<uint64_t>(p.window_ms) * 1000000;
  // Half the burst's worth of refill per slot, within [1 ms, 1 s]; then the
  // slot is fitted to a whole number of 1/256 tokens of refill.
  const double rate = p.rate;
  double slot = static_cast<double>(p.burst) * 1e9 / (2 * rate);
  slot = std::clamp(slot, 1e6, 1e9);
  const double q8 = std::max(1.0, std::round(rate * slot * 256 / 1e9));
  return static_cast<uint64_t>(std::llround(q8 * 1e9 / (rate * 256)));
}

rampart_rl_policy kernel_policy(const Policy& p, uint8_t gen) {
  rampart_rl_policy k{};
  k.id = p.id;
  k.algo = static_cast<uint8_t>(p.algorithm);
  k.action = static_cast<uint8_t>(p.action);
  k.gen = gen;
  k.period_ns = period_ns(p);
  k.flags = RAMPART_RL_POLICY_ACTIVE |
            (k.period_ns >= RAMPART_RL_COARSE_MIN_PERIOD_NS ? RAMPART_RL_POLICY_COARSE_CLOCK : 0);
  if (p.bucket()) {
    k.limit = p.burst;
    k.refill_q8 = static_cast<uint32_t>(
        std::llround(static_cast<double>(p.rate) * static_cast<double>(k.period_ns) * 256 / 1e9));
  } else {
    k.limit = window_limit(p);
  }
  return k;
}

}  // namespace rampart::ratelimit
