// SPDX-License-Identifier: Apache-2.0
#include "runtime/metrics.hpp"

#include <prometheus/text_serializer.h>

#include <regex>
#include <sstream>
#include <stdexcept>

namespace rampart::runtime {

void check_metric_name(const std::string& name, rampart_metric_type type) {
  static const std::regex kName("rampart_[a-zA-Z0-9_]+");
  if (!std::regex_match(name, kName)) {
    throw std::invalid_argument("metric name '" + name + "' must match rampart_[a-zA-Z0-9_]+");
  }
  if (type == RAMPART_METRIC_COUNTER && !name.ends_with("_total")) {
    throw std::invalid_argument("counter '" + name + "' must end in _total");
  }
}

void check_label_name(const std::string& metric, const std::string& label) {
  static const std::regex kLabel("[a-zA-Z_][a-zA-Z0-9_]*");
  if (!std::regex_match(label, kLabel) || label == "plugin" || label.starts_with("__")) {
    throw std::invalid_argument("metric '" + metric + "': invalid or reserved label name '" +
                                label + "'");
  }
}

MetricHandle Metrics::create(const std::string& plugin_id, const rampart_metric_desc& desc) {
  if (desc.struct_size < RAMPART_FIELD_END(rampart_metric_desc, bucket_count)) {
    throw std::invalid_argument("metric description is smaller than ABI v1.0 allows");
  }
  const std::string name = desc.name ? desc.name : "";
  if (desc.type > RAMPART_METRIC_HISTOGRAM) {
    throw std::invalid_argument("metric '" + name + "': unknown type " + std::to_string(desc.type));
  }
  const auto type = static_cast<rampart_metric_type>(desc.type);
  check_metric_name(name, type);
  std::map<std::string, std::string> labels{{"plugin", plugin_id}};
  for (size_t i = 0; i < desc.label_count; ++i) {
    const std::string k = desc.labels[i].name ? desc.labels[i].name : "";
    check_label_name(name, k);
    labels[k] = desc.labels[i].value ? desc.labels[i].value : "";
  }
  prometheus::Histogram::BucketBoundaries buckets(desc.buckets, desc.buckets + desc.bucket_count);
  if (type == RAMPART_METRIC_HISTOGRAM) {
    if (buckets.empty()) throw std::invalid_argument("histogram '" + name + "' needs buckets");
    for (size_t i = 1; i < buckets.size(); ++i) {
      if (!(buckets[i - 1] < buckets[i])) {
        throw std::invalid_argument("histogram '" + name + "': buckets must be ascending");
      }
    }
  }
  const std::string help = desc.help ? desc.help : "";

  std::lock_guard lock(mu_);
  auto it = families_.find(name);
  if (it == families_.end()) {
    FamilyEntry e{type, nullptr};
    switch (type) {
      case RAMPART_METRIC_COUNTER:
        e.family = &prometheus::BuildCounter().Name(name).Help(help).Register(*registry_);
        break;
      case RAMPART_METRIC_GAUGE:
        e.family = &prometheus::BuildGauge().Name(name).Help(help).Register(*registry_);
        break;
      case RAMPART_METRIC_HISTOGRAM:
        e.family = &prometheus::BuildHistogram().Name(name).Help(help).Register(*registry_);
        break;
    }
    it = families_.emplace(name, e).first;
  } else if (it->second.type != type) {
    throw std::invalid_argument("metric '" + name + "' already exists with another type");
  }
  MetricHandle h{type};
  switch (type) {
    case RAMPART_METRIC_COUNTER:
      h.counter =
          &static_cast<prometheus::Family<prometheus::Counter>*>(it->second.family)->Add(labels);
      break;
    case RAMPART_METRIC_GAUGE:
      h.gauge =
          &static_cast<prometheus::Family<prometheus::Gauge>*>(it->second.family)->Add(labels);
      break;
    case RAMPART_METRIC_HISTOGRAM:
      h.histogram = &static_cast<prometheus::Family<prometheus::Histogram>*>(it->second.family)
                         ->Add(labels, buckets);
      break;
  }
  return h;
}

prometheus::MetricFamily metric_family(const std::string& name, const std::string& help,
                                       prometheus::MetricType type) {
  prometheus::MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = type;
  return f;
}

void add_sample(prometheus::MetricFamily& family, const std::map<std::string, std::string>& labels,
                double value) {
  prometheus::ClientMetric m;
  for (const auto& [k, v] : labels) m.label.push_back({k, v});
  if (family.type == prometheus::MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  family.metric.push_back(std::move(m));
}

prometheus::Counter& Metrics::core_counter(const std::string& name, const std::string& help,
                                           const std::map<std::string, std::string>& labels) {
  std::lock_guard lock(mu_);
  auto it = families_.find(name);
  if (it == families_.end()) {
    auto& family = prometheus::BuildCounter().Name(name).Help(help).Register(*registry_);
    it = families_.emplace(name, FamilyEntry{RAMPART_METRIC_COUNTER, &family}).first;
  } else if (it->second.type != RAMPART_METRIC_COUNTER) {
    throw std::invalid_argument("metric '" + name + "' already exists with another type");
  }
  return static_cast<prometheus::Family<prometheus::Counter>*>(it->second.family)->Add(labels);
}

prometheus::Histogram& Metrics::core_histogram(
    const std::string& name, const std::string& help,
    const prometheus::Histogram::BucketBoundaries& buckets) {
  std::lock_guard lock(mu_);
  auto& family = prometheus::BuildHistogram().Name(name).Help(help).Register(*registry_);
  families_[name] = FamilyEntry{RAMPART_METRIC_HISTOGRAM, &family};
  return family.Add({}, buckets);
}

void Metrics::add_collector(Collector c) {
  std::lock_guard lock(collectors_mu_);
  collectors_.push_back(std::move(c));
}

void Metrics::remove_collectors() {
  std::lock_guard lock(collectors_mu_);
  collectors_.clear();
}

std::string Metrics::render() {
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  {
    std::lock_guard lock(collectors_mu_);
    for (const auto& c : collectors_) c(families);
  }
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return out.str();
}

}  // namespace rampart::runtime
