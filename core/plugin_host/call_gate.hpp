// SPDX-License-Identifier: Apache-2.0
// Admits calls into a plugin instance from worker and loop threads until it
// is closed; close_and_wait() returns once no call is in flight, so the
// instance can be stopped and destroyed while callbacks are still queued.
#pragma once

#include <condition_variable>
#include <mutex>

namespace rampart::plugin_host {

class CallGate {
 public:
  void open() {
    std::lock_guard lock(mu_);
    open_ = true;
  }
  bool enter() {
    std::lock_guard lock(mu_);
    if (!open_) return false;
    ++active_;
    return true;
  }
  void leave() {
    std::lock_guard lock(mu_);
    if (--active_ == 0) idle_.notify_all();
  }
  void close_and_wait() {
    std::unique_lock lock(mu_);
    open_ = false;
    idle_.wait(lock, [&] { return active_ == 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable idle_;
  bool open_ = false;
  int active_ = 0;
};

// enter()/leave() as a scope.
class GatePass {
 public:
  explicit GatePass(CallGate& g) : gate_(g), entered_(g.enter()) {}
  ~GatePass() {
    if (entered_) gate_.leave();
  }
  explicit operator bool() const { return entered_; }
  GatePass(const GatePass&) = delete;
  GatePass& operator=(const GatePass&) = delete;

 private:
  CallGate& gate_;
  bool entered_;
};

}  // namespace rampart::plugin_host
