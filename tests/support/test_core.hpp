// SPDX-License-Identifier: Apache-2.0
// The core services a plugin host needs, for tests that load real plugins
// with a PluginManager.
#pragma once

#include <string>

#include "config/config.hpp"
#include "plugin_host/plugin_instance.hpp"

namespace rampart::test {

// Shut it down (draining the loop) before inspecting a captured log for
// "nothing after stop" properties.
struct TestCore {
  explicit TestCore(unsigned workers = 2)
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

inline config::Config config_from(const std::string& yaml) {
  return config::load_string(yaml, "test.yaml");
}

}  // namespace rampart::test
