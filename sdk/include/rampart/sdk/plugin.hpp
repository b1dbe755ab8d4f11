// SPDX-License-Identifier: Apache-2.0
//
// Header-only C++ layer over the C ABI in abi.h (the "hourglass": C in the
// middle, C++ on both ends). A plugin is a class; RAMPART_PLUGIN turns it into
// the exported entry point and noexcept thunks that turn exceptions into a
// status and a last_error text.
//
//   class MyEngine {
//    public:
//     MyEngine(rampart::sdk::Host& host, const rampart::sdk::Config& cfg);
//     void start();                                   // optional
//     void stop();                                    // optional
//     void validate(const rampart::sdk::Config& cfg); // optional
//     void reload(const rampart::sdk::Config& cfg);   // optional, all or nothing
//     void on_event(const rampart::sdk::Event& ev);   // optional (engines)
//     void on_events(const rampart::sdk::Events& evs);  // optional: batches (1.6)
//     static constexpr bool kEventsInOrder = true;    // optional: one at a time, in order (1.6)
//     void send_alert(const rampart::sdk::Alert& a);  // senders
//     void stream_alert(const rampart::sdk::Alert& a);  // frontends that stream alerts
//     static constexpr const char* kSecretSettings[] = {"password", nullptr};  // optional
//   };
//   RAMPART_PLUGIN(MyEngine, RAMPART_KIND_ENGINE, "my_engine", "My engine", "1.0.0",
//                  "Apache-2.0", "What it does")
//
// Optional methods are detected at compile time: a method the class does not
// have leaves the function-table slot NULL.
#ifndef RAMPART_SDK_PLUGIN_HPP
#define RAMPART_SDK_PLUGIN_HPP

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

namespace rampart::sdk {

// An error that crosses the boundary as a status code and message.
class Error : public std::runtime_error {
 public:
  Error(rampart_status status, const std::string& what)
      : std::runtime_error(what), status_(status) {}
  rampart_status status() const noexcept { return status_; }

 private:
  rampart_status status_;
};

inline std::string to_string(rampart_str s) {
  return s.ptr ? std::string(s.ptr, s.len) : std::string();
}
inline rampart_str to_str(std::string_view s) { return rampart_str{s.data(), s.size()}; }

class Host;

// The plugin's own config subtree (plugins.<id>). Valid only during the call
// it was passed to: copy what you need into your own settings.
class Config {
 public:
  Config(const rampart_host_api* api, const rampart_config* cfg) : api_(api), cfg_(cfg) {}

  bool has(const std::string& path) const { return type(path) != RAMPART_CONFIG_MISSING; }
  rampart_config_type type(const std::string& path) const {
    return static_cast<rampart_config_type>(api_->config_type(cfg_, path.c_str()));
  }

  // Typed getters: the default when the key is absent, an Error naming the
  // file and line when it is present with the wrong type.
  template <class T>
  T get(const std::string& path, T fallback) const {
    if (!has(path)) return fallback;
    return require<T>(path);
  }
  std::string get(const std::string& path, const char* fallback) const {
    return get<std::string>(path, std::string(fallback));
  }

  template <class T>
  T require(const std::string& path) const {
    if constexpr (std::is_same_v<T, std::string>) {
      rampart_str s{};
      check(api_->config_get_string(cfg_, path.c_str(), &s));
      return to_string(s);
    } else if constexpr (std::is_same_v<T, bool>) {
      int v = 0;
      check(api_->config_get_bool(cfg_, path.c_str(), &v));
      return v != 0;
    } else if constexpr (std::is_integral_v<T>) {
      int64_t v = 0;
      check(api_->config_get_int(cfg_, path.c_str(), &v));
      if (v < static_cast<int64_t>(std::numeric_limits<T>::min()) ||
          (v > 0 &&
           static_cast<uint64_t>(v) > static_cast<uint64_t>(std::numeric_limits<T>::max()))) {
        throw Error(RAMPART_ERR_INVALID_ARGUMENT,
                    path + ": value " + std::to_string(v) + " is out of range");
      }
      return static_cast<T>(v);
    } else if constexpr (std::is_floating_point_v<T>) {
      double v = 0;
      check(api_->config_get_double(cfg_, path.c_str(), &v));
      return static_cast<T>(v);
    } else {
      static_assert(sizeof(T) == 0, "unsupported config type");
    }
  }

