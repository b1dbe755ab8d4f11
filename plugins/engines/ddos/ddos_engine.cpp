// SPDX-License-Identifier: Apache-2.0
// The DDoS engine: SYN cookies answered in XDP for destinations under a
// SYN flood (xdp_ddos) and their ACKs turned into connections at TC ingress
// (tc_ddos); ICMP echoes and reflectors' UDP held to their rates in XDP;
// each protection's rate followed (EWMA of its counters every 100 ms) through
// an attack's lifecycle with an alert at each step; the countries a flood
// comes from blocked in the firewall's blocklist over their thresholds
// (docs/ddos.md).
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <rampart/sdk/plugin.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "attack_tracker.hpp"
#include "auto_block.hpp"
#include "blocklist_client.hpp"
#include "countries.hpp"
#include "cpus.hpp"
#include "kernel_counter_families.hpp"
#include "kernel_time.hpp"
#include "rampart/ddos.h"
#include "stage_settings.hpp"

namespace {

using rampart::ddos::StageSettings;
using rampart::sdk::Config;
using rampart::sdk::Error;
using rampart::sdk::Host;

// The stages' counters by name, in their enums' order (a name missing is
// a compile error).
constexpr std::array<const char*, RAMPART_DDOS_STAT_MAX> kXdpStats = {
    "syn",         "syn_passed",      "cookies_sent",      "cookie_failed",
    "ack_checked", "ack_valid",       "ack_dropped",       "ack_known",
    "tripped",     "mode_entered",    "events_dropped",    "meta_failed",
    "malformed",   "icmp_echo",       "icmp_rate_dropped", "icmp_size_dropped",
    "udp_amp",     "udp_amp_dropped", "untracked",         "untracked_dropped"};
constexpr std::array<const char*, RAMPART_DDOS_TC_STAT_MAX> kTcStats = {
    "assigned", "no_listener", "assign_failed", "default_mss", "malformed"};
static_assert(kXdpStats.back() != nullptr && kTcStats.back() != nullptr, "a counter has no name");

template <size_t N>
std::vector<std::string> names_of(const std::array<const char*, N>& a) {
  return {a.begin(), a.end()};
}

struct Settings {
  StageSettings stage;
  bool alert = true;
  uint32_t attack_hold_s = 10;  // an attack ends this long after its rate fell under the threshold
  rampart::ddos::AutoBlockSettings auto_block;  // its thresholds: the `ddos` domain's
  std::shared_ptr<const rampart::geo::CountryLookup> countries;  // when auto_block is on
  std::vector<rampart::ddos::Threshold> declared;  // the config's thresholds (rules of the domain)
};

constexpr const char* kDomain = "ddos";

// The protections the lifecycle follows: the counter of what they see, of
// what the kernel did about it, their threshold and their alert.
struct Protection {
  const char* name;
  uint32_t seen, acted, acted2;  // rampart_ddos_stat (acted2: a second one, or seen for none)
  const char* technique;
  const char* technique_name;
};
constexpr std::array<Protection, 4> kProtections = {{
    {"syn", RAMPART_DDOS_STAT_SYN, RAMPART_DDOS_STAT_COOKIES_SENT, RAMPART_DDOS_STAT_MAX,
     "T1499.001", "OS Exhaustion Flood"},
    {"icmp", RAMPART_DDOS_STAT_ICMP_ECHO, RAMPART_DDOS_STAT_ICMP_RATE_DROPPED,
     RAMPART_DDOS_STAT_ICMP_SIZE_DROPPED, "T1498.001", "Direct Network Flood"},
    {"udp_amplification", RAMPART_DDOS_STAT_UDP_AMP, RAMPART_DDOS_STAT_UDP_AMP_DROPPED,
     RAMPART_DDOS_STAT_MAX, "T1498.002", "Reflection Amplification"},
    {"untracked", RAMPART_DDOS_STAT_UNTRACKED, RAMPART_DDOS_STAT_UNTRACKED_DROPPED,
     RAMPART_DDOS_STAT_MAX, "T1498.001", "Direct Network Flood"},
}};

// auto_block: the country database (opened here, so a bad one is refused
// with its key), thresholds per country or default, for how long, how many
// networks a country, which never.
void parse_auto_block(const Config& cfg, Settings& s) {
  const std::string k = "auto_block";
  if (!cfg.has(k)) return;
  cfg.allow_only(k, {"country_db", "thresholds", "for_s", "max_networks", "never"});
  auto& a = s.auto_block;
  a.country_db = cfg.require<std::string>(k + ".country_db");
  if (a.country_db.empty()) throw cfg.invalid(k + ".country_db", "a country database's path");
  try {
    s.countries = std::make_shared<const rampart::geo::CountryLookup>(a.country_db);
  } catch (const rampart::geo::CountryError& e) {
    throw cfg.invalid(k + ".country_db", e.what());
  }
  // Thresholds: rules of the `ddos` domain the config declares (the API
  // adds its own), each checked as the API checks a body.
  for (size_t i = 0, n = cfg.has(k + ".thresholds") ? cfg.size(k + ".thresholds") : 0; i < n; ++i) {
    const std::string at = k + ".thresholds." + std::to_string(i);
    cfg.allow_only(at, {"id", "country", "rate"});
    rampart::ddos::Threshold t;
    t.id = cfg.require<uint32_t>(at + ".id");
    t.country = cfg.require<std::string>(at + ".country");
    t.rate = cfg.require<uint32_t>(at + ".rate");
    try {
      s.declared.push_back(
          rampart::ddos::threshold_from_json(rampart::ddos::threshold_to_json(t), 0));
    } catch (const rampart::ddos::ThresholdError& e) {
      const std::string m = e.what();
      const auto colon = m.find(": ");
      throw cfg.invalid(at + "." + m.substr(0, colon), m.substr(colon + 2));
    }
  }
  try {
    rampart::ddos::set_thresholds(a, s.declared);
  } catch (const rampart::ddos::ThresholdError& e) {
    throw cfg.invalid(k + ".thresholds", e.what());
  }
  a.for_s = cfg.get_in<uint32_t>(k + ".for_s", a.for_s, 1, 30 * 86400, " seconds");
  a.max_networks = cfg.get_in<uint32_t>(k + ".max_networks", a.max_networks, 1, 65536, " networks");
  if (cfg.has(k + ".never")) {
    for (size_t i = 0, n = cfg.size(k + ".never"); i < n; ++i) {
      const std::string at = k + ".never." + std::to_string(i);
      std::string err;
      const auto c = rampart::net::parse_cidr(cfg.require<std::string>(at), err);
      if (!c) throw cfg.invalid(at, err);
      a.never.push_back(*c);
    }
  }
}

Settings parse(const Config& cfg) {
  cfg.allow_only("", {"syn_cookies", "syn_rate", "syn_hold_s", "max_destinations", "alert",
                      "icmp_rate", "icmp_max_payload", "udp_amplification", "attack_hold_s",
                      "untracked_rate", "auto_block"});
  Settings s;
  StageSettings& st = s.stage;
  if (cfg.has("syn_cookies")) {
    const auto m = rampart::ddos::parse_mode(cfg.require<std::string>("syn_cookies"));
    if (!m) throw cfg.invalid("syn_cookies", "expected off, auto or always");
    st.mode = *m;
  }
  st.rate =
      cfg.get_in<uint32_t>("syn_rate", st.rate, 1, rampart::ddos::kMaxSynRate, " SYNs a second");
  st.hold_s =
      cfg.get_in<uint32_t>("syn_hold_s", st.hold_s, 1, rampart::ddos::kMaxHoldSeconds, " seconds");
  st.max_destinations =
      cfg.get_in<uint32_t>("max_destinations", st.max_destinations, rampart::ddos::kMinDestinations,
                           rampart::ddos::kMaxDestinations, "");
  s.alert = cfg.get<bool>("alert", s.alert);
  st.icmp_rate = cfg.get_in<uint32_t>("icmp_rate", 10000, 0, rampart::ddos::kMaxSynRate,
                                      " echoes a second (0: no limit)");
  st.icmp_max_payload =
      cfg.get_in<uint32_t>("icmp_max_payload", 0, 0, 65507, " bytes (0: no limit)");
  st.untracked_rate = cfg.get_in<uint32_t>("untracked_rate", 1000, 0, rampart::ddos::kMaxSynRate,
                                           " segments a second (0: no limit)");
  s.attack_hold_s = cfg.get_in<uint32_t>("attack_hold_s", s.attack_hold_s, 1,
                                         rampart::ddos::kMaxHoldSeconds, " seconds");
  // UDP from reflectors' source ports: a rate for each listed port.
  const std::string udp = "udp_amplification";
  cfg.allow_only(udp, {"rate", "ports", "port_rates"});
  const uint32_t rate = cfg.get_in<uint32_t>(udp + ".rate", 1000, 0, rampart::ddos::kMaxSynRate,
                                             " packets a second (0: off)");
  std::vector<uint32_t> ports;
  if (cfg.has(udp + ".ports")) {
    for (size_t i = 0, n = cfg.size(udp + ".ports"); i < n; ++i) {
      const std::string at = udp + ".ports." + std::to_string(i);
      const uint32_t p = cfg.require<uint32_t>(at);
      if (p < 1 || p > 65535) throw cfg.invalid(at, "must be a port, 1-65535");
      ports.push_back(p);
    }
  } else {
    ports.assign(std::begin(rampart::ddos::kDefaultUdpPorts),
                 std::end(rampart::ddos::kDefaultUdpPorts));
  }
  if (rate) {
    for (uint32_t p : ports) st.udp_ports[static_cast<uint16_t>(p)] = rate;
  }
  if (cfg.has(udp + ".port_rates")) {
    for (const auto& key : cfg.keys(udp + ".port_rates")) {
      const std::string at = udp + ".port_rates." + key;
      char* end = nullptr;
      const unsigned long p = std::strtoul(key.c_str(), &end, 10);
      if (key.empty() || *end != '\0' || p < 1 || p > 65535)
        throw cfg.invalid(at, "the key must be a port, 1-65535");
      st.udp_ports[static_cast<uint16_t>(p)] =
          cfg.get_in<uint32_t>(at, 0, 0, rampart::ddos::kMaxSynRate, " packets a second (0: off)");
    }
  }
  parse_auto_block(cfg, s);
  size_t limited = 0;
  for (const auto& [p, r] : st.udp_ports) limited += r ? 1 : 0;
  if (limited > RAMPART_DDOS_MAX_UDP_PORTS)
    throw cfg.invalid(udp, "at most " + std::to_string(RAMPART_DDOS_MAX_UDP_PORTS) +
                               " limited ports (" + std::to_string(limited) + " given)");
  // Cookies the kernel cannot turn into connections would refuse every
  // client: refused here, before anything is installed.
  if (st.mode != RAMPART_DDOS_SYN_OFF) {
    const auto sys = rampart::ddos::read_tcp_sysctls();
    const std::string why = rampart::ddos::cookies_unavailable(sys);
    if (!why.empty()) throw cfg.invalid("syn_cookies", why);
    st.options = rampart::ddos::allowed_options(sys);
  }
  return s;
}

class DdosEngine {
 public:
  static constexpr const char* kSecretSettings[] = {nullptr};

