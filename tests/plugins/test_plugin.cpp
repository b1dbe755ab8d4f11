// SPDX-License-Identifier: Apache-2.0
// One source, many test plugins: each variant is compiled with a TEST_*
// definition that makes it good, or broken in exactly one way the host must
// refuse (TEST_FAULTS: settings that crash it or hang its stop, for the
// fault reports and the stop watchdog). The good engine reports its lifecycle through the host log
// so tests can see what the host called.
#include <rampart/sdk/plugin.hpp>

#include <cstring>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#ifndef TEST_PLUGIN_ID
#define TEST_PLUGIN_ID "test_engine"
#endif

namespace {

using rampart::sdk::Config;
using rampart::sdk::Error;
using rampart::sdk::Event;
using rampart::sdk::Host;

#ifdef TEST_FAULTS
// A null write the compiler cannot see coming (a literal null store may be
// turned into a trap instruction, SIGILL). Meant: UBSan is told to let it
// reach the kernel, which answers SIGSEGV.
__attribute__((no_sanitize("undefined"))) void crash() {
  volatile int* volatile target = nullptr;
  *target = 1;
}

// Recursion until the thread's stack runs out: the fault report must then
// run on an alternate signal stack.
volatile bool g_bottom = false;
int overflow(int depth) {
  volatile char frame[1024];
  frame[0] = static_cast<char>(depth);
  if (g_bottom) return frame[0];
  return overflow(depth + 1) + frame[0];
}
#endif

class TestEngine {
 public:
#ifdef TEST_REQUIRES_1_2
  // Works with hosts from ABI 1.2 on (it guards what is newer).
  static constexpr uint16_t kRequiredAbiMinor = 2;
#endif
#ifdef TEST_SECRETS
  // Through the C++ SDK into the descriptor (ABI 1.4).
  static constexpr const char* kSecretSettings[] = {"token", "hooks.*.url#url", nullptr};
#endif
  TestEngine(Host& host, const Config& cfg) : host_(host) {
#ifdef TEST_THROW_IN_CREATE
    throw std::runtime_error("constructor exploded on purpose");
#endif
    apply(cfg);
    events_ = host_.counter("rampart_test_events_total", "Events seen by the test engine");
    host_.subscribe(RAMPART_SOURCE_XDP_FIREWALL);
    host_.info("lifecycle: create value=" + value_);
  }
  ~TestEngine() {
    drop_race_timer();
    host_.info("lifecycle: destroy");
  }

  void start() {
#ifdef TEST_FAIL_START
    throw Error(RAMPART_ERR_INVALID_ARGUMENT, "start refused on purpose");
#endif
    if (tick_ms_ > 0) {
      timer_ = host_.every(std::chrono::milliseconds(tick_ms_), [this] {
        host_.info("lifecycle: tick");
        if (alert_on_tick_) {
          rampart_alert a =
              rampart::sdk::make_alert(RAMPART_SEVERITY_HIGH, "test-rule", "tick alert",
                                       {"T1595", "Active Scanning", "Reconnaissance"});
          // From 192.0.2.7, which publish_names (below) names.
          a.ip_family = 4;
          const uint8_t src[4] = {192, 0, 2, 7}, dst[4] = {198, 51, 100, 1};
          std::memcpy(a.src_addr, src, 4);
          std::memcpy(a.dst_addr, dst, 4);
          host_.emit_alert(a);
        }
        if (throw_on_tick_) throw std::runtime_error("tick exploded on purpose");
#ifdef TEST_FAULTS
        if (crash_on_tick_) crash();
        if (overflow_on_tick_) host_.info("depth " + std::to_string(overflow(0)));
#endif
      });
    }
    if (publish_names_) {
      // ABI 1.3 enrichment services, as the DNS engine will use them.
      const uint8_t addr[4] = {192, 0, 2, 7};
      host_.publish_name(4, addr, "Scanner.Example", std::chrono::seconds(600));
      host_.publish_reputation("scanner.example", 12, std::chrono::seconds(600));
    }
    if (!stage_.empty()) install_stage();
    if (!map_name_.empty()) {
      // ABI 1.1 map service: opened with the sizes the config says.
      map_ = host_.open_map(map_name_.c_str(), 4, map_value_size_);
      host_.info("lifecycle: map opened " + map_name_);
      if (map_probe_) probe_map();
    }
    if (timer_race_) {
      arm_race_timer();
      arm_self_timer();
      self_armed_.store(true, std::memory_order_release);
    }
    host_.info("lifecycle: start");
  }
  void stop() {
    host_.info("lifecycle: stop");
#ifdef TEST_FAULTS
    // A plugin that ignores being stopped: only the stop watchdog ends it.
    if (stall_stop_ms_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(stall_stop_ms_));
#endif
  }

