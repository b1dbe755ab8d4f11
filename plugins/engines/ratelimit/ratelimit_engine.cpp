// SPDX-License-Identifier: Apache-2.0
// The rate limit engine: policies from the config and the REST domain
// `ratelimit` placed at stable indexes and installed as one xdp_ratelimit
// instance (an atomic swap; the sources' states outlive it), per-policy
// counters in metrics and status, and a T1498 alert for a source over its
// limit (docs/ratelimit.md).
#include <rampart/sdk/plugin.hpp>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>
#include <arpa/inet.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "countries.hpp"
#include "cpus.hpp"
#include "kernel_counter_families.hpp"
#include "kernel_time.hpp"
#include "policy.hpp"
#include "rampart/ratelimit.h"
#include "stage_tables.hpp"

namespace {

using rampart::ratelimit::Policy;
using rampart::ratelimit::PolicyError;
using rampart::sdk::Config;
using rampart::sdk::Error;
using rampart::sdk::Host;

constexpr const char* kDomain = "ratelimit";
constexpr const char* kPolicyCounters[] = {"passed", "dropped", "over_passed", "new_sources"};

struct Settings {
  rampart::ratelimit::StageSettings stage;
  uint8_t alert_on = 1u << RAMPART_RL_ALERT;  // actions that raise alerts
  std::vector<rampart::net::Cidr> exempt;
  std::string country_db;  // the country database for country policies ("": none)
  std::optional<Policy> default_policy;
  std::vector<Policy> policies;  // the config's: rules of the domain it owns
};

// A policy map of the config as the JSON body the API takes, so both are
// checked by one parser; the config's own type errors name file and line.
std::string body_of(const Config& cfg, const std::string& at) {
  Poco::JSON::Object o;
  for (const auto& key : cfg.keys(at)) {
    const std::string path = at + "." + key;
    if (key == "prefixes") {
      Poco::JSON::Array a;
      for (const auto& s : cfg.strings(path)) a.add(s);
      o.set(key, a);
    } else if (key == "id" || key == "rate" || key == "burst" || key == "window_ms" ||
               key == "expires_at") {
      o.set(key, cfg.require<int64_t>(path));
    } else if (key == "enabled") {
      o.set(key, cfg.require<bool>(path));
    } else if (key == "countries") {
      Poco::JSON::Array a;
      for (const auto& c : cfg.strings(path)) a.add(c);
      o.set(key, a);
    } else {
      o.set(key, cfg.require<std::string>(path));  // unknown keys: the parser names them
    }
  }
  std::ostringstream out;
  o.stringify(out);
  return out.str();
}

Policy parse_policy(const Config& cfg, const std::string& at, bool is_default) {
  if (cfg.type(at) != RAMPART_CONFIG_MAP) throw cfg.invalid(at, "expected a map");
  try {
    return rampart::ratelimit::policy_from_json(body_of(cfg, at), 0, is_default);
  } catch (const PolicyError& e) {
    const std::string field = e.field().substr(0, e.field().find('['));
    throw cfg.invalid(
        field.empty() ? at : at + "." + field,
        e.field().empty() ? e.what() : std::string(e.what()).substr(e.field().size() + 2));
  }
}

Settings parse(const Config& cfg) {
  cfg.allow_only("", {"max_sources", "event_rate", "alert_on", "exempt", "country_db",
                      "default_policy", "policies"});
  Settings s;
  s.stage.max_sources = cfg.get<uint32_t>("max_sources", s.stage.max_sources);
  if (s.stage.max_sources < rampart::ratelimit::kMinSources ||
      s.stage.max_sources > rampart::ratelimit::kMaxSources)
    throw cfg.invalid("max_sources", "must be " + std::to_string(rampart::ratelimit::kMinSources) +
                                         "-" + std::to_string(rampart::ratelimit::kMaxSources));
  s.stage.event_rate = cfg.get<uint32_t>("event_rate", s.stage.event_rate);
  if (cfg.has("alert_on")) {
    s.alert_on = 0;
    for (size_t i = 0, n = cfg.size("alert_on"); i < n; ++i) {
      const std::string key = "alert_on." + std::to_string(i);
      const auto a = rampart::ratelimit::parse_action(cfg.require<std::string>(key));
      if (!a) throw cfg.invalid(key, "expected alert or drop");
      s.alert_on |= 1u << static_cast<int>(*a);
    }
  }
  const size_t nexempt = cfg.size("exempt");
  if (nexempt > rampart::ratelimit::kMaxExempt)
    throw cfg.invalid("exempt",
                      "at most " + std::to_string(rampart::ratelimit::kMaxExempt) + " prefixes");
  for (size_t i = 0; i < nexempt; ++i) {
    const std::string at = "exempt." + std::to_string(i);
    std::string err;
    const auto c = rampart::net::parse_cidr(cfg.require<std::string>(at), err);
    if (!c) throw cfg.invalid(at, err);
    s.exempt.push_back(*c);
  }
  s.country_db = cfg.get<std::string>("country_db", "");
  if (cfg.has("default_policy")) s.default_policy = parse_policy(cfg, "default_policy", true);
  std::set<uint32_t> ids;
  for (size_t i = 0, n = cfg.size("policies"); i < n; ++i) {
    const std::string at = "policies." + std::to_string(i);
    if (!cfg.has(at + ".id")) throw cfg.invalid(at + ".id", "required in the config");
    Policy p = parse_policy(cfg, at, false);
    if (!ids.insert(p.id).second)
      throw cfg.invalid(at + ".id", "policy " + std::to_string(p.id) + " is defined twice");
    s.policies.push_back(std::move(p));
  }
  return s;
}

Error refused(const std::string& what) { return Error(RAMPART_ERR_INVALID_ARGUMENT, what); }

using rampart::kernel_time::realtime_of;

class RateLimitEngine {
 public:
  static constexpr const char* kSecretSettings[] = {nullptr};