  DdosEngine(Host& host, const Config& cfg) : host_(host), settings_(parse(cfg)) {
    source_ = host_.register_source(rampart::ddos::kXdpStage);
    floods_ = host_.counter("rampart_ddos_syn_floods_total",
                            "Destinations that went into SYN cookie mode");
    malformed_ = host_.counter("rampart_ddos_malformed_events_total", "Events too short to decode");
    for (size_t i = 0; i < kProtections.size(); ++i) {
      const rampart::sdk::Labels l = {{"protection", kProtections[i].name}};
      phase_[i] = host_.gauge("rampart_ddos_attack_phase",
                              "Attack phase per protection: 0 normal, 1 detecting, 2 active, "
                              "3 mitigating",
                              l);
      rate_[i] = host_.gauge("rampart_ddos_rate",
                             "Packets a second each protection sees (EWMA over 100 ms samples)", l);
      attacks_[i] = host_.counter("rampart_ddos_attacks_total",
                                  "Attacks that became active, per protection", l);
      dropping_[i] = host_.counter("rampart_ddos_drop_windows_total",
                                   "100 ms windows of a CPU in which the protection dropped", l);
      country_blocks_[i] = host_.counter("rampart_ddos_country_blocks_total",
                                         "Countries auto-blocked during a flood", l);
      blocked_networks_[i] =
          host_.counter("rampart_ddos_blocked_networks_total",
                        "Networks written to the firewall's blocklist by the auto-block", l);
    }
    trackers_ = make_trackers(settings_);
  }

