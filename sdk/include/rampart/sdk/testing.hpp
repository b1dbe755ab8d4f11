// SPDX-License-Identifier: Apache-2.0
// An in-process host for a plugin's unit tests: no rampartd, no root, no
// kernel. It loads the plugin's .so as rampartd would (its entry symbol,
// the version check), hands it a host API table of its own, and lets the
// test drive and observe it:
//
//   rampart::sdk::testing::TestHost host;
//   host.config({{"tick_ms", "20"}, {"rules.0.id", "1"}, {"rules.0.action", "deny"}});
//   auto& p = host.load("build/lib/rampart/plugins/my_engine.so");  // create()
//   p.start();
//   host.advance_ms(60);                         // timers run on a fake clock
//   EXPECT_EQ(host.alerts().size(), 3u);         // what alert_emit handed over
//   host.inject(p, RAMPART_EV_MINE, source, bytes);  // a ring record to on_event(s)
//   EXPECT_EQ(host.metric("rampart_mine_seen_total"), 1);
//   p.stop();
//
// What a unit test has no use for answers RAMPART_ERR_UNSUPPORTED with a
// reason (program_install, maps, the management API): a plugin that
// degrades without a kernel, as it should without CAP_BPF, says so through
// report_enforcing, which the host records. Header-only, C++17, one
// instance of one plugin per TestHost; calls come from the test's thread
// (timer callbacks too, inside advance_ms).
#pragma once

#include <rampart/events.h>
#include <rampart/sdk/abi.h>

#include <dlfcn.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace rampart::sdk::testing {

// What this host's opaque handles point to (the plugin never looks inside
// a rampart_config, rampart_metric or rampart_timer: it hands them back).
struct ConfigHandle {
  const void* node;
};
struct MetricHandle {
  void* metric;
};
struct TimerHandle {
  uint64_t id;
};

// A config value: a scalar, a map (keys in insertion order) or a sequence.
struct ConfigNode {
  uint32_t type = RAMPART_CONFIG_MISSING;
  std::string scalar;
  std::vector<std::string> keys;    // a map's, beside their values
  std::vector<ConfigNode> entries;  // a map's values, or a sequence's

  const ConfigNode* find(const std::string& path) const;
  // Makes the node at `path`, a segment of digits a sequence index.
  ConfigNode& make(const std::string& path);
};

namespace detail {
inline bool is_index(const std::string& part) {
  return !part.empty() && part.size() < 10 &&
         part.find_first_not_of("0123456789") == std::string::npos;
}
// The next dot-separated segment of `path` from `at` (moved past it).
inline std::string segment(const std::string& path, size_t& at) {
  const size_t dot = path.find('.', at);
  const std::string part = path.substr(at, dot == std::string::npos ? dot : dot - at);
  at = dot == std::string::npos ? path.size() : dot + 1;
  return part;
}
}  // namespace detail

inline const ConfigNode* ConfigNode::find(const std::string& path) const {
  const ConfigNode* n = this;
  size_t at = 0;
  while (at < path.size() && n) {
    const std::string part = detail::segment(path, at);
    if (n->type == RAMPART_CONFIG_MAP) {
      const auto it = std::find(n->keys.begin(), n->keys.end(), part);
      n = it == n->keys.end() ? nullptr : &n->entries[static_cast<size_t>(it - n->keys.begin())];
    } else if (n->type == RAMPART_CONFIG_SEQUENCE && detail::is_index(part)) {
      const size_t i = std::stoul(part);
      n = i < n->entries.size() ? &n->entries[i] : nullptr;
    } else {
      n = nullptr;
    }
  }
  return n;
}

