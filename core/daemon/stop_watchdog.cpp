// SPDX-License-Identifier: Apache-2.0
#include "daemon/stop_watchdog.hpp"

#include <unistd.h>

#include "log/logger.hpp"

namespace rampart::daemon {

StopWatchdog::~StopWatchdog() {
  {
    std::lock_guard lock(mu_);
    done_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void StopWatchdog::arm(std::chrono::seconds bound) {
  if (thread_.joinable()) return;
  const auto deadline = std::chrono::steady_clock::now() + bound;
  thread_ = std::thread([this, deadline, bound] { watch(deadline, bound); });
}

void StopWatchdog::stage(std::string what, std::string plugin) {
  std::lock_guard lock(mu_);
  what_ = std::move(what);
  plugin_ = std::move(plugin);
}

void StopWatchdog::watch(std::chrono::steady_clock::time_point deadline,
                         std::chrono::seconds bound) {
  std::unique_lock lock(mu_);
  if (cv_.wait_until(lock, deadline, [&] { return done_; })) return;
  const std::string seconds = std::to_string(bound.count());
  if (plugin_.empty()) {
    log::error("rampartd", "stop timed out; exiting without waiting longer",
               {{"waiting_for", what_}, {"stop_timeout_seconds", seconds}});
  } else {
    log::error("rampartd", "stop timed out; exiting without waiting longer",
               {{"waiting_for", what_}, {"plugin", plugin_}, {"stop_timeout_seconds", seconds}});
  }
  // Not exit(): the threads still running would race the static destructors.
  _exit(1);
}

}  // namespace rampart::daemon
