// SPDX-License-Identifier: Apache-2.0
// The firewall engine: validates the rule set, compiles it into the XDP
// classifier's tables and installs them as one program instance (an atomic
// swap), counts firewall verdict events and raises an alert for every packet
// a `log` rule reports.
#include <rampart/sdk/plugin.hpp>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <arpa/inet.h>

#include <atomic>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>

#include "compiler.hpp"
#include "rampart/firewall.h"
#include "rule.hpp"
#include "rule_json.hpp"
#include "tables.hpp"

namespace {

using rampart::firewall::Action;
using rampart::firewall::Rule;
using rampart::sdk::Config;
using rampart::sdk::Error;
using rampart::sdk::Host;

struct Settings {
  Action default_policy = Action::allow;
  uint32_t allow_sample = 0;
  uint32_t event_rate = rampart::firewall::kDefaultEventRate;
  std::vector<Rule> rules;
  int32_t blocklist_priority = 0;
  uint8_t alert_on = 1u << static_cast<int>(Action::log);  // actions that raise alerts
  // Compiled once per config load (tens of MB for large lists) and shared
  // by every rule-set install until the next reload.
  std::shared_ptr<const rampart::firewall::CompiledBlocklist> blocklist;
};

// plugins.firewall.blocklist: {priority, prefixes: [cidr...], files: [path...]}.
void parse_blocklist(const Config& cfg, Settings& s) {
  if (!cfg.has("blocklist")) return;
  cfg.allow_only("blocklist", {"priority", "prefixes", "files"});
  s.blocklist_priority = cfg.get<int32_t>("blocklist.priority", 0);
  std::vector<rampart::firewall::Cidr> prefixes;
  std::string err;
  for (size_t i = 0, n = cfg.size("blocklist.prefixes"); i < n; ++i) {
    const std::string at = "blocklist.prefixes." + std::to_string(i);
    auto c = rampart::firewall::parse_cidr(cfg.require<std::string>(at), err);
    if (!c) throw cfg.invalid(at, err);
    prefixes.push_back(*c);
  }
  for (size_t i = 0, n = cfg.size("blocklist.files"); i < n; ++i) {
    const std::string at = "blocklist.files." + std::to_string(i);
    try {
      auto more = rampart::firewall::read_blocklist_file(cfg.require<std::string>(at));
      prefixes.insert(prefixes.end(), more.begin(), more.end());
    } catch (const rampart::firewall::BlocklistError& e) {
      throw cfg.invalid(at, e.what());
    }
  }
  try {
    s.blocklist = std::make_shared<const rampart::firewall::CompiledBlocklist>(
        rampart::firewall::compile_blocklist(prefixes));
  } catch (const rampart::firewall::BlocklistError& e) {
    throw cfg.invalid("blocklist", e.what());
  }
}

Rule parse_rule(const Config& cfg, const std::string& at) {
  cfg.allow_only(at, {"id", "priority", "action", "protocol", "src_ip", "dst_ip", "src_port",
                      "dst_port", "vlan_id", "tcp_flags", "enabled", "description"});
  Rule r;
  r.id = cfg.require<uint32_t>(at + ".id");
  r.priority = cfg.get<int32_t>(at + ".priority", static_cast<int32_t>(r.id));
  r.enabled = cfg.get<bool>(at + ".enabled", true);
  r.description = cfg.get<std::string>(at + ".description", "");
  std::string err;
  auto text = [&](const char* key) { return cfg.require<std::string>(at + "." + key); };
  auto need = [&](const char* key, auto parsed) {
    if (!parsed) throw cfg.invalid(at + "." + key, err);
    return *parsed;
  };
  r.action = need("action", rampart::firewall::parse_action(text("action"), err));
  if (cfg.has(at + ".protocol"))
    r.protocol = need("protocol", rampart::firewall::parse_protocol(text("protocol"), err));
  if (cfg.has(at + ".src_ip"))
    r.src = need("src_ip", rampart::firewall::parse_cidr(text("src_ip"), err));
  if (cfg.has(at + ".dst_ip"))
    r.dst = need("dst_ip", rampart::firewall::parse_cidr(text("dst_ip"), err));
  if (cfg.has(at + ".src_port"))
    r.src_port = need("src_port", rampart::firewall::parse_ports(text("src_port"), err));
  if (cfg.has(at + ".dst_port"))
    r.dst_port = need("dst_port", rampart::firewall::parse_ports(text("dst_port"), err));
  if (cfg.has(at + ".tcp_flags"))
    r.tcp_flags = need("tcp_flags", rampart::firewall::parse_tcp_flags(text("tcp_flags"), err));
  if (cfg.has(at + ".vlan_id")) r.vlan_id = cfg.require<uint16_t>(at + ".vlan_id");
  if (const auto why = rampart::firewall::validate(r); !why.empty()) {
    const auto colon = why.find(':');
    throw cfg.invalid(at + "." + why.substr(0, colon), why.substr(colon + 2));
  }
  return r;
}

Settings parse(const Config& cfg) {
  cfg.allow_only(
      "", {"default_policy", "allow_sample", "event_rate", "rules", "blocklist", "alert_on"});
  Settings s;
  const auto policy = cfg.get<std::string>("default_policy", "allow");
  if (policy == "deny") {
    s.default_policy = Action::deny;
  } else if (policy != "allow") {
    throw cfg.invalid("default_policy", "expected allow or deny, got '" + policy + "'");
  }
  s.allow_sample = cfg.get<uint32_t>("allow_sample", 0);
  s.event_rate = cfg.get<uint32_t>("event_rate", rampart::firewall::kDefaultEventRate);
  for (size_t i = 0, n = cfg.size("rules"); i < n; ++i)
    s.rules.push_back(parse_rule(cfg, "rules." + std::to_string(i)));
  parse_blocklist(cfg, s);
  if (cfg.has("alert_on")) {
    s.alert_on = 0;
    for (size_t i = 0, n = cfg.size("alert_on"); i < n; ++i) {
      const std::string key = "alert_on." + std::to_string(i);
      const auto name = cfg.require<std::string>(key);
      if (name == "log")
        s.alert_on |= 1u << static_cast<int>(Action::log);
      else if (name == "deny")
        s.alert_on |= 1u << static_cast<int>(Action::deny);
      else if (name == "reject")
        s.alert_on |= 1u << static_cast<int>(Action::reject);
      else
        throw cfg.invalid(key, "expected log, deny or reject, got '" + name + "'");
    }
  }
  return s;
}

const char* action_label(uint8_t a) {
  switch (a) {
    case RAMPART_FW_DENY:
      return "deny";
    case RAMPART_FW_LOG:
      return "log";
    case RAMPART_FW_REJECT:
      return "reject";
    default:
      return "allow";
  }
}

// CLOCK_REALTIME nanoseconds of a CLOCK_MONOTONIC kernel timestamp.
uint64_t realtime_of(uint64_t monotonic_ns) {
  timespec mono{}, real{};
  clock_gettime(CLOCK_MONOTONIC, &mono);
  clock_gettime(CLOCK_REALTIME, &real);
  const auto ns = [](const timespec& t) {
    return static_cast<uint64_t>(t.tv_sec) * 1000000000ull + static_cast<uint64_t>(t.tv_nsec);
  };
  const uint64_t now_mono = ns(mono);
  return ns(real) - (now_mono > monotonic_ns ? now_mono - monotonic_ns : 0);
}

std::string endpoint(uint8_t family, const uint8_t* addr, uint16_t port) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(family == RAMPART_FAMILY_V6 ? AF_INET6 : AF_INET, addr, buf, sizeof buf);
  return family == RAMPART_FAMILY_V6 ? "[" + std::string(buf) + "]:" + std::to_string(port)
                                     : std::string(buf) + ":" + std::to_string(port);
}

