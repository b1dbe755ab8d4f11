// SPDX-License-Identifier: Apache-2.0
// What the plugin host hands a plugin through the C table: the opaque
// handles' definitions, and the one trampoline (HostEntry) that turns a C
// entry taking the instance's context into a call of the PluginInstance
// member of the same signature. Each service lives with its kind:
// host_table.cpp (the table), timer_services.cpp, kernel_services.cpp
// (programs and maps), rule_services.cpp (rules and the management API),
// plugin_instance.cpp (lifecycle, callbacks, events, alerts, metrics).
#pragma once

#include <rampart/sdk/abi.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>

#include "bpf/datapath.hpp"
#include "plugin_host/config_view.hpp"
#include "plugin_host/plugin_call.hpp"
#include "plugin_host/plugin_instance.hpp"
#include "runtime/metrics.hpp"

struct rampart_host_ctx {
  rampart::plugin_host::PluginInstance* instance;
};

struct rampart_metric : rampart::runtime::MetricHandle {};

struct rampart_program {
  std::shared_ptr<rampart::bpf::InstalledProgram> installed;
};

struct rampart_map {
  int fd;
  std::string name;
  uint32_t type, key_size, value_size;  // value_size: per CPU for per-CPU maps
  uint32_t max_entries;
  bool percpu;
  uint32_t ncpus;  // possible CPUs
  // The kernel reads and writes a per-CPU map's values at an 8-byte stride.
  size_t stride() const { return (size_t(value_size) + 7) / 8 * 8; }
};

struct rampart_timer {
  explicit rampart_timer(boost::asio::io_context& io) : timer(io) {}
  boost::asio::steady_timer timer;  // touched only on the loop thread
  uint64_t interval_ms = 0;
  rampart_timer_fn fn = nullptr;    // one of the two
  rampart_timer_fn2 fn2 = nullptr;  // ABI 1.5: says whether it failed
  void* user = nullptr;
  std::atomic<bool> cancelled{false};
  // Held by the loop thread while the callback runs: a cancel from any
  // other thread waits on it, so that once timer_cancel returns the
  // callback is not running and never runs again (the plugin may free
  // what `user` points to).
  std::mutex running;
};

namespace rampart::plugin_host {

// What a failed service answers.
template <class R>
R failed(const char* what) noexcept {
  if constexpr (std::is_same_v<R, rampart_status>) {
    return host_fail(RAMPART_ERR_INTERNAL, what);
  } else if constexpr (!std::is_void_v<R>) {
    return R{};
  }
}

// The C entry for member `Service`: the context's instance runs it with the
// C arguments as they are. Nothing unwinds into the plugin: an exception
// becomes RAMPART_ERR_INTERNAL with its text (an int service answers 0, a
// void one returns).
template <auto Service>
struct HostEntry;

// Runs one service call; an exception becomes what a failed R answers.
template <class R, class F>
R run_service(F&& f) noexcept {
  try {
    return f();
  } catch (const std::exception& e) {
    return failed<R>(e.what());
  } catch (...) {
    return failed<R>("unknown exception");
  }
}

template <class R, class... A, R (PluginInstance::*Service)(A...)>
struct HostEntry<Service> {
  static R call(rampart_host_ctx* ctx, A... args) noexcept {
    return run_service<R>([&]() -> R { return (ctx->instance->*Service)(args...); });
  }
};

template <class R, class... A, R (PluginInstance::*Service)(A...) const>
struct HostEntry<Service> {
  static R call(rampart_host_ctx* ctx, A... args) noexcept {
    return run_service<R>([&]() -> R { return (ctx->instance->*Service)(args...); });
  }
};

// Every call into the plugin's code goes through here (declared in
// plugin_instance.hpp): the fatal-signal report names the plugin and
// callback while it runs, and an exception escaping the C ABI is a failure.
template <class F>
PluginInstance::CallResult PluginInstance::call(Callback cb, F&& f) noexcept {
  const PluginCallScope scope(lib_->id().c_str(), cb);
  CallResult r;
  try {
    if constexpr (std::is_void_v<std::invoke_result_t<F>>) {
      f();
    } else {
      r.status = f();
    }
    if (r.status != RAMPART_OK) {
      const char* text = lib_->api().last_error();
      r.error = text && *text ? text : "no error text (status " + std::to_string(r.status) + ")";
    }
  } catch (...) {
    r.status = RAMPART_ERR_INTERNAL;
    r.threw = true;
    r.error = std::string(callback_name(cb)) + " threw an exception across the C ABI";
  }
  return r;
}

// The map and program-counter entries, which take a handle rather than
// the context (kernel_services.cpp).
void fill_kernel_entries(rampart_host_api* api);

}  // namespace rampart::plugin_host