  RateLimitEngine(Host& host, const Config& cfg) : host_(host), settings_(parse(cfg)) {
    check(settings_, {});  // fail early (the country database read too)
    if (host_.register_source("xdp_ratelimit") != RAMPART_SOURCE_XDP_RATELIMIT)
      throw Error(RAMPART_ERR_INTERNAL, "event source xdp_ratelimit has another id");
    policies_ = host_.gauge("rampart_ratelimit_policies",
                            "Rate limit policies installed in the kernel (the default included)");
    reloads_ = host_.counter("rampart_ratelimit_reloads_total", "Policy sets installed");
    events_[RAMPART_RL_DROP] =
        host_.counter("rampart_ratelimit_events_total",
                      "Sources reported over their limit, by policy action", {{"action", "drop"}});
    events_[RAMPART_RL_ALERT] =
        host_.counter("rampart_ratelimit_events_total",
                      "Sources reported over their limit, by policy action", {{"action", "alert"}});
    malformed_ =
        host_.counter("rampart_ratelimit_malformed_events_total", "Events too short to decode");
  }

  void start() {
    alert_on_ = settings_.alert_on;
    claim_and_install(settings_);
    watcher_ = std::thread([this] { watch_country_db(); });
  }

  void validate(const Config& cfg) { check(parse(cfg), {}); }

  void stop() {
    {
      std::lock_guard lock(watch_mu_);
      stopping_ = true;
    }
    watch_cv_.notify_all();
    if (watcher_.joinable()) watcher_.join();
  }
  ~RateLimitEngine() { stop(); }

  void reload(const Config& cfg) {
    Settings next = parse(cfg);
    claim_and_install(next);  // throws before anything changes
    alert_on_ = next.alert_on;
    std::lock_guard lock(mu_);
    settings_ = std::move(next);
  }

  void apply_rules(std::string_view domain, const std::vector<rampart::sdk::RuleBody>& bodies) {
    if (domain != kDomain) throw Error(RAMPART_ERR_INVALID_ARGUMENT, "not a rate limit domain");
    const Settings current = settings();
    std::lock_guard lock(install_mu_);
    install(current, parse_bodies(bodies));
  }