  void validate(const Config& cfg) {
    if (cfg.get<bool>("reject", false))
      throw Error(RAMPART_ERR_INVALID_ARGUMENT, "reject: true is refused");
    cfg.allow_only("", {"value",           "reject",         "fail_reload",
                        "tick_ms",         "alert_on_tick",  "throw_on_tick",
                        "throw_on_event",  "open_map",       "map_value_size",
                        "publish_names",   "alert_on_event", "timer_race",
                        "map_probe",       "stage",          "stage_hook",
                        "stage_priority",  "probe_id",       "keep_on_exit",
                        "export_counters", "keyless_probe",  "export_metric",
                        "event_source",    "stamp_source",   "log_batches",
                        "export_first",    "export_names",   "export_withdraw",
#ifdef TEST_FAULTS
                        "crash_on_tick",   "crash_on_event", "overflow_on_tick",
                        "stall_stop_ms"
#endif
                       });
  }

  void reload(const Config& cfg) {
    if (cfg.get<bool>("fail_reload", false))
      throw Error(RAMPART_ERR_INTERNAL, "reload failed on purpose");
    apply(cfg);
    if (timer_race_) {
      // Replaced from this (a worker) thread while the loop may be running
      // the old timer's callback: the host must wait for it.
      if (in_race_tick_.load()) host_.info("race: replaced while running");
      arm_race_timer();
    }
    host_.info("lifecycle: reload value=" + value_);
  }

  // Batches (ABI 1.6): the host hands a drain's records at once.
  void on_events(const rampart::sdk::Events& evs) {
    if (log_batches_) host_.info("batch of " + std::to_string(evs.size()) + " events");
    for (const Event ev : evs) on_event(ev);
  }

  void on_event(const Event& ev) {
    events_.inc();
    if (probe_source_ != 0 && ev.source() == probe_source_ && ev.bytes().size() >= 24) {
      // From the plugin's own ring (bpf/stage_probe.bpf.c): id and metadata.
      uint32_t id = 0, meta = 0;
      std::memcpy(&id, ev.bytes().data() + 16, 4);
      std::memcpy(&meta, ev.bytes().data() + 20, 4);
      host_.info("probe event id=" + std::to_string(id) + " meta=" + std::to_string(meta));
      return;
    }
    if (alert_on_event_) {
      // Flood mode: what an engine does for a verdict worth an alert (a
      // message built, an alert emitted), without a log line per event.
      const std::string msg = "test event of " + std::to_string(ev.bytes().size()) + " bytes";
      rampart_alert a = rampart::sdk::make_alert(RAMPART_SEVERITY_LOW, "flood", msg,
                                                 {"T1498", "Network Denial of Service", "Impact"});
      a.ip_family = 4;
      std::memcpy(a.src_addr, ev.bytes().data(), std::min<size_t>(4, ev.bytes().size()));
      host_.emit_alert(a);
      return;
    }
    host_.info("lifecycle: event bytes=" + std::string(ev.bytes()));
    if (throw_on_event_) throw std::runtime_error("event handler exploded on purpose");
#ifdef TEST_FAULTS
    if (crash_on_event_) crash();
#endif
  }

 private:
  // Cleared when the closure holding it is destroyed; volatile so that the
  // clearing store is not dropped as dead.
  struct Sentinel {
    static constexpr uint64_t kAlive = 0x5eed5eed5eed5eedull;
    volatile uint64_t magic = kAlive;
    Sentinel() = default;
    Sentinel(const Sentinel&) = default;
    ~Sentinel() { magic = 0; }
    bool alive() const { return magic == kAlive; }
  };

