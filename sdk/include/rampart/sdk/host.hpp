// SPDX-License-Identifier: Apache-2.0
// The host services, as handed to a plugin's constructor.
// Part of the C++ SDK; include <rampart/sdk/plugin.hpp> for all of it.
#ifndef RAMPART_SDK_HOST_HPP
#define RAMPART_SDK_HOST_HPP

#include <rampart/sdk/abi.h>

#include <arpa/inet.h>
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <functional>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <rampart/sdk/config.hpp>
#include <rampart/sdk/error.hpp>
#include <rampart/sdk/handles.hpp>
#include <rampart/sdk/kernel.hpp>

namespace rampart::sdk {

// ABI 1.1: a stored rule (id and JSON body).
struct RuleBody {
  uint64_t id = 0;
  std::string body;
  bool operator==(const RuleBody& o) const { return id == o.id && body == o.body; }
};

// ABI 1.8: one change to a domain's rule set (apply_rule_changes).
struct RuleChange {
  rampart_rule_change kind = RAMPART_RULE_CREATE;
  uint64_t id = 0;
  std::string body;  // empty for a delete
};

using Labels = std::initializer_list<std::pair<const char*, const char*>>;

// ABI 1.4: what the transport knows of who sent a management API request:
// the kernel-verified credentials of a Unix-socket peer, and TLS.
struct ApiPeer {
  bool local = false;
  uint32_t uid = 0, gid = 0;
  int32_t pid = 0;
  bool tls = false;
};

// The host services, as handed to the plugin's constructor.
class Host {
 public:
  explicit Host(const rampart_host_api* api) : api_(api) {}

  const rampart_host_api* api() const { return api_; }
  std::string_view plugin_id() const { return api_->plugin_id; }
  uint16_t abi_minor() const { return api_->abi_minor; }

  void log(rampart_log_level level, std::string_view msg) const {
    api_->log(api_->ctx, level, msg.data(), msg.size());
  }
  void debug(std::string_view m) const { log(RAMPART_LOG_DEBUG, m); }
  void info(std::string_view m) const { log(RAMPART_LOG_INFO, m); }
  void warn(std::string_view m) const { log(RAMPART_LOG_WARN, m); }
  void error(std::string_view m) const { log(RAMPART_LOG_ERROR, m); }

  Metric counter(const char* name, const char* help, Labels labels = {}) const {
    return metric(RAMPART_METRIC_COUNTER, name, help, labels, {});
  }
  Metric gauge(const char* name, const char* help, Labels labels = {}) const {
    return metric(RAMPART_METRIC_GAUGE, name, help, labels, {});
  }
  Metric histogram(const char* name, const char* help, std::vector<double> buckets,
                   Labels labels = {}) const {
    return metric(RAMPART_METRIC_HISTOGRAM, name, help, labels, std::move(buckets));
  }

  // Calls fn every `interval` (first after `first`); interval 0 fires once.
  Timer every(std::chrono::milliseconds first, std::chrono::milliseconds interval,
              std::function<void()> fn) const {
    Timer t;
    t.api_ = api_;
    t.fn_ = std::make_shared<Timer::Callback>(api_, std::move(fn));
    const auto first_ms = static_cast<uint64_t>(first.count());
    const auto interval_ms = static_cast<uint64_t>(interval.count());
    // A 1.5 host counts and logs a failed tick itself, rate-limited; an
    // older one hears of it only through the log line timer_thunk writes.
    if (RAMPART_HAS_FIELD(api_, rampart_host_api, timer_start2) && api_->timer_start2) {
      check(api_->timer_start2(api_->ctx, first_ms, interval_ms, &Host::timer_thunk2, t.fn_.get(),
                               &t.handle_));
    } else {
      check(api_->timer_start(api_->ctx, first_ms, interval_ms, &Host::timer_thunk, t.fn_.get(),
                              &t.handle_));
    }
    return t;
  }
  Timer every(std::chrono::milliseconds interval, std::function<void()> fn) const {
    return every(interval, interval, std::move(fn));
  }
  Timer after(std::chrono::milliseconds delay, std::function<void()> fn) const {
    return every(delay, std::chrono::milliseconds(0), std::move(fn));
  }