  // Entries of a sequence or map at path (0 if absent).
  size_t size(const std::string& path) const {
    if (!has(path)) return 0;
    size_t n = 0;
    check(api_->config_size(cfg_, path.c_str(), &n));
    return n;
  }
  std::vector<std::string> keys(const std::string& path) const {
    std::vector<std::string> out;
    const size_t n = type(path) == RAMPART_CONFIG_MAP ? size(path) : 0;
    for (size_t i = 0; i < n; ++i) {
      rampart_str k{};
      check(api_->config_key_at(cfg_, path.c_str(), i, &k));
      out.push_back(to_string(k));
    }
    return out;
  }
  std::vector<std::string> strings(const std::string& path) const {
    std::vector<std::string> out;
    const size_t n = size(path);
    for (size_t i = 0; i < n; ++i)
      out.push_back(require<std::string>(path + "." + std::to_string(i)));
    return out;
  }

  // "file:line:col" of the node at path, for errors found in its value
  // (ABI 1.1; "" on an older host or when absent).
  std::string location(const std::string& path) const {
    rampart_str s{};
    if (!RAMPART_HAS_FIELD(api_, rampart_host_api, config_location) ||
        api_->config_location(cfg_, path.c_str(), &s) != RAMPART_OK) {
      return "";
    }
    return to_string(s);
  }
  // An Error for a bad value at path: "file:line:col: plugins.<id>.<path>: why".
  Error invalid(const std::string& path, const std::string& why) const {
    const std::string where = location(path);
    return Error(RAMPART_ERR_INVALID_ARGUMENT, (where.empty() ? "" : where + ": ") + "plugins." +
                                                   api_->plugin_id + "." + path + ": " + why);
  }

  // Rejects keys of the map at path other than `allowed` (typos in config
  // are errors, not silently ignored settings).
  void allow_only(const std::string& path, std::initializer_list<const char*> allowed) const {
    allow_only(path, std::vector<const char*>(allowed));
  }
  void allow_only(const std::string& path, const std::vector<const char*>& allowed) const {
    check(api_->config_check_keys(cfg_, path.c_str(), allowed.data(), allowed.size()));
  }

 private:
  void check(rampart_status st) const {
    if (st != RAMPART_OK) throw Error(st, api_->last_error());
  }
  const rampart_host_api* api_;
  const rampart_config* cfg_;
};

// A metric handle (counter, gauge or histogram with fixed labels).
class Metric {
 public:
  Metric() = default;
  Metric(const rampart_host_api* api, rampart_metric* m) : api_(api), m_(m) {}
  void inc(double v = 1.0) const {
    if (m_) api_->metric_add(m_, v);
  }
  void add(double v) const { inc(v); }
  void set(double v) const {
    if (m_) api_->metric_set(m_, v);
  }
  void observe(double v) const {
    if (m_) api_->metric_observe(m_, v);
  }

 private:
  const rampart_host_api* api_ = nullptr;
  rampart_metric* m_ = nullptr;
};

// A timer on the core's event loop; cancelled when this object dies.
class Timer {
 public:
  Timer() = default;
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;
  Timer(Timer&& o) noexcept { *this = std::move(o); }
  Timer& operator=(Timer&& o) noexcept {
    if (this != &o) {
      cancel();
      api_ = std::exchange(o.api_, nullptr);
      handle_ = std::exchange(o.handle_, nullptr);
      fn_ = std::move(o.fn_);
    }
    return *this;
  }
  ~Timer() { cancel(); }

  void cancel() {
    if (api_ && handle_) api_->timer_cancel(api_->ctx, handle_);
    handle_ = nullptr;
  }

