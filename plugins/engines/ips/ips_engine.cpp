// SPDX-License-Identifier: Apache-2.0
// The IPS engine (docs/ips.md): turns alerts into blocks. Every alert the
// pipeline takes in reaches it (stream_alert); those its triggers name
// (by default the IDS's drop rules in prevent mode: rule "ids:*", action
// block) are offences by the alert's source. A source whose offences pass
// `hits` within `window` is listed in the firewall's blocklist, dropped in
// XDP from the next packet on, until the entry expires; once
// escalate.hosts distinct hosts of one /24 (IPv4) or /48 (IPv6) offended
// within escalate.window, the subnet is listed instead. What the config's
// allow and management lists, the `ips` domain's entries, the firewall's
// allow rules and this host's own addresses cover is never blocked.
//
// Threads: stream_alert (worker pool) only queues; the engine's own
// thread decides (offenses.hpp) and writes the entries through the rule
// store, as an API client would (blocklist_client.hpp).
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <rampart/sdk/plugin.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "allow_entry.hpp"
#include "blocklist_client.hpp"
#include "cidr.hpp"
#include "json_body.hpp"
#include "offenses.hpp"

namespace {

using rampart::sdk::Config;
using rampart::sdk::Error;
using rampart::sdk::Host;
namespace ips = rampart::ips;
namespace net = rampart::net;

constexpr const char* kDomain = "ips";
constexpr size_t kQueueMax = 4096;  // offences waiting for the engine's thread

struct Settings {
  std::vector<std::string> triggers{"ids:*"};  // alert rule ids; a trailing '*': a prefix
  bool on_block = true;                        // alerts whose action is block count
  bool on_alert = false;                       // ... and those that only report
  ips::Policy policy;
  std::vector<net::Cidr> allow, management;
  bool alert = true;
};

bool trigger_matches(const std::string& pattern, std::string_view rule) {
  if (!pattern.empty() && pattern.back() == '*')
    return rule.substr(0, pattern.size() - 1) ==
           std::string_view(pattern).substr(0, pattern.size() - 1);
  return rule == pattern;
}

std::vector<net::Cidr> networks(const Config& cfg, const std::string& key) {
  std::vector<net::Cidr> out;
  const auto list = cfg.strings(key);
  for (size_t i = 0; i < list.size(); ++i) {
    std::string err;
    const auto c = net::parse_cidr(list[i], err);
    if (!c) throw cfg.invalid(key + "." + std::to_string(i), err);
    out.push_back(*c);
  }
  return out;
}

Settings parse(const Config& cfg) {
  cfg.allow_only("", {"triggers", "actions", "hits", "window", "block_for", "escalate", "allow",
                      "management", "max_sources", "alert"});
  Settings s;
  if (cfg.has("triggers")) {
    s.triggers = cfg.strings("triggers");
    if (s.triggers.empty()) throw cfg.invalid("triggers", "at least one alert rule id");
    for (size_t i = 0; i < s.triggers.size(); ++i) {
      const auto& t = s.triggers[i];
      const auto star = t.find('*');
      if (t.empty() || t.size() > 128 || (star != std::string::npos && star != t.size() - 1))
        throw cfg.invalid("triggers." + std::to_string(i),
                          "an alert rule id (\"ids:2001219\") or a prefix of one ending in '*' "
                          "(\"ids:*\"), 1-128 characters");
      if (t.rfind("ips:", 0) == 0)
        throw cfg.invalid("triggers." + std::to_string(i),
                          "the IPS's own alerts cannot be offences");
    }
  }
  if (cfg.has("actions")) {
    s.on_block = s.on_alert = false;
    const auto list = cfg.strings("actions");
    for (size_t i = 0; i < list.size(); ++i) {
      if (list[i] == "block")
        s.on_block = true;
      else if (list[i] == "alert")
        s.on_alert = true;
      else
        throw cfg.invalid("actions." + std::to_string(i), "must be block or alert");
    }
    if (!s.on_block && !s.on_alert) throw cfg.invalid("actions", "at least one of block, alert");
  }
  auto& p = s.policy;
  p.hits = cfg.get_in<uint32_t>("hits", 1, 1, 1000000, " offences");
  p.window = std::chrono::seconds(cfg.get_in<uint32_t>("window", 60, 1, 86400, " seconds"));
  p.block_for =
      std::chrono::seconds(cfg.get_in<uint32_t>("block_for", 600, 1, 30 * 86400, " seconds"));
  cfg.allow_only("escalate", {"hosts", "window", "block_for", "ipv4_prefix", "ipv6_prefix"});
  p.escalate_hosts = cfg.get_in<uint32_t>("escalate.hosts", 3, 0, 65536, " hosts");
  p.escalate_window =
      std::chrono::seconds(cfg.get_in<uint32_t>("escalate.window", 600, 1, 86400, " seconds"));
  p.escalate_for = std::chrono::seconds(
      cfg.get_in<uint32_t>("escalate.block_for", 3600, 1, 30 * 86400, " seconds"));
  p.ipv4_prefix = static_cast<uint8_t>(cfg.get_in<uint32_t>("escalate.ipv4_prefix", 24, 8, 31));
  p.ipv6_prefix = static_cast<uint8_t>(cfg.get_in<uint32_t>("escalate.ipv6_prefix", 48, 16, 127));
  p.max_sources = cfg.get_in<size_t>("max_sources", 65536, 16, 16u << 20, " sources");
  s.allow = networks(cfg, "allow");
  s.management = networks(cfg, "management");
  s.alert = cfg.get("alert", true);
  return s;
}

std::string scope_of(const net::Cidr& c) {
  return c.prefix_len == (c.family == 4 ? 32 : 128) ? "host" : "subnet";
}

// An offence waiting for the engine's thread.
struct Offence {
  net::Cidr src;
  std::string rule, tech_id, tech_name, tactic;
};

class IpsEngine {
 public:
  IpsEngine(Host& host, const Config& cfg)
      : host_(host), settings_(std::make_shared<const Settings>(parse(cfg))) {
    tracker_.set_policy(settings_->policy);
    counted_ = host_.counter("rampart_ips_offences_total", "Offences the IPS took in",
                             {{"outcome", "counted"}});
    spared_ = host_.counter("rampart_ips_offences_total", "Offences the IPS took in",
                            {{"outcome", "spared"}});
    dropped_ = host_.counter("rampart_ips_offences_total", "Offences the IPS took in",
                             {{"outcome", "queue_full"}});
    host_blocks_ =
        host_.counter("rampart_ips_blocks_total", "Blocks the IPS listed", {{"scope", "host"}});
    subnet_blocks_ =
        host_.counter("rampart_ips_blocks_total", "Blocks the IPS listed", {{"scope", "subnet"}});
    failures_ = host_.counter("rampart_ips_block_failures_total",
                              "Blocks the IPS decided but could not list (no firewall, refused)");
    active_ = host_.gauge("rampart_ips_active_blocks", "The IPS's blocks not yet expired");
    followed_ = host_.gauge("rampart_ips_sources", "Offending sources the IPS follows");
    set_never(*settings_, {});
  }

