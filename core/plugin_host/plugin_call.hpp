// SPDX-License-Identifier: Apache-2.0
// Which plugin code a thread is running. Every call into a plugin goes
// through PluginInstance's one guard, which names the plugin and the
// callback here for as long as the call lasts. Plugins run in-process: a
// fatal signal in one (a null write, a stack overflow, an abort) takes
// rampartd down, and the report installed here says on stderr which plugin
// and callback it came from before the process dies by that same signal
// (so systemd restarts it and a core dump, if enabled, shows the crash).
#pragma once

#include <cstddef>
#include <cstdint>

namespace rampart::plugin_host {

// Every kind of call into a plugin, lifecycle included.
enum class Callback : uint8_t {
  create,
  start,
  validate,
  reload,
  stop,
  destroy,
  on_event,
  send_alert,
  stream_alert,
  timer,
  rules_apply,
  domain_status,
};
inline constexpr size_t kCallbackKinds = static_cast<size_t>(Callback::domain_status) + 1;

// "on_event", "timer", ...: the metric label and the crash report's name.
const char* callback_name(Callback cb);

// Names `plugin` (a string that outlives the scope) and `cb` as what this
// thread runs until the scope ends. Scopes nest: a plugin's call into the
// host can reach another plugin (a frontend's API call applies an engine's
// rules). The first scope on a thread also gives it an alternate signal
// stack, so that a stack overflow in plugin code is reported too.
class PluginCallScope {
 public:
  PluginCallScope(const char* plugin, Callback cb) noexcept;
  ~PluginCallScope();
  PluginCallScope(const PluginCallScope&) = delete;
  PluginCallScope& operator=(const PluginCallScope&) = delete;

 private:
  const char* outer_plugin_;
  const char* outer_callback_;
};

// Installs the fatal-signal report for SIGSEGV, SIGBUS, SIGILL, SIGFPE and
// SIGABRT: one line on stderr, in the log's format, naming the signal and
// the plugin and callback the crashing thread was running (or saying it ran
// no plugin code), written with write(2) alone; then the default action is
// restored and the signal raised again. Call once, before plugins load.
void install_fatal_signal_report();

}  // namespace rampart::plugin_host