 private:
  friend class Host;
  const rampart_host_api* api_ = nullptr;
  rampart_timer* handle_ = nullptr;
  // Shared so that a callback which replaces or cancels its own Timer
  // (`timer_ = host.after(...)` inside it) keeps running on a live closure:
  // the thunk holds a reference until the callback returns.
  struct Callback : std::enable_shared_from_this<Callback> {
    Callback(const rampart_host_api* a, std::function<void()> f) : api(a), fn(std::move(f)) {}
    const rampart_host_api* api;
    std::function<void()> fn;
  };
  std::shared_ptr<Callback> fn_;
};

// ABI 1.1: what Host::install_program loads (see rampart_program_image).
struct MapImage {
  std::string name;
  uint32_t max_entries = 0;    // 0: as declared
  uint32_t value_size = 0;     // 0: as declared
  std::vector<uint8_t> dense;  // array maps: values of keys 0..n-1
  uint32_t key_size = 0;       // explicit entries: count keys + count values
  std::vector<uint8_t> keys, values;
  size_t count = 0;
  uint32_t flags = 0;  // ABI 1.5: RAMPART_MAP_PERSISTENT

  // ABI 1.5: a map the plugin keeps across program swaps and restarts.
  static MapImage persistent(std::string name) {
    MapImage m;
    m.name = std::move(name);
    m.flags = RAMPART_MAP_PERSISTENT;
    return m;
  }

  // ABI 1.5: a value pushed into a keyless map (queue, stack, Bloom filter).
  template <class V>
  void push(const V& v) {
    key_size = 0;
    value_size = sizeof(V);
    const auto* vp = reinterpret_cast<const uint8_t*>(&v);
    values.insert(values.end(), vp, vp + sizeof(V));
    ++count;
  }

  template <class K, class V>
  void add(const K& k, const V& v) {
    key_size = sizeof(K);
    value_size = sizeof(V);
    const auto* kp = reinterpret_cast<const uint8_t*>(&k);
    const auto* vp = reinterpret_cast<const uint8_t*>(&v);
    keys.insert(keys.end(), kp, kp + sizeof(K));
    values.insert(values.end(), vp, vp + sizeof(V));
    ++count;
  }
  template <class T>
  void set_dense(const std::vector<T>& v) {
    dense.resize(v.size() * sizeof(T));
    if (!v.empty()) std::memcpy(dense.data(), v.data(), dense.size());
  }
};

struct ProgramImage {
  // object: <name>.bpf.o beside the plugin's .so (else in agent.bpf_dir).
  // slot: the stage's name for a hook, else a prog array of the plugin's.
  std::string object, program, slot;
  uint32_t slot_index = 0;
  // ABI 1.5: a stage of rampartd's chain on this hook, at this priority
  // (lower runs first); RAMPART_PROGRAM_KEEP_ON_EXIT in flags.
  rampart_program_hook hook = RAMPART_PROGRAM_SLOT;
  int32_t priority = 0;
  uint32_t flags = 0;
  std::vector<std::pair<std::string, std::vector<uint8_t>>> settings;
  std::vector<MapImage> maps;

  template <class T>
  void set(const std::string& name, const T& value) {
    const auto* p = reinterpret_cast<const uint8_t*>(&value);
    settings.emplace_back(name, std::vector<uint8_t>(p, p + sizeof(T)));
  }
  const MapImage* map(const std::string& name) const {
    for (const auto& m : maps) {
      if (m.name == name) return &m;
    }
    return nullptr;
  }

  // The C form, pointing into this image (which must outlive it).
  struct Abi {
    std::vector<rampart_setting> settings;
    std::vector<rampart_map_image> maps;
    rampart_program_image image{};
  };
  std::unique_ptr<Abi> to_abi() const {
    auto a = std::make_unique<Abi>();
    for (const auto& [name, value] : settings)
      a->settings.push_back({name.c_str(), value.data(), value.size()});
    for (const auto& m : maps) {
      rampart_map_image mi{};
      mi.struct_size = sizeof(mi);
      mi.max_entries = m.max_entries;
      mi.value_size = m.value_size;
      mi.key_size = m.key_size;
      mi.name = m.name.c_str();
      mi.dense = m.dense.data();
      mi.dense_len = m.dense.size();
      mi.keys = m.keys.empty() ? nullptr : m.keys.data();
      mi.values = m.values.data();
      mi.count = m.count;
      mi.flags = m.flags;
      a->maps.push_back(mi);
    }
    a->image.struct_size = sizeof(a->image);
    a->image.slot_index = slot_index;
    a->image.object = object.c_str();
    a->image.program = program.c_str();
    a->image.slot = slot.c_str();
    a->image.settings = a->settings.data();
    a->image.setting_count = a->settings.size();
    a->image.maps = a->maps.data();
    a->image.map_count = a->maps.size();
    a->image.hook = hook;
    a->image.priority = priority;
    a->image.flags = flags;
    return a;
  }
};

// An installed program instance; released (and freed once no packet uses
// it) when this object dies or another instance takes its slot.
class Program {
 public:
  Program() = default;
  Program(const rampart_host_api* api, rampart_program* p) : api_(api), p_(p) {}
  Program(const Program&) = delete;
  Program& operator=(const Program&) = delete;
  Program(Program&& o) noexcept { *this = std::move(o); }
  Program& operator=(Program&& o) noexcept {
    if (this != &o) {
      release();
      api_ = std::exchange(o.api_, nullptr);
      p_ = std::exchange(o.p_, nullptr);
    }
    return *this;
  }
  ~Program() { release(); }
  explicit operator bool() const { return p_ != nullptr; }