  // GET /api/v1/ratelimit/status
  std::string domain_status(std::string_view domain) {
    if (domain != kDomain) throw Error(RAMPART_ERR_NOT_FOUND, "not a rate limit domain");
    std::lock_guard lock(install_mu_);
    Poco::JSON::Object o(Poco::JSON_PRESERVE_KEY_ORDER);
    o.set("enforced", static_cast<bool>(program_));
    o.set("max_sources", installed_settings_.stage.max_sources);
    o.set("ncpus", installed_settings_.stage.ncpus);
    o.set("exempt_prefixes", static_cast<uint64_t>(installed_settings_.exempt.size()));
    {
      std::lock_guard g(geo_mu_);
      Poco::JSON::Object db(Poco::JSON_PRESERVE_KEY_ORDER);
      db.set("path", installed_settings_.country_db);
      size_t networks = 0;
      if (geo_) {
        for (const auto& [code, nets] : geo_->by_country) networks += nets.size();
      }
      db.set("countries", static_cast<uint64_t>(geo_ ? geo_->by_country.size() : 0));
      db.set("networks", static_cast<uint64_t>(networks));
      db.set("error", geo_error_.empty() ? Poco::Dynamic::Var() : Poco::Dynamic::Var(geo_error_));
      o.set("country_db", db);
    }
    if (installed_settings_.default_policy)
      o.set("default", policy_json(*installed_settings_.default_policy, 0));
    else
      o.set("default", Poco::Dynamic::Var());
    Poco::JSON::Array list;
    for (const auto& [id, p] : installed_) {
      if (id != 0) list.add(policy_json(p, id));
    }
    o.set("policies", list);
    Poco::JSON::Object stage(Poco::JSON_PRESERVE_KEY_ORDER);
    if (program_) {
      const auto& names = rampart::ratelimit::stat_names();
      const auto v = program_.counters(RAMPART_NAME(RAMPART_RL_MAP_STATS), 0,
                                       static_cast<uint32_t>(names.size()));
      for (size_t i = 0; i < names.size(); ++i) stage.set(names[i], v[i]);
    }
    o.set("counters", stage);
    std::ostringstream out;
    o.stringify(out);
    return out.str();
  }

  void on_event(const rampart::sdk::Event& ev) {
    if (ev.type() != RAMPART_EV_RL_OVER) return;
    if (ev.bytes().size() < sizeof(rampart_rl_event)) {
      malformed_.inc();
      return;
    }
    rampart_rl_event e;
    std::memcpy(&e, ev.bytes().data(), sizeof e);
    const int action = e.action & 1;
    events_[action].inc();
    if (!(alert_on_.load(std::memory_order_relaxed) & (1u << action))) return;
    char src[INET6_ADDRSTRLEN] = {};
    inet_ntop(e.family == RAMPART_FAMILY_V6 ? AF_INET6 : AF_INET, e.src_addr, src, sizeof src);
    const std::string policy =
        e.policy_id ? "policy " + std::to_string(e.policy_id) : "the default policy";
    const std::string msg =
        std::string(src) + (e.family == RAMPART_FAMILY_V6 ? "/64" : "") + " over " + policy + " (" +
        std::to_string(e.observed) + " of " + std::to_string(e.limit) + " " +
        (e.algo == RAMPART_RL_FIXED_WINDOW || e.algo == RAMPART_RL_SLIDING_WINDOW ? "per window"
                                                                                  : "burst") +
        "): " + (action == RAMPART_RL_DROP ? "dropping" : "passing") + " what exceeds it";
    // The alert points into these strings: they live until it is emitted.
    const std::string rule = "ratelimit:" + std::to_string(e.policy_id);
    rampart_alert a = rampart::sdk::make_alert(RAMPART_SEVERITY_MEDIUM, rule, msg,
                                               {"T1498", "Network Denial of Service", "Impact"});
    a.action = action == RAMPART_RL_DROP ? RAMPART_ALERT_ACTION_BLOCK : RAMPART_ALERT_ACTION_ALERT;
    a.time_ns = realtime_of(e.hdr.ts_ns);
    a.ip_family = e.family;
    a.protocol = e.protocol;
    std::memcpy(a.src_addr, e.src_addr, 16);
    a.dst_port = e.dst_port;
    host_.emit_alert(a);
  }

 private:
  using Policies = std::map<uint32_t, Policy>;  // by id; 0: the default

