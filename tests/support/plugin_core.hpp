// SPDX-License-Identifier: Apache-2.0
// The core services a PluginManager needs in a test: runtime, event bus,
// alert pipeline and metrics.
#pragma once

#include "plugin_host/plugin_instance.hpp"
#include "runtime/alert_pipeline.hpp"
#include "runtime/event_bus.hpp"
#include "runtime/metrics.hpp"
#include "runtime/runtime.hpp"

namespace rampart::test {

struct PluginCore {
  explicit PluginCore(unsigned workers = 2)
      : rt(workers),
        events(rt.workers()),
        alerts(rt.workers()),
        services{rt, events, alerts, metrics} {}
  runtime::Runtime rt;
  runtime::EventBus events;
  runtime::AlertPipeline alerts;
  runtime::Metrics metrics;
  plugin_host::CoreServices services;
};

}  // namespace rampart::test