  void subscribe(rampart_event_source source) const { check(api_->subscribe(api_->ctx, source)); }
  void unsubscribe(rampart_event_source source) const {
    check(api_->unsubscribe(api_->ctx, source));
  }

  void emit_alert(const rampart_alert& alert) const { check(api_->alert_emit(api_->ctx, &alert)); }

  // ABI 1.6: claims the event source `name` ([a-z0-9_], up to 32) for this
  // plugin and returns its id: a well-known name's, else
  // rampart_event_source_id(name), the same in every run. The plugin's
  // kernel programs stamp it in their records' header (records naming a
  // source the plugin did not register are dropped). Call from the
  // constructor or start().
  uint32_t register_source(const char* name) const {
    require_field(RAMPART_HAS_FIELD(api_, rampart_host_api, source_register), "source_register");
    uint32_t id = 0;
    check(api_->source_register(api_->ctx, name, &id));
    return id;
  }

  // ABI 1.3: what passive DNS saw (address -> name) and a name's
  // reputation (0 malicious .. 100 trusted), for alert enrichment.
  void publish_name(uint8_t family, const uint8_t* addr, std::string_view name,
                    std::chrono::seconds ttl) const {
    require_field(RAMPART_HAS_FIELD(api_, rampart_host_api, name_publish), "name_publish");
    check(api_->name_publish(api_->ctx, family, addr, to_str(name),
                             static_cast<uint32_t>(ttl.count())));
  }
  void publish_reputation(std::string_view name, int32_t score, std::chrono::seconds ttl) const {
    require_field(RAMPART_HAS_FIELD(api_, rampart_host_api, reputation_publish),
                  "reputation_publish");
    check(api_->reputation_publish(api_->ctx, to_str(name), score,
                                   static_cast<uint32_t>(ttl.count())));
  }

  // ABI 1.1: loads `image` and installs it in its slot in one atomic step.
  Program install_program(const ProgramImage& image) const {
    require_field(RAMPART_HAS_FIELD(api_, rampart_host_api, program_install), "program_install");
    const auto abi = image.to_abi();
    rampart_program* p = nullptr;
    check(api_->program_install(api_->ctx, &abi->image, &p));
    return Program(api_, p);
  }

  // ABI 1.10: an instance of `image`'s shape loaded in the background, for
  // an install of that shape to come (rampart_host_api::program_prepare).
  // False from a host before 1.10: the install then loads, as it always did.
  bool prepare_program(const ProgramImage& image) const {
    if (!RAMPART_HAS_FIELD(api_, rampart_host_api, program_prepare)) return false;
    const auto abi = image.to_abi();
    check(api_->program_prepare(api_->ctx, &abi->image));
    return true;
  }

  // ABI 1.9: a grace-period ticket (rampart_host_api::grace_ticket); 0 from
  // a host that cannot tell (or predates 1.9): then it writes nothing in
  // place, and the ticket passes at once.
  uint64_t grace_ticket() const {
    if (!RAMPART_HAS_FIELD(api_, rampart_host_api, grace_ticket)) return 0;
    return api_->grace_ticket(api_->ctx);
  }
  // Whether `ticket` passed; with `wait`, after waiting for it.
  bool grace_passed(uint64_t ticket, bool wait = false) const {
    if (!ticket) return true;
    if (!RAMPART_HAS_FIELD(api_, rampart_host_api, grace_passed)) return false;
    return api_->grace_passed(api_->ctx, ticket, wait ? 1 : 0) == 1;
  }