  void start() {
    claim(settings_);
    install(settings_);
    monitor_ = std::thread([this] { monitor(); });
    blocker_ = std::thread([this] { blocker(); });
  }
  void validate(const Config& cfg) { parse(cfg); }
  void reload(const Config& cfg) {
    Settings next = parse(cfg);
    claim(next);
    install(next);
    std::lock_guard lock(mu_);
    for (size_t i = 0; i < kProtections.size(); ++i)
      trackers_[i].set_threshold(threshold_of(next, i));
    settings_ = std::move(next);
  }
  void stop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    halt_ = true;  // a blocker writing entries stops at the next
    cv_.notify_all();
    jobs_cv_.notify_all();
    if (monitor_.joinable()) monitor_.join();
    if (blocker_.joinable()) blocker_.join();
  }
  ~DdosEngine() { stop(); }

  // The `ddos` domain's thresholds, in effect at once.
  void apply_rules(std::string_view domain, const std::vector<rampart::sdk::RuleBody>& bodies) {
    if (domain != kDomain) throw Error(RAMPART_ERR_INVALID_ARGUMENT, "not the ddos domain");
    const auto set = thresholds_of(bodies);
    std::lock_guard lock(mu_);
    rampart::ddos::AutoBlockSettings next = settings_.auto_block;
    set_thresholds_or_throw(next, set);
    settings_.auto_block = std::move(next);
  }

