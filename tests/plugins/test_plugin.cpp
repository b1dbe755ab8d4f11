// SPDX-License-Identifier: Apache-2.0
// One source, many test plugins: each variant is compiled with a TEST_*
// definition that makes it good, or broken in exactly one way the host must
// refuse (TEST_FAULTS: settings that crash it or hang its stop, for the
// fault reports and the stop watchdog). The good engine reports its lifecycle through the host log
// so tests can see what the host called.
#include <rampart/sdk/plugin.hpp>

#include <cstring>

#include <algorithm>
#include <chrono>
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
// turned into a trap instruction, SIGILL).
void crash() {
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
  ~TestEngine() { host_.info("lifecycle: destroy"); }

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
    if (!map_name_.empty()) {
      // ABI 1.1 map service: opened with the sizes the config says.
      map_ = host_.open_map(map_name_.c_str(), 4, map_value_size_);
      host_.info("lifecycle: map opened " + map_name_);
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
    cfg.allow_only(
        "", {"value", "reject", "fail_reload", "tick_ms", "alert_on_tick", "throw_on_tick",
             "throw_on_event", "open_map", "map_value_size", "publish_names", "alert_on_event",
#ifdef TEST_FAULTS
             "crash_on_tick", "crash_on_event", "overflow_on_tick", "stall_stop_ms"
#endif
            });
  }

  void reload(const Config& cfg) {
    if (cfg.get<bool>("fail_reload", false))
      throw Error(RAMPART_ERR_INTERNAL, "reload failed on purpose");
    apply(cfg);
    host_.info("lifecycle: reload value=" + value_);
  }

  void on_event(const Event& ev) {
    events_.inc();
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
  bool alert_on_tick_ = false, throw_on_tick_ = false, throw_on_event_ = false;
  bool publish_names_ = false;
  bool alert_on_event_ = false;
#ifdef TEST_FAULTS
  bool crash_on_tick_ = false, crash_on_event_ = false, overflow_on_tick_ = false;
  int64_t stall_stop_ms_ = 0;
#endif
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
