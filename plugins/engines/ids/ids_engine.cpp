// SPDX-License-Identifier: Apache-2.0
// The IDS engine (docs/ids.md): tc_ids at TC ingress and egress samples
// whole flows and sends their packets here; each is put back in its flow
// (flow_table.hpp: TCP reassembled, HTTP/TLS/DNS/SSH parsed into buffers)
// and every inspection that makes is matched against the rules
// (matcher.hpp: one Vectorscan prefilter per buffer, each candidate
// confirmed with the rule's full semantics). A match the rule's threshold
// lets through is an alert carrying the sid, msg, classtype, the rule's
// MITRE fields and where in which buffer it matched, with a bounded excerpt.
//
// Rules: the config's rule files, with the `ids` rule domain's entries
// (a rule of its own by sid, or a file rule switched off). A change is
// compiled on the control thread and swapped in whole; the packet path
// goes on with the set it had until then.
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <rampart/sdk/plugin.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "control_chars.hpp"
#include "countries.hpp"
#include "country_thresholds.hpp"
#include "domain.hpp"
#include "event.hpp"
#include "flow_table.hpp"
#include "kernel_counter_families.hpp"
#include "kernel_time.hpp"
#include "matcher.hpp"
#include "rampart/ids.h"
#include "rule.hpp"
#include "stage.hpp"

namespace {

using rampart::sdk::Config;
using rampart::sdk::Error;
using rampart::sdk::Host;
namespace ids = rampart::ids;

constexpr const char* kDomain = "ids";

constexpr std::array<const char*, RAMPART_IDS_STAT_MAX> kStats = {
    "unsampled", "sent",   "shed_rate", "shed_new", "ring_full",
    "truncated", "not_ip", "malformed", "fragment"};
static_assert(kStats.back() != nullptr, "a counter has no name");

struct Tier {
  std::vector<std::string> countries;
  double rate = 100;
};

struct Settings {
  bool prevent = false;  // a drop rule's alert asks for a block (the IPS acts on it)
  std::vector<std::string> rule_files;
  ids::Variables vars = ids::Variables::defaults();
  double rate = 100;  // percent of flows, the default tier
  std::string country_db;
  std::vector<Tier> tiers;
  ids::StageSettings stage;
  bool egress = true;
  ids::FlowTableConfig flows;
  uint32_t excerpt = 64;  // payload bytes an alert may quote
  std::vector<ids::CountryThreshold> country_thresholds;
  std::shared_ptr<const rampart::geo::CountryLookup> countries;  // with country_thresholds
};

// A variable's value as a rule header takes it: a list, a negation, a
// network, a port or a range; no quotes, braces or control characters.
void check_variable(const Config& cfg, const std::string& key, const std::string& v) {
  if (v.empty() || v.size() > 4096) throw cfg.invalid(key, "must be 1-4096 characters");
  for (const char c : v) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || std::strchr("[]!,:./$_ -", c) != nullptr))
      throw cfg.invalid(
          key, std::string("character '") + c + "' has no place in an address or port group");
  }
}

// country_thresholds: [{countries: [..], hits, seconds}], the countries
// read from sampling.country_db (opened here, so a bad one is refused).
void parse_country_thresholds(const Config& cfg, Settings& s) {
  const std::string k = "country_thresholds";
  const size_t n = cfg.size(k);
  if (!n) return;
  if (s.country_db.empty())
    throw cfg.invalid(k, "needs sampling.country_db (a country database's path)");
  std::set<std::string> seen;
  for (size_t i = 0; i < n; ++i) {
    const std::string at = k + "." + std::to_string(i);
    cfg.allow_only(at, {"countries", "hits", "seconds"});
    ids::CountryThreshold t;
    t.countries = cfg.strings(at + ".countries");
    if (t.countries.empty()) throw cfg.invalid(at + ".countries", "at least one country");
    for (const auto& c : t.countries) {
      if (!rampart::geo::country_code(c))
        throw cfg.invalid(at + ".countries", "'" + c + "' is not a country code");
      if (!seen.insert(c).second) throw cfg.invalid(at + ".countries", c + " has two thresholds");
    }
    t.hits = cfg.get_in<uint32_t>(at + ".hits", 1, 1, 1000000, " matches");
    t.seconds = cfg.get_in<uint32_t>(at + ".seconds", 60, 1, 86400, " seconds");
    s.country_thresholds.push_back(std::move(t));
  }
  try {
    s.countries = std::make_shared<const rampart::geo::CountryLookup>(s.country_db);
  } catch (const rampart::geo::CountryError& e) {
    throw cfg.invalid("sampling.country_db", e.what());
  }
}