  ~IpsEngine() { stop(); }
  IpsEngine(const IpsEngine&) = delete;
  IpsEngine& operator=(const IpsEngine&) = delete;

  void start() {
    std::vector<rampart::sdk::RuleBody> stored;
    try {
      stored = host_.claim_rules(kDomain, {});
      host_.describe_domain(kDomain, "Networks the IPS never blocks",
                            ips::allow_entry_schema_json());
    } catch (const Error& e) {
      if (e.status() != RAMPART_ERR_UNSUPPORTED) throw;
      host_.warn(std::string("no rule store, using the config's allow list only: ") + e.what());
    }
    apply_rules(kDomain, stored);
    worker_ = std::thread([this] { run(); });
  }
  void validate(const Config& cfg) { parse(cfg); }
  void reload(const Config& cfg) {
    auto next = std::make_shared<const Settings>(parse(cfg));
    std::lock_guard lock(mu_);
    set_never(*next, domain_allow_);
    settings_ = std::move(next);
    policy_changed_ = true;
  }
  void stop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (worker_.joinable()) worker_.join();
  }

  // The `ips` domain's entries: in force for the next offence.
  void apply_rules(std::string_view domain, const std::vector<rampart::sdk::RuleBody>& bodies) {
    if (domain != kDomain) throw Error(RAMPART_ERR_INVALID_ARGUMENT, "not the ips domain");
    std::vector<net::Cidr> allow;
    for (const auto& b : bodies) {
      try {
        allow.push_back(ips::allow_entry_from_json(b.body, b.id).prefix);
      } catch (const rampart::json::BodyError& e) {
        throw Error(RAMPART_ERR_INVALID_ARGUMENT,
                    "ips entry " + std::to_string(b.id) + ": " + e.what());
      }
    }
    std::lock_guard lock(mu_);
    set_never(*settings_, allow);
    domain_allow_ = std::move(allow);
  }