  // Sum over CPUs of a per-CPU u64 counter in one of the instance's maps.
  uint64_t counter(const char* map, uint32_t index) const {
    uint64_t v = 0;
    if (p_ && api_->program_counter(api_->ctx, p_, map, index, &v) != RAMPART_OK) {
      throw Error(RAMPART_ERR_NOT_FOUND, api_->last_error());
    }
    return v;
  }

 private:
  void release() {
    if (api_ && p_) api_->program_release(api_->ctx, p_);
    p_ = nullptr;
  }
  const rampart_host_api* api_ = nullptr;
  rampart_program* p_ = nullptr;
};

// A shared kernel map (owned by the host; handles live with the instance).
// ABI 1.5: what a map is (Map::info).
struct MapInfo {
  uint32_t type = 0;  // the kernel's enum bpf_map_type
  uint32_t key_size = 0, value_size = 0, max_entries = 0;
  uint32_t ncpus = 1;   // values lookup_percpu returns
  bool percpu = false;  // a value per CPU
};

class Map {
 public:
  Map() = default;
  Map(const rampart_host_api* api, rampart_map* m) : api_(api), m_(m) {}
  // False when the key is absent; throws on anything else (a per-CPU map
  // is read with lookup_percpu).
  template <class K, class V>
  bool lookup(const K& key, V& value) const {
    const rampart_status st = api_->map_lookup(m_, &key, &value);
    if (st == RAMPART_ERR_NOT_FOUND) return false;
    check(st);
    return true;
  }
  // ABI 1.5: a per-CPU map's value on every possible CPU (one value for
  // other maps); empty when the key is absent.
  template <class K, class V>
  std::vector<V> lookup_percpu(const K& key) const {
    std::vector<V> values(info().ncpus);
    const rampart_status st =
        api_->map_lookup_percpu(m_, &key, values.data(), static_cast<uint32_t>(values.size()));
    if (st == RAMPART_ERR_NOT_FOUND) return {};
    check(st);
    return values;
  }
  // ABI 1.5.
  MapInfo info() const {
    if (!RAMPART_HAS_FIELD(api_, rampart_host_api, map_info) || !api_->map_info)
      throw Error(RAMPART_ERR_UNSUPPORTED, "host has no map_info (ABI < 1.5)");
    rampart_map_info raw{};
    raw.struct_size = sizeof raw;
    check(api_->map_info(m_, &raw));
    return MapInfo{raw.type,        raw.key_size, raw.value_size,
                   raw.max_entries, raw.ncpus,    raw.percpu != 0};
  }
  template <class K, class V>
  void update(const K& key, const V& value, uint64_t flags = 0) const {
    check(api_->map_update(m_, &key, &value, flags));
  }
  template <class K>
  bool remove(const K& key) const {
    return api_->map_delete(m_, &key) == RAMPART_OK;
  }
  template <class K, class V>
  void update_batch(const std::vector<K>& keys, const std::vector<V>& values) const {
    check(api_->map_update_batch(m_, keys.data(), values.data(),
                                 std::min(keys.size(), values.size())));
  }