  // Two timers whose closures must stay alive for as long as their
  // callbacks run. The race timer (at once, then every 1 ms; each run
  // ~2 ms) is written against the C ABI: reload() replaces it from another
  // thread while the loop runs it and frees its closure as soon as
  // timer_cancel returns, as the ABI allows. self_timer_ (the C++ SDK's
  // Timer) replaces itself from inside its callback every 8th tick. Each
  // is touched by one thread at a time.
  struct RaceClosure {
    TestEngine* self;
    Sentinel sentinel;
  };
  static rampart_status race_tick(void* user) noexcept {
    auto* c = static_cast<RaceClosure*>(user);
    TestEngine* self = c->self;
    self->in_race_tick_ = true;
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(2);
    bool ok = c->sentinel.alive();
    while (ok && std::chrono::steady_clock::now() < until) ok = c->sentinel.alive();
    if (!ok) self->host_.error("race: timer ran on a destroyed closure");
    self->in_race_tick_ = false;
    return RAMPART_OK;
  }
  void arm_race_timer() {
    const rampart_host_api* api = host_.api();
    auto fresh = std::make_unique<RaceClosure>(RaceClosure{this, {}});
    rampart_timer* t = nullptr;
    if (api->timer_start2(api->ctx, 0, 1, &TestEngine::race_tick, fresh.get(), &t) != RAMPART_OK)
      throw Error(RAMPART_ERR_INTERNAL, "timer_start2 failed");
    drop_race_timer();
    race_timer_ = t;
    race_closure_ = std::move(fresh);
  }
  void drop_race_timer() {
    if (race_timer_ != nullptr) host_.api()->timer_cancel(host_.api()->ctx, race_timer_);
    race_timer_ = nullptr;
    race_closure_.reset();  // freed at once: timer_cancel returned
  }
  void arm_self_timer() {
    self_timer_ = host_.every(std::chrono::milliseconds(1), [this, sentinel = Sentinel{}] {
      bool ok = sentinel.alive();
      if (ok && self_armed_.load(std::memory_order_acquire) && ++self_ticks_ % 8 == 0) {
        arm_self_timer();  // the loop thread's alone once armed
        host_.info("race: replaced itself");
        ok = sentinel.alive();
      }
      if (!ok) host_.error("race: timer ran on a destroyed closure");
    });
  }

  // The probe's records name the source this plugin registered
  // ("probe_<id>", or event_source), or, to forge, stamp_source.
  void register_probe_source() {
    std::string name = event_source_;
    if (name.empty()) {
      name = "probe_" + std::string(host_.plugin_id());
      std::replace(name.begin(), name.end(), '-', '_');
    }
    probe_source_ = host_.register_source(name.c_str());
    host_.info("event source " + name + " id=" + std::to_string(probe_source_));
  }

  // A stage of its own (ABI 1.5): bpf/stage_probe.bpf.c on the configured
  // hook, with its persistent counter map and ring.
  void install_stage() {
    rampart::sdk::ProgramImage image;
    image.object = "stage_probe";
    image.program = stage_hook_ == "xdp" ? "probe_xdp" : "probe_tc";
    image.slot = stage_;
    image.hook = stage_hook_ == "xdp"          ? RAMPART_PROGRAM_XDP
                 : stage_hook_ == "tc_ingress" ? RAMPART_PROGRAM_TC_INGRESS
                                               : RAMPART_PROGRAM_TC_EGRESS;
    image.priority = stage_priority_;
    image.flags = keep_on_exit_ ? RAMPART_PROGRAM_KEEP_ON_EXIT : 0;
    image.set<uint8_t>("probe_id", static_cast<uint8_t>(probe_id_));
    register_probe_source();
    image.set<uint32_t>("probe_source", stamp_source_ != 0 ? stamp_source_ : probe_source_);
    image.maps.push_back(rampart::sdk::MapImage::persistent("probe_hits"));
    image.maps.push_back(rampart::sdk::MapImage::persistent("probe_events"));
    if (keyless_probe_) {
      // Keyless maps filled from the image: pushed in order.
      rampart::sdk::MapImage queue, bloom;
      queue.name = "probe_queue";
      queue.push(uint32_t{11});
      queue.push(uint32_t{12});
      bloom.name = "probe_bloom";
      bloom.push(uint32_t{7});
      image.maps.push_back(queue);
      image.maps.push_back(bloom);
    }
    stage_program_ = host_.install_program(image);
    if (keyless_probe_) probe_keyless();
    host_.info("lifecycle: stage installed " + stage_);
    if (export_counters_) {
      std::vector<std::string> names{"packets"};
      for (uint32_t i = 1; i < export_names_; ++i) names.push_back("packets_" + std::to_string(i));
      host_.export_counters("probe_hits", export_metric_.c_str(), "Packets the test probe saw",
                            {{"probe", stage_}}, "slot", names, "test_probe", export_first_);
      if (export_withdraw_) {  // and taken back: no names
        host_.export_counters("probe_hits", export_metric_.c_str(), "Packets the test probe saw",
                              {{"probe", stage_}}, "slot", {}, "test_probe", export_first_);
        host_.info("export withdrawn");
      }
    }
  }