inline ConfigNode& ConfigNode::make(const std::string& path) {
  ConfigNode* n = this;
  size_t at = 0;
  while (at < path.size()) {
    const std::string part = detail::segment(path, at);
    if (detail::is_index(part)) {
      n->type = RAMPART_CONFIG_SEQUENCE;
      const size_t i = std::stoul(part);
      if (n->entries.size() <= i) n->entries.resize(i + 1);
      n = &n->entries[i];
    } else {
      n->type = RAMPART_CONFIG_MAP;
      const auto it = std::find(n->keys.begin(), n->keys.end(), part);
      size_t i = static_cast<size_t>(it - n->keys.begin());
      if (it == n->keys.end()) {
        n->keys.push_back(part);
        n->entries.emplace_back();
        i = n->keys.size() - 1;
      }
      n = &n->entries[i];
    }
  }
  return *n;
}

// What the plugin handed to alert_emit, copied.
struct CapturedAlert {
  uint32_t severity = 0, action = 0;
  uint8_t ip_family = 0, protocol = 0;
  uint16_t src_port = 0, dst_port = 0;
  uint8_t src_addr[16] = {}, dst_addr[16] = {};
  std::string rule_id, message, mitre_technique_id, signature, category, app_proto;
  uint32_t signature_id = 0;
};

struct LogLine {
  uint32_t level;
  std::string text;
};

class TestHost;

// The plugin instance a TestHost loaded: its lifecycle calls, each
// throwing std::runtime_error with the plugin's last_error on a failure.
class LoadedPlugin {
 public:
  const rampart_plugin_descriptor& descriptor() const { return *desc_; }
  void start() { check(api().start ? api().start(self_) : RAMPART_OK, "start"); }
  // Cancels the instance's timers, then stop().
  void stop();
  // validate() then reload() with the host's current config.
  void reload();
  rampart_status validate();
  // send_alert (senders).
  rampart_status send_alert(const rampart_alert& alert) {
    return api().send_alert ? api().send_alert(self_, &alert) : RAMPART_ERR_UNSUPPORTED;
  }
  std::string domain_status(const std::string& domain) {
    if (!api().domain_status) return "";
    rampart_str out{};
    check(api().domain_status(self_, domain.c_str(), &out), "domain_status");
    return std::string(out.ptr ? out.ptr : "", out.len);
  }
  std::string last_error() const { return api().last_error ? api().last_error() : ""; }
  ~LoadedPlugin() {
    stop();
    if (self_ && api().destroy) api().destroy(self_);
  }
  LoadedPlugin(const LoadedPlugin&) = delete;
  LoadedPlugin& operator=(const LoadedPlugin&) = delete;

 private:
  friend class TestHost;
  LoadedPlugin(TestHost& host, const rampart_plugin_descriptor* desc) : host_(host), desc_(desc) {}
  const rampart_plugin_api& api() const { return *desc_->api; }
  void check(rampart_status s, const char* what) const {
    if (s != RAMPART_OK)
      throw std::runtime_error(std::string(desc_->id) + ": " + what + " failed: " + last_error());
  }
  TestHost& host_;
  const rampart_plugin_descriptor* desc_;
  rampart_plugin* self_ = nullptr;
  bool stopped_ = false;
};

class TestHost {
 public:
  TestHost() {
    api_.struct_size = sizeof api_;
    api_.abi_major = RAMPART_ABI_MAJOR;
    api_.abi_minor = RAMPART_ABI_MINOR;
    api_.ctx = reinterpret_cast<rampart_host_ctx*>(this);
    api_.plugin_id = "";
    fill_table();
    root_.type = RAMPART_CONFIG_MAP;
  }
  ~TestHost() {
    plugin_.reset();
    if (library_) dlclose(library_);
  }
  TestHost(const TestHost&) = delete;
  TestHost& operator=(const TestHost&) = delete;

  // The plugin's config subtree (plugins.<id>), as dotted paths and their
  // scalar values: {{"listen", "127.0.0.1:0"}, {"rules.0.id", "1"}}.
  void config(const std::vector<std::pair<std::string, std::string>>& values) {
    root_ = ConfigNode{};
    root_.type = RAMPART_CONFIG_MAP;
    for (const auto& [path, value] : values) {
      ConfigNode& n = root_.make(path);
      n.type = RAMPART_CONFIG_SCALAR;
      n.scalar = value;
    }
  }