  // GET /api/v1/ddos/status
  std::string domain_status(std::string_view domain) {
    if (domain != kDomain) throw Error(RAMPART_ERR_NOT_FOUND, "not the ddos domain");
    std::lock_guard lock(mu_);
    Poco::JSON::Object o(Poco::JSON_PRESERVE_KEY_ORDER);
    o.set("enforced", static_cast<bool>(xdp_));
    Poco::JSON::Array protections;
    for (size_t i = 0; i < kProtections.size(); ++i) {
      Poco::JSON::Object p(Poco::JSON_PRESERVE_KEY_ORDER);
      p.set("name", kProtections[i].name);
      p.set("phase", rampart::ddos::phase_name(trackers_[i].phase()));
      p.set("rate", trackers_[i].rate());
      const double threshold = threshold_of(settings_, i);  // 1e18: no limit
      p.set("threshold", threshold < 1e17 ? Poco::Dynamic::Var(threshold) : Poco::Dynamic::Var());
      protections.add(p);
    }
    o.set("protections", protections);
    const auto& a = settings_.auto_block;
    Poco::JSON::Object ab(Poco::JSON_PRESERVE_KEY_ORDER);
    ab.set("enabled", a.enabled());
    ab.set("country_db", a.enabled() ? Poco::Dynamic::Var(a.country_db) : Poco::Dynamic::Var());
    ab.set("thresholds", static_cast<uint64_t>(a.thresholds.size() + (a.default_threshold > 0)));
    const auto now = std::chrono::steady_clock::now().time_since_epoch();
    Poco::JSON::Array blocked;
    for (const auto& [country, until] : blocked_until_) {
      if (until <= now) continue;
      Poco::JSON::Object b(Poco::JSON_PRESERVE_KEY_ORDER);
      b.set("country", country);
      b.set("seconds_left", std::chrono::duration_cast<std::chrono::seconds>(until - now).count());
      blocked.add(b);
    }
    ab.set("blocked", blocked);
    o.set("auto_block", ab);
    std::ostringstream out;
    o.stringify(out);
    return out.str();
  }

