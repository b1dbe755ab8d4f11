// SPDX-License-Identifier: Apache-2.0
// Admits calls into a plugin instance from worker and loop threads until it
// is closed; wait() returns once no call is in flight, so the instance can
// be stopped and destroyed while callbacks are still queued. A sender's
// send_alert may block (up to its own timeout) and is the one call the
// plugin's stop() is allowed to overlap: stop() is what cuts it short.
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
  // `may_block`: a call that stop() is expected to interrupt.
  bool enter(bool may_block = false) {
    std::lock_guard lock(mu_);
    if (!open_) return false;
    ++active_;
    if (may_block) ++blocking_;
    return true;
  }
  void leave(bool may_block = false) {
    std::lock_guard lock(mu_);
    --active_;
    if (may_block) --blocking_;
    idle_.notify_all();
  }
  // Admits no new call.
  void close() {
    std::lock_guard lock(mu_);
    open_ = false;
  }
  // Waits until no call is in flight; with `except_blocking`, until the
  // only ones left are calls that may block.
  void wait(bool except_blocking = false) {
    std::unique_lock lock(mu_);
    idle_.wait(lock, [&] { return active_ - (except_blocking ? blocking_ : 0) == 0; });
  }
  void close_and_wait() {
    close();
    wait();
  }

 private:
  std::mutex mu_;
  std::condition_variable idle_;
  bool open_ = false;
  int active_ = 0;
  int blocking_ = 0;
};

// enter()/leave() as a scope.
class GatePass {
 public:
  explicit GatePass(CallGate& g, bool may_block = false)
      : gate_(g), may_block_(may_block), entered_(g.enter(may_block)) {}
  ~GatePass() {
    if (entered_) gate_.leave(may_block_);
  }
  explicit operator bool() const { return entered_; }
  GatePass(const GatePass&) = delete;
  GatePass& operator=(const GatePass&) = delete;

 private:
  CallGate& gate_;
  bool may_block_;
  bool entered_;
};

}  // namespace rampart::plugin_host
