// SPDX-License-Identifier: Apache-2.0
// The core services a PluginManager needs in a test: runtime, event bus,
// alert pipeline (every alert to every sender: no dedup, no throttling)
// and metrics.
#pragma once

#include <string>
#include "plugin_host/plugin_instance.hpp"

#include "alerts/pipeline.hpp"
#include "config/config.hpp"
#include "join_workers.hpp"
#include "runtime/event_bus.hpp"
#include "runtime/metrics.hpp"
#include "runtime/runtime.hpp"

namespace rampart::test {

struct PluginCore {
  explicit PluginCore(unsigned workers = 2)
      : rt(workers),
        events(rt.workers()),
        alerts(deliver_everything()),
        services{rt, events, alerts, metrics} {}
  runtime::Runtime rt;
  runtime::EventBus events;
  static alerts::AlertSettings deliver_everything() {
    alerts::AlertSettings s;
    s.router.dedup_window_s = 0;
    return s;
  }
  alerts::AlertPipeline alerts;
  runtime::Metrics metrics;
  plugin_host::CoreServices services;
  // Last: the workers finish before anything they deliver to is gone.
  JoinWorkers join{rt};
};

inline config::Config config_from(const std::string& yaml) {
  return config::load_string(yaml, "test.yaml");
}

}  // namespace rampart::test
