// SPDX-License-Identifier: Apache-2.0
// The plugin host's timers: on the core's event loop, one callback at a
// time, cancelled (and waited for) before the instance stops.
#include <boost/asio/post.hpp>

#include "plugin_host/host_handles.hpp"

namespace rampart::plugin_host {
namespace {

// The timer whose callback this thread (the loop) is running, if any.
thread_local rampart_timer* t_running_timer = nullptr;

}  // namespace

void PluginInstance::arm(const std::shared_ptr<rampart_timer>& t, uint64_t delay_ms) {
  // Runs on the loop thread. The handler holds the instance (and so the
  // library) until it has run, even when cancelled.
  t->timer.expires_after(std::chrono::milliseconds(delay_ms));
  t->timer.async_wait([self = shared_from_this(), t](const boost::system::error_code& ec) {
    if (ec || t->cancelled.load()) return;
    {
      GatePass pass(self->gate_);
      std::lock_guard running(t->running);
      if (pass && !t->cancelled.load()) {
        t_running_timer = t.get();
        if (t->fn2) {
          self->count(Callback::timer,
                      self->call(Callback::timer, [&] { return t->fn2(t->user); }));
        } else {
          // An ABI 1.0-1.4 callback says nothing of failures (the SDK logs them).
          (void)self->call(Callback::timer, [&] { t->fn(t->user); });
        }
        t_running_timer = nullptr;
      }
    }
    if (t->interval_ms > 0 && !t->cancelled.load()) self->arm(t, t->interval_ms);
  });
}

rampart_status PluginInstance::timer_start(uint64_t first_ms, uint64_t interval_ms,
                                           rampart_timer_fn fn, void* user, rampart_timer** out) {
  if (!fn || !out) return host_fail(RAMPART_ERR_INVALID_ARGUMENT, "null argument");
  return start_timer(first_ms, interval_ms, fn, nullptr, user, out);
}

rampart_status PluginInstance::timer_start2(uint64_t first_ms, uint64_t interval_ms,
                                            rampart_timer_fn2 fn, void* user, rampart_timer** out) {
  if (!fn || !out) return host_fail(RAMPART_ERR_INVALID_ARGUMENT, "null argument");
  return start_timer(first_ms, interval_ms, nullptr, fn, user, out);
}

rampart_status PluginInstance::start_timer(uint64_t first_ms, uint64_t interval_ms,
                                           rampart_timer_fn fn, rampart_timer_fn2 fn2, void* user,
                                           rampart_timer** out) {
  auto t = std::make_shared<rampart_timer>(core_.runtime.loop());
  t->interval_ms = interval_ms;
  t->fn = fn;
  t->fn2 = fn2;
  t->user = user;
  {
    std::lock_guard lock(mu_);
    if (stopped_) return host_fail(RAMPART_ERR_BUSY, "instance is stopping");
    timers_.push_back(t);
  }
  *out = t.get();
  boost::asio::post(core_.runtime.loop(), [self = shared_from_this(), t, first_ms] {
    if (!t->cancelled.load()) self->arm(t, first_ms);
  });
  return RAMPART_OK;
}

void PluginInstance::timer_cancel(rampart_timer* timer) {
  if (!timer) return;
  const bool first = !timer->cancelled.exchange(true);
  // A callback in progress finishes before this returns, unless this is
  // that callback cancelling its own timer (it is then still on the
  // stack: the SDK keeps what it uses alive until it returns).
  if (t_running_timer != timer) {
    std::lock_guard wait(timer->running);
  }
  if (!first) return;
  // The timer object is owned by timers_ until this instance dies, so the
  // posted cancel can hold it by shared_ptr.
  std::shared_ptr<rampart_timer> keep;
  {
    std::lock_guard lock(mu_);
    for (auto& t : timers_) {
      if (t.get() == timer) keep = t;
    }
  }
  if (keep) boost::asio::post(core_.runtime.loop(), [keep] { keep->timer.cancel(); });
}

}  // namespace rampart::plugin_host