  void on_event(const rampart::sdk::Event& ev) {
    if (ev.type() == RAMPART_EV_DDOS_DROPPING) {
      if (ev.bytes().size() < sizeof(rampart_ddos_drop_event)) {
        malformed_.inc();
        return;
      }
      rampart_ddos_drop_event e;
      std::memcpy(&e, ev.bytes().data(), sizeof e);
      if (e.protection >= kProtections.size()) return;
      if (e.sample == 0) dropping_[e.protection].inc();
      std::lock_guard lock(mu_);
      if (e.protection == RAMPART_DDOS_PROT_UDP_AMP) last_port_ = e.port;
      // The source's country, for the auto-block.
      if (settings_.countries)
        tallies_[e.protection].add(
            std::chrono::steady_clock::now().time_since_epoch(),
            settings_.countries->country(e.family == RAMPART_FAMILY_V6 ? 6 : 4, e.src_addr));
      return;
    }
    if (ev.type() != RAMPART_EV_DDOS_SYN_FLOOD) return;
    if (ev.bytes().size() < sizeof(rampart_ddos_syn_event)) {
      malformed_.inc();
      return;
    }
    rampart_ddos_syn_event e;
    std::memcpy(&e, ev.bytes().data(), sizeof e);
    floods_.inc();
    if (!alert_.load(std::memory_order_relaxed)) return;
    const bool v6 = e.dst.family == RAMPART_FAMILY_V6;
    char dst[INET6_ADDRSTRLEN] = {};
    inet_ntop(v6 ? AF_INET6 : AF_INET, e.dst.addr, dst, sizeof dst);
    const uint16_t port = ntohs(e.dst.port);
    const std::string where = v6 ? "[" + std::string(dst) + "]:" + std::to_string(port)
                                 : std::string(dst) + ":" + std::to_string(port);
    const std::string msg = "SYN flood on " + where + " (" + std::to_string(e.syns) +
                            " SYNs in 100 ms on one CPU, threshold " + std::to_string(e.threshold) +
                            "): answering with SYN cookies from XDP";
    const std::string rule = "ddos:syn_flood";
    rampart_alert a = rampart::sdk::make_alert(RAMPART_SEVERITY_HIGH, rule, msg,
                                               {"T1499.001", "OS Exhaustion Flood", "Impact"});
    a.action = RAMPART_ALERT_ACTION_BLOCK;
    a.time_ns = rampart::kernel_time::realtime_of(e.hdr.ts_ns);
    a.ip_family = e.dst.family;
    a.protocol = IPPROTO_TCP;
    std::memcpy(a.dst_addr, e.dst.addr, 16);
    a.dst_port = port;
    host_.emit_alert(a);
  }

 private:
  using Trackers = std::vector<rampart::ddos::AttackTracker>;

  static std::vector<rampart::ddos::Threshold> thresholds_of(
      const std::vector<rampart::sdk::RuleBody>& bodies) {
    std::vector<rampart::ddos::Threshold> out;
    for (const auto& b : bodies) {
      try {
        out.push_back(rampart::ddos::threshold_from_json(b.body, b.id));
      } catch (const rampart::ddos::ThresholdError& e) {
        throw Error(RAMPART_ERR_INVALID_ARGUMENT,
                    "threshold " + std::to_string(b.id) + ": " + e.what());
      }
    }
    return out;
  }
  static void set_thresholds_or_throw(rampart::ddos::AutoBlockSettings& a,
                                      const std::vector<rampart::ddos::Threshold>& set) {
    try {
      rampart::ddos::set_thresholds(a, set);
    } catch (const rampart::ddos::ThresholdError& e) {
      throw Error(RAMPART_ERR_INVALID_ARGUMENT, e.what());
    }
  }

  // The config's thresholds to the store (config-owned ids); what the
  // store then holds, the API's with them, are the thresholds in force.
  void claim(Settings& s) {
    std::vector<rampart::sdk::RuleBody> declared;
    for (const auto& t : s.declared)
      declared.push_back({t.id, rampart::ddos::threshold_to_json(t)});
    std::vector<rampart::sdk::RuleBody> stored;
    try {
      stored = host_.claim_rules(kDomain, declared);
      host_.describe_domain(kDomain,
                            "DDoS auto-block thresholds: a country's packets a second in a flood "
                            "over which its networks go in the firewall's blocklist",
                            rampart::ddos::threshold_schema_json());
    } catch (const Error& e) {
      if (e.status() != RAMPART_ERR_UNSUPPORTED) throw;
      host_.warn(std::string("no rule store, using the config's thresholds only: ") + e.what());
      stored = declared;
    }
    set_thresholds_or_throw(s.auto_block, thresholds_of(stored));
  }