constexpr const char* kDomain = "firewall";

class FirewallEngine {
 public:
  // Rules and blocklists are not secrets (the API lists them anyway).
  static constexpr const char* kSecretSettings[] = {nullptr};

  FirewallEngine(Host& host, const Config& cfg) : host_(host), settings_(parse(cfg)) {
    (void)rampart::firewall::compile(settings_.rules, settings_.default_policy);  // fail early
    // The well-known source its program stamps (xdp_firewall.bpf.c).
    if (host_.register_source("xdp_firewall") != RAMPART_SOURCE_XDP_FIREWALL)
      throw rampart::sdk::Error(RAMPART_ERR_INTERNAL, "event source xdp_firewall has another id");
    rules_ =
        host_.gauge("rampart_firewall_rules", "Enabled firewall rules installed in the kernel");
    blocklisted_ = host_.gauge("rampart_firewall_blocklist_prefixes",
                               "Prefixes in the installed source blocklist");
    reloads_ =
        host_.counter("rampart_firewall_rule_reloads_total", "Rule sets installed in the kernel");
    for (int a = 0; a < 4; ++a) {
      events_[a] =
          host_.counter("rampart_firewall_events_total", "Firewall verdict events by action",
                        {{"action", action_label(static_cast<uint8_t>(a))}});
    }
    malformed_ =
        host_.counter("rampart_firewall_malformed_events_total", "Events too short to decode");
  }

