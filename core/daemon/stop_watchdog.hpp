// SPDX-License-Identifier: Apache-2.0
// Bounds a stop. Armed when SIGTERM (or SIGINT) arrives; if the stop has
// not finished `bound` later (a plugin whose stop() hangs, a delivery it
// cannot cut short), it logs what the stop was waiting for and ends the
// process with status 1 rather than wait for systemd's SIGKILL: the
// kernel programs are pinned and keep filtering, the instance lock goes
// with the process, and every delivery still owed is in the alert store.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace rampart::daemon {

class StopWatchdog {
 public:
  StopWatchdog() = default;
  ~StopWatchdog();  // the stop finished: disarms
  StopWatchdog(const StopWatchdog&) = delete;
  StopWatchdog& operator=(const StopWatchdog&) = delete;

  void arm(std::chrono::seconds bound);
  // What the stop waits for now ("plugin" and its id, "worker threads").
  void stage(std::string what, std::string plugin = "");

 private:
  void watch(std::chrono::steady_clock::time_point deadline, std::chrono::seconds bound);

  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::string what_ = "plugins", plugin_;
  std::thread thread_;
};

}  // namespace rampart::daemon