  Settings settings() {
    std::lock_guard lock(mu_);
    return settings_;
  }

  static Policies parse_bodies(const std::vector<rampart::sdk::RuleBody>& bodies) {
    Policies out;
    for (const auto& b : bodies) {
      try {
        out.emplace(static_cast<uint32_t>(b.id),
                    rampart::ratelimit::policy_from_json(b.body, b.id));
      } catch (const PolicyError& e) {
        throw refused("policy " + std::to_string(b.id) + ": " + e.what());
      }
    }
    return out;
  }

  struct Built {
    std::map<uint32_t, rampart::ratelimit::Placement> at;
    rampart::ratelimit::Tables tables;
  };

  // The policies with the config's default, placed and laid out; throws
  // what is wrong with the set as a whole.
  Built check(const Settings& s, const Policies& api) {
    const auto geo = geo_for(s, api);  // held while the tables are built
    return check(s, api, geo.get());
  }

  static Built check(const Settings& s, const Policies& api,
                     const rampart::geo::CountryNetworks* geo) {
    std::vector<const Policy*> all;
    for (const auto& p : s.policies) all.push_back(&p);
    for (const auto& [id, p] : api) all.push_back(&p);
    if (s.default_policy) all.push_back(&*s.default_policy);
    Built b;
    try {
      b.at = rampart::ratelimit::place(all);
      std::vector<rampart::ratelimit::Placed> placed;
      for (const Policy* p : all) placed.push_back({b.at.at(p->id), p});
      b.tables = rampart::ratelimit::build_tables(placed, s.exempt, geo);
    } catch (const PolicyError& e) {
      throw refused(e.what());
    }
    return b;
  }

  // The country database's networks for the countries `s` and `api` name
  // (null when none does): read again when the file, or the countries
  // asked for, changed. Throws a refusal naming the file. Shared: a
  // validate on the control thread may read a newer one meanwhile.
  std::shared_ptr<const rampart::geo::CountryNetworks> geo_for(const Settings& s,
                                                               const Policies& api) {
    std::set<std::string> wanted;
    for (const auto& p : s.policies) wanted.insert(p.countries.begin(), p.countries.end());
    for (const auto& [id, p] : api) wanted.insert(p.countries.begin(), p.countries.end());
    if (wanted.empty()) return nullptr;
    if (s.country_db.empty())
      throw refused("policies name countries (" + *wanted.begin() +
                    (wanted.size() > 1 ? ", ..." : "") + ") and no country_db is configured");
    const auto stamp = rampart::geo::stamp_of(s.country_db);
    std::lock_guard lock(geo_mu_);
    if (geo_ && geo_path_ == s.country_db && geo_stamp_ == stamp && geo_wanted_ == wanted)
      return geo_;
    try {
      geo_ = std::make_shared<const rampart::geo::CountryNetworks>(
          rampart::geo::country_networks(s.country_db, wanted));
      geo_path_ = s.country_db;
      geo_stamp_ = stamp;
      geo_wanted_ = wanted;
      geo_error_.clear();
    } catch (const rampart::geo::CountryError& e) {
      geo_error_ = e.what();
      // The old networks stay (a watcher does not retry this file's
      // contents: they are known bad until the file changes again).
      if (geo_ && geo_path_ == s.country_db && geo_wanted_ == wanted) geo_stamp_ = stamp;
      throw refused(std::string("country_db: ") + e.what());
    }
    return geo_;
  }

  // A country database that changes on disk (inode, size, mtime) is read
  // again and the policies installed with it, every 5 s at most; a file
  // that does not read leaves the running tables and is reported.
  void watch_country_db() {
    std::unique_lock lock(watch_mu_);
    while (!watch_cv_.wait_for(lock, std::chrono::seconds(5), [this] { return stopping_; })) {
      lock.unlock();
      const Settings s = settings();
      bool changed = false;
      {
        std::lock_guard g(geo_mu_);
        changed =
            geo_ && !s.country_db.empty() && rampart::geo::stamp_of(s.country_db) != geo_stamp_;
      }
      if (changed) {
        try {
          std::lock_guard install_lock(install_mu_);
          install(without_policies(s), installed_api_);
          host_.info("country database " + s.country_db + " read again and installed");
        } catch (const Error& e) {
          host_.error(std::string("country database change not applied: ") + e.what());
        }
      }
      lock.lock();
    }
  }

