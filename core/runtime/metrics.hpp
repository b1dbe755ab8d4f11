// SPDX-License-Identifier: Apache-2.0
// The core's Prometheus registry (prometheus-cpp) and the metric handles
// plugins get through the host table. Frontends expose the registry.
#pragma once

#include <rampart/sdk/abi.h>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <prometheus/metric_family.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace rampart::runtime {

// What a rampart_metric* points at.
struct MetricHandle {
  rampart_metric_type type;
  prometheus::Counter* counter = nullptr;
  prometheus::Gauge* gauge = nullptr;
  prometheus::Histogram* histogram = nullptr;
};

// Values read when scraped (kernel counters, process and plugin state)
// rather than kept up to date: a collector appends families on each render.
using Collector = std::function<void(std::vector<prometheus::MetricFamily>&)>;

// Building blocks for collectors.
prometheus::MetricFamily metric_family(const std::string& name, const std::string& help,
                                       prometheus::MetricType type);
void add_sample(prometheus::MetricFamily& family, const std::map<std::string, std::string>& labels,
                double value);

// What a plugin may name a metric and its labels (Prometheus names, the
// rampart_ prefix, counters in _total; "plugin" and "__*" are the host's).
// Throws std::invalid_argument saying what is wrong.
void check_metric_name(const std::string& name, rampart_metric_type type);
void check_label_name(const std::string& metric, const std::string& label);

class Metrics {
 public:
  Metrics() : registry_(std::make_shared<prometheus::Registry>()) {}

  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }

  // Validates the description and returns the series for `plugin_id`;
  // throws std::invalid_argument naming what is wrong.
  MetricHandle create(const std::string& plugin_id, const rampart_metric_desc& desc);

  // A counter of the core's own, one series per distinct `labels`; the
  // family is registered on first use.
  prometheus::Counter& core_counter(const std::string& name, const std::string& help,
                                    const std::map<std::string, std::string>& labels);

  // A histogram of the core's own (no plugin label).
  prometheus::Histogram& core_histogram(const std::string& name, const std::string& help,
                                        const prometheus::Histogram::BucketBoundaries& buckets);

  // Collectors run on every render, in the order added; remove_collectors
  // drops them all (before what they read goes away).
  void add_collector(Collector c);
  void remove_collectors();

  // Everything in the Prometheus text format 0.0.4.
  std::string render();

 private:
  std::mutex collectors_mu_;
  std::vector<Collector> collectors_;
  struct FamilyEntry {
    rampart_metric_type type;
    void* family;  // prometheus::Family<T>* matching type
  };
  std::shared_ptr<prometheus::Registry> registry_;
  std::mutex mu_;
  std::map<std::string, FamilyEntry> families_;
};

}  // namespace rampart::runtime