  // GET /api/v1/ips/status
  std::string domain_status(std::string_view domain) {
    if (domain != kDomain) throw Error(RAMPART_ERR_NOT_FOUND, "not the ips domain");
    // The blocklist's entries now: a block deleted by hand (or by anyone
    // else) is no longer listed as in force.
    std::unordered_set<uint64_t> listed;
    for (const auto& r : host_.list_rules(rampart::blocklist::kDomain)) listed.insert(r.id);
    std::lock_guard lock(mu_);
    const auto& s = *settings_;
    Poco::JSON::Object o(Poco::JSON_PRESERVE_KEY_ORDER);
    Poco::JSON::Array triggers;
    for (const auto& t : s.triggers) triggers.add(t);
    o.set("triggers", triggers);
    Poco::JSON::Array actions;
    if (s.on_block) actions.add("block");
    if (s.on_alert) actions.add("alert");
    o.set("actions", actions);
    o.set("hits", s.policy.hits);
    o.set("window", s.policy.window.count());
    o.set("block_for", s.policy.block_for.count());
    Poco::JSON::Object esc(Poco::JSON_PRESERVE_KEY_ORDER);
    esc.set("hosts", s.policy.escalate_hosts);
    esc.set("window", s.policy.escalate_window.count());
    esc.set("block_for", s.policy.escalate_for.count());
    esc.set("ipv4_prefix", s.policy.ipv4_prefix);
    esc.set("ipv6_prefix", s.policy.ipv6_prefix);
    o.set("escalate", esc);
    Poco::JSON::Array never;
    for (const auto& c : never_) never.add(net::format_cidr(c));
    o.set("never", never);
    Poco::JSON::Array blocks;
    const int64_t now = std::time(nullptr);
    for (const auto& b : blocks_) {
      if (b.expires_at <= now || !listed.contains(b.entry)) continue;
      Poco::JSON::Object bo(Poco::JSON_PRESERVE_KEY_ORDER);
      bo.set("network", net::format_cidr(b.network));
      bo.set("scope", scope_of(b.network));
      bo.set("entry", b.entry);
      bo.set("expires_at", b.expires_at);
      bo.set("reason", b.reason);
      blocks.add(bo);
    }
    o.set("blocks", blocks);
    o.set("sources", followed_count_);
    Poco::JSON::Object counts(Poco::JSON_PRESERVE_KEY_ORDER);
    for (const auto& [name, field] : kCountNames) counts.set(name, counts_.*field);
    o.set("counts", counts);
    return rampart::json::to_text(o);
  }

  // Every alert as stored (worker pool): the ones the triggers name are
  // queued for the engine's thread.
  void stream_alert(const rampart::sdk::Alert& a) {
    const rampart_alert& r = *a.raw;
    if (a.component() == kDomain || (r.ip_family != 4 && r.ip_family != 6)) return;
    std::unique_lock lock(mu_);
    const auto& s = *settings_;
    const bool blocking = r.action == RAMPART_ALERT_ACTION_BLOCK;
    if (!(blocking ? s.on_block : s.on_alert)) return;
    const auto rule = a.rule_id();
    if (std::none_of(s.triggers.begin(), s.triggers.end(),
                     [&](const std::string& t) { return trigger_matches(t, rule); }))
      return;
    if (queue_.size() >= kQueueMax) {
      ++counts_.queue_full;
      lock.unlock();
      dropped_.inc();
      return;
    }
    Offence o;
    o.src.family = r.ip_family;
    o.src.prefix_len = r.ip_family == 4 ? 32 : 128;
    std::memcpy(o.src.addr.data(), r.src_addr, r.ip_family == 4 ? 4 : 16);
    o.rule = std::string(rule);
    o.tech_id = std::string(a.technique_id());
    o.tech_name = std::string(a.technique_name());
    o.tactic = std::string(a.tactic());
    queue_.push_back(std::move(o));
    lock.unlock();
    cv_.notify_one();
  }

 private:
  struct Counts {
    uint64_t offences = 0, spared = 0, queue_full = 0, host_blocks = 0, subnet_blocks = 0,
             failures = 0;
  };
  static constexpr std::pair<const char*, uint64_t Counts::*> kCountNames[] = {
      {"offences", &Counts::offences},           {"spared", &Counts::spared},
      {"queue_full", &Counts::queue_full},       {"host_blocks", &Counts::host_blocks},
      {"subnet_blocks", &Counts::subnet_blocks}, {"failures", &Counts::failures}};
  struct Listed {
    net::Cidr network;
    uint64_t entry = 0;
    int64_t expires_at = 0;
    std::string reason;
  };

  // The networks never blocked (mu_ held, or before the thread starts).
  void set_never(const Settings& s, const std::vector<net::Cidr>& domain_allow) {
    never_ = s.allow;
    never_.insert(never_.end(), s.management.begin(), s.management.end());
    never_.insert(never_.end(), domain_allow.begin(), domain_allow.end());
    for (const auto& h : rampart::blocklist::host_networks()) never_.push_back(h);
  }