  // Loads the plugin from its .so and creates the instance with the
  // config set so far; throws std::runtime_error if it cannot.
  LoadedPlugin& load(const std::string& path) {
    if (library_) throw std::runtime_error("a TestHost loads one plugin");
    library_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!library_) throw std::runtime_error(std::string("dlopen: ") + dlerror());
    auto entry =
        reinterpret_cast<rampart_plugin_entry_fn>(dlsym(library_, RAMPART_PLUGIN_ENTRY_SYMBOL));
    if (!entry) throw std::runtime_error(path + " has no " RAMPART_PLUGIN_ENTRY_SYMBOL);
    const rampart_plugin_descriptor* desc = entry(RAMPART_ABI_MAJOR, RAMPART_ABI_MINOR);
    if (!desc || !desc->api || desc->abi_major != RAMPART_ABI_MAJOR ||
        desc->abi_minor > RAMPART_ABI_MINOR)
      throw std::runtime_error(path + ": no descriptor this host's ABI takes");
    plugin_.reset(new LoadedPlugin(*this, desc));
    id_ = desc->id;
    api_.plugin_id = id_.c_str();
    const ConfigHandle cfg{&root_};
    plugin_->check(desc->api->create(&api_, handle(cfg), &plugin_->self_), "create");
    return *plugin_;
  }

  // ---- driving it ----

  // Moves the fake clock on, running every timer that comes due on the
  // way, in order (a repeating one as many times as it falls due).
  void advance_ms(uint64_t ms) {
    const uint64_t until = now_ms_ + ms;
    for (;;) {
      auto next = timers_.end();
      for (auto it = timers_.begin(); it != timers_.end(); ++it) {
        if (it->second.due <= until && (next == timers_.end() || it->second.due < next->second.due))
          next = it;
      }
      if (next == timers_.end()) break;
      now_ms_ = next->second.due;
      const uint64_t id = next->first;
      const Timer t = next->second;
      if (t.interval)
        next->second.due += t.interval;
      else
        timers_.erase(next);
      const rampart_status s = t.fn2 ? t.fn2(t.user) : (t.fn(t.user), RAMPART_OK);
      if (s != RAMPART_OK) ++timer_failures_;
      (void)id;
    }
    now_ms_ = until;
  }
  uint64_t now_ms() const { return now_ms_; }
  size_t timers() const { return timers_.size(); }
  size_t timer_failures() const { return timer_failures_; }

  // A ring record of `type` from `source` (the header written in front of
  // `payload`), to on_events or on_event as the host would.
  rampart_status inject(LoadedPlugin& p, uint32_t type, uint32_t source, const std::string& payload,
                        uint64_t ts_ns = 0) {
    const rampart_event_hdr hdr{type, source, ts_ns};
    std::string record(reinterpret_cast<const char*>(&hdr), sizeof hdr);
    record += payload;
    rampart_event ev{};
    ev.struct_size = sizeof ev;
    ev.source = source;
    ev.type = type;
    ev.time_ns = ts_ns;
    ev.data = record.data();
    ev.len = record.size();
    const auto& api = *p.desc_->api;
    if (RAMPART_HAS_FIELD(&api, rampart_plugin_api, on_events) && api.on_events)
      return api.on_events(p.self_, &ev, 1);
    return api.on_event ? api.on_event(p.self_, &ev) : RAMPART_ERR_UNSUPPORTED;
  }

  // One rule change through the plugin (rules_apply_changes, else the
  // domain's whole set to rules_apply), kept when it is accepted.
  rampart_status change_rule(LoadedPlugin& p, const std::string& domain, uint32_t kind, uint64_t id,
                             const std::string& body = "") {
    auto set = rules_[domain];
    auto at = set.find(id);
    if (kind == RAMPART_RULE_CREATE && at != set.end()) return RAMPART_ERR_CONFLICT;
    if (kind != RAMPART_RULE_CREATE && at == set.end()) return RAMPART_ERR_NOT_FOUND;
    if (kind == RAMPART_RULE_DELETE)
      set.erase(id);
    else
      set[id] = body;
    const auto& api = *p.desc_->api;
    rampart_status s;
    if (RAMPART_HAS_FIELD(&api, rampart_plugin_api, rules_apply_changes) &&
        api.rules_apply_changes) {
      rampart_rule_delta d{};
      d.struct_size = sizeof d;
      d.kind = kind;
      d.id = id;
      d.body = {body.data(), body.size()};
      s = api.rules_apply_changes(p.self_, domain.c_str(), &d, 1);
    } else if (api.rules_apply) {
      std::vector<rampart_rule> rules;
      for (const auto& [rid, b] : set) rules.push_back(rule_of(rid, b));
      s = api.rules_apply(p.self_, domain.c_str(), rules.data(), rules.size());
    } else {
      s = RAMPART_ERR_UNSUPPORTED;
    }
    if (s == RAMPART_OK) rules_[domain] = std::move(set);
    return s;
  }

  // ---- what it did ----

  const std::vector<CapturedAlert>& alerts() const { return alerts_; }
  const std::vector<LogLine>& logs() const { return logs_; }
  bool logged(const std::string& fragment) const {
    return std::any_of(logs_.begin(), logs_.end(), [&](const LogLine& l) {
      return l.text.find(fragment) != std::string::npos;
    });
  }
  // A metric's value: a counter's or gauge's, a histogram's observation
  // count; `labels` as "a=x,b=y" in the order the plugin gave them. -1
  // when the plugin registered no such metric.
  double metric(const std::string& name, const std::string& labels = "") const {
    const auto it = metrics_.find(name + "{" + labels + "}");
    if (it == metrics_.end()) return -1;
    return it->second->type == RAMPART_METRIC_HISTOGRAM
               ? static_cast<double>(it->second->observations.size())
               : it->second->value;
  }
  // A domain's rules as the plugin claimed or changed them, by id.
  const std::map<uint64_t, std::string>& rules(const std::string& domain) { return rules_[domain]; }
  // What describe_domain said: summary and schema.
  std::pair<std::string, std::string> domain(const std::string& name) const {
    const auto it = domains_.find(name);
    return it == domains_.end() ? std::pair<std::string, std::string>() : it->second;
  }
  // report_enforcing: whether the instance says it enforces, and why not.
  bool enforcing() const { return enforcing_; }
  const std::string& not_enforcing_because() const { return not_enforcing_; }
  const std::vector<uint32_t>& subscriptions() const { return subscriptions_; }
  // name_publish, as "address-bytes-as-hex name".
  const std::vector<std::string>& names_published() const { return names_; }

 private:
  friend class LoadedPlugin;
  struct Metric {
    uint32_t type = RAMPART_METRIC_COUNTER;
    double value = 0;
    std::vector<double> observations;
  };
  struct Timer {
    uint64_t due, interval;
    rampart_timer_fn fn;
    rampart_timer_fn2 fn2;
    void* user;
  };

  static TestHost& self(rampart_host_ctx* ctx) { return *reinterpret_cast<TestHost*>(ctx); }
  static std::string& error_text() {
    thread_local std::string text;
    return text;
  }
  static rampart_status fail(rampart_status s, const std::string& why) {
    error_text() = why;
    return s;
  }
  static const rampart_config* handle(const ConfigHandle& h) {
    return reinterpret_cast<const rampart_config*>(&h);
  }
  static const ConfigNode* node(const rampart_config* cfg, const char* path) {
    if (!cfg || !path) return nullptr;
    const auto* root =
        static_cast<const ConfigNode*>(reinterpret_cast<const ConfigHandle*>(cfg)->node);
    return root->find(path);
  }
  // The scalar at `path` (it lives as long as the config), for every getter.
  static rampart_status scalar(const rampart_config* cfg, const char* path,
                               const std::string*& out) {
    const ConfigNode* n = node(cfg, path);
    if (!n) return fail(RAMPART_ERR_NOT_FOUND, std::string(path) + ": not set");
    if (n->type != RAMPART_CONFIG_SCALAR)
      return fail(RAMPART_ERR_INVALID_ARGUMENT, std::string(path) + ": not a scalar");
    out = &n->scalar;
    return RAMPART_OK;
  }
  // The scalar at `path` read by `parse` (nullopt: not `what`).
  template <class T, class Parse>
  static rampart_status parse_scalar(const rampart_config* cfg, const char* path, T* out,
                                     const char* what, Parse parse) {
    const std::string* text = nullptr;
    if (const auto st = scalar(cfg, path, text); st != RAMPART_OK) return st;
    const std::optional<T> v = parse(*text);
    if (!v)
      return fail(RAMPART_ERR_INVALID_ARGUMENT, std::string(path) + ": not " + what + ": " + *text);
    *out = *v;
    return RAMPART_OK;
  }
  static rampart_rule rule_of(uint64_t id, const std::string& body) {
    rampart_rule r{};
    r.struct_size = sizeof r;
    r.id = id;
    r.body = {body.data(), body.size()};
    return r;
  }
  static rampart_status unsupported(const char* what) {
    return fail(RAMPART_ERR_UNSUPPORTED,
                std::string(what) + ": no kernel or core in the test host");
  }
  static Metric& metric_of(rampart_metric* m) {
    return *static_cast<Metric*>(reinterpret_cast<MetricHandle*>(m)->metric);
  }
  static std::string str(const rampart_str& s) { return s.ptr ? std::string(s.ptr, s.len) : ""; }

  void fill_table() {
    rampart_host_api& a = api_;
    a.last_error = [] { return error_text().c_str(); };
    a.log = [](rampart_host_ctx* ctx, uint32_t level, const char* msg, size_t len) {
      self(ctx).logs_.push_back({level, std::string(msg, len)});
    };
    a.config_type = [](const rampart_config* cfg, const char* path) -> uint32_t {
      const ConfigNode* n = node(cfg, path);
      return n ? n->type : static_cast<uint32_t>(RAMPART_CONFIG_MISSING);
    };
    a.config_get_string = [](const rampart_config* cfg, const char* path, rampart_str* out) {
      const std::string* s = nullptr;
      if (const auto st = scalar(cfg, path, s); st != RAMPART_OK) return st;
      *out = {s->data(), s->size()};
      return RAMPART_OK;
    };
    a.config_get_int = [](const rampart_config* cfg, const char* path, int64_t* out) {
      return parse_scalar(cfg, path, out, "an integer",
                          [](const std::string& s) -> std::optional<int64_t> {
                            char* end = nullptr;
                            errno = 0;
                            const long long v = std::strtoll(s.c_str(), &end, 10);
                            if (s.empty() || *end || errno) return std::nullopt;
                            return v;
                          });
    };
    a.config_get_double = [](const rampart_config* cfg, const char* path, double* out) {
      return parse_scalar(cfg, path, out, "a number",
                          [](const std::string& s) -> std::optional<double> {
                            char* end = nullptr;
                            const double v = std::strtod(s.c_str(), &end);
                            if (s.empty() || *end) return std::nullopt;
                            return v;
                          });
    };
    a.config_get_bool = [](const rampart_config* cfg, const char* path, int* out) {
      return parse_scalar(cfg, path, out, "true or false",
                          [](const std::string& s) -> std::optional<int> {
                            if (s != "true" && s != "false") return std::nullopt;
                            return s == "true";
                          });
    };
    a.config_size = [](const rampart_config* cfg, const char* path, size_t* out) {
      const ConfigNode* n = node(cfg, path);
      if (!n) return fail(RAMPART_ERR_NOT_FOUND, std::string(path) + ": not set");
      if (n->type == RAMPART_CONFIG_MAP || n->type == RAMPART_CONFIG_SEQUENCE)
        *out = n->entries.size();
      else
        return fail(RAMPART_ERR_INVALID_ARGUMENT, std::string(path) + ": not a map or sequence");
      return RAMPART_OK;
    };
    a.config_key_at = [](const rampart_config* cfg, const char* path, size_t i, rampart_str* out) {
      const ConfigNode* n = node(cfg, path);
      if (!n || n->type != RAMPART_CONFIG_MAP || i >= n->keys.size())
        return fail(RAMPART_ERR_NOT_FOUND, std::string(path) + ": no such key");
      *out = {n->keys[i].data(), n->keys[i].size()};
      return RAMPART_OK;
    };
    a.config_check_keys = [](const rampart_config* cfg, const char* path,
                             const char* const* allowed, size_t count) {
      const ConfigNode* n = node(cfg, path);
      if (!n || n->type != RAMPART_CONFIG_MAP) return RAMPART_OK;
      for (const std::string& k : n->keys) {
        if (std::none_of(allowed, allowed + count, [&](const char* x) { return k == x; }))
          return fail(RAMPART_ERR_INVALID_ARGUMENT,
                      "test:0:0: " + std::string(*path ? std::string(path) + "." : "") + k +
                          ": unknown key");
      }
      return RAMPART_OK;
    };
    a.config_location = [](const rampart_config*, const char*, rampart_str* out) {
      static const char kWhere[] = "test:0:0";
      *out = {kWhere, sizeof kWhere - 1};
      return RAMPART_OK;
    };
    a.metric_create = [](rampart_host_ctx* ctx, const rampart_metric_desc* d,
                         rampart_metric** out) {
      std::string key = std::string(d->name) + "{";
      for (size_t i = 0; i < d->label_count; ++i)
        key += (i ? "," : "") + std::string(d->labels[i].name) + "=" + d->labels[i].value;
      key += "}";
      auto& m = self(ctx).metrics_[key];
      if (!m) {
        m = std::make_unique<Metric>();
        m->type = d->type;
      }
      self(ctx).handles_.push_back(std::make_unique<MetricHandle>(MetricHandle{m.get()}));
      *out = reinterpret_cast<rampart_metric*>(self(ctx).handles_.back().get());
      return RAMPART_OK;
    };
    a.metric_add = [](rampart_metric* m, double v) { metric_of(m).value += v; };
    a.metric_set = [](rampart_metric* m, double v) { metric_of(m).value = v; };
    a.metric_observe = [](rampart_metric* m, double v) { metric_of(m).observations.push_back(v); };
    a.timer_start = [](rampart_host_ctx* ctx, uint64_t first, uint64_t interval,
                       rampart_timer_fn fn, void* user, rampart_timer** out) {
      return self(ctx).add_timer(first, interval, fn, nullptr, user, out);
    };
    a.timer_start2 = [](rampart_host_ctx* ctx, uint64_t first, uint64_t interval,
                        rampart_timer_fn2 fn, void* user, rampart_timer** out) {
      return self(ctx).add_timer(first, interval, nullptr, fn, user, out);
    };
    a.timer_cancel = [](rampart_host_ctx* ctx, rampart_timer* t) {
      if (t) self(ctx).timers_.erase(reinterpret_cast<TimerHandle*>(t)->id);
    };
    a.subscribe = [](rampart_host_ctx* ctx, uint32_t source) {
      self(ctx).subscriptions_.push_back(source);
      return RAMPART_OK;
    };
    a.unsubscribe = [](rampart_host_ctx* ctx, uint32_t source) {
      auto& s = self(ctx).subscriptions_;
      s.erase(std::remove(s.begin(), s.end(), source), s.end());
      return RAMPART_OK;
    };
    a.alert_emit = [](rampart_host_ctx* ctx, const rampart_alert* al) {
      CapturedAlert c;
      c.severity = al->severity;
      c.action = al->action;
      c.ip_family = al->ip_family;
      c.protocol = al->protocol;
      c.src_port = al->src_port;
      c.dst_port = al->dst_port;
      std::memcpy(c.src_addr, al->src_addr, 16);
      std::memcpy(c.dst_addr, al->dst_addr, 16);
      c.rule_id = str(al->rule_id);
      c.message = str(al->message);
      if (RAMPART_HAS_FIELD(al, rampart_alert, mitre_technique_id))
        c.mitre_technique_id = str(al->mitre_technique_id);
      if (RAMPART_HAS_FIELD(al, rampart_alert, context_json)) {
        c.signature_id = al->signature_id;
        c.signature = str(al->signature);
        c.category = str(al->category);
        c.app_proto = str(al->app_proto);
      }
      self(ctx).alerts_.push_back(std::move(c));
      return RAMPART_OK;
    };
    a.program_install = [](rampart_host_ctx*, const rampart_program_image*, rampart_program**) {
      return unsupported("program_install");
    };
    a.program_release = [](rampart_host_ctx*, rampart_program*) {};
    a.program_counter = [](rampart_host_ctx*, rampart_program*, const char*, uint32_t, uint64_t*) {
      return unsupported("program_counter");
    };
    a.map_open = [](rampart_host_ctx*, const char*, uint32_t, uint32_t, rampart_map**) {
      return unsupported("map_open");
    };
    a.map_lookup = [](rampart_map*, const void*, void*) { return unsupported("map_lookup"); };
    a.map_update = [](rampart_map*, const void*, const void*, uint64_t) {
      return unsupported("map_update");
    };
    a.map_delete = [](rampart_map*, const void*) { return unsupported("map_delete"); };
    a.map_update_batch = [](rampart_map*, const void*, const void*, size_t) {
      return unsupported("map_update_batch");
    };
    a.rules_claim = [](rampart_host_ctx* ctx, const char* domain, const rampart_rule* config,
                       size_t count, rampart_rule_fn fn, void* user) {
      auto& set = self(ctx).rules_[domain];
      for (size_t i = 0; i < count; ++i) set[config[i].id] = str(config[i].body);
      for (const auto& [id, body] : set) {
        const rampart_rule r = rule_of(id, body);
        fn(user, &r);
      }
      return RAMPART_OK;
    };
    a.rules_list = [](rampart_host_ctx* ctx, const char* domain, rampart_rule_fn fn, void* user) {
      for (const auto& [id, body] : self(ctx).rules_[domain]) {
        const rampart_rule r = rule_of(id, body);
        fn(user, &r);
      }
      return RAMPART_OK;
    };
    a.rules_change = [](rampart_host_ctx* ctx, const char* domain, uint32_t kind, uint64_t id,
                        rampart_str body, const char*) {
      // Another domain's rules (the IPS writing the blocklist): kept, as
      // the store would once that domain's owner accepted them.
      auto& set = self(ctx).rules_[domain];
      if (kind == RAMPART_RULE_DELETE)
        set.erase(id);
      else
        set[id] = str(body);
      return RAMPART_OK;
    };
    a.datapath_ready = [](rampart_host_ctx*) { return 0; };
    a.metrics_render = [](rampart_host_ctx*, rampart_str*) {
      return unsupported("metrics_render");
    };
    a.domain_describe = [](rampart_host_ctx* ctx, const rampart_domain_desc* d) {
      self(ctx).domains_[d->name] = {d->summary ? d->summary : "", d->schema ? d->schema : ""};
      return RAMPART_OK;
    };
    a.api_call = [](rampart_host_ctx*, const rampart_api_request*, rampart_api_response*) {
      return unsupported("api_call");
    };
    a.name_publish = [](rampart_host_ctx* ctx, uint8_t family, const uint8_t* addr,
                        rampart_str name, uint32_t) {
      static const char kHex[] = "0123456789abcdef";
      std::string hex;
      for (size_t i = 0; i < (family == 6 ? 16u : 4u); ++i) {
        hex += kHex[addr[i] >> 4];
        hex += kHex[addr[i] & 15];
      }
      self(ctx).names_.push_back(hex + " " + str(name));
      return RAMPART_OK;
    };
    a.reputation_publish = [](rampart_host_ctx*, rampart_str, int32_t, uint32_t) {
      return RAMPART_OK;
    };
    a.api_authenticate = [](rampart_host_ctx*, const rampart_api_request*, rampart_api_identity*) {
      return unsupported("api_authenticate");
    };
    a.agent_ready = [](rampart_host_ctx*, rampart_str* detail) {
      if (detail) *detail = {};
      return 1;
    };
    a.report_enforcing = [](rampart_host_ctx* ctx, int enforcing, const char* reason) {
      self(ctx).enforcing_ = enforcing != 0;
      self(ctx).not_enforcing_ = enforcing || !reason ? "" : reason;
    };
    a.map_info = [](rampart_map*, rampart_map_info*) { return unsupported("map_info"); };
    a.map_lookup_percpu = [](rampart_map*, const void*, void*, uint32_t) {
      return unsupported("map_lookup_percpu");
    };
    a.counters_export = [](rampart_host_ctx*, const rampart_counter_export*) {
      return unsupported("counters_export");
    };
    a.map_pop = [](rampart_map*, void*) { return unsupported("map_pop"); };
    a.source_register = [](rampart_host_ctx*, const char* name, uint32_t* id) {
      // As rampartd: a well-known name's fixed id, else the name's hash.
      for (uint32_t i = 0; rampart_event_source_name(i); ++i) {
        if (std::strcmp(rampart_event_source_name(i), name) == 0) {
          *id = i;
          return RAMPART_OK;
        }
      }
      *id = rampart_event_source_id(name);
      return RAMPART_OK;
    };
    a.program_counters = [](rampart_host_ctx*, rampart_program*, const char*, uint32_t, uint32_t,
                            uint64_t*) { return unsupported("program_counters"); };
    a.grace_ticket = [](rampart_host_ctx*) -> uint64_t { return 0; };
    a.grace_passed = [](rampart_host_ctx*, uint64_t ticket, int) { return ticket == 0 ? 1 : 0; };
    a.program_prepare = [](rampart_host_ctx*, const rampart_program_image*) {
      return unsupported("program_prepare");
    };
  }

  rampart_status add_timer(uint64_t first, uint64_t interval, rampart_timer_fn fn,
                           rampart_timer_fn2 fn2, void* user, rampart_timer** out) {
    const uint64_t id = ++timer_ids_;
    timers_[id] = Timer{now_ms_ + first, interval, fn, fn2, user};
    timer_handles_.push_back(std::make_unique<TimerHandle>(TimerHandle{id}));
    *out = reinterpret_cast<rampart_timer*>(timer_handles_.back().get());
    return RAMPART_OK;
  }

  rampart_host_api api_{};
  ConfigNode root_;
  std::string id_;
  void* library_ = nullptr;
  std::unique_ptr<LoadedPlugin> plugin_;
  uint64_t now_ms_ = 0, timer_ids_ = 0;
  size_t timer_failures_ = 0;
  std::map<uint64_t, Timer> timers_;
  std::vector<std::unique_ptr<TimerHandle>> timer_handles_;
  std::map<std::string, std::unique_ptr<Metric>> metrics_;
  std::vector<std::unique_ptr<MetricHandle>> handles_;
  std::vector<CapturedAlert> alerts_;
  std::vector<LogLine> logs_;
  std::map<std::string, std::map<uint64_t, std::string>> rules_;
  std::map<std::string, std::pair<std::string, std::string>> domains_;
  std::vector<uint32_t> subscriptions_;
  std::vector<std::string> names_;
  bool enforcing_ = true;
  std::string not_enforcing_;
};

inline rampart_status LoadedPlugin::validate() {
  const ConfigHandle cfg{&host_.root_};
  return api().validate ? api().validate(self_, TestHost::handle(cfg)) : RAMPART_OK;
}

inline void LoadedPlugin::reload() {
  const ConfigHandle cfg{&host_.root_};
  check(validate(), "validate");
  check(api().reload ? api().reload(self_, TestHost::handle(cfg)) : RAMPART_ERR_UNSUPPORTED,
        "reload");
}

inline void LoadedPlugin::stop() {
  if (stopped_) return;
  stopped_ = true;
  host_.timers_.clear();  // as rampartd: every timer cancelled before stop()
  if (api().stop) api().stop(self_);
}

}  // namespace rampart::sdk::testing
