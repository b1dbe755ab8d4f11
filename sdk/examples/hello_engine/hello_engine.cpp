// SPDX-License-Identifier: Apache-2.0
// A complete example engine. It reads its settings (with defaults and
// checks), counts timer ticks in a metric, raises an alert every
// `alert_every` ticks, counts the events delivered to it (the records of
// its own kernel programs' ring buffers, for an engine that installs some),
// and applies a new config on reload all or nothing.
#include <rampart/sdk/plugin.hpp>

#include <atomic>
#include <mutex>
#include <string>

namespace {

using namespace std::chrono_literals;
using rampart::sdk::Config;
using rampart::sdk::Error;
using rampart::sdk::Event;
using rampart::sdk::Host;

struct Settings {
  std::chrono::milliseconds interval{1000};
  uint32_t alert_every = 5;
  std::string greeting = "hello";

  static Settings from(const Config& cfg) {
    cfg.allow_only("", {"interval_ms", "alert_every", "greeting"});
    Settings s;
    s.interval = std::chrono::milliseconds(cfg.get<int64_t>("interval_ms", 1000));
    if (s.interval < 10ms)
      throw Error(RAMPART_ERR_INVALID_ARGUMENT, "interval_ms must be at least 10");
    s.alert_every = cfg.get<uint32_t>("alert_every", 5);
    s.greeting = cfg.get<std::string>("greeting", "hello");
    return s;
  }
};

class HelloEngine {
 public:
  // Settings whose values GET /api/v1/config must not show (ABI 1.4); none
  // here. A sender would list e.g. {"password", "headers.*", "url#url", nullptr}.
  static constexpr const char* kSecretSettings[] = {nullptr};

  HelloEngine(Host& host, const Config& cfg) : host_(host), settings_(Settings::from(cfg)) {
    ticks_ = host_.counter("rampart_hello_ticks_total", "Timer ticks seen by the example engine");
    events_ = host_.counter("rampart_hello_events_total", "Events seen by the example engine");
  }

  void start() {
    timer_ = host_.every(settings_.interval, [this] { tick(); });
    host_.info(settings_.greeting + " from the example engine");
  }

  void stop() { timer_.cancel(); }

  void validate(const Config& cfg) { (void)Settings::from(cfg); }

  void reload(const Config& cfg) {
    Settings next = Settings::from(cfg);  // throws before anything changes
    const bool new_interval = next.interval != settings_.interval;
    {
      std::lock_guard lock(mu_);  // tick() reads settings_ on the event loop
      settings_ = next;
    }
    if (new_interval) timer_ = host_.every(next.interval, [this] { tick(); });
    host_.info("reloaded: greeting is now '" + next.greeting + "'");
  }

  void on_event(const Event&) { events_.inc(); }

 private:
  void tick() {
    Settings s;
    {
      std::lock_guard lock(mu_);
      s = settings_;
    }
    const uint64_t n = ++count_;
    ticks_.inc();
    host_.info(s.greeting + ": tick " + std::to_string(n));
    if (s.alert_every && n % s.alert_every == 0) {
      const std::string msg = s.greeting + " alert after " + std::to_string(n) + " ticks";
      host_.emit_alert(rampart::sdk::make_alert(RAMPART_SEVERITY_LOW, "hello-1", msg));
    }
  }

  Host& host_;
  std::mutex mu_;
  Settings settings_;
  std::atomic<uint64_t> count_{0};
  rampart::sdk::Metric ticks_, events_;
  rampart::sdk::Timer timer_;
};

}  // namespace

RAMPART_PLUGIN(HelloEngine, RAMPART_KIND_ENGINE, "hello_engine", "Hello engine (SDK example)",
               "1.0.0", "Apache-2.0", "Ticks, counts events and raises an alert now and then")