  static Settings without_policies(Settings s) {
    s.policies.clear();  // the store holds them, with the API's
    return s;
  }

  // The config's policies go to the store (config-owned ids); what the
  // store then holds is installed with the config's default and exempt list.
  void claim_and_install(const Settings& s) {
    std::vector<rampart::sdk::RuleBody> declared;
    for (const auto& p : s.policies)
      declared.push_back({p.id, rampart::ratelimit::policy_to_json(p)});
    std::optional<std::vector<rampart::sdk::RuleBody>> stored;
    try {
      stored = host_.claim_rules(kDomain, declared);
      host_.describe_domain(kDomain,
                            "Rate limit policies: per-source packet rates over source prefixes "
                            "(token or leaky bucket, fixed or sliding window), drop or alert",
                            rampart::ratelimit::policy_schema_json());
    } catch (const Error& e) {
      if (e.status() != RAMPART_ERR_UNSUPPORTED) throw;
      host_.warn(std::string("no rule store, using the config's policies only: ") + e.what());
      stored = declared;
    }
    std::lock_guard lock(install_mu_);
    install(without_policies(s), parse_bodies(*stored));
  }

  // Installs (install_mu_ held): one instance for the whole set.
  void install(const Settings& s, Policies api) {
    Built b = check(s, api);
    Policies api_only = api;  // before the default joins them
    auto stage = s.stage;
    stage.ncpus = rampart::cpus::possible();  // a merge reads each
    if (!stage.ncpus) throw Error(RAMPART_ERR_INTERNAL, "cannot read the possible CPUs");
    rampart::sdk::Program next;
    try {
      next = host_.install_program(rampart::ratelimit::program_image(b.tables, stage));
    } catch (const Error& e) {
      if (e.status() != RAMPART_ERR_UNSUPPORTED) throw;
      host_.warn(std::string("policies checked but not enforced: ") + e.what());
      host_.report_enforcing(false,
                             std::string("rate limits checked but not enforced: ") + e.what());
      return;
    }
    const bool first = !program_;
    program_ = std::move(next);
    if (s.default_policy) api.emplace(0, *s.default_policy);
    export_policies(api, b.at, first);
    if (first) {
      // Every packet is passed, dropped, over_passed, exempt or unlimited
      // (not_ip and errors are unlimited ones); merges and new_sources
      // count table work, meta_failed passed packets: families of their own.
      host_.export_counter_families(
          RAMPART_NAME(RAMPART_RL_MAP_STATS), "xdp_ratelimit", rampart::ratelimit::stat_names(),
          {rampart::counters::packets({RAMPART_RL_STAT_PASSED, RAMPART_RL_STAT_DROPPED,
                                       RAMPART_RL_STAT_OVER_PASSED, RAMPART_RL_STAT_EXEMPT,
                                       RAMPART_RL_STAT_UNLIMITED}),
           rampart::counters::events_lost(
               {RAMPART_RL_STAT_EVENTS_DROPPED, RAMPART_RL_STAT_EVENTS_LIMITED})});
    }
    installed_ = std::move(api);
    installed_api_ = std::move(api_only);
    placed_ = std::move(b.at);
    installed_settings_ = s;
    installed_settings_.stage = stage;
    policies_.set(static_cast<double>(installed_.size()));
    reloads_.inc();
    host_.info("installed " + std::to_string(installed_.size()) + " rate limit policies" +
               (s.default_policy ? " (with a default)" : " (no default: other sources unlimited)"));
  }