  // ABI 1.5: entries first..first+names.size()-1 (`first` ABI 1.11) of one
  // of this plugin's persistent u64 array maps, published as the counter
  // family `metric` with `label` naming each entry (and in GET
  // /api/v1/ebpf under `status`); no names withdraws the export.
  void export_counters(const char* map, const char* metric, const char* help,
                       const std::vector<std::pair<std::string, std::string>>& labels,
                       const char* label, const std::vector<std::string>& names, const char* status,
                       uint32_t first = 0) const {
    require_field(RAMPART_HAS_FIELD(api_, rampart_host_api, counters_export), "counters_export");
    // An older host reads no `first` and would export entries from 0.
    if (first != 0)
      require_field(api_->abi_minor >= 11, "counters_export from an entry other than 0 (ABI 1.11)");
    std::vector<rampart_label> ls;
    for (const auto& [k, v] : labels) ls.push_back({k.c_str(), v.c_str()});
    std::vector<const char*> ns;
    for (const auto& n : names) ns.push_back(n.c_str());
    rampart_counter_export d{};
    d.struct_size = sizeof d;
    d.count = static_cast<uint32_t>(ns.size());
    d.map = map;
    d.metric = metric;
    d.help = help;
    d.labels = ls.data();
    d.label_count = ls.size();
    d.label = label;
    d.names = ns.data();
    d.status = status;
    d.first = first;
    check(api_->counters_export(api_->ctx, &d));
  }

  // One Prometheus family of a program's counters (export_counter_families):
  // the entries it holds, each labelled `label`=its name. Its series should
  // sum to something: every packet counted once (outcome), every drop once
  // (reason).
  struct CounterFamily {
    std::string metric;  // "rampart_kernel_..._total"
    std::string help;
    std::string label;
    std::vector<uint32_t> entries;
  };
  // A program's per-CPU counters in `map` (entry i named names[i], as GET
  // /api/v1/ebpf shows them under `program`) as `families`; every entry no
  // family holds becomes a family of its own,
  // rampart_kernel_<program>_<name>_total (a subset or a count of its own
  // kind, which sums with nothing). Every series has program=<program>.
  // Needs a 1.12 host (entries skipped by empty names).
  void export_counter_families(const char* map, const std::string& program,
                               const std::vector<std::string>& names,
                               const std::vector<CounterFamily>& families) const {
    require_field(api_->abi_minor >= 12, "counter families (ABI 1.12)");
    const std::vector<std::pair<std::string, std::string>> labels = {{"program", program}};
    std::vector<bool> held(names.size());
    for (const auto& f : families) {
      if (f.entries.empty()) continue;
      const auto [lo, hi] = std::minmax_element(f.entries.begin(), f.entries.end());
      std::vector<std::string> in(*hi - *lo + 1);  // "" where another family holds the entry
      for (const uint32_t e : f.entries) {
        if (e >= names.size()) throw Error(RAMPART_ERR_INVALID_ARGUMENT, f.metric + ": no entry");
        in[e - *lo] = names[e];
        held[e] = true;
      }
      export_counters(map, f.metric.c_str(), f.help.c_str(), labels, f.label.c_str(), in,
                      program.c_str(), *lo);
    }
    for (uint32_t i = 0; i < names.size(); ++i) {
      if (held[i]) continue;
      const std::string metric = "rampart_kernel_" + program + "_" + names[i] + "_total";
      const std::string help = program + "'s " + names[i] + " counter (per-CPU values summed)";
      export_counters(map, metric.c_str(), help.c_str(), labels, "", {names[i]}, program.c_str(),
                      i);
    }
  }

