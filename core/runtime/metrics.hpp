// SPDX-License-Identifier: Apache-2.0
// The core's Prometheus registry (prometheus-cpp) and the metric handles
// plugins get through the host table. Frontends expose the registry.
#pragma once

#include <rampart/sdk/abi.h>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace rampart::runtime {

// What a rampart_metric* points at.
struct MetricHandle {
  rampart_metric_type type;
  prometheus::Counter* counter = nullptr;
  prometheus::Gauge* gauge = nullptr;
  prometheus::Histogram* histogram = nullptr;
};

class Metrics {
 public:
  Metrics() : registry_(std::make_shared<prometheus::Registry>()) {}

  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }

  // Validates the description and returns the series for `plugin_id`;
  // throws std::invalid_argument naming what is wrong.
  MetricHandle create(const std::string& plugin_id, const rampart_metric_desc& desc);

 private:
  struct FamilyEntry {
    rampart_metric_type type;
    void* family;  // prometheus::Family<T>* matching type
  };
  std::shared_ptr<prometheus::Registry> registry_;
  std::mutex mu_;
  std::map<std::string, FamilyEntry> families_;
};

}  // namespace rampart::runtime