  // rampart_ratelimit_policy_packets_total{policy,outcome}: one export per
  // policy, at its index's four counters; a policy gone is withdrawn. A
  // policy new to an index counts from what the index holds now (another
  // policy may have had it); at start, counts go on from the last run's.
  void export_policies(const Policies& next,
                       const std::map<uint32_t, rampart::ratelimit::Placement>& at, bool first) {
    const std::vector<std::string> names(std::begin(kPolicyCounters), std::end(kPolicyCounters));
    for (const auto& [id, p] : installed_) {
      if (!next.count(id) || placed_.at(id).index != at.at(id).index) {
        const std::string key = "xdp_ratelimit_policy_" + std::to_string(id);
        host_.export_counters(RAMPART_NAME(RAMPART_RL_MAP_POLICY_STATS),
                              "rampart_ratelimit_policy_packets_total", "", {}, "outcome", {},
                              key.c_str());
        base_.erase(id);
      }
    }
    for (const auto& [id, p] : next) {
      const uint32_t index = at.at(id).index;
      const auto was = placed_.find(id);
      if (was != placed_.end() && was->second.index == index && installed_.count(id)) continue;
      base_[id] = first ? std::array<uint64_t, 4>{}
                        : to_array(program_.counters(RAMPART_NAME(RAMPART_RL_MAP_POLICY_STATS),
                                                     index * RAMPART_RL_POLICY_COUNTERS, 4));
      const std::string key = "xdp_ratelimit_policy_" + std::to_string(id);
      try {
        host_.export_counters(
            RAMPART_NAME(RAMPART_RL_MAP_POLICY_STATS), "rampart_ratelimit_policy_packets_total",
            "Packets by rate limit policy and outcome (since the policy took its place)",
            {{"policy", std::to_string(id)}}, "outcome", names, key.c_str(),
            index * RAMPART_RL_POLICY_COUNTERS);
      } catch (const Error& e) {
        host_.debug(std::string("policy counters not exported: ") + e.what());
      }
    }
  }

  static std::array<uint64_t, 4> to_array(const std::vector<uint64_t>& v) {
    std::array<uint64_t, 4> a{};
    for (size_t i = 0; i < 4 && i < v.size(); ++i) a[i] = v[i];
    return a;
  }

  // A policy as status shows it: its body's fields, where it sits, what it counted.
  Poco::JSON::Object::Ptr policy_json(const Policy& p, uint32_t id) const {
    Poco::JSON::Parser parser;
    auto o = parser.parse(rampart::ratelimit::policy_to_json(p)).extract<Poco::JSON::Object::Ptr>();
    const auto at = placed_.find(id);
    if (at == placed_.end() || !program_) return o;
    o->set("index", at->second.index);
    o->set("slot_ns", rampart::ratelimit::period_ns(p));
    const auto now = program_.counters(RAMPART_NAME(RAMPART_RL_MAP_POLICY_STATS),
                                       at->second.index * RAMPART_RL_POLICY_COUNTERS, 4);
    const auto base = base_.count(id) ? base_.at(id) : std::array<uint64_t, 4>{};
    for (size_t i = 0; i < 4; ++i) o->set(kPolicyCounters[i], now[i] - std::min(now[i], base[i]));
    return o;
  }

  Host& host_;
  std::mutex mu_;          // settings_
  std::mutex install_mu_;  // one install at a time; what is installed
  Settings settings_;
  Settings installed_settings_;
  Policies installed_;
  Policies installed_api_;  // the store's policies, as last installed
  std::map<uint32_t, rampart::ratelimit::Placement> placed_;
  // The country database as last read (geo_mu_).
  std::mutex geo_mu_;
  std::shared_ptr<const rampart::geo::CountryNetworks> geo_;
  std::string geo_path_, geo_error_;
  rampart::geo::FileStamp geo_stamp_;
  std::set<std::string> geo_wanted_;
  std::mutex watch_mu_;
  std::condition_variable watch_cv_;
  bool stopping_ = false;
  std::thread watcher_;
  std::map<uint32_t, std::array<uint64_t, 4>> base_;  // by policy id
  std::atomic<uint8_t> alert_on_{0};
  rampart::sdk::Program program_;
  rampart::sdk::Metric policies_, reloads_, malformed_, events_[2];
};

}  // namespace

RAMPART_PLUGIN(RateLimitEngine, RAMPART_KIND_ENGINE, "ratelimit", "XDP rate limiting",
               RAMPART_AGENT_VERSION, "Apache-2.0",
               "Per-source packet rate limits over source prefixes, in XDP behind the firewall")
