// SPDX-License-Identifier: Apache-2.0
// The firewall engine: validates the rule set, compiles it into the XDP
// classifier's tables and installs them as one program instance (an atomic
// swap), counts firewall verdict events and raises an alert for every packet
// a `log` rule reports.
#include <rampart/sdk/plugin.hpp>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <arpa/inet.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <unordered_map>

#include "blocklist.hpp"
#include "compiler.hpp"
#include "kernel_counter_families.hpp"
#include "kernel_time.hpp"
#include "rampart/firewall.h"
#include "rule.hpp"
#include "rule_json.hpp"
#include "rule_tables.hpp"
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
  // The config's blocklist prefixes (its files read at each load); null
  // without a blocklist section. The API's entries are added to them.
  std::shared_ptr<const std::vector<rampart::firewall::Cidr>> blocklist;
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
    rampart::firewall::check_blocklist_size(prefixes.size());
  } catch (const rampart::firewall::BlocklistError& e) {
    throw cfg.invalid("blocklist", e.what());
  }
  s.blocklist = std::make_shared<const std::vector<rampart::firewall::Cidr>>(std::move(prefixes));
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

using rampart::kernel_time::realtime_of;

std::string endpoint(uint8_t family, const uint8_t* addr, uint16_t port) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(family == RAMPART_FAMILY_V6 ? AF_INET6 : AF_INET, addr, buf, sizeof buf);
  return family == RAMPART_FAMILY_V6 ? "[" + std::string(buf) + "]:" + std::to_string(port)
                                     : std::string(buf) + ":" + std::to_string(port);
}

constexpr const char* kDomain = "firewall";
// The source blocklist's API entries: a domain of its own, which the IPS
// and DDoS engines write too.
constexpr const char* kBlocklistDomain = "blocklist";

int64_t now_s() { return static_cast<int64_t>(std::time(nullptr)); }