  // Queue and Bloom filter through the map service (ABI 1.5).
  void probe_keyless() {
    const auto queue = host_.open_map("probe_queue", 0, 4);
    const auto bloom = host_.open_map("probe_bloom", 0, 4);
    queue.push(uint32_t{13});
    std::string out = "keyless probe:";
    uint32_t v = 0;
    if (queue.peek(v)) out += " peek=" + std::to_string(v);
    while (queue.pop(v)) out += " pop=" + std::to_string(v);
    bloom.push(uint32_t{9});
    out += " bloom7=" + std::to_string(bloom.maybe_contains(uint32_t{7}));
    out += " bloom9=" + std::to_string(bloom.maybe_contains(uint32_t{9}));
    out += " bloom8=" + std::to_string(bloom.maybe_contains(uint32_t{8}));
    host_.info(out);
  }

  // A per-CPU map (probe_hits, or fw_stats): a plain lookup is refused (it has
  // room for one value); an update sets every CPU's value; lookup_percpu
  // returns one value per CPU.
  void probe_map() {
    const auto info = map_.info();
    std::string out =
        "map probe: ncpus=" + std::to_string(info.ncpus) + " percpu=" + std::to_string(info.percpu);
    uint64_t one = 0;
    try {
      map_.lookup(uint32_t{3}, one);
      out += " lookup=allowed";
    } catch (const Error& e) {
      out += std::string(" lookup=refused(") + e.what() + ")";
    }
    map_.update(uint32_t{3}, uint64_t{7});
    out += " values=";
    for (const auto v : map_.lookup_percpu<uint32_t, uint64_t>(3)) out += std::to_string(v) + ",";
    host_.info(out);
  }

  void apply(const Config& cfg) {
    validate(cfg);
    value_ = cfg.get<std::string>("value", "none");
    tick_ms_ = cfg.get<int64_t>("tick_ms", 0);
    alert_on_tick_ = cfg.get<bool>("alert_on_tick", false);
    throw_on_tick_ = cfg.get<bool>("throw_on_tick", false);
    throw_on_event_ = cfg.get<bool>("throw_on_event", false);
    map_name_ = cfg.get<std::string>("open_map", "");
    map_value_size_ = cfg.get<uint32_t>("map_value_size", 8);
    publish_names_ = cfg.get<bool>("publish_names", false);
    alert_on_event_ = cfg.get<bool>("alert_on_event", false);
    timer_race_ = cfg.get<bool>("timer_race", false);
    map_probe_ = cfg.get<bool>("map_probe", false);
    stage_ = cfg.get<std::string>("stage", "");
    stage_hook_ = cfg.get<std::string>("stage_hook", "xdp");
    stage_priority_ = cfg.get<int32_t>("stage_priority", 500);
    probe_id_ = cfg.get<uint32_t>("probe_id", 1);
    keep_on_exit_ = cfg.get<bool>("keep_on_exit", false);
    export_counters_ = cfg.get<bool>("export_counters", false);
    keyless_probe_ = cfg.get<bool>("keyless_probe", false);
    export_metric_ = cfg.get<std::string>("export_metric", "rampart_test_probe_packets_total");
    export_first_ = cfg.get<uint32_t>("export_first", 0);
    export_names_ = cfg.get<uint32_t>("export_names", 1);
    export_withdraw_ = cfg.get<bool>("export_withdraw", false);
    event_source_ = cfg.get<std::string>("event_source", "");
    stamp_source_ = cfg.get<uint32_t>("stamp_source", 0);
    log_batches_ = cfg.get<bool>("log_batches", false);
#ifdef TEST_FAULTS
    crash_on_tick_ = cfg.get<bool>("crash_on_tick", false);
    crash_on_event_ = cfg.get<bool>("crash_on_event", false);
    overflow_on_tick_ = cfg.get<bool>("overflow_on_tick", false);
    stall_stop_ms_ = cfg.get<int64_t>("stall_stop_ms", 0);
#endif
  }