  // ABI 1.5, keyless maps. A queue or stack: push, peek, pop (false when
  // empty). A Bloom filter: push adds, maybe_contains answers "perhaps"
  // (true) or "certainly not" (false).
  template <class V>
  void push(const V& value) const {
    check(api_->map_update(m_, nullptr, &value, 0));
  }
  template <class V>
  bool peek(V& value) const {
    const rampart_status st = api_->map_lookup(m_, nullptr, &value);
    if (st == RAMPART_ERR_NOT_FOUND) return false;
    check(st);
    return true;
  }
  template <class V>
  bool pop(V& value) const {
    if (!RAMPART_HAS_FIELD(api_, rampart_host_api, map_pop) || !api_->map_pop)
      throw Error(RAMPART_ERR_UNSUPPORTED, "host has no map_pop (ABI < 1.5)");
    const rampart_status st = api_->map_pop(m_, &value);
    if (st == RAMPART_ERR_NOT_FOUND) return false;
    check(st);
    return true;
  }
  template <class V>
  bool maybe_contains(const V& value) const {
    V copy = value;
    return peek(copy);
  }

 private:
  void check(rampart_status st) const {
    if (st != RAMPART_OK) throw Error(st, api_->last_error());
  }
  const rampart_host_api* api_ = nullptr;
  rampart_map* m_ = nullptr;
};

// ABI 1.1: a stored rule (id and JSON body).
struct RuleBody {
  uint64_t id = 0;
  std::string body;
  bool operator==(const RuleBody& o) const { return id == o.id && body == o.body; }
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

  // ABI 1.5: entries 0..names.size()-1 of one of this plugin's persistent
  // u64 array maps, published as the counter family `metric` with `label`
  // naming each entry (and in GET /api/v1/ebpf under `status`).
  void export_counters(const char* map, const char* metric, const char* help,
                       const std::vector<std::pair<std::string, std::string>>& labels,
                       const char* label, const std::vector<std::string>& names,
                       const char* status) const {
    require_field(RAMPART_HAS_FIELD(api_, rampart_host_api, counters_export), "counters_export");
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
    check(api_->counters_export(api_->ctx, &d));
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

// Read-only views of what the host hands to on_event / send_alert.
struct Event {
  const rampart_event* raw;
  // A rampart_event_source, or a registered source's id.
  uint32_t source() const { return raw->source; }
  uint32_t type() const { return raw->type; }
  std::string_view bytes() const { return {static_cast<const char*>(raw->data), raw->len}; }
};

// A batch handed to on_events (ABI 1.6): a ring's records in order.
class Events {
 public:
  Events(const rampart_event* events, size_t count) : events_(events), count_(count) {}
  size_t size() const { return count_; }
  bool empty() const { return count_ == 0; }
  Event operator[](size_t i) const { return Event{events_ + i}; }

  class iterator {
   public:
    explicit iterator(const rampart_event* p) : p_(p) {}
    Event operator*() const { return Event{p_}; }
    iterator& operator++() {
      ++p_;
      return *this;
    }
    bool operator==(const iterator& o) const { return p_ == o.p_; }
    bool operator!=(const iterator& o) const { return p_ != o.p_; }

   private:
    const rampart_event* p_;
  };
  iterator begin() const { return iterator(events_); }
  iterator end() const { return iterator(events_ + count_); }

 private:
  const rampart_event* events_;
  size_t count_;
};

// "low", "medium", "high" or "critical" (values past critical read as critical).
inline std::string_view severity_name(uint32_t severity) {
  static constexpr std::string_view names[] = {"low", "medium", "high", "critical"};
  constexpr auto kLast = static_cast<uint32_t>(RAMPART_SEVERITY_CRITICAL);
  return names[severity < kLast ? severity : kLast];
}

// An alert address as text: family 4 (first 4 bytes) or 6; "" otherwise.
inline std::string address_text(uint8_t family, const uint8_t* addr) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family == 4) inet_ntop(AF_INET, addr, buf, sizeof buf);
  if (family == 6) inet_ntop(AF_INET6, addr, buf, sizeof buf);
  return buf;
}

// A CLOCK_REALTIME time in nanoseconds as RFC 3339 UTC with microseconds
// ("2024-05-01T12:00:00.123456Z").
inline std::string rfc3339(uint64_t time_ns) {
  const time_t secs = static_cast<time_t>(time_ns / 1000000000u);
  struct tm utc {};
  gmtime_r(&secs, &utc);
  char buf[64];
  const size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &utc);
  snprintf(buf + n, sizeof buf - n, ".%06uZ",
           static_cast<unsigned>((time_ns % 1000000000u) / 1000u));
  return buf;
}