  // What starts an attack for each protection: the rate its kernel limit
  // is set at (for UDP, the default rate of a listed port).
  static double threshold_of(const Settings& s, size_t i) {
    switch (i) {
      case 0:
        return s.stage.rate;
      case 1:
        return s.stage.icmp_rate ? s.stage.icmp_rate : 1e18;
      default: {
        uint32_t lowest = 0;
        for (const auto& [p, r] : s.stage.udp_ports)
          if (r && (!lowest || r < lowest)) lowest = r;
        return lowest ? lowest : 1e18;
      }
    }
  }
  static Trackers make_trackers(const Settings& s) {
    Trackers t;
    for (size_t i = 0; i < kProtections.size(); ++i) {
      rampart::ddos::AttackTracker::Options o;
      o.threshold = threshold_of(s, i);
      o.hold = std::chrono::seconds(s.attack_hold_s);
      t.emplace_back(o);
    }
    return t;
  }

  // Every 100 ms: the stage's counters into each protection's tracker.
  void monitor() {
    std::unique_lock lock(mu_);
    while (!cv_.wait_for(lock, std::chrono::milliseconds(100), [this] { return stopping_; })) {
      std::vector<uint64_t> c;
      try {
        if (!xdp_) continue;
        c = xdp_.counters(RAMPART_NAME(RAMPART_DDOS_MAP_STATS), 0, RAMPART_DDOS_STAT_MAX);
      } catch (const Error& e) {
        continue;
      }
      const auto now = std::chrono::steady_clock::now().time_since_epoch();
      for (size_t i = 0; i < kProtections.size(); ++i) {
        const auto& p = kProtections[i];
        const uint64_t acted = c[p.acted] + (p.acted2 < c.size() ? c[p.acted2] : 0);
        const auto step = trackers_[i].sample(now, c[p.seen], acted);
        rate_[i].set(trackers_[i].rate());
        phase_[i].set(static_cast<double>(trackers_[i].phase()));
        if (step) report(i, *step);
        // SYN floods are not sampled (their sources are spoofed).
        if (i != RAMPART_DDOS_PROT_SYN && settings_.auto_block.enabled()) weigh_countries(i, now);
      }
    }
  }

  // A flood being fought: its countries over their thresholds go to the
  // blocker, each once until its entries expire (mu_ held).
  void weigh_countries(size_t i, std::chrono::nanoseconds now) {
    const auto ph = trackers_[i].phase();
    if (ph != rampart::ddos::Phase::active && ph != rampart::ddos::Phase::mitigating) return;
    const auto& a = settings_.auto_block;
    for (const auto& [country, rate] :
         rampart::ddos::countries_over(a, trackers_[i].rate(), tallies_[i].shares(now))) {
      auto& until = blocked_until_[country];
      if (until > now) continue;
      until = now + std::chrono::seconds(a.for_s);
      jobs_.push_back({i, country, rate, a});
      jobs_cv_.notify_one();
    }
  }

  struct BlockJob {
    size_t protection;
    std::string country;
    double rate;  // the country's part of the flood, packets a second
    rampart::ddos::AutoBlockSettings settings;
  };

  // The blocker's thread: the country database walked and the entries
  // written away from the monitor, which keeps its 100 ms.
  void blocker() {
    std::unique_lock lock(mu_);
    for (;;) {
      jobs_cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (stopping_) return;
      BlockJob j = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      block(j);
      lock.lock();
    }
  }

  // A country's networks, walked once per database file (blocker thread).
  const std::vector<rampart::net::Cidr>& networks_of(const std::string& db,
                                                     const std::string& country) {
    const auto stamp = rampart::geo::stamp_of(db);
    if (db != networks_db_ || !(stamp == networks_stamp_)) {
      networks_.clear();
      networks_db_ = db;
      networks_stamp_ = stamp;
    }
    auto it = networks_.find(country);
    if (it == networks_.end()) {
      auto got = rampart::geo::country_networks(db, {country});
      it = networks_.emplace(country, std::move(got.by_country[country])).first;
    }
    return it->second;
  }

  // The entries, one per network (blocker thread).
  void write_entries(const std::vector<rampart::net::Cidr>& networks, const char* reason,
                     int64_t expires, size_t& written) {
    for (const auto& c : networks) {
      if (halt_.load(std::memory_order_relaxed))
        throw Error(RAMPART_ERR_INTERNAL, "rampartd is stopping");
      blocklist_.add(c, reason, expires);
      ++written;
    }
  }