Settings parse(const Config& cfg) {
  cfg.allow_only("", {"mode", "rule_files", "variables", "sampling", "capture", "ring_mb",
                      "backpressure", "flows", "egress", "excerpt", "country_thresholds"});
  Settings s;
  const std::string mode = cfg.get("mode", "detect");
  if (mode != "detect" && mode != "prevent") throw cfg.invalid("mode", "must be detect or prevent");
  s.prevent = mode == "prevent";
  s.rule_files = cfg.strings("rule_files");
  for (size_t i = 0; i < s.rule_files.size(); ++i) {
    std::ifstream f(s.rule_files[i]);
    if (!f) throw cfg.invalid("rule_files." + std::to_string(i), "cannot be read");
  }
  for (const auto& name : cfg.keys("variables")) {
    const std::string key = "variables." + name;
    const std::string v = cfg.require<std::string>(key);
    check_variable(cfg, key, v);
    const bool port = name.size() > 5 && name.compare(name.size() - 5, 5, "PORTS") == 0;
    (port ? s.vars.ports : s.vars.addresses)[name] = v;
  }
  if (cfg.has("sampling")) {
    cfg.allow_only("sampling", {"rate", "country_db", "tiers"});
    s.rate = cfg.get<double>("sampling.rate", 100);
    if (!(s.rate >= 0 && s.rate <= 100))
      throw cfg.invalid("sampling.rate", "must be 0-100 (percent)");
    s.country_db = cfg.get("sampling.country_db", "");
    const size_t n = cfg.size("sampling.tiers");
    if (n && s.country_db.empty())
      throw cfg.invalid("sampling.country_db", "required with tiers (a country database's path)");
    if (n > RAMPART_IDS_TIERS - 1)
      throw cfg.invalid("sampling.tiers",
                        "at most " + std::to_string(RAMPART_IDS_TIERS - 1) + " tiers");
    std::set<std::string> seen;
    for (size_t i = 0; i < n; ++i) {
      const std::string at = "sampling.tiers." + std::to_string(i);
      cfg.allow_only(at, {"countries", "rate"});
      Tier t;
      t.countries = cfg.strings(at + ".countries");
      if (t.countries.empty()) throw cfg.invalid(at + ".countries", "at least one country");
      for (const auto& c : t.countries) {
        if (!rampart::geo::country_code(c))
          throw cfg.invalid(at + ".countries", "'" + c + "' is not a country code");
        if (!seen.insert(c).second) throw cfg.invalid(at + ".countries", c + " is in two tiers");
      }
      t.rate = cfg.require<double>(at + ".rate");
      if (!(t.rate >= 0 && t.rate <= 100))
        throw cfg.invalid(at + ".rate", "must be 0-100 (percent)");
      s.tiers.push_back(std::move(t));
    }
  }
  s.stage.capture = cfg.get_in<uint32_t>("capture", 512, 0, RAMPART_IDS_MAX_CAPTURE, " bytes");
  const uint32_t ring_mb = cfg.get_in<uint32_t>("ring_mb", 4, 1, 256, " MiB");
  if (ring_mb & (ring_mb - 1)) throw cfg.invalid("ring_mb", "must be a power of two");
  s.stage.ring_bytes = ring_mb << 20;
  if (cfg.has("backpressure")) {
    cfg.allow_only("backpressure", {"shed_at", "shed_shift", "followed_only_at"});
    s.stage.shed_pct = cfg.get_in<uint32_t>("backpressure.shed_at", 50, 1, 100, " (% ring fill)");
    s.stage.shed_shift = cfg.get_in<uint32_t>("backpressure.shed_shift", 2, 1, 16, "");
    s.stage.followed_pct =
        cfg.get_in<uint32_t>("backpressure.followed_only_at", 80, 1, 100, " (% ring fill)");
    if (s.stage.shed_pct > s.stage.followed_pct)
      throw cfg.invalid("backpressure.shed_at", "must be at most followed_only_at");
  }
  if (cfg.has("flows")) {
    cfg.allow_only("flows", {"max", "idle_timeout_s", "stream_window", "encrypted_tls"});
    s.flows.max_flows = cfg.get_in<uint32_t>("flows.max", 65536, 1024, 4u << 20, " flows");
    s.flows.idle_timeout_ns =
        uint64_t{cfg.get_in<uint32_t>("flows.idle_timeout_s", 120, 1, 86400, " seconds")} *
        1'000'000'000ull;
    s.flows.stream_window = cfg.get_in<uint32_t>("flows.stream_window", 4096, 256, 65536, " bytes");
    const std::string enc = cfg.get("flows.encrypted_tls", "skip");
    if (enc != "skip" && enc != "inspect")
      throw cfg.invalid("flows.encrypted_tls", "must be skip or inspect");
    s.flows.inspect_encrypted = enc == "inspect";
  }
  s.stage.followed_flows = static_cast<uint32_t>(s.flows.max_flows);
  s.egress = cfg.get<bool>("egress", true);
  s.excerpt = cfg.get_in<uint32_t>("excerpt", 64, 0, 1024, " bytes");
  parse_country_thresholds(cfg, s);
  return s;
}