  // The kernel's verdicts reach on_event from the firewall's own ring
  // (a persistent map of its program: the host drains it for this plugin
  // alone), and its per-CPU counters reach metrics and status through the
  // host once the first rule set is installed.
  void start() {
    alert_on_ = settings_.alert_on;
    claim_and_install(settings_);
    if (program_) {
      host_.export_counters(RAMPART_NAME(RAMPART_FW_MAP_STATS), "rampart_kernel_packets_total",
                            "Kernel per-CPU counters summed, per program and action",
                            {{"program", "xdp_firewall"}}, "action",
                            rampart::firewall::stat_names(), "xdp_firewall");
    }
  }

  void validate(const Config& cfg) {
    const Settings s = parse(cfg);
    (void)rampart::firewall::compile(s.rules, s.default_policy);
  }

  void reload(const Config& cfg) {
    Settings next = parse(cfg);
    claim_and_install(next);  // throws before anything changes if the rules do not compile
    alert_on_ = next.alert_on;
    std::lock_guard lock(mu_);
    settings_ = std::move(next);
  }

  // A rule changed through the API: the whole stored set, checked and
  // installed, or an error naming the rule and field.
  void apply_rules(std::string_view domain, const std::vector<rampart::sdk::RuleBody>& bodies) {
    if (domain != kDomain) throw Error(RAMPART_ERR_INVALID_ARGUMENT, "not a firewall domain");
    Settings current;
    {
      std::lock_guard lock(mu_);
      current = settings_;
    }
    install(parse_bodies(bodies), current);
  }

  // GET /api/v1/firewall/status: what the kernel runs, with per-rule hits.
  std::string domain_status(std::string_view domain) {
    if (domain != kDomain) throw Error(RAMPART_ERR_NOT_FOUND, "not a firewall domain");
    std::lock_guard install(install_mu_);  // program_ and the ids belong together
    std::lock_guard lock(status_mu_);
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    o->set("enforced", static_cast<bool>(program_));
    o->set("rules_installed", static_cast<uint64_t>(installed_ids_.size()));
    o->set("default_policy", std::string(rampart::firewall::action_name(installed_policy_)));
    o->set("blocklist_prefixes", static_cast<uint64_t>(installed_blocklist_));
    Poco::JSON::Array::Ptr hits = new Poco::JSON::Array;
    const auto counted = installed_hits();
    for (uint32_t i = 0; i < counted.size(); ++i) {
      Poco::JSON::Object::Ptr h = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
      h->set("id", installed_ids_[i]);
      h->set("priority_index", i);
      h->set("hits", hits_before(installed_ids_[i]) + counted[i]);
      hits->add(h);
    }
    o->set("hits", hits);
    std::ostringstream os;
    o->stringify(os);
    return os.str();
  }