  void block(const BlockJob& j) {
    const auto& p = kProtections[j.protection];
    const auto& a = j.settings;
    const auto t0 = std::chrono::steady_clock::now();
    rampart::ddos::ChosenNetworks chosen;
    size_t known = 0;
    try {
      const auto& nets = networks_of(a.country_db, j.country);
      known = nets.size();
      auto never = a.never;
      for (const auto& h : rampart::blocklist::host_networks()) never.push_back(h);
      for (const auto& h : blocklist_.allowed_by_firewall()) never.push_back(h);
      chosen = rampart::ddos::choose_networks(nets, never, a.max_networks);
    } catch (const rampart::geo::CountryError& e) {
      host_.warn("auto-block of " + j.country + " not done: " + e.what());
      return;
    }
    char why[200];
    std::snprintf(why, sizeof why, "%s flood: %.0f packets/s from %s (threshold %.0f)", p.name,
                  j.rate, j.country.c_str(), a.threshold(j.country));
    const int64_t expires = static_cast<int64_t>(std::time(nullptr)) + a.for_s;
    size_t written = 0;
    std::string failed;
    try {
      write_entries(chosen.networks, why, expires, written);
    } catch (const Error& e) {
      failed = e.what();
    }
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    blocked_networks_[j.protection].inc(static_cast<double>(written));
    std::string what = "auto-block " + j.country + ": " + std::to_string(written) + " of " +
                       std::to_string(known) + " networks listed for " + std::to_string(a.for_s) +
                       " s (" + why + ")";
    if (chosen.spared)
      what += ", " + std::to_string(chosen.spared) + " spared (never list or this host)";
    if (chosen.cut) what += ", " + std::to_string(chosen.cut) + " past max_networks";
    char took[48];
    std::snprintf(took, sizeof took, " in %.0f ms", ms);
    what += took;
    if (!failed.empty()) {
      host_.warn(what + "; stopped: " + failed);
      if (!written) return;
    } else {
      host_.info(what);
    }
    if (!written) return;
    country_blocks_[j.protection].inc();
    if (!alert_.load(std::memory_order_relaxed)) return;
    const std::string rule = std::string("ddos:") + p.name + ":country_blocked";
    rampart_alert al = rampart::sdk::make_alert(RAMPART_SEVERITY_HIGH, rule, what,
                                                {p.technique, p.technique_name, "Impact"});
    al.action = RAMPART_ALERT_ACTION_BLOCK;
    host_.emit_alert(al);
  }

  // An alert for each step of an attack (mu_ held).
  void report(size_t i, const rampart::ddos::AttackStep& s) {
    const auto& p = kProtections[i];
    if (s.to == rampart::ddos::Phase::active) attacks_[i].inc();
    if (s.to == rampart::ddos::Phase::ended) phase_[i].set(0);
    const double secs = std::chrono::duration<double>(s.since).count();
    char rates[160];
    std::snprintf(rates, sizeof rates, "%.0f packets/s (peak %.0f), %llu seen, %llu %s, %.1f s",
                  s.rate, s.peak, static_cast<unsigned long long>(s.packets),
                  static_cast<unsigned long long>(s.mitigated),
                  i == 0 ? "answered with cookies" : "dropped", secs);
    std::string what =
        std::string(p.name) + " flood " + rampart::ddos::phase_name(s.to) + ": " + rates;
    if (i == 2 && last_port_) what += ", source port " + std::to_string(last_port_);
    host_.info("attack " + what);
    if (!alert_.load(std::memory_order_relaxed)) return;
    const rampart_severity sev = s.to == rampart::ddos::Phase::active ? RAMPART_SEVERITY_HIGH
                                 : s.to == rampart::ddos::Phase::mitigating
                                     ? RAMPART_SEVERITY_MEDIUM
                                     : RAMPART_SEVERITY_LOW;
    const std::string rule = std::string("ddos:") + p.name + ":" + rampart::ddos::phase_name(s.to);
    rampart_alert a =
        rampart::sdk::make_alert(sev, rule, what, {p.technique, p.technique_name, "Impact"});
    a.action = s.to == rampart::ddos::Phase::mitigating ? RAMPART_ALERT_ACTION_BLOCK
                                                        : RAMPART_ALERT_ACTION_ALERT;
    host_.emit_alert(a);
  }