  // The engine's thread.
  void run() {
    std::unique_lock lock(mu_);
    for (;;) {
      cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      if (policy_changed_) {
        tracker_.set_policy(settings_->policy);
        policy_changed_ = false;
      }
      std::deque<Offence> batch;
      batch.swap(queue_);
      const auto settings = settings_;
      const auto never = never_;
      lock.unlock();
      for (const auto& o : batch) handle(*settings, never, o);
      const auto now = ips::Clock::now();
      const auto live = tracker_.active(now).size();
      active_.set(static_cast<double>(live));
      followed_.set(static_cast<double>(tracker_.sources()));
      lock.lock();
      followed_count_ = tracker_.sources();
      const int64_t wall = std::time(nullptr);
      std::erase_if(blocks_, [&](const Listed& b) { return b.expires_at <= wall; });
    }
  }

  void count(uint64_t Counts::*field) {
    std::lock_guard lock(mu_);
    ++(counts_.*field);
  }

  // One offence (engine's thread, mu_ not held).
  void handle(const Settings& s, const std::vector<net::Cidr>& never, const Offence& o) {
    if (rampart::blocklist::overlaps_any(o.src, never)) {
      spared_.inc();
      count(&Counts::spared);
      return;
    }
    counted_.inc();
    count(&Counts::offences);
    const auto now = ips::Clock::now();
    const bool subnet_spared = rampart::blocklist::overlaps_any(tracker_.subnet_of(o.src), never);
    auto b = tracker_.offend(o.src, now, subnet_spared);
    if (!b) return;
    // The firewall's allow rules, read when a block is due (rare).
    if (rampart::blocklist::overlaps_any(b->network, writer_.allowed_by_firewall())) {
      spared_.inc();
      count(&Counts::spared);
      host_.info("ips: " + net::format_cidr(b->network) +
                 " not blocked: the firewall's allow rules let it in");
      return;
    }
    const std::string src = net::format_cidr(o.src);
    std::string reason =
        b->subnet
            ? std::to_string(b->hosts) + " hosts of " + net::format_cidr(b->network) +
                  " offended within " + std::to_string(s.policy.escalate_window.count()) +
                  " s, the last " + src + " (" + o.rule + ")"
            : std::to_string(b->hits) + (b->hits == 1 ? " offence" : " offences") + " within " +
                  std::to_string(s.policy.window.count()) + " s (" + o.rule + ")";
    const int64_t expires_at = static_cast<int64_t>(std::time(nullptr)) + b->for_s.count();
    uint64_t entry = 0;
    try {
      entry = writer_.add(b->network, reason, expires_at);
    } catch (const Error& e) {
      failures_.inc();
      count(&Counts::failures);
      host_.warn("ips: " + net::format_cidr(b->network) + " not blocked: " + e.what());
      return;
    }
    tracker_.blocked(b->network, now, now + b->for_s);
    (b->subnet ? subnet_blocks_ : host_blocks_).inc();
    {
      std::lock_guard lock(mu_);
      ++(b->subnet ? counts_.subnet_blocks : counts_.host_blocks);
      blocks_.push_back({b->network, entry, expires_at, reason});
    }
    const std::string what = std::string(b->subnet ? "subnet " : "") +
                             net::format_cidr(b->network) + " blocked for " +
                             std::to_string(b->for_s.count()) + " s (blocklist entry " +
                             std::to_string(entry) + "): " + reason;
    host_.info("ips: " + what);
    if (!s.alert) return;
    rampart_alert al = rampart::sdk::make_alert(
        RAMPART_SEVERITY_HIGH, b->subnet ? "ips:subnet_blocked" : "ips:source_blocked", what,
        {o.tech_id, o.tech_name, o.tactic});
    al.action = RAMPART_ALERT_ACTION_BLOCK;
    al.ip_family = o.src.family;
    std::memcpy(al.src_addr, o.src.addr.data(), 16);
    host_.emit_alert(al);
  }

  Host& host_;
  std::mutex mu_;  // all below but the worker's own (tracker_, writer_)
  std::condition_variable cv_;
  std::shared_ptr<const Settings> settings_;
  std::vector<net::Cidr> domain_allow_, never_;
  std::deque<Offence> queue_;
  std::vector<Listed> blocks_;
  Counts counts_;
  size_t followed_count_ = 0;
  bool stopping_ = false, policy_changed_ = false;
  ips::OffenseTracker tracker_;                               // worker's
  rampart::blocklist::Writer writer_{host_, kDomain, "ips"};  // worker's
  std::thread worker_;
  rampart::sdk::Metric counted_, spared_, dropped_, host_blocks_, subnet_blocks_, failures_,
      active_, followed_;
};

}  // namespace

RAMPART_PLUGIN(IpsEngine, RAMPART_KIND_ENGINE, "ips", "Intrusion prevention: alerts to blocks",
               RAMPART_AGENT_VERSION, "Apache-2.0",
               "Blocks the sources of the alerts it is told to act on (by default the IDS's "
               "drop rules in prevent mode) in the firewall's blocklist, with expiry, "
               "escalating to the subnet when several of its hosts offend")
