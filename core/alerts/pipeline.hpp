// SPDX-License-Identifier: Apache-2.0
// The alert pipeline: an engine's alert is copied, given an id and a time,
// enriched, judged by the router, stored (always), streamed to frontends
// (always) and queued for the senders the router chose, each behind its
// own bounded queue and circuit breaker. emit() never blocks on a sender,
// a stream client or the disk.
#pragma once

#include <rampart/sdk/abi.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "alerts/alert.hpp"
#include "alerts/alert_store.hpp"
#include "alerts/delivery.hpp"
#include "alerts/enrichment.hpp"
#include "alerts/router.hpp"
#include "alerts/settings.hpp"

namespace rampart::alerts {

// A sender: delivers one alert, throwing when it could not.
class AlertSink {
 public:
  virtual ~AlertSink() = default;
  virtual void deliver(const AlertRecord& alert) = 0;
};

// A frontend streaming alerts: must not block.
class AlertStream {
 public:
  virtual ~AlertStream() = default;
  virtual void stream(const AlertRecord& alert) = 0;
};

struct SenderStats {
  std::string sender;
  DeliveryStats delivery;
};

class AlertPipeline {
 public:
  explicit AlertPipeline(const AlertSettings& settings = {}, Clock clock = steady_clock());
  ~AlertPipeline();

  // The record every alert goes to; nullptr: none (tests, --check-config).
  void set_store(AlertStore* store);
  AlertStore* store() const { return store_.load(); }
  Enricher& enricher() { return enricher_; }

  // Queues first what the store says `id` still owes (alerts an earlier
  // run, or instance, left undelivered), then what is emitted from now on.
  void add_sender(const std::string& id, std::shared_ptr<AlertSink> sender);
  // Takes the sender out of routing and returns its queue, stopping: it
  // starts no further delivery, and stop() on it (or dropping the last
  // reference) waits for the one in progress, which the sender's own stop
  // is expected to cut short. What it still holds stays owed in the store.
  std::shared_ptr<SenderQueue> remove_sender(const AlertSink* sender);
  void add_stream(std::shared_ptr<AlertStream> stream);
  void remove_stream(const AlertStream* stream);

  // Returns the id given to the alert.
  std::string emit(const std::string& component, const rampart_alert& alert);
  // Router, delivery and store settings (reload); GeoIP is set on the enricher.
  void configure(const AlertSettings& settings);

  uint64_t emitted() const { return emitted_.load(); }
  // Alerts kept from senders, by reason (dedup, throttle_source, throttle_rule, unrouted).
  std::map<std::string, uint64_t> suppressed() const;
  // Alerts emitted by component and severity.
  std::map<std::pair<std::string, uint32_t>, uint64_t> by_component() const;
  std::vector<SenderStats> senders() const;

 private:
  struct Sender {
    std::string id;
    std::shared_ptr<AlertSink> sink;
    std::shared_ptr<SenderQueue> queue;
  };

  Clock clock_;
  Router router_;
  Enricher enricher_;
  std::atomic<AlertStore*> store_{nullptr};
  mutable std::mutex mu_;
  DeliverySettings delivery_;
  std::vector<std::shared_ptr<Sender>> senders_;
  std::vector<std::shared_ptr<AlertStream>> streams_;
  std::map<std::string, uint64_t> suppressed_;
  std::map<std::pair<std::string, uint32_t>, uint64_t> by_component_;
  std::atomic<uint64_t> emitted_{0};
};

}  // namespace rampart::alerts