struct Alert {
  const rampart_alert* raw;
  std::string_view id() const { return view(raw->id); }
  std::string_view component() const { return view(raw->component); }
  std::string_view rule_id() const { return view(raw->rule_id); }
  std::string_view message() const { return view(raw->message); }
  rampart_severity severity() const { return static_cast<rampart_severity>(raw->severity); }
  std::string src_ip() const { return address_text(raw->ip_family, raw->src_addr); }
  std::string dst_ip() const { return address_text(raw->ip_family, raw->dst_addr); }
  // ABI 1.3 fields; empty / 0 / nullptr from an older host.
  std::string_view technique_id() const { return v13() ? view(raw->mitre_technique_id) : ""; }
  std::string_view technique_name() const { return v13() ? view(raw->mitre_technique_name) : ""; }
  std::string_view tactic() const { return v13() ? view(raw->mitre_tactic) : ""; }
  uint32_t suppressed() const { return v13() ? raw->suppressed : 0; }
  const rampart_alert_enrichment* src_info() const { return v13() ? raw->src_info : nullptr; }
  const rampart_alert_enrichment* dst_info() const { return v13() ? raw->dst_info : nullptr; }
  static std::string_view view(rampart_str s) {
    return s.ptr ? std::string_view(s.ptr, s.len) : std::string_view();
  }

 private:
  bool v13() const { return raw->struct_size >= RAMPART_FIELD_END(rampart_alert, dst_info); }
};

// The MITRE ATT&CK technique an alert reports.
struct Technique {
  std::string_view id;      // "T1046"
  std::string_view name;    // "Network Service Discovery"
  std::string_view tactic;  // "Discovery"
};

// Builds an alert to emit; strings must outlive emit_alert().
inline rampart_alert make_alert(rampart_severity severity, std::string_view rule_id,
                                std::string_view message, Technique technique = {}) {
  rampart_alert a{};
  a.struct_size = sizeof(a);
  a.severity = severity;
  a.action = RAMPART_ALERT_ACTION_ALERT;
  a.rule_id = to_str(rule_id);
  a.message = to_str(message);
  a.mitre_technique_id = to_str(technique.id);
  a.mitre_technique_name = to_str(technique.name);
  a.mitre_tactic = to_str(technique.tactic);
  return a;
}