// Suricata's classification.config priorities for the classtypes rule
// sets use most (1 is the highest); a rule's priority: keyword wins.
uint32_t classtype_priority(std::string_view c) {
  static const std::map<std::string_view, uint32_t> kPriority = {
      {"attempted-admin", 1},
      {"attempted-user", 1},
      {"inappropriate-content", 1},
      {"policy-violation", 1},
      {"shellcode-detect", 1},
      {"successful-admin", 1},
      {"successful-user", 1},
      {"trojan-activity", 1},
      {"unsuccessful-user", 1},
      {"web-application-attack", 1},
      {"exploit-kit", 1},
      {"command-and-control", 1},
      {"domain-c2", 1},
      {"credential-theft", 1},
      {"targeted-activity", 1},
      {"attempted-dos", 2},
      {"attempted-recon", 2},
      {"bad-unknown", 2},
      {"default-login-attempt", 2},
      {"denial-of-service", 2},
      {"misc-attack", 2},
      {"non-standard-protocol", 2},
      {"rpc-portmap-decode", 2},
      {"successful-dos", 2},
      {"successful-recon-largescale", 2},
      {"successful-recon-limited", 2},
      {"suspicious-filename-detect", 2},
      {"suspicious-login", 2},
      {"system-call-detect", 2},
      {"unusual-client-port-connection", 2},
      {"web-application-activity", 2},
      {"social-engineering", 2},
      {"coin-mining", 2},
      {"external-ip-check", 2},
      {"icmp-event", 3},
      {"misc-activity", 3},
      {"network-scan", 3},
      {"not-suspicious", 3},
      {"protocol-command-decode", 3},
      {"string-detect", 3},
      {"unknown", 3},
      {"tcp-connection", 4},
  };
  const auto it = kPriority.find(c);
  return it == kPriority.end() ? 3 : it->second;
}

rampart_severity severity_of(const ids::Rule& r) {
  switch (r.priority.value_or(classtype_priority(r.classtype))) {
    case 1:
      return RAMPART_SEVERITY_HIGH;
    case 2:
      return RAMPART_SEVERITY_MEDIUM;
    default:
      return RAMPART_SEVERITY_LOW;
  }
}

