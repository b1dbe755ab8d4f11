// SPDX-License-Identifier: Apache-2.0
// Handles a plugin holds: metrics and timers.
// Part of the C++ SDK; include <rampart/sdk/plugin.hpp> for all of it.
#ifndef RAMPART_SDK_HANDLES_HPP
#define RAMPART_SDK_HANDLES_HPP

#include <rampart/sdk/abi.h>

#include <arpa/inet.h>
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <functional>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <rampart/sdk/error.hpp>

namespace rampart::sdk {

class Host;

// A metric handle (counter, gauge or histogram with fixed labels).
class Metric {
 public:
  Metric() = default;
  Metric(const rampart_host_api* api, rampart_metric* m) : api_(api), m_(m) {}
  void inc(double v = 1.0) const {
    if (m_) api_->metric_add(m_, v);
  }
  void add(double v) const { inc(v); }
  void set(double v) const {
    if (m_) api_->metric_set(m_, v);
  }
  void observe(double v) const {
    if (m_) api_->metric_observe(m_, v);
  }

 private:
  const rampart_host_api* api_ = nullptr;
  rampart_metric* m_ = nullptr;
};

// A timer on the core's event loop; cancelled when this object dies.
class Timer {
 public:
  Timer() = default;
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;
  Timer(Timer&& o) noexcept { *this = std::move(o); }
  Timer& operator=(Timer&& o) noexcept {
    if (this != &o) {
      cancel();
      api_ = std::exchange(o.api_, nullptr);
      handle_ = std::exchange(o.handle_, nullptr);
      fn_ = std::move(o.fn_);
    }
    return *this;
  }
  ~Timer() { cancel(); }

  void cancel() {
    if (api_ && handle_) api_->timer_cancel(api_->ctx, handle_);
    handle_ = nullptr;
  }

 private:
  friend class Host;
  const rampart_host_api* api_ = nullptr;
  rampart_timer* handle_ = nullptr;
  // Shared so that a callback which replaces or cancels its own Timer
  // (`timer_ = host.after(...)` inside it) keeps running on a live closure:
  // the thunk holds a reference until the callback returns.
  struct Callback : std::enable_shared_from_this<Callback> {
    Callback(const rampart_host_api* a, std::function<void()> f) : api(a), fn(std::move(f)) {}
    const rampart_host_api* api;
    std::function<void()> fn;
  };
  std::shared_ptr<Callback> fn_;
};

}  // namespace rampart::sdk

#endif  // RAMPART_SDK_HANDLES_HPP