  Host& host_;
  std::string value_;
  int64_t tick_ms_ = 0;
  // Read by timers and events while a reload writes them.
  std::atomic<bool> alert_on_tick_{false}, throw_on_tick_{false}, throw_on_event_{false};
  bool publish_names_ = false;
  std::atomic<bool> alert_on_event_{false};
  bool timer_race_ = false, map_probe_ = false;
  std::string stage_, stage_hook_, export_metric_, event_source_;
  uint32_t export_first_ = 0, export_names_ = 1;
  bool export_withdraw_ = false;
  uint32_t probe_source_ = 0, stamp_source_ = 0;
  std::atomic<bool> log_batches_{false};  // read by on_events while a reload writes it
  int32_t stage_priority_ = 500;
  uint32_t probe_id_ = 1;
  bool keep_on_exit_ = false, export_counters_ = false, keyless_probe_ = false;
  rampart::sdk::Program stage_program_;
  std::atomic<bool> in_race_tick_{false};
  std::atomic<bool> self_armed_{false};
  rampart_timer* race_timer_ = nullptr;
  std::unique_ptr<RaceClosure> race_closure_;
  rampart::sdk::Timer self_timer_;
#ifdef TEST_FAULTS
  std::atomic<bool> crash_on_tick_{false}, crash_on_event_{false}, overflow_on_tick_{false};
  int64_t stall_stop_ms_ = 0;
#endif
  uint64_t self_ticks_ = 0;  // the loop thread's
  rampart::sdk::Metric events_;
  rampart::sdk::Timer timer_;
  std::string map_name_;
  uint32_t map_value_size_ = 8;
  rampart::sdk::Map map_;
};

#ifdef TEST_RAW_THROW
// create() written against the C ABI directly, letting an exception escape:
// the host must survive it.
rampart_status raw_create(const rampart_host_api*, const rampart_config*, rampart_plugin**) {
  throw std::runtime_error("escaped the C ABI");
}
#endif

}  // namespace

extern "C" __attribute__((visibility("default"))) const rampart_plugin_descriptor*
rampart_plugin_entry(uint16_t, uint16_t) {
  static rampart_plugin_api api =
      *rampart::sdk::detail::entry<TestEngine>(RAMPART_KIND_ENGINE, TEST_PLUGIN_ID, "Test engine",
                                               "0.0.1", "Apache-2.0", "test")
           ->api;
  static rampart_plugin_descriptor desc = [] {
    rampart_plugin_descriptor d = *rampart::sdk::detail::entry<TestEngine>(
        RAMPART_KIND_ENGINE, TEST_PLUGIN_ID, "Test engine", "0.0.1", "Apache-2.0", "test");
    d.api = &api;
#ifdef TEST_NEWER_MINOR
    d.abi_minor = RAMPART_ABI_MINOR + 1;
#endif
#ifdef TEST_OTHER_MAJOR
    d.abi_major = RAMPART_ABI_MAJOR + 1;
#endif
#ifdef TEST_SHORT_DESCRIPTOR
    d.struct_size = offsetof(rampart_plugin_descriptor, api);
#endif
#ifdef TEST_BAD_KIND
    d.kind = 42;
#endif
#ifdef TEST_ABI_1_3
    // Built against ABI 1.3: the descriptor ends before secret_settings.
    d.abi_minor = 3;
    d.struct_size = offsetof(rampart_plugin_descriptor, secret_settings);
#endif
#ifdef TEST_BAD_SECRET_PATH
    static const char* const bad_paths[] = {"token", "hooks..url", nullptr};
    d.secret_settings = bad_paths;
#endif
#ifdef TEST_NO_CREATE
    api.create = nullptr;
#endif
#ifdef TEST_SHORT_API
    api.struct_size = offsetof(rampart_plugin_api, on_event);
#endif
#ifdef TEST_RAW_THROW
    api.create = &raw_create;
#endif
    return d;
  }();
#ifdef TEST_NULL_DESCRIPTOR
  (void)desc;
  return nullptr;
#else
  return &desc;
#endif
}