namespace detail {

inline std::string& last_error_text() {
  thread_local std::string text;
  return text;
}
inline const char* last_error() noexcept { return last_error_text().c_str(); }

// Runs f, turning any exception into a status and last_error text.
template <class F>
rampart_status guard(F&& f) noexcept {
  try {
    f();
    last_error_text().clear();
    return RAMPART_OK;
  } catch (const Error& e) {
    last_error_text() = e.what();
    return e.status();
  } catch (const std::exception& e) {
    last_error_text() = e.what();
    return RAMPART_ERR_INTERNAL;
  } catch (...) {
    last_error_text() = "unknown exception";
    return RAMPART_ERR_INTERNAL;
  }
}

template <class T>
struct Instance {
  Host host;
  std::unique_ptr<T> object;
};

template <class T>
T& object_of(rampart_plugin* p) {
  return *reinterpret_cast<Instance<T>*>(p)->object;
}

// Which optional members a plugin class has (C++17 detection: the SDK
// builds as C++17 and C++20).
#define RAMPART_SDK_DETECT(Name, Expr) \
  template <class T, class = void>     \
  inline constexpr bool Name = false;  \
  template <class T>                   \
  inline constexpr bool Name<T, std::void_t<decltype(Expr)>> = true;

RAMPART_SDK_DETECT(HasStart, std::declval<T&>().start())
RAMPART_SDK_DETECT(HasStop, std::declval<T&>().stop())
RAMPART_SDK_DETECT(HasValidate, std::declval<T&>().validate(std::declval<const Config&>()))
RAMPART_SDK_DETECT(HasReload, std::declval<T&>().reload(std::declval<const Config&>()))
RAMPART_SDK_DETECT(HasOnEvent, std::declval<T&>().on_event(std::declval<const Event&>()))
RAMPART_SDK_DETECT(HasOnEvents, std::declval<T&>().on_events(std::declval<const Events&>()))
// ABI 1.6: a public `static constexpr bool kEventsInOrder = true;` asks for
// on_event/on_events one call at a time, in the order events were produced.
RAMPART_SDK_DETECT(HasEventsInOrderMember, T::kEventsInOrder)
RAMPART_SDK_DETECT(HasSendAlert, std::declval<T&>().send_alert(std::declval<const Alert&>()))
RAMPART_SDK_DETECT(HasStreamAlert, std::declval<T&>().stream_alert(std::declval<const Alert&>()))
RAMPART_SDK_DETECT(HasDomainStatusCall, std::declval<T&>().domain_status(std::string_view()))
RAMPART_SDK_DETECT(HasApplyRules,
                   std::declval<T&>().apply_rules(std::string_view(),
                                                  std::declval<const std::vector<RuleBody>&>()))
// ABI 1.4: a public `static constexpr const char* kSecretSettings[] =
// {"password", nullptr};` declares the settings GET /api/v1/config redacts
// (a private one cannot be seen from here and would declare nothing).
RAMPART_SDK_DETECT(HasSecretSettingsMember, T::kSecretSettings[0])
// A public `static constexpr uint16_t kRequiredAbiMinor = 3;` declares the
// oldest host minor the plugin works with (it then checks for newer
// services itself; the SDK's wrappers throw UNSUPPORTED on a host without
// them). Without it, a plugin needs the minor it was built against.
RAMPART_SDK_DETECT(HasRequiredAbiMinor, T::kRequiredAbiMinor)
#undef RAMPART_SDK_DETECT

template <class T>
constexpr bool has_domain_status() {
  if constexpr (HasDomainStatusCall<T>)
    return std::is_convertible_v<decltype(std::declval<T&>().domain_status(std::string_view())),
                                 std::string>;
  else
    return false;
}
template <class T>
inline constexpr bool HasDomainStatus = has_domain_status<T>();

template <class T>
constexpr bool has_secret_settings() {
  if constexpr (HasSecretSettingsMember<T>)
    return std::is_convertible_v<decltype(T::kSecretSettings[0]), const char*>;
  else
    return false;
}
template <class T>
inline constexpr bool HasSecretSettings = has_secret_settings<T>();

template <class T>
struct Thunks {
  static rampart_status create(const rampart_host_api* host, const rampart_config* cfg,
                               rampart_plugin** out) noexcept {
    return guard([&] {
      auto inst = std::make_unique<Instance<T>>(Instance<T>{Host(host), nullptr});
      inst->object = std::make_unique<T>(inst->host, Config(host, cfg));
      *out = reinterpret_cast<rampart_plugin*>(inst.release());
    });
  }
  static rampart_status start(rampart_plugin* p) noexcept {
    return guard([&] { object_of<T>(p).start(); });
  }
  static rampart_status validate(rampart_plugin* p, const rampart_config* cfg) noexcept {
    return guard([&] {
      auto* inst = reinterpret_cast<Instance<T>*>(p);
      inst->object->validate(Config(inst->host.api(), cfg));
    });
  }
  static rampart_status reload(rampart_plugin* p, const rampart_config* cfg) noexcept {
    return guard([&] {
      auto* inst = reinterpret_cast<Instance<T>*>(p);
      inst->object->reload(Config(inst->host.api(), cfg));
    });
  }
  static void stop(rampart_plugin* p) noexcept {
    auto* inst = reinterpret_cast<Instance<T>*>(p);
    const rampart_status st = guard([&] { inst->object->stop(); });
    if (st != RAMPART_OK) inst->host.error(std::string("stop failed: ") + last_error());
  }
  static void destroy(rampart_plugin* p) noexcept {
    auto* inst = reinterpret_cast<Instance<T>*>(p);
    const rampart_status st = guard([&] { inst->object.reset(); });
    if (st != RAMPART_OK) inst->host.error(std::string("destroy failed: ") + last_error());
    delete inst;
  }
  static rampart_status on_event(rampart_plugin* p, const rampart_event* ev) noexcept {
    return guard([&] { object_of<T>(p).on_event(Event{ev}); });
  }
  static rampart_status on_events(rampart_plugin* p, const rampart_event* evs,
                                  size_t count) noexcept {
    return guard([&] { object_of<T>(p).on_events(Events(evs, count)); });
  }
  static rampart_status send_alert(rampart_plugin* p, const rampart_alert* a) noexcept {
    return guard([&] { object_of<T>(p).send_alert(Alert{a}); });
  }
  static rampart_status stream_alert(rampart_plugin* p, const rampart_alert* a) noexcept {
    return guard([&] { object_of<T>(p).stream_alert(Alert{a}); });
  }