  void on_event(const rampart::sdk::Event& ev) {
    if (ev.type() != RAMPART_EV_FW_VERDICT) return;
    if (ev.bytes().size() < sizeof(rampart_fw_event)) {
      malformed_.inc();
      return;
    }
    rampart_fw_event e;
    std::memcpy(&e, ev.bytes().data(), sizeof e);
    events_[e.action & 3].inc();
    const auto action = static_cast<Action>(e.action & 3);
    if (!(alert_on_.load(std::memory_order_relaxed) & (1u << static_cast<int>(action)))) return;
    const auto kind = rampart::firewall::alert_kind(action);
    const bool listed = e.flags & RAMPART_FW_EV_BLOCKLIST;
    const std::string rule = listed ? "blocklist" : std::to_string(e.rule_id);
    const std::string msg = (listed ? std::string("blocklisted source") : "firewall rule " + rule) +
                            " " + action_label(e.action) + " " +
                            rampart::firewall::protocol_name(e.protocol) + " " +
                            endpoint(e.family, e.src_addr, e.src_port) + " -> " +
                            endpoint(e.family, e.dst_addr, e.dst_port);
    rampart_alert a = rampart::sdk::make_alert(
        kind.severity, rule, msg, {kind.technique_id, kind.technique_name, kind.tactic});
    a.action = kind.blocked ? RAMPART_ALERT_ACTION_BLOCK : RAMPART_ALERT_ACTION_ALERT;
    a.time_ns = realtime_of(e.hdr.ts_ns);  // when the kernel judged the packet
    a.ip_family = e.family;
    a.protocol = e.protocol;
    a.vlan_id = e.vlan_id;
    std::memcpy(a.src_addr, e.src_addr, 16);
    std::memcpy(a.dst_addr, e.dst_addr, 16);
    a.src_port = e.src_port;
    a.dst_port = e.dst_port;
    host_.emit_alert(a);
  }

 private:
  // The stored set, parsed: a body parsed for the set before is not parsed
  // again (a write to one rule of thousands parses that one).
  std::vector<Rule> parse_bodies(const std::vector<rampart::sdk::RuleBody>& bodies) {
    std::lock_guard lock(parse_mu_);
    std::vector<Rule> rules;
    std::map<uint32_t, std::pair<std::string, Rule>> next;  // the bodies given, nothing else
    for (const auto& b : bodies) {
      auto it = parsed_.find(b.id);
      if (it == parsed_.end() || it->second.first != b.body) {
        try {
          it = parsed_
                   .insert_or_assign(
                       b.id, std::pair(b.body, rampart::firewall::rule_from_json(b.body, b.id)))
                   .first;
        } catch (const rampart::firewall::RuleError& e) {
          throw Error(RAMPART_ERR_INVALID_ARGUMENT,
                      "rule " + std::to_string(b.id) + ": " + e.what());
        }
      }
      rules.push_back(it->second.second);
      next.insert(parsed_.extract(it));  // moved, not copied
    }
    parsed_ = std::move(next);
    return rules;
  }

  // The config's rules go to the store (config-owned ids); what the store
  // then holds, API rules included, is what gets installed.
  void claim_and_install(const Settings& s) {
    std::vector<rampart::sdk::RuleBody> declared;
    for (const auto& r : s.rules) declared.push_back({r.id, rampart::firewall::rule_to_json(r)});
    std::vector<Rule> rules = s.rules;
    try {
      rules = parse_bodies(host_.claim_rules(kDomain, declared));
      host_.describe_domain(kDomain,
                            "XDP firewall rules: one priority order over addresses, "
                            "protocols, ports, VLANs and TCP flags",
                            rampart::firewall::rule_schema_json());
    } catch (const Error& e) {
      if (e.status() != RAMPART_ERR_UNSUPPORTED) throw;
      host_.warn(std::string("no rule store, using the config's rules only: ") + e.what());
    }
    install(rules, s);
  }

  // The live instance's hits by priority index, read at once (status_mu_).
  std::vector<uint64_t> installed_hits() const {
    if (!program_) return {};
    return program_.counters(RAMPART_NAME(RAMPART_FW_MAP_HITS), 0,
                             static_cast<uint32_t>(installed_ids_.size()));
  }

  uint64_t hits_before(uint32_t id) const {
    const auto it = hits_before_.find(id);
    return it == hits_before_.end() ? 0 : it->second;
  }