  void install(const Settings& s) {
    std::lock_guard lock(install_mu_);
    StageSettings st = s.stage;
    st.ncpus = std::max(1u, rampart::cpus::possible());
    st.event_source = source_;
    rampart::sdk::Program xdp, tc;
    try {
      xdp = host_.install_program(rampart::ddos::xdp_image(st));
      tc = host_.install_program(rampart::ddos::tc_image());
    } catch (const Error& e) {
      if (e.status() != RAMPART_ERR_UNSUPPORTED) throw;
      host_.warn(std::string("DDoS protections not enforced: ") + e.what());
      host_.report_enforcing(false, std::string("DDoS protections not enforced: ") + e.what());
      return;
    }
    bool first;
    {
      std::lock_guard g(mu_);
      first = !xdp_;
      xdp_ = std::move(xdp);
      tc_ = std::move(tc);
    }
    alert_ = s.alert;
    if (first) {
      // xdp_ddos passes most packets uncounted (no partition of them), but
      // every drop is one of five reasons; the protections' own counters
      // (SYNs, ACKs checked, ICMP echoes...) are families of their own, as
      // is all of tc_ddos (it never drops).
      host_.export_counter_families(
          RAMPART_NAME(RAMPART_DDOS_MAP_STATS), rampart::ddos::kXdpStage, names_of(kXdpStats),
          {rampart::counters::drops(
               {RAMPART_DDOS_STAT_ACK_DROPPED, RAMPART_DDOS_STAT_UNTRACKED_DROPPED,
                RAMPART_DDOS_STAT_ICMP_SIZE_DROPPED, RAMPART_DDOS_STAT_ICMP_RATE_DROPPED,
                RAMPART_DDOS_STAT_UDP_AMP_DROPPED}),
           rampart::counters::events_lost({RAMPART_DDOS_STAT_EVENTS_DROPPED})});
      host_.export_counter_families(RAMPART_NAME(RAMPART_DDOS_MAP_TC_STATS),
                                    rampart::ddos::kTcStage, names_of(kTcStats), {});
    }
    host_.info(std::string("SYN cookies ") + rampart::ddos::mode_name(st.mode) +
               (st.mode == RAMPART_DDOS_SYN_AUTO
                    ? " (from " + std::to_string(st.rate) + " SYNs/s to one destination, held " +
                          std::to_string(st.hold_s) + " s)"
                    : std::string()) +
               "; ICMP echoes " +
               (st.icmp_rate ? "at most " + std::to_string(st.icmp_rate) + "/s" : "unlimited") +
               "; UDP from " + std::to_string(st.udp_ports.size()) + " reflector ports limited");
  }

  Host& host_;
  Settings settings_;
  rampart::blocklist::Writer blocklist_{host_, "ddos", "auto-block"};  // blocker thread's
  std::mutex install_mu_;                                              // one install at a time
  std::mutex mu_;  // the programs, trackers, tallies, jobs, settings_ after start, stopping_
  std::condition_variable cv_, jobs_cv_;
  bool stopping_ = false;
  std::thread monitor_, blocker_;
  Trackers trackers_;
  std::array<rampart::ddos::SourceTally, kProtections.size()> tallies_;
  std::map<std::string, std::chrono::nanoseconds> blocked_until_;  // by country
  std::deque<BlockJob> jobs_;
  // The blocker's own: countries' networks from one database file.
  std::string networks_db_;
  rampart::geo::FileStamp networks_stamp_;
  std::map<std::string, std::vector<rampart::net::Cidr>> networks_;
  uint16_t last_port_ = 0;
  uint32_t source_ = 0;
  std::atomic<bool> alert_{true};
  std::atomic<bool> halt_{false};  // stop(): the blocker's writes cut short
  rampart::sdk::Program xdp_, tc_;
  rampart::sdk::Metric floods_, malformed_;
  std::array<rampart::sdk::Metric, kProtections.size()> phase_, rate_, attacks_, dropping_,
      country_blocks_, blocked_networks_;
};

}  // namespace

RAMPART_PLUGIN(DdosEngine, RAMPART_KIND_ENGINE, "ddos", "XDP DDoS protections",
               RAMPART_AGENT_VERSION, "Apache-2.0",
               "SYN cookies answered in XDP under a SYN flood, ICMP and UDP amplification floods "
               "held to their rates, attacks followed from detection to end")
