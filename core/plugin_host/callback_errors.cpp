// SPDX-License-Identifier: Apache-2.0
#include "plugin_host/callback_errors.hpp"

#include "log/logger.hpp"

namespace rampart::plugin_host {
namespace {

constexpr std::string_view kLog = "plugin-host";

}  // namespace

CallbackErrors::CallbackErrors(std::string plugin, runtime::Metrics& metrics,
                               const std::vector<Callback>& callbacks,
                               std::chrono::nanoseconds interval, Clock clock)
    : plugin_(std::move(plugin)), interval_ns_(interval.count()), clock_(std::move(clock)) {
  for (const Callback cb : callbacks) {
    slots_[static_cast<size_t>(cb)].counter = &metrics.core_counter(
        "rampart_plugin_callback_errors_total",
        "Calls into a plugin that failed (an error status or an exception), by callback",
        {{"plugin", plugin_}, {"callback", callback_name(cb)}});
  }
}

void CallbackErrors::record(Callback cb, std::string_view error) {
  Slot& s = slots_[static_cast<size_t>(cb)];
  total_.fetch_add(1, std::memory_order_relaxed);
  if (s.counter != nullptr) s.counter->Increment();
  const int64_t now =
      std::chrono::duration_cast<std::chrono::nanoseconds>(clock_().time_since_epoch()).count();
  // One thread wins the right to log per interval; the others only count.
  int64_t from = s.log_from.load(std::memory_order_relaxed);
  if (now < from || !s.log_from.compare_exchange_strong(from, now + interval_ns_)) {
    s.unlogged.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  // What went unlogged since the line before; the first line has none
  // before it (failures racing it are said by the next line, or at stop).
  const uint64_t unlogged =
      from == INT64_MIN ? 0 : s.unlogged.exchange(0, std::memory_order_relaxed);
  const std::string_view name = callback_name(cb);
  if (unlogged == 0) {
    log::warn(kLog, "plugin callback failed",
              {{"plugin", plugin_}, {"callback", name}, {"error", error}});
  } else {
    log::warn(kLog, "plugin callback failed",
              {{"plugin", plugin_},
               {"callback", name},
               {"error", error},
               {"suppressed", std::to_string(unlogged)}});
  }
}

void CallbackErrors::flush() {
  for (size_t i = 0; i < kCallbackKinds; ++i) {
    const uint64_t unlogged = slots_[i].unlogged.exchange(0, std::memory_order_relaxed);
    if (unlogged == 0) continue;
    log::warn(kLog, "plugin callback failures not logged",
              {{"plugin", plugin_},
               {"callback", callback_name(static_cast<Callback>(i))},
               {"suppressed", std::to_string(unlogged)}});
  }
}

}  // namespace rampart::plugin_host