  static rampart_status rules_apply(rampart_plugin* p, const char* domain,
                                    const rampart_rule* rules, size_t count) noexcept {
    return guard([&] {
      std::vector<RuleBody> set;
      set.reserve(count);
      for (size_t i = 0; i < count; ++i)
        set.push_back(RuleBody{rules[i].id, to_string(rules[i].body)});
      object_of<T>(p).apply_rules(domain ? std::string_view(domain) : std::string_view(), set);
    });
  }

  static rampart_status domain_status(rampart_plugin* p, const char* domain,
                                      rampart_str* out) noexcept {
    return guard([&] {
      thread_local std::string text;
      text = object_of<T>(p).domain_status(domain ? std::string_view(domain) : std::string_view());
      *out = rampart_str{text.data(), text.size()};
    });
  }

  static rampart_plugin_api table() {
    rampart_plugin_api api{};
    api.struct_size = sizeof(api);
    api.last_error = &detail::last_error;
    api.create = &create;
    api.destroy = &destroy;
    if constexpr (HasStart<T>) api.start = &start;
    if constexpr (HasStop<T>) api.stop = &stop;
    if constexpr (HasValidate<T>) api.validate = &validate;
    if constexpr (HasReload<T>) api.reload = &reload;
    if constexpr (HasOnEvent<T>) api.on_event = &on_event;
    if constexpr (HasSendAlert<T>) api.send_alert = &send_alert;
    if constexpr (HasApplyRules<T>) api.rules_apply = &rules_apply;
    if constexpr (HasDomainStatus<T>) api.domain_status = &domain_status;
    if constexpr (HasStreamAlert<T>) api.stream_alert = &stream_alert;
    if constexpr (HasOnEvents<T>) api.on_events = &on_events;
    return api;
  }
};

template <class T>
const rampart_plugin_descriptor* entry(rampart_plugin_kind kind, const char* id, const char* name,
                                       const char* version, const char* license,
                                       const char* description) noexcept {
  static const rampart_plugin_api api = Thunks<T>::table();
  static const rampart_plugin_descriptor desc = [&] {
    rampart_plugin_descriptor d{};
    d.struct_size = sizeof(d);
    d.abi_major = RAMPART_ABI_MAJOR;
    if constexpr (HasRequiredAbiMinor<T>) {
      static_assert(T::kRequiredAbiMinor <= RAMPART_ABI_MINOR,
                    "kRequiredAbiMinor is newer than the SDK it is built with");
      d.abi_minor = static_cast<uint16_t>(T::kRequiredAbiMinor);
    } else {
      d.abi_minor = RAMPART_ABI_MINOR;
    }
    d.kind = kind;
    d.id = id;
    d.name = name;
    d.version = version;
    d.license = license;
    d.description = description;
    d.api = &api;
    if constexpr (HasSecretSettings<T>) {
      // The host reads up to the NULL: a list without one would run on
      // into whatever follows it in the library.
      static_assert(T::kSecretSettings[std::size(T::kSecretSettings) - 1] == nullptr,
                    "kSecretSettings must end with nullptr");
      d.secret_settings = T::kSecretSettings;
    }
    if constexpr (HasEventsInOrderMember<T>) {
      if (T::kEventsInOrder) d.flags |= RAMPART_PLUGIN_EVENTS_IN_ORDER;
    }
    return d;
  }();
  return &desc;
}

}  // namespace detail

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

// Exports the entry point for plugin class `Class`.
#define RAMPART_PLUGIN(Class, Kind, Id, Name, Version, License, Description)                    \
  extern "C" __attribute__((visibility("default"))) const rampart_plugin_descriptor*            \
  rampart_plugin_entry(uint16_t, uint16_t) {                                                    \
    return ::rampart::sdk::detail::entry<Class>(Kind, Id, Name, Version, License, Description); \
  }

#endif  // RAMPART_SDK_PLUGIN_HPP