// Payload bytes as an alert quotes them: printable ASCII as is, the rest
// as \xNN, at most `max` bytes of the original.
std::string excerpt_of(std::string_view bytes, size_t max) {
  std::string out;
  for (size_t i = 0; i < bytes.size() && i < max; ++i) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

// The rule set in force and what it was made of.
struct Detection {
  std::shared_ptr<const ids::RuleSet> set;
  std::vector<ids::FileRules> files;
  ids::Composed composed;  // without its rules (the set holds them)
  std::vector<ids::Entry> entries;
};

class IdsEngine {
 public:
  static constexpr const char* kSecretSettings[] = {nullptr};
  // A flow's packets must be put back in order: one batch at a time.
  static constexpr bool kEventsInOrder = true;

  IdsEngine(Host& host, const Config& cfg)
      : host_(host), settings_(parse(cfg)), flows_(settings_.flows) {
    source_ = host_.register_source(ids::kTcStage);
    std::random_device rd;
    seed_ = (uint64_t{rd()} << 32) | rd();
    events_ = host_.counter("rampart_ids_events_total", "tc_ids records decoded",
                            {{"outcome", "decoded"}});
    malformed_ = host_.counter("rampart_ids_events_total", "tc_ids records decoded",
                               {{"outcome", "malformed"}});
    inspections_ = host_.counter("rampart_ids_inspections_total",
                                 "Inspections matched against the rules (packets and "
                                 "application milestones)");
    matches_total_ = host_.counter("rampart_ids_matches_total", "Rule matches");
    alerts_ = host_.counter("rampart_ids_alerts_total", "Alerts raised (after thresholds)");
    suppressed_ = host_.counter("rampart_ids_suppressed_total",
                                "Matches a rule's threshold or detection_filter held back");
    rules_loaded_ = host_.gauge("rampart_ids_rules", "Rules by state", {{"state", "loaded"}});
    rules_refused_ = host_.gauge("rampart_ids_rules", "Rules by state", {{"state", "refused"}});
    rules_disabled_ = host_.gauge("rampart_ids_rules", "Rules by state", {{"state", "disabled"}});
    flows_active_ = host_.gauge("rampart_ids_flows", "Flows followed by the engine");
    gap_bytes_ = host_.counter("rampart_ids_stream_gap_bytes_total",
                               "Bytes lost to reassembly gaps (not captured or never seen)");
    encrypted_bytes_ = host_.counter(
        "rampart_ids_encrypted_tls_bytes_total",
        "Bytes of TLS application data passed over uninspected (flows.encrypted_tls: skip)");
    files_ = load_files(settings_);
  }

  void start() {
    claim();
    set_alerting(settings_);
    install(settings_);
    housekeeping_ = host_.every(std::chrono::seconds(5), [this] { housekeep(); });
  }
  void validate(const Config& cfg) { parse(cfg); }
  void reload(const Config& cfg) {
    Settings next = parse(cfg);
    if (next.flows.max_flows != settings_.flows.max_flows ||
        next.flows.stream_window != settings_.flows.stream_window ||
        next.flows.inspect_encrypted != settings_.flows.inspect_encrypted)
      host_.warn(
          "flows.max, flows.stream_window and flows.encrypted_tls take effect at the next start");
    rebuild(next.vars, entries_of_store(), load_files(next));
    set_alerting(next);
    install(next);
    std::lock_guard lock(mu_);
    settings_ = std::move(next);
  }
  void stop() { housekeeping_ = {}; }

  // The `ids` domain's entries, in force at once.
  void apply_rules(std::string_view domain, const std::vector<rampart::sdk::RuleBody>& bodies) {
    if (domain != kDomain) throw Error(RAMPART_ERR_INVALID_ARGUMENT, "not the ids domain");
    ids::Variables vars;
    {
      std::lock_guard lock(mu_);
      vars = settings_.vars;
    }
    rebuild(vars, entries_of(bodies));
  }

  // GET /api/v1/ids/status
  std::string domain_status(std::string_view domain) {
    if (domain != kDomain) throw Error(RAMPART_ERR_NOT_FOUND, "not the ids domain");
    const auto d = detection();
    Poco::JSON::Object o(Poco::JSON_PRESERVE_KEY_ORDER);
    o.set("mode", prevent_.load() ? "prevent" : "detect");
    o.set("enforced", enforced_.load());
    Poco::JSON::Object rules(Poco::JSON_PRESERVE_KEY_ORDER);
    rules.set("loaded", d->set ? d->set->rules().size() : 0);
    rules.set("refused", d->composed.refused.size() + (d->set ? d->set->refused().size() : 0));
    rules.set("disabled", d->composed.disabled);
    rules.set("entries", d->entries.size());
    Poco::JSON::Array files;
    for (const auto& f : d->files) {
      Poco::JSON::Object fo(Poco::JSON_PRESERVE_KEY_ORDER);
      fo.set("path", f.path);
      fo.set("accepted", f.loaded.rules.size());
      Poco::JSON::Array refused;
      for (const auto& r : f.loaded.refused) refused.add(r.message);
      fo.set("refused", refused);
      files.add(fo);
    }
    rules.set("files", files);
    if (d->set) {
      Poco::JSON::Array refused;
      for (const auto& r : d->set->refused()) refused.add(r.message);
      rules.set("refused_at_compile", refused);
    }
    o.set("rules", rules);
    const auto fs = flows_.stats();
    Poco::JSON::Object flows(Poco::JSON_PRESERVE_KEY_ORDER);
    flows.set("active", fs.flows_active);
    flows.set("created", fs.flows_created);
    flows.set("evicted", fs.flows_evicted);
    flows.set("timed_out", fs.flows_timed_out);
    flows.set("gaps", fs.gaps);
    flows.set("gap_bytes", fs.gap_bytes);
    flows.set("encrypted_tls_bytes", fs.encrypted_bytes);
    flows.set("out_of_order_held_bytes", fs.ooo_bytes_held);
    o.set("flows", flows);
    return rampart::json::to_text(o);
  }

  void on_events(const rampart::sdk::Events& batch) {
    const auto d = detection();
    if (!d->set) return;
    // A scratch serves one set: the set it was made for is held with it,
    // so a new set cannot take its address and pass for it.
    if (scratch_set_ != d->set) {
      scratch_.reset();
      scratch_ = std::make_unique<ids::Scratch>(*d->set);
      scratch_set_ = d->set;
    }
    uint64_t decoded = 0, bad = 0;
    for (size_t i = 0; i < batch.size(); ++i) {
      std::string why;
      const auto e = ids::decode_event(batch[i].bytes(), why);
      if (!e) {
        ++bad;
        continue;
      }
      ++decoded;
      ids::PacketEvent pe;
      pe.flow_id = e->ev.flow_id;
      pe.family = e->ev.family;
      std::memcpy(pe.src.data(), e->ev.src, 16);
      std::memcpy(pe.dst.data(), e->ev.dst, 16);
      pe.sport = e->ev.sport;
      pe.dport = e->ev.dport;
      pe.ip_proto = e->ev.ip_proto;
      pe.tcp_flags = e->ev.tcp_flags;
      pe.icmp_type = e->ev.icmp_type;
      pe.icmp_code = e->ev.icmp_code;
      pe.seq = e->ev.seq;
      pe.ack = e->ev.ack;
      pe.l7 = static_cast<ids::AppProto>(e->ev.l7);
      pe.ingress = !(e->ev.flags & RAMPART_IDS_EV_EGRESS);
      pe.payload_len = e->ev.payload_len;
      pe.payload = e->payload;
      const uint64_t ts = e->ev.hdr.ts_ns;
      flows_.feed(pe, ts, [&](const ids::Inspection& in, ids::FlowState& f) {
        inspect(*d->set, in, f, ts);
      });
    }
    flush_counts();
    if (decoded) events_.inc(static_cast<double>(decoded));
    if (bad) malformed_.inc(static_cast<double>(bad));
  }

 private:
  void inspect(const ids::RuleSet& set, const ids::Inspection& in, ids::FlowState& f,
               uint64_t ts_ns) {
    ++inspections_pending_;
    set.match(in, f.user_as<ids::FlowBits>(), *scratch_, matches_);
    for (const auto& m : matches_) report(m, in, f, ts_ns);
    if (inspections_pending_ >= 256) flush_counts();
  }

  void flush_counts() {
    if (!inspections_pending_) return;
    inspections_.inc(static_cast<double>(inspections_pending_));
    inspections_pending_ = 0;
  }

  void report(const ids::Match& m, const ids::Inspection& in, const ids::FlowState& f,
              uint64_t ts_ns) {
    matches_total_.inc();
    const ids::Rule& r = *m.rule_ptr;
    const auto now = std::chrono::steady_clock::now();
    if (!thresholds_.allow(r, in.pkt, now) || !country_allows(r.sid, in.pkt, now)) {
      suppressed_.inc();
      return;
    }
    const std::string_view where = m.in_stream ? in.stream : in.get(m.buffer);
    std::string_view hit;
    if (m.offset <= where.size()) hit = where.substr(m.offset, m.length);
    std::string msg = r.msg + " [sid " + std::to_string(r.sid) + " rev " + std::to_string(r.rev);
    if (!r.classtype.empty()) msg += ", " + r.classtype;
    msg += ", " + std::string(ids::buffer_name(m.buffer)) + (m.in_stream ? " (stream)" : "") +
           " at " + std::to_string(m.offset);  // (also in the alert's fields, ABI 1.12)
    if (settings_excerpt_ && !hit.empty())
      msg += ": \"" + excerpt_of(hit, settings_excerpt_) + "\"";
    msg += "]";
    const std::string rule_id = "ids:" + std::to_string(r.sid);
    const std::string tech_id(r.meta("mitre_technique_id"));
    const std::string tech_name(r.meta("mitre_technique_name"));
    const std::string tactic(r.meta("mitre_tactic_name"));
    rampart_alert a =
        rampart::sdk::make_alert(severity_of(r), rule_id, msg, {tech_id, tech_name, tactic});
    a.time_ns = rampart::kernel_time::realtime_of(ts_ns);
    a.ip_family = in.pkt.family;
    a.protocol = in.pkt.ip_proto;
    std::memcpy(a.src_addr, in.pkt.src.data(), 16);
    std::memcpy(a.dst_addr, in.pkt.dst.data(), 16);
    a.src_port = in.pkt.sport;
    a.dst_port = in.pkt.dport;
    const std::string buffer =
        std::string(ids::buffer_name(m.buffer)) + (m.in_stream ? " (stream)" : "");
    const std::string context = context_of(in, f);
    rampart::sdk::set_signature(
        a, {r.sid, r.rev, r.msg, r.classtype, f.flow_id, ids::app_proto_name(in.pkt.app), buffer,
            static_cast<uint32_t>(m.offset), hit.substr(0, settings_excerpt_), context});
    // Prevent mode: a drop (or reject) rule's hit asks for its source to be
    // blocked; the IPS engine acts on alerts whose action is block.
    if (prevent_.load(std::memory_order_relaxed) &&
        (r.action == ids::Action::drop || r.action == ids::Action::reject))
      a.action = RAMPART_ALERT_ACTION_BLOCK;
    host_.emit_alert(a);
    alerts_.inc();
  }

  // An alert's context (ABI 1.12), in the sections and names of Suricata's
  // EVE alert: the flow's counters and start, and what the inspection
  // holds of HTTP, TLS and DNS.
  static std::string context_of(const ids::Inspection& in, const ids::FlowState& f) {
    using ids::Buffer;
    Poco::JSON::Object o(Poco::JSON_PRESERVE_KEY_ORDER);
    Poco::JSON::Object flow(Poco::JSON_PRESERVE_KEY_ORDER);
    flow.set("pkts_toserver", f.packets[1]);
    flow.set("pkts_toclient", f.packets[0]);
    flow.set("bytes_toserver", f.bytes[1]);
    flow.set("bytes_toclient", f.bytes[0]);
    flow.set("start", rampart::sdk::rfc3339(rampart::kernel_time::realtime_of(f.start_ns)));
    o.set("flow", flow);
    auto text = [&](Buffer b) { return rampart::text::valid_utf8(in.get(b)); };
    if (in.has(Buffer::http_method)) {
      Poco::JSON::Object http(Poco::JSON_PRESERVE_KEY_ORDER);
      if (in.has(Buffer::http_host)) http.set("hostname", text(Buffer::http_host));
      if (in.has(Buffer::http_uri_raw)) http.set("url", text(Buffer::http_uri_raw));
      if (in.has(Buffer::http_user_agent))
        http.set("http_user_agent", text(Buffer::http_user_agent));
      http.set("http_method", text(Buffer::http_method));
      if (in.has(Buffer::http_protocol)) http.set("protocol", text(Buffer::http_protocol));
      if (in.has(Buffer::http_referer)) http.set("http_refer", text(Buffer::http_referer));
      if (in.has(Buffer::http_stat_code)) {
        const auto code = in.get(Buffer::http_stat_code);
        if (code.size() == 3) http.set("status", std::stoi(std::string(code)));
      }
      // (EVE's response body length: 0 until the response's body is seen.)
      http.set("length", in.has(Buffer::http_response_body)
                             ? in.get(Buffer::http_response_body).size()
                             : size_t{0});
      o.set("http", http);
    }
    if (in.has(Buffer::tls_sni)) {
      Poco::JSON::Object tls(Poco::JSON_PRESERVE_KEY_ORDER);
      tls.set("sni", text(Buffer::tls_sni));
      o.set("tls", tls);
    }
    if (in.has(Buffer::dns_query)) {
      Poco::JSON::Object q(Poco::JSON_PRESERVE_KEY_ORDER);
      q.set("type", "query");
      q.set("rrname", text(Buffer::dns_query));
      Poco::JSON::Array qs;
      qs.add(q);
      Poco::JSON::Object dns(Poco::JSON_PRESERVE_KEY_ORDER);
      dns.set("query", qs);
      o.set("dns", dns);
    }
    return rampart::json::to_text(o);
  }

  // What an alert quotes and which countries' sources need more than one
  // match (their counts start afresh on a reload).
  void set_alerting(const Settings& s) {
    settings_excerpt_ = s.excerpt;
    prevent_ = s.prevent;
    auto ct = std::make_shared<ids::CountryThresholds>(s.country_thresholds);
    std::lock_guard lock(mu_);
    country_thresholds_ = std::move(ct);
    countries_ = s.countries;
  }

  // The source's country's threshold (country_thresholds), if it has one.
  bool country_allows(uint32_t sid, const ids::Packet& pkt,
                      ids::Thresholds::Clock::time_point now) {
    std::shared_ptr<ids::CountryThresholds> ct;
    std::shared_ptr<const rampart::geo::CountryLookup> countries;
    {
      std::lock_guard lock(mu_);
      ct = country_thresholds_;
      countries = countries_;
    }
    if (!ct || !ct->active() || !countries) return true;
    return ct->allow(sid, pkt, countries->country(pkt.family, pkt.src.data()), now);
  }

  void housekeep() {
    timespec t{};
    clock_gettime(CLOCK_MONOTONIC, &t);
    flows_.expire(static_cast<uint64_t>(t.tv_sec) * 1'000'000'000ull +
                  static_cast<uint64_t>(t.tv_nsec));
    const auto fs = flows_.stats();
    flows_active_.set(static_cast<double>(fs.flows_active));
    // The table's totals only grow: the counters take what they grew by.
    gap_bytes_.inc(static_cast<double>(fs.gap_bytes - published_gap_bytes_));
    encrypted_bytes_.inc(static_cast<double>(fs.encrypted_bytes - published_encrypted_bytes_));
    published_gap_bytes_ = fs.gap_bytes;
    published_encrypted_bytes_ = fs.encrypted_bytes;
  }

  std::shared_ptr<const Detection> detection() const {
    std::lock_guard lock(mu_);
    return detection_;
  }

  // The config's rule files read (on the control thread): a file that
  // cannot be read now fails the start or the reload.
  std::vector<ids::FileRules> load_files(const Settings& s) {
    std::vector<ids::FileRules> files;
    for (const auto& path : s.rule_files) {
      std::ifstream f(path);
      if (!f) throw Error(RAMPART_ERR_INVALID_ARGUMENT, "rule file " + path + ": cannot be read");
      std::stringstream text;
      text << f.rdbuf();
      ids::FileRules fr{path, ids::load_rules(text.str(), s.vars)};
      host_.info("rule file " + path + ": " + std::to_string(fr.loaded.rules.size()) +
                 " rules accepted, " + std::to_string(fr.loaded.refused.size()) + " refused");
      for (const auto& r : fr.loaded.refused) host_.debug("rule file " + path + ": " + r.message);
      files.push_back(std::move(fr));
    }
    return files;
  }

  static std::vector<ids::Entry> entries_of(const std::vector<rampart::sdk::RuleBody>& bodies) {
    std::vector<ids::Entry> out;
    for (const auto& b : bodies) {
      try {
        out.push_back(ids::entry_from_json(b.body, b.id));
      } catch (const rampart::json::BodyError& e) {
        throw Error(RAMPART_ERR_INVALID_ARGUMENT,
                    "entry " + std::to_string(b.id) + ": " + e.what());
      }
    }
    return out;
  }

  std::vector<ids::Entry> entries_of_store() {
    try {
      return entries_of(host_.list_rules(kDomain));
    } catch (const Error& e) {
      if (e.status() != RAMPART_ERR_UNSUPPORTED) throw;
      return {};
    }
  }

  // Files and entries composed and compiled, then swapped in whole (the
  // files too, when new ones are given); nothing changes if that fails.
  void rebuild(const ids::Variables& vars, std::vector<ids::Entry> entries,
               std::optional<std::vector<ids::FileRules>> new_files = std::nullopt) {
    std::lock_guard build(build_mu_);
    std::vector<ids::FileRules> files;
    if (new_files) {
      files = std::move(*new_files);
    } else {
      std::lock_guard lock(mu_);
      files = files_;
    }
    ids::Composed composed;
    try {
      composed = ids::compose(files, entries, vars);
    } catch (const rampart::json::BodyError& e) {
      throw Error(RAMPART_ERR_INVALID_ARGUMENT, e.what());
    }
    auto next = std::make_shared<Detection>();
    next->set = ids::RuleSet::compile(std::move(composed.rules));
    composed.rules.clear();
    next->files = files;
    next->composed = std::move(composed);
    next->entries = std::move(entries);
    rules_loaded_.set(static_cast<double>(next->set->rules().size()));
    rules_refused_.set(
        static_cast<double>(next->composed.refused.size() + next->set->refused().size()));
    rules_disabled_.set(static_cast<double>(next->composed.disabled));
    for (const auto& r : next->set->refused()) host_.warn("rule refused: " + r.message);
    host_.info(std::to_string(next->set->rules().size()) + " IDS rules in force (" +
               std::to_string(next->composed.refused.size() + next->set->refused().size()) +
               " refused, " + std::to_string(next->composed.disabled) + " disabled)");
    std::lock_guard lock(mu_);
    detection_ = std::move(next);
    if (new_files) files_ = std::move(files);
  }

  void claim() {
    std::vector<rampart::sdk::RuleBody> stored;
    try {
      stored = host_.claim_rules(kDomain, {});
      host_.describe_domain(kDomain,
                            "IDS rules by sid: a rule of its own (Suricata syntax) or a rule of "
                            "the config's rule files switched off",
                            ids::entry_schema_json());
    } catch (const Error& e) {
      if (e.status() != RAMPART_ERR_UNSUPPORTED) throw;
      host_.warn(std::string("no rule store, using the config's rule files only: ") + e.what());
    }
    rebuild(settings_.vars, entries_of(stored));
  }

  // tc_ids at ingress (and egress), with the tiers' networks.
  void install(const Settings& s) {
    std::lock_guard lock(install_mu_);
    ids::StageSettings st = s.stage;
    st.event_source = source_;
    st.seed = seed_;
    st.rates[0] = ids::rate_ppm(s.rate);
    if (!s.tiers.empty()) {
      std::set<std::string> wanted;
      for (const auto& t : s.tiers) wanted.insert(t.countries.begin(), t.countries.end());
      rampart::geo::CountryNetworks nets;
      try {
        nets = rampart::geo::country_networks(s.country_db, wanted);
      } catch (const rampart::geo::CountryError& e) {
        throw Error(RAMPART_ERR_INVALID_ARGUMENT, std::string("sampling.country_db: ") + e.what());
      }
      for (size_t i = 0; i < s.tiers.size(); ++i) {
        st.rates[i + 1] = ids::rate_ppm(s.tiers[i].rate);
        for (const auto& c : s.tiers[i].countries) {
          for (const auto& n : nets.by_country[c])
            st.tiers.emplace_back(n, static_cast<uint32_t>(i + 1));
        }
      }
    }
    if (const std::string why = ids::check(st); !why.empty())
      throw Error(RAMPART_ERR_INVALID_ARGUMENT, why);
    rampart::sdk::Program in, out;
    try {
      st.egress = false;
      in = host_.install_program(ids::tc_image(st));
      if (s.egress) {
        st.egress = true;
        out = host_.install_program(ids::tc_image(st));
      }
    } catch (const Error& e) {
      if (e.status() != RAMPART_ERR_UNSUPPORTED) throw;
      host_.warn(std::string("IDS sampling not running: ") + e.what());
      host_.report_enforcing(false, std::string("IDS sampling not running: ") + e.what());
      return;
    }
    const bool first = !tc_in_;
    tc_in_ = std::move(in);
    tc_out_ = std::move(out);
    enforced_ = true;
    if (first) {
      // Every packet ends in one of these (truncated, counted before the
      // ring write, is a family of its own); tc_ids never drops.
      host_.export_counter_families(
          RAMPART_NAME(RAMPART_IDS_MAP_STATS), ids::kTcStage,
          std::vector<std::string>(kStats.begin(), kStats.end()),
          {rampart::counters::packets({RAMPART_IDS_STAT_UNSAMPLED, RAMPART_IDS_STAT_SENT,
                                       RAMPART_IDS_STAT_SHED_RATE, RAMPART_IDS_STAT_SHED_NEW,
                                       RAMPART_IDS_STAT_RING_FULL, RAMPART_IDS_STAT_NOT_IP,
                                       RAMPART_IDS_STAT_MALFORMED, RAMPART_IDS_STAT_FRAGMENT})});
    }
    host_.info("tc_ids sampling " + std::to_string(s.rate) + "% of flows" +
               (s.tiers.empty() ? std::string()
                                : ", " + std::to_string(s.tiers.size()) + " country tiers") +
               ", " + std::to_string(st.capture) + " payload bytes a packet" +
               (s.egress ? ", both ways" : ", ingress only"));
  }

  Host& host_;
  Settings settings_;
  mutable std::mutex mu_;  // detection_, files_, settings_ after start
  std::mutex build_mu_;    // one rebuild at a time
  std::mutex install_mu_;  // one install at a time
  std::shared_ptr<const Detection> detection_ = std::make_shared<Detection>();
  std::vector<ids::FileRules> files_;
  ids::FlowTable flows_;
  ids::Thresholds thresholds_;
  std::shared_ptr<ids::CountryThresholds> country_thresholds_;    // mu_
  std::shared_ptr<const rampart::geo::CountryLookup> countries_;  // mu_
  // The packet path's own (one batch at a time: kEventsInOrder).
  std::shared_ptr<const ids::RuleSet> scratch_set_;
  std::unique_ptr<ids::Scratch> scratch_;
  std::vector<ids::Match> matches_;
  uint64_t inspections_pending_ = 0;
  std::atomic<uint32_t> settings_excerpt_{64};
  std::atomic<bool> enforced_{false};
  std::atomic<bool> prevent_{false};
  uint32_t source_ = 0;
  uint64_t seed_ = 0;
  rampart::sdk::Program tc_in_, tc_out_;
  rampart::sdk::Timer housekeeping_;
  rampart::sdk::Metric events_, malformed_, inspections_, matches_total_, alerts_, suppressed_,
      rules_loaded_, rules_refused_, rules_disabled_, flows_active_, gap_bytes_, encrypted_bytes_;
  uint64_t published_gap_bytes_ = 0, published_encrypted_bytes_ = 0;  // (housekeep() only)
};

}  // namespace

RAMPART_PLUGIN(
    IdsEngine, RAMPART_KIND_ENGINE, "ids", "Intrusion detection on sampled flows",
    RAMPART_AGENT_VERSION, "Apache-2.0",
    "Suricata-syntax rules matched on whole flows tc_ids samples at TC: TCP reassembled, "
    "HTTP/TLS/DNS/SSH parsed, a Vectorscan prefilter and each rule confirmed in full")