  void install(const std::vector<Rule>& rules, const Settings& s) {
    std::lock_guard lock(install_mu_);
    rampart::firewall::CompiledRuleset compiled;
    try {
      compiled = rampart::firewall::compile(rules, s.default_policy, s.blocklist_priority);
    } catch (const rampart::firewall::CompileError& e) {
      throw Error(RAMPART_ERR_INVALID_ARGUMENT, e.what());
    }
    // The live tables' capacity where the set fits it: the same shape, so
    // the host swaps tables into a spare instance instead of loading one.
    auto image =
        rampart::firewall::to_program_image(compiled, s.blocklist.get(), capacity_, &bitmaps_);
    image.set<uint32_t>(RAMPART_NAME(RAMPART_FW_SET_ALLOW_SAMPLE), s.allow_sample);
    image.set<uint32_t>(RAMPART_NAME(RAMPART_FW_SET_EVENT_RATE), s.event_rate);
    rampart::sdk::Program next;
    try {
      next = host_.install_program(image);
    } catch (const Error& e) {
      if (e.status() != RAMPART_ERR_UNSUPPORTED) throw;
      // Running, but not what a firewall is for: the agent is not ready.
      host_.warn(std::string("rules checked but not enforced: ") + e.what());
      host_.report_enforcing(false, std::string("rules checked but not enforced: ") + e.what());
      return;
    }
    host_.report_enforcing(true);
    capacity_ = capacity_.fit(compiled);
    {
      std::lock_guard lock(status_mu_);
      // The replaced set's hits carried by rule id: the new instance counts
      // from 0. (Packets the old instance was still judging while this ran,
      // microseconds' worth, are not counted.)
      std::map<uint32_t, uint64_t> carried;
      for (const auto& r : compiled.rules) carried[r.id] = 0;
      const auto counted = installed_hits();
      for (uint32_t i = 0; i < counted.size(); ++i) {
        const auto it = carried.find(installed_ids_[i]);
        if (it == carried.end()) continue;  // the rule is gone: so are its hits
        it->second = hits_before(installed_ids_[i]) + counted[i];
      }
      hits_before_ = std::move(carried);
      program_ = std::move(next);  // the previous instance is released
      installed_ids_.clear();
      for (const auto& r : compiled.rules) installed_ids_.push_back(r.id);
      installed_policy_ = s.default_policy;
      installed_blocklist_ = s.blocklist ? s.blocklist->prefixes : 0;
    }
    rules_.set(compiled.nrules);
    blocklisted_.set(s.blocklist ? static_cast<double>(s.blocklist->prefixes) : 0.0);
    reloads_.inc();
    host_.info("installed " + std::to_string(compiled.nrules) + " rules (default " +
               std::string(rampart::firewall::action_name(s.default_policy)) + ")" +
               (s.blocklist
                    ? " and a blocklist of " + std::to_string(s.blocklist->prefixes) + " prefixes"
                    : ""));
  }

  Host& host_;
  std::mutex mu_;                              // settings_
  std::mutex install_mu_;                      // one install at a time (control thread and API)
  std::mutex status_mu_;                       // what is installed, for domain_status
  std::vector<uint32_t> installed_ids_;        // rule id by priority index
  std::map<uint32_t, uint64_t> hits_before_;   // by rule id: hits of the sets replaced
  rampart::firewall::TableCapacity capacity_;  // of the live tables
  std::vector<uint64_t> bitmaps_;              // the image's class bitmaps (install_mu_)
  std::mutex parse_mu_;                        // parsed_
  std::map<uint32_t, std::pair<std::string, Rule>> parsed_;  // by id: body, rule
  Action installed_policy_ = Action::allow;
  size_t installed_blocklist_ = 0;
  Settings settings_;
  std::atomic<uint8_t> alert_on_{0};  // read by on_event on worker threads
  rampart::sdk::Program program_;
  rampart::sdk::Metric rules_, blocklisted_, reloads_, malformed_, events_[4];
};

}  // namespace

RAMPART_PLUGIN(FirewallEngine, RAMPART_KIND_ENGINE, "firewall", "XDP firewall", "0.1.0",
               "Apache-2.0",
               "Prioritised rules over addresses, protocols, ports, VLANs and TCP flags, in XDP")