Error refused(const std::string& what) { return Error(RAMPART_ERR_INVALID_ARGUMENT, what); }

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
      // seen = passed + dropped + rejected; logged and not_ip are passed
      // packets, blocklisted and errors dropped ones, reject_sent the
      // rejected ones answered: families of their own.
      host_.export_counter_families(
          RAMPART_NAME(RAMPART_FW_MAP_STATS), "xdp_firewall", rampart::firewall::stat_names(),
          {rampart::counters::packets(
               {RAMPART_FW_STAT_PASSED, RAMPART_FW_STAT_DROPPED, RAMPART_FW_STAT_REJECTED}),
           rampart::counters::events_lost(
               {RAMPART_FW_STAT_EVENTS_DROPPED, RAMPART_FW_STAT_EVENTS_LIMITED})});
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

  // A domain's whole stored set (an import): checked and installed, or an
  // error naming the rule or entry and field.
  void apply_rules(std::string_view domain, const std::vector<rampart::sdk::RuleBody>& bodies) {
    const Settings current = settings();
    std::lock_guard lock(install_mu_);
    if (domain == kDomain) {
      replace_rules(parse_set(bodies), current);
    } else if (domain == kBlocklistDomain) {
      auto entries = parse_entries(bodies);
      auto next = build_blocklist(current, entries);
      install_tables(tables_, current, next.get());
      blocklist_ = std::move(next);
      entries_ = std::move(entries);
    } else {
      throw Error(RAMPART_ERR_INVALID_ARGUMENT, "not a firewall domain");
    }
  }

  // A group commit's changes (ABI 1.8): a rule change changes the tables
  // where the rule lies (RuleTables), a blocklist entry where its prefix
  // lies, not the set or the list around them. All or nothing.
  void apply_rule_changes(std::string_view domain,
                          const std::vector<rampart::sdk::RuleChange>& changes) {
    const Settings current = settings();
    std::lock_guard lock(install_mu_);
    if (domain == kDomain) {
      change_rules(changes, current);
    } else if (domain == kBlocklistDomain) {
      change_entries(changes, current);
    } else {
      throw Error(RAMPART_ERR_INVALID_ARGUMENT, "not a firewall domain");
    }
  }

  // GET /api/v1/firewall/status: what the kernel runs, with per-rule hits.
  std::string domain_status(std::string_view domain) {
    if (domain == kBlocklistDomain) return blocklist_status();
    if (domain != kDomain) throw Error(RAMPART_ERR_NOT_FOUND, "not a firewall domain");
    std::lock_guard install(install_mu_);  // program_ and the ids belong together
    std::lock_guard lock(status_mu_);
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    o->set("enforced", static_cast<bool>(program_));
    o->set("rules_installed",
           static_cast<uint64_t>(std::count_if(installed_ids_.begin(), installed_ids_.end(),
                                               [](uint32_t id) { return id != 0; })));
    o->set("default_policy", std::string(rampart::firewall::action_name(installed_policy_)));
    o->set("blocklist_prefixes", static_cast<uint64_t>(installed_blocklist_));
    // How full the live tables are, and the capacity an instance was
    // prepared for (they grow into it without a program load).
    Poco::JSON::Object::Ptr t = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    t->set("capacity", capacity_json(capacity_));
    t->set("used", capacity_json(tables_.used()));
    t->set("prepared",
           ahead_.capacity == rampart::firewall::TableCapacity{} || ahead_.capacity == capacity_
               ? Poco::Dynamic::Var()
               : Poco::Dynamic::Var(capacity_json(ahead_.capacity)));
    o->set("tables", t);
    Poco::JSON::Array::Ptr hits = new Poco::JSON::Array;
    const auto counted = installed_hits();
    // In priority order: positions have holes, and the overflow's are in
    // the order rules were written.
    std::vector<std::pair<uint64_t, uint32_t>> by_order;
    const auto& rules = tables_.set().rules;
    for (uint32_t i = 0; i < counted.size(); ++i) {
      if (installed_ids_[i] && i < rules.size()) by_order.emplace_back(rules[i].order, i);
    }
    std::sort(by_order.begin(), by_order.end());
    uint32_t index = 0;
    for (const auto& [order, i] : by_order) {
      Poco::JSON::Object::Ptr h = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
      h->set("id", installed_ids_[i]);
      const auto rule = parsed_.find(installed_ids_[i]);
      if (rule != parsed_.end()) h->set("priority", rule->second->rule.priority);
      h->set("priority_index", index++);
      h->set("hits", hits_before(installed_ids_[i]) + counted[i] - base_[i]);
      hits->add(h);
    }
    o->set("hits", hits);
    std::ostringstream os;
    o->stringify(os);
    return os.str();
  }

  static Poco::JSON::Object::Ptr capacity_json(const rampart::firewall::TableCapacity& c) {
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    o->set("rule_positions", c.nwords * 64);
    o->set("classes", c.nclasses);
    o->set("src4_tbl8", c.src4_tbl8);
    o->set("dst4_tbl8", c.dst4_tbl8);
    o->set("src6", c.src6);
    o->set("dst6", c.dst6);
    return o;
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
  struct ParsedRule {
    std::string body;
    Rule rule;
  };
  using ParsedRules = std::map<uint32_t, std::shared_ptr<const ParsedRule>>;
  // An API entry, and whether its prefix is in the tables (not when it had
  // expired by the time it was applied).
  struct Entry {
    rampart::firewall::BlocklistEntry entry;
    bool listed = false;
  };
  using Entries = std::map<uint32_t, Entry>;

  Settings settings() {
    std::lock_guard lock(mu_);
    return settings_;
  }

  static std::vector<Rule> rules_of(const ParsedRules& parsed) {
    std::vector<Rule> rules;
    rules.reserve(parsed.size());
    for (const auto& [id, p] : parsed) rules.push_back(p->rule);
    return rules;
  }

  static std::shared_ptr<const ParsedRule> parse_one(uint64_t id, const std::string& body) {
    try {
      return std::make_shared<const ParsedRule>(
          ParsedRule{body, rampart::firewall::rule_from_json(body, id)});
    } catch (const rampart::firewall::RuleError& e) {
      throw refused("rule " + std::to_string(id) + ": " + e.what());
    }
  }

  // A whole stored set, parsed: a body parsed before (the same text under
  // the same id) is not parsed again.
  ParsedRules parse_set(const std::vector<rampart::sdk::RuleBody>& bodies) const {
    ParsedRules next;
    for (const auto& b : bodies) {
      const auto it = parsed_.find(static_cast<uint32_t>(b.id));
      next[static_cast<uint32_t>(b.id)] =
          it != parsed_.end() && it->second->body == b.body ? it->second : parse_one(b.id, b.body);
    }
    return next;
  }

  using RuleDiff = std::vector<std::pair<const Rule*, const Rule*>>;  // (before, after)

  // Makes tables_ hold the set that `diff` makes of the installed one
  // (`whole`, when asked for): rule by rule in place while the diff is at
  // most an eighth of the set and each change fits the tables, else the
  // whole set compiled. `touched`: tables_ no longer holds parsed_.
  template <class Whole>
  void change_tables(const RuleDiff& diff, const Settings& s, Whole&& whole, bool& touched) {
    // What installs before this one let go, back in use where no packet can
    // still read it.
    tables_.reclaim(grace_passed());
    bool in_place = diff.size() <= std::max<size_t>(64, parsed_.size() / 8);
    for (const auto& [before, after] : diff) {
      if (!in_place) break;
      try {
        in_place = tables_.change(before, after);
      } catch (const rampart::firewall::CompileError& e) {
        throw refused(e.what());  // this change was not made
      }
      touched = true;
    }
    if (!in_place) {
      touched = true;
      take_tables(build_tables(whole(), s));
    }
  }

  // A rule set replaced (an import): what differs from the installed one.
  RuleDiff diff_to(const ParsedRules& next) const {
    RuleDiff diff;
    auto a = parsed_.begin();
    auto b = next.begin();
    while (a != parsed_.end() || b != next.end()) {
      if (b == next.end() || (a != parsed_.end() && a->first < b->first)) {
        diff.emplace_back(&(a++)->second->rule, nullptr);
      } else if (a == parsed_.end() || b->first < a->first) {
        diff.emplace_back(nullptr, &(b++)->second->rule);
      } else {
        if (a->second != b->second && a->second->body != b->second->body)
          diff.emplace_back(&a->second->rule, &b->second->rule);
        ++a;
        ++b;
      }
    }
    return diff;
  }

  // A whole set installed in place of parsed_, through its differences.
  void replace_rules(ParsedRules next, const Settings& s) {
    bool touched = false;
    try {
      change_tables(
          diff_to(next), s, [&] { return rules_of(next); }, touched);
      install_tables(tables_, s, blocklist_.get());
    } catch (...) {
      if (touched) take_tables(build_tables(rules_of(parsed_), s));
      throw;
    }
    parsed_ = std::move(next);
  }

  // The changes made to parsed_ and the tables in place, undone if the set
  // they make does not compile or install.
  void change_rules(const std::vector<rampart::sdk::RuleChange>& changes, const Settings& s) {
    std::vector<std::pair<uint32_t, std::shared_ptr<const ParsedRule>>> undo;  // before each
    bool touched = false;
    auto restore = [&] {
      for (auto it = undo.rbegin(); it != undo.rend(); ++it) {
        if (it->second)
          parsed_[it->first] = it->second;
        else
          parsed_.erase(it->first);
      }
      if (touched) take_tables(build_tables(rules_of(parsed_), s));
    };
    try {
      RuleDiff diff;
      for (const auto& c : changes) {
        const auto id = static_cast<uint32_t>(c.id);
        const auto at = parsed_.find(id);
        const std::shared_ptr<const ParsedRule> before = at == parsed_.end() ? nullptr : at->second;
        const std::shared_ptr<const ParsedRule> after =
            c.kind == RAMPART_RULE_DELETE ? nullptr : parse_one(c.id, c.body);
        if (after) refuse_expired("rule", c.id, after->rule.expires_at, now_s());
        undo.emplace_back(id, before);  // keeps `before` alive for the diff
        if (after)
          parsed_[id] = after;
        else
          parsed_.erase(id);
        diff.emplace_back(before ? &before->rule : nullptr, after ? &after->rule : nullptr);
      }
      change_tables(
          diff, s, [&] { return rules_of(parsed_); }, touched);
      install_tables(tables_, s, blocklist_.get());
    } catch (...) {
      restore();
      throw;
    }
  }

  // Whether a ticket's grace period has passed (for reclaim()).
  auto grace_passed() const {
    return [this](uint64_t ticket) { return host_.grace_passed(ticket); };
  }

  static rampart::firewall::BlocklistEntry parse_entry(uint64_t id, const std::string& body) {
    try {
      return rampart::firewall::blocklist_entry_from_json(body, id);
    } catch (const rampart::firewall::RuleError& e) {
      throw refused("entry " + std::to_string(id) + ": " + e.what());
    }
  }

  static Entries parse_entries(const std::vector<rampart::sdk::RuleBody>& bodies) {
    Entries out;
    for (const auto& b : bodies) out[static_cast<uint32_t>(b.id)] = {parse_entry(b.id, b.body)};
    return out;
  }

  static bool live(const rampart::firewall::BlocklistEntry& e, int64_t now) {
    return !e.expires_at || e.expires_at > now;
  }

  // A write of a rule or entry whose expires_at (0: never) has passed is
  // refused; one stored before it passed waits for the core's deletion.
  static void refuse_expired(const char* what, uint64_t id, int64_t expires_at, int64_t now) {
    if (expires_at && expires_at <= now)
      throw refused(std::string(what) + " " + std::to_string(id) + ": expires_at: " +
                    std::to_string(expires_at) + " has passed (it is " + std::to_string(now) + ")");
  }

  // The config's prefixes and the entries that have not expired (marked
  // listed); null when there are neither (no blocklist tables then).
  static std::unique_ptr<rampart::firewall::Blocklist> build_blocklist(const Settings& s,
                                                                       Entries& entries) {
    const int64_t now = now_s();
    for (auto& [id, e] : entries) e.listed = live(e.entry, now);
    const bool any = std::any_of(entries.begin(), entries.end(),
                                 [](const auto& kv) { return kv.second.listed; });
    if (!s.blocklist && !any) return nullptr;
    static const std::vector<rampart::firewall::Cidr> none;
    auto bl = std::make_unique<rampart::firewall::Blocklist>(s.blocklist ? *s.blocklist : none);
    try {
      for (const auto& [id, e] : entries) {
        if (e.listed) bl->add(e.entry.prefix);
      }
    } catch (const rampart::firewall::BlocklistError& e) {
      throw refused(e.what());
    }
    return bl;
  }

  // Entries created, replaced or deleted: their prefixes added to and
  // taken from the live blocklist (each undone, newest first, if the
  // tables do not install). An entry that expired before it was applied
  // is stored but never listed; the core deletes it (rule_expiry).
  void change_entries(const std::vector<rampart::sdk::RuleChange>& changes, const Settings& s) {
    const int64_t now = now_s();
    std::vector<std::pair<uint32_t, std::optional<rampart::firewall::BlocklistEntry>>> next;
    for (const auto& c : changes) {
      if (c.kind == RAMPART_RULE_DELETE) {
        next.emplace_back(static_cast<uint32_t>(c.id), std::nullopt);
        continue;
      }
      auto e = parse_entry(c.id, c.body);
      refuse_expired("entry", c.id, e.expires_at, now);
      next.emplace_back(e.id, std::move(e));
    }
    const bool had_tables = blocklist_ != nullptr;
    if (!blocklist_) blocklist_ = std::make_unique<rampart::firewall::Blocklist>();
    // Blocks earlier installs let go, back in use where no packet can
    // still read them.
    blocklist_->reclaim(grace_passed());
    std::vector<std::pair<bool, rampart::firewall::Cidr>> done;  // (added, prefix)
    std::map<uint32_t, std::optional<Entry>> before;  // the entries changed, as they were
    try {
      for (auto& [id, e] : next) {
        const auto at = entries_.find(id);
        before.emplace(id, at == entries_.end() ? std::nullopt : std::optional(at->second));
        if (at != entries_.end()) {
          if (at->second.listed) {
            blocklist_->remove(at->second.entry.prefix);
            done.emplace_back(false, at->second.entry.prefix);
          }
          entries_.erase(at);
        }
        if (e) {
          blocklist_->add(e->prefix);
          done.emplace_back(true, e->prefix);
          entries_[id] = {*e, true};
        }
      }
      install_tables(tables_, s, blocklist_.get(), /*quiet=*/true);
    } catch (...) {
      for (auto it = done.rbegin(); it != done.rend(); ++it) {
        if (it->first)
          blocklist_->remove(it->second);
        else
          blocklist_->add(it->second);
      }
      for (auto& [id, e] : before) {  // emplace kept each id's first state
        if (e)
          entries_[id] = std::move(*e);
        else
          entries_.erase(id);
      }
      if (!had_tables) blocklist_.reset();
      throw;
    }
  }

  std::string blocklist_status() {
    std::lock_guard install(install_mu_);
    const int64_t now = now_s();
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    o->set("enforced", static_cast<bool>(program_) && blocklist_ != nullptr);
    o->set("prefixes", static_cast<uint64_t>(blocklist_ ? blocklist_->tables().prefixes : 0));
    std::shared_ptr<const std::vector<rampart::firewall::Cidr>> base;
    {
      std::lock_guard lock(mu_);  // the list alone, not a copy of every setting
      base = settings_.blocklist;
    }
    o->set("config_prefixes", static_cast<uint64_t>(base ? base->size() : 0));
    o->set("entries", static_cast<uint64_t>(entries_.size()));
    o->set("entries_expired", static_cast<uint64_t>(std::count_if(
                                  entries_.begin(), entries_.end(),
                                  [&](const auto& kv) { return !live(kv.second.entry, now); })));
    std::ostringstream os;
    o->stringify(os);
    return os.str();
  }

  // The config's rules go to the store (config-owned ids), and the API's
  // blocklist entries come from it; what the store then holds is what gets
  // installed, with the config's blocklist.
  void claim_and_install(const Settings& s) {
    std::vector<rampart::sdk::RuleBody> declared;
    for (const auto& r : s.rules) declared.push_back({r.id, rampart::firewall::rule_to_json(r)});
    // The claims before install_mu_: the store's lock is taken before ours
    // on the write path (a change applied through us), never after it. No
    // change can come in between: at start the host calls no engine before
    // start() returns, and a reload holds the API's writes until it ends.
    std::optional<std::vector<rampart::sdk::RuleBody>> rules, entries;
    try {
      rules = host_.claim_rules(kDomain, declared);
      host_.describe_domain(kDomain,
                            "XDP firewall rules: one priority order over addresses, "
                            "protocols, ports, VLANs and TCP flags",
                            rampart::firewall::rule_schema_json());
      entries = host_.claim_rules(kBlocklistDomain, {});
      host_.describe_domain(kBlocklistDomain,
                            "Source addresses and prefixes the XDP firewall drops, with an "
                            "owner, a reason and an expiry (the IPS and DDoS engines write here)",
                            rampart::firewall::blocklist_entry_schema_json());
    } catch (const Error& e) {
      if (e.status() != RAMPART_ERR_UNSUPPORTED) throw;
      host_.warn(std::string("no rule store, using the config's rules only: ") + e.what());
      rules = declared;
      entries.reset();
    }
    std::lock_guard lock(install_mu_);
    ParsedRules next = parse_set(*rules);
    Entries listed = entries ? parse_entries(*entries) : Entries{};
    auto tables = build_tables(rules_of(next), s);
    auto blocklist = build_blocklist(s, listed);
    install_tables(tables, s, blocklist.get());
    take_tables(std::move(tables));
    parsed_ = std::move(next);
    blocklist_ = std::move(blocklist);
    entries_ = std::move(listed);
  }

  // fw_hits by position, read at once (status_mu_).
  std::vector<uint64_t> installed_hits() const {
    if (!program_) return {};
    return program_.counters(RAMPART_NAME(RAMPART_FW_MAP_HITS), 0,
                             static_cast<uint32_t>(installed_ids_.size()));  // every position
  }

  uint64_t hits_before(uint32_t id) const {
    const auto it = hits_before_.find(id);
    return it == hits_before_.end() ? 0 : it->second;
  }

  // The whole set compiled, at the live tables' capacity where it fits.
  rampart::firewall::RuleTables build_tables(const std::vector<Rule>& rules, const Settings& s) {
    try {
      return rampart::firewall::RuleTables(rules, s.default_policy, s.blocklist_priority, capacity_,
                                           ahead_.capacity, std::move(spare_buffer_));
    } catch (const rampart::firewall::CompileError& e) {
      throw refused(e.what());
    }
  }

  // `next` becomes tables_; the memory of the tables it replaces serves
  // the next whole compile.
  void take_tables(rampart::firewall::RuleTables next) {
    std::swap(tables_, next);
    spare_buffer_ = std::move(next).take_buffer();
  }

  static rampart::sdk::ProgramImage image_of(const rampart::firewall::CompiledRuleset& compiled,
                                             const rampart::firewall::CompiledBlocklist* bl,
                                             const rampart::firewall::TableCapacity& capacity,
                                             const Settings& s) {
    auto image = rampart::firewall::program_image_at(compiled, bl, capacity);
    image.set<uint32_t>(RAMPART_NAME(RAMPART_FW_SET_ALLOW_SAMPLE), s.allow_sample);
    image.set<uint32_t>(RAMPART_NAME(RAMPART_FW_SET_EVENT_RATE), s.event_rate);
    return image;
  }

  // The shape the tables grow into next, loaded before a write needs it
  // (ABI 1.10; install_mu_ held): once a dimension of the tables is half
  // full (RuleTables::ahead), the host loads an instance of their next
  // capacity in the background, and the write that outgrows them lays the rebuilt set out
  // at that capacity (build_tables) and takes it, instead of loading and
  // verifying a program while every writer waits.
  void prepare_ahead(const rampart::firewall::RuleTables& tables,
                     const rampart::firewall::CompiledBlocklist* bl, const Settings& s) {
    const Ahead next{tables.ahead(),           bl ? bl->tbl8_capacity : 0,
                     bl ? bl->v6_capacity : 0, tables.set().fields_used,
                     s.allow_sample,           s.event_rate};
    if (next.capacity == tables.capacity() || next == ahead_) return;
    try {
      host_.prepare_program(image_of(tables.set(), bl, next.capacity, s));
      ahead_ = next;
    } catch (const Error& e) {
      host_.debug(std::string("the tables' next shape is not prepared: ") + e.what());
    }
  }

  // Installs a compiled set with a blocklist (install_mu_ held): the live
  // tables' capacity where they fit it, so the host swaps tables into a
  // spare instance instead of loading one.
  // `quiet`: an API blocklist entry (written by an engine under attack,
  // maybe thousands a minute) logs at debug level, not info.
  void install_tables(rampart::firewall::RuleTables& tables, const Settings& s,
                      rampart::firewall::Blocklist* blocklist, bool quiet = false) {
    const rampart::firewall::CompiledBlocklist* bl = blocklist ? &blocklist->tables() : nullptr;
    // The changes become the next generation, in a slot no packet reads any
    // more (256 of them: waited for only past 256 writes in a grace period).
    // Not had (grace periods broke): written into a spare instead.
    const uint64_t slot = tables.next_slot_ticket();
    const bool slot_free = !slot || host_.grace_passed(slot, /*wait=*/true);
    tables.flip();
    auto image = image_of(tables.set(), bl, tables.capacity(), s);
    // What changed since the last install: the host compares and writes
    // only there (a rule touches a few classes and entries, a blocklist
    // entry bytes of a 21 MiB table). Tables built afresh say "all".
    const auto rule_changes = tables.changes();
    rampart::firewall::list_changes(image, &rule_changes,
                                    blocklist ? &blocklist->changes() : nullptr);
    // Changes made where no packet reads (a generation not current yet, a
    // blocklist block no entry points to) are written into the live
    // instance: the blocklist's first (blocks, entries, bits; each packet
    // finds its source listed as before or as after), then the rules'
    // generation.
    if (slot_free && rampart::firewall::writable_in_place(
                         rule_changes, blocklist ? &blocklist->changes() : nullptr))
      image.flags |= RAMPART_PROGRAM_IN_PLACE;
    rampart::sdk::Program next;
    try {
      next = host_.install_program(image);
    } catch (const Error& e) {
      // What it wrote may be in the kernel: blocks written for it are let
      // go by grace period, like any other.
      if (blocklist) blocklist->install_failed();
      if (e.status() != RAMPART_ERR_UNSUPPORTED) throw;
      // Running, but not what a firewall is for: the agent is not ready.
      host_.warn(std::string("rules checked but not enforced: ") + e.what());
      host_.report_enforcing(false, std::string("rules checked but not enforced: ") + e.what());
      return;
    }
    host_.report_enforcing(true);
    // Installed: the next install's changes are counted from here, and
    // what this one let go is free once no packet reads the generation it
    // left.
    const bool ticket = tables.wants_ticket() || (blocklist && blocklist->wants_ticket());
    const uint64_t left = ticket ? host_.grace_ticket() : 0;
    // The positions whose rule may have changed hands (all: a whole build).
    const auto moved = tables.moved();
    tables.installed(left);
    tables.clear_changes();
    if (blocklist) {
      blocklist->installed(left);
      blocklist->clear_changes();
    }
    capacity_ = tables.capacity();
    const size_t listed = bl ? bl->prefixes : 0;
    {
      std::lock_guard lock(status_mu_);
      program_ = std::move(next);  // the previous instance is released
      settle_hits(tables, moved);
      installed_policy_ = s.default_policy;
      installed_blocklist_ = listed;
    }
    prepare_ahead(tables, bl, s);
    rules_.set(tables.rule_count());
    blocklisted_.set(static_cast<double>(listed));
    reloads_.inc();
    const std::string what =
        "installed " + std::to_string(tables.rule_count()) + " rules (default " +
        std::string(rampart::firewall::action_name(s.default_policy)) + ")" +
        (bl ? " and a blocklist of " + std::to_string(listed) + " prefixes" : "");
    if (quiet)
      host_.debug(what);
    else
      host_.info(what);
  }

  // fw_hits is one map for every instance (persistent), by position: a
  // rule that kept its position goes on counting there. Where a position
  // changed hands (a rule added, deleted or moved), what it counted goes
  // to the rule that held it, by id, and the new holder counts from the
  // value it has now; only those positions are read, a run of nearby ones
  // at a time. `moved`: the positions that may have changed hands
  // (nullopt: any). (Packets the old instance was still judging while
  // this ran, microseconds' worth, may go to the new holder.) status_mu_
  // held, program_ the new instance.
  void settle_hits(const rampart::firewall::RuleTables& tables,
                   const std::optional<std::vector<uint32_t>>& moved) {
    const uint32_t n =
        std::max<uint32_t>(tables.positions(), static_cast<uint32_t>(installed_ids_.size()));
    auto held = [&](uint32_t p) { return p < installed_ids_.size() ? installed_ids_[p] : 0u; };
    std::vector<uint32_t> changed;  // ascending
    auto consider = [&](uint32_t p) {
      if (p < n && held(p) != tables.id_at(p)) changed.push_back(p);
    };
    if (moved) {
      for (uint32_t p : *moved) consider(p);
    } else {
      for (uint32_t p = 0; p < n; ++p) consider(p);
    }
    if (base_.size() < n) base_.resize(n, 0);
    std::vector<uint32_t> gone;
    for (size_t i = 0; i < changed.size();) {
      size_t j = i + 1;  // [i, j): positions at most 64 apart, read at once
      while (j < changed.size() && changed[j] - changed[j - 1] <= 64) ++j;
      const uint32_t lo = changed[i], hi = changed[j - 1] + 1;
      const auto now = program_.counters(RAMPART_NAME(RAMPART_FW_MAP_HITS), lo, hi - lo);
      for (; i < j; ++i) {
        const uint32_t p = changed[i], was = held(p);
        if (was) {
          hits_before_[was] += now[p - lo] - base_[p];
          if (!tables.has(was)) gone.push_back(was);
        }
        base_[p] = now[p - lo];
      }
    }
    for (uint32_t id : gone) hits_before_.erase(id);  // the rule is gone: so are its hits
    installed_ids_.resize(tables.positions(), 0);     // by position, 0 for a hole
    for (uint32_t p : changed) {
      if (p < installed_ids_.size()) installed_ids_[p] = tables.id_at(p);
    }
  }

  Host& host_;
  std::mutex mu_;                        // settings_
  std::mutex install_mu_;                // one install at a time (control thread and API)
  std::mutex status_mu_;                 // what is installed, for domain_status
  std::vector<uint32_t> installed_ids_;  // rule id by position (0: none)
  std::unordered_map<uint32_t, uint64_t> hits_before_;  // by rule id: hits at earlier positions
  std::vector<uint64_t> base_;  // by position: fw_hits' value when its rule began counting there
  rampart::firewall::TableCapacity capacity_;  // of the live tables
  // What an instance was last prepared for (prepare_ahead): the tables'
  // next capacity, with what else makes the program's shape.
  struct Ahead {
    rampart::firewall::TableCapacity capacity;
    size_t blocklist_tbl8 = 0, blocklist_v6 = 0;
    uint32_t fields_used = 0, allow_sample = 0, event_rate = 0;
    bool operator==(const Ahead&) const = default;
  };
  Ahead ahead_;
  // What is installed (install_mu_): the rules as parsed, their tables, and
  // the blocklist with the API's entries.
  ParsedRules parsed_;
  rampart::firewall::RuleTables tables_;
  std::vector<uint64_t> spare_buffer_;  // take_tables()
  std::unique_ptr<rampart::firewall::Blocklist> blocklist_;
  Entries entries_;
  Action installed_policy_ = Action::allow;
  size_t installed_blocklist_ = 0;
  Settings settings_;
  std::atomic<uint8_t> alert_on_{0};  // read by on_event on worker threads
  rampart::sdk::Program program_;
  rampart::sdk::Metric rules_, blocklisted_, reloads_, malformed_, events_[4];
};

}  // namespace

RAMPART_PLUGIN(FirewallEngine, RAMPART_KIND_ENGINE, "firewall", "XDP firewall",
               RAMPART_AGENT_VERSION, "Apache-2.0",
               "Prioritised rules over addresses, protocols, ports, VLANs and TCP flags, in XDP")
