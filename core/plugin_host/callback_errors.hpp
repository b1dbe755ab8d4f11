// SPDX-License-Identifier: Apache-2.0
// Failed calls into one plugin instance, per callback: counted in
// rampart_plugin_callback_errors_total{plugin,callback} and logged with the
// plugin's error text. A flood (an engine throwing on every event) costs a
// counter increment per failure and at most one log line per callback per
// interval: the first failure is logged at once, a later line says how
// many failures went unlogged since the one before.
#pragma once

#include <prometheus/counter.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "plugin_host/plugin_call.hpp"
#include "runtime/metrics.hpp"

namespace rampart::plugin_host {

class CallbackErrors {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  // Series are made at once (at 0) for `callbacks`, the ones the plugin
  // can fail in, so an alert on the metric sees them before any failure.
  CallbackErrors(
      std::string plugin, runtime::Metrics& metrics, const std::vector<Callback>& callbacks,
      std::chrono::nanoseconds interval,
      Clock clock = [] { return std::chrono::steady_clock::now(); });
  CallbackErrors(const CallbackErrors&) = delete;
  CallbackErrors& operator=(const CallbackErrors&) = delete;

  // One failure of `cb` with the plugin's error text. Lock-free but for
  // the log line it may write.
  void record(Callback cb, std::string_view error);
  // Logs, per callback, how many failures were counted but not logged yet
  // (the instance is stopping: no later line would say it).
  void flush();
  uint64_t total() const { return total_.load(std::memory_order_relaxed); }

 private:
  struct Slot {
    prometheus::Counter* counter = nullptr;
    // steady_clock ns from which the next failure is logged.
    std::atomic<int64_t> log_from{INT64_MIN};
    std::atomic<uint64_t> unlogged{0};
  };

  const std::string plugin_;
  const int64_t interval_ns_;
  const Clock clock_;
  std::array<Slot, kCallbackKinds> slots_;
  std::atomic<uint64_t> total_{0};
};

}  // namespace rampart::plugin_host