  // ABI 1.1 rule store. Owners claim their domain with the rules their
  // config declares and get the whole stored set back to apply.
  std::vector<RuleBody> claim_rules(const char* domain,
                                    const std::vector<RuleBody>& config_rules) const {
    require_field(RAMPART_HAS_FIELD(api_, rampart_host_api, rules_claim), "rules_claim");
    std::vector<rampart_rule> in;
    for (const auto& r : config_rules)
      in.push_back(rampart_rule{sizeof(rampart_rule), 0, r.id, to_str(r.body)});
    std::vector<RuleBody> out;
    check(api_->rules_claim(api_->ctx, domain, in.data(), in.size(), &Host::collect_rule, &out));
    return out;
  }
  std::vector<RuleBody> list_rules(const char* domain) const {
    require_field(RAMPART_HAS_FIELD(api_, rampart_host_api, rules_list), "rules_list");
    std::vector<RuleBody> out;
    check(api_->rules_list(api_->ctx, domain, &Host::collect_rule, &out));
    return out;
  }
  // Frontends: applied by the domain's owner, then stored and audited.
  void change_rule(const char* domain, rampart_rule_change change, uint64_t id,
                   std::string_view body, const char* actor) const {
    require_field(RAMPART_HAS_FIELD(api_, rampart_host_api, rules_change), "rules_change");
    check(api_->rules_change(api_->ctx, domain, change, id, to_str(body), actor));
  }
  bool datapath_ready() const {
    return RAMPART_HAS_FIELD(api_, rampart_host_api, datapath_ready) &&
           api_->datapath_ready(api_->ctx) != 0;
  }
  // ABI 1.2: describe a rule domain this engine claimed (for the API and
  // its OpenAPI document).
  void describe_domain(const char* name, const char* summary, const char* schema_json) const {
    require_field(RAMPART_HAS_FIELD(api_, rampart_host_api, domain_describe), "domain_describe");
    rampart_domain_desc d{};
    d.struct_size = sizeof d;
    d.name = name;
    d.summary = summary;
    d.schema = schema_json;
    check(api_->domain_describe(api_->ctx, &d));
  }
  // ABI 1.2, frontends: one management API request (core/api routes).
  struct ApiResponse {
    int status = 0;
    std::string body;
  };
  ApiResponse api_call(const std::string& method, const std::string& path, const std::string& query,
                       std::string_view body, const std::string& actor,
                       const std::string& credential = "", const ApiPeer& peer = {}) const {
    require_field(RAMPART_HAS_FIELD(api_, rampart_host_api, api_call), "api_call");
    rampart_api_request req = api_request(actor, credential, peer);
    req.method = method.c_str();
    req.path = path.c_str();
    req.query = query.empty() ? nullptr : query.c_str();
    req.body = to_str(body);
    rampart_api_response res{};
    res.struct_size = sizeof res;
    check(api_->api_call(api_->ctx, &req, &res));
    return {static_cast<int>(res.status),
            std::string(res.body.ptr ? res.body.ptr : "", res.body.len)};
  }
  // ABI 1.4, frontends: who a request comes from, before reading its body.
  struct ApiIdentity {
    rampart_role role = RAMPART_ROLE_NONE;
    std::string name;  // "key:<name>", "local:uid=0"; "" for nobody
    explicit operator bool() const { return role != RAMPART_ROLE_NONE; }
  };
  ApiIdentity authenticate(const std::string& actor, const std::string& credential,
                           const ApiPeer& peer = {}) const {
    require_field(RAMPART_HAS_FIELD(api_, rampart_host_api, api_authenticate), "api_authenticate");
    const rampart_api_request req = api_request(actor, credential, peer);
    rampart_api_identity out{};
    out.struct_size = sizeof out;
    check(api_->api_authenticate(api_->ctx, &req, &out));
    return {static_cast<rampart_role>(out.role), to_string(out.name)};
  }
  // ABI 1.4: whether the agent enforces everything its config asks, and
  // if not, what is missing ({"ready": bool, "missing": [...]}).
  struct Readiness {
    bool ready = false;
    std::string detail_json;
  };
  Readiness agent_ready() const {
    if (!RAMPART_HAS_FIELD(api_, rampart_host_api, agent_ready)) {
      const bool up = datapath_ready();
      return {up, up ? R"({"ready":true,"missing":[]})"
                     : R"({"ready":false,"missing":["kernel programs not attached"]})"};
    }
    rampart_str detail{};
    const bool ready = api_->agent_ready(api_->ctx, &detail) != 0;
    return {ready, to_string(detail)};
  }
  // ABI 1.4, engines: this instance enforces what its config asks, or not
  // (and why); the agent is not ready while an engine does not.
  void report_enforcing(bool enforcing, const std::string& reason = "") const {
    if (RAMPART_HAS_FIELD(api_, rampart_host_api, report_enforcing))
      api_->report_enforcing(api_->ctx, enforcing ? 1 : 0, reason.c_str());
  }

