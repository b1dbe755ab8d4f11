// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include "runtime/metrics.hpp"

namespace {

rampart_metric_desc desc(rampart_metric_type type, const char* name) {
  rampart_metric_desc d{};
  d.struct_size = sizeof(d);
  d.type = type;
  d.name = name;
  d.help = "help";
  return d;
}

double counter_value(prometheus::Registry& r, const std::string& name, const std::string& plugin) {
  for (const auto& fam : r.Collect()) {
    if (fam.name != name) continue;
    for (const auto& m : fam.metric) {
      for (const auto& l : m.label) {
        if (l.name == "plugin" && l.value == plugin) return m.counter.value;
      }
    }
  }
  return -1;
}

TEST(Metrics, CounterIsLabelledWithThePlugin) {
  rampart::runtime::Metrics metrics;
  auto h = metrics.create("alpha", desc(RAMPART_METRIC_COUNTER, "rampart_things_total"));
  ASSERT_NE(h.counter, nullptr);
  h.counter->Increment(3);
  auto h2 = metrics.create("beta", desc(RAMPART_METRIC_COUNTER, "rampart_things_total"));
  h2.counter->Increment(1);
  EXPECT_EQ(counter_value(*metrics.registry(), "rampart_things_total", "alpha"), 3);
  EXPECT_EQ(counter_value(*metrics.registry(), "rampart_things_total", "beta"), 1);
}

TEST(Metrics, BadNamesAndLabelsAreRefusedWithTheReason) {
  rampart::runtime::Metrics metrics;
  EXPECT_THROW(metrics.create("p", desc(RAMPART_METRIC_GAUGE, "no_prefix")), std::invalid_argument);
  EXPECT_THROW(metrics.create("p", desc(RAMPART_METRIC_COUNTER, "rampart_missing_suffix")),
               std::invalid_argument);
  EXPECT_THROW(metrics.create("p", desc(RAMPART_METRIC_GAUGE, nullptr)), std::invalid_argument);
  auto d = desc(RAMPART_METRIC_GAUGE, "rampart_g");
  rampart_label reserved{"plugin", "x"};
  d.labels = &reserved;
  d.label_count = 1;
  try {
    metrics.create("p", d);
    FAIL() << "reserved label accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("'plugin'"), std::string::npos) << e.what();
  }
}

TEST(Metrics, SameNameWithAnotherTypeIsRefused) {
  rampart::runtime::Metrics metrics;
  metrics.create("p", desc(RAMPART_METRIC_GAUGE, "rampart_level"));
  EXPECT_THROW(metrics.create("p", desc(RAMPART_METRIC_HISTOGRAM, "rampart_level")),
               std::invalid_argument);
}

TEST(Metrics, HistogramNeedsAscendingBuckets) {
  rampart::runtime::Metrics metrics;
  auto d = desc(RAMPART_METRIC_HISTOGRAM, "rampart_latency_seconds");
  EXPECT_THROW(metrics.create("p", d), std::invalid_argument);
  const double bad[] = {0.1, 0.01};
  d.buckets = bad;
  d.bucket_count = 2;
  EXPECT_THROW(metrics.create("p", d), std::invalid_argument);
  const double good[] = {0.001, 0.01, 0.1};
  d.buckets = good;
  d.bucket_count = 3;
  auto h = metrics.create("p", d);
  ASSERT_NE(h.histogram, nullptr);
  h.histogram->Observe(0.005);
  bool seen = false;
  for (const auto& fam : metrics.registry()->Collect()) {
    if (fam.name == "rampart_latency_seconds") {
      seen = true;
      EXPECT_EQ(fam.metric.at(0).histogram.sample_count, 1u);
    }
  }
  EXPECT_TRUE(seen);
}

}  // namespace
