// SPDX-License-Identifier: Apache-2.0
// The core's own metrics, read when scraped: process, plugins, events per
// source, rules per domain, and every kernel per-CPU counter summed.
#pragma once

#include "alerts/pipeline.hpp"
#include "bpf/datapath.hpp"
#include "bpf/ring_dispatcher.hpp"
#include "daemon/agent_views.hpp"
#include "daemon/readiness.hpp"

#include <functional>
#include "runtime/event_bus.hpp"
#include "runtime/metrics.hpp"
#include "store/rule_service.hpp"
#include "store/rule_store.hpp"

namespace rampart::daemon {

struct CoreMetricSources {
  const runtime::EventBus& events;
  const bpf::Datapath* datapath = nullptr;
  const PluginSnapshot* plugins = nullptr;
  const store::RuleStore* rules = nullptr;
  const store::RuleService* rule_service = nullptr;
  const alerts::AlertPipeline* alerts = nullptr;
  std::function<std::vector<Missing>()> readiness;  // none: no readiness metrics
};

// Adds the collectors; call metrics.remove_collectors() before the sources go.
void add_core_metrics(runtime::Metrics& metrics, const CoreMetricSources& sources);

}  // namespace rampart::daemon