  // ABI 1.2: every metric in the Prometheus text format.
  std::string metrics_text() const {
    require_field(RAMPART_HAS_FIELD(api_, rampart_host_api, metrics_render), "metrics_render");
    rampart_str s{};
    check(api_->metrics_render(api_->ctx, &s));
    return std::string(s.ptr ? s.ptr : "", s.len);
  }

  // ABI 1.1: a shared kernel map, its key and value sizes checked.
  Map open_map(const char* name, uint32_t key_size, uint32_t value_size) const {
    require_field(RAMPART_HAS_FIELD(api_, rampart_host_api, map_open), "map_open");
    rampart_map* m = nullptr;
    check(api_->map_open(api_->ctx, name, key_size, value_size, &m));
    return Map(api_, m);
  }

 private:
  static rampart_api_request api_request(const std::string& actor, const std::string& credential,
                                         const ApiPeer& peer) {
    rampart_api_request req{};
    req.struct_size = sizeof req;
    req.method = "";
    req.path = "";
    req.actor = actor.c_str();
    req.credential = credential.empty() ? nullptr : credential.c_str();
    req.peer_flags = (peer.local ? RAMPART_PEER_LOCAL : 0u) | (peer.tls ? RAMPART_PEER_TLS : 0u);
    req.peer_uid = peer.uid;
    req.peer_gid = peer.gid;
    req.peer_pid = peer.pid;
    return req;
  }
  static void timer_thunk(void* user) noexcept;
  static rampart_status timer_thunk2(void* user) noexcept;
  static void collect_rule(void* user, const rampart_rule* r) noexcept {
    try {
      static_cast<std::vector<RuleBody>*>(user)->push_back(RuleBody{r->id, to_string(r->body)});
    } catch (...) {
    }
  }

  Metric metric(rampart_metric_type type, const char* name, const char* help, Labels labels,
                std::vector<double> buckets) const {
    std::vector<rampart_label> ls;
    for (const auto& [k, v] : labels) ls.push_back(rampart_label{k, v});
    rampart_metric_desc d{};
    d.struct_size = sizeof(d);
    d.type = type;
    d.name = name;
    d.help = help;
    d.labels = ls.data();
    d.label_count = ls.size();
    d.buckets = buckets.data();
    d.bucket_count = buckets.size();
    rampart_metric* m = nullptr;
    check(api_->metric_create(api_->ctx, &d, &m));
    return Metric(api_, m);
  }
  void check(rampart_status st) const {
    if (st != RAMPART_OK) throw Error(st, api_->last_error());
  }
  void require_field(bool present, const char* what) const {
    if (!present) {
      throw Error(RAMPART_ERR_UNSUPPORTED, std::string("host ABI ") +
                                               std::to_string(api_->abi_major) + "." +
                                               std::to_string(api_->abi_minor) + " has no " + what);
    }
  }

  const rampart_host_api* api_;
};

// The host calls a timer's callback only while its Timer lives (a cancel
// from another thread waits for the callback), so the closure is alive on
// entry; `keep` holds it should the callback drop its own Timer.
inline rampart_status Host::timer_thunk2(void* user) noexcept {
  const auto keep = static_cast<Timer::Callback*>(user)->shared_from_this();
  return detail::guard([&] { keep->fn(); });
}

inline void Host::timer_thunk(void* user) noexcept {
  const auto keep = static_cast<Timer::Callback*>(user)->shared_from_this();
  const Timer::Callback* cb = keep.get();
  // A throwing timer callback must not unwind into the host's event loop.
  if (detail::guard([&] { cb->fn(); }) != RAMPART_OK) {
    const std::string msg = std::string("timer callback failed: ") + detail::last_error();
    cb->api->log(cb->api->ctx, RAMPART_LOG_ERROR, msg.data(), msg.size());
  }
}

}  // namespace rampart::sdk

#endif  // RAMPART_SDK_HOST_HPP
