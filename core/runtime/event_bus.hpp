// SPDX-License-Identifier: Apache-2.0
// Routes events by source to the sinks (engine instances) subscribed to it;
// each delivery runs on the worker pool. The ring-buffer dispatcher (kernel
// side) publishes here.
#pragma once

#include <rampart/sdk/abi.h>

#include <prometheus/histogram.h>
#include <boost/asio/thread_pool.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

namespace rampart::runtime {

class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void deliver(const rampart_event& event) = 0;
};

class EventBus {
 public:
  explicit EventBus(boost::asio::thread_pool& workers) : workers_(workers) {}

  bool subscribe(uint32_t source, std::shared_ptr<EventSink> sink);
  bool unsubscribe(uint32_t source, const EventSink* sink);
  void unsubscribe_all(const EventSink* sink);

  // Copies the payload and hands it to every subscriber of `source`.
  void publish(uint32_t source, uint32_t type, std::span<const uint8_t> payload);

  uint64_t published() const { return published_.load(); }
  uint64_t delivered() const { return delivered_.load(); }
  uint64_t unrouted() const { return unrouted_.load(); }

  // Per source (index < RAMPART_SOURCE_MAX): events published, deliveries
  // made, events no one subscribed to.
  struct SourceCounts {
    uint64_t published, delivered, unrouted;
  };
  SourceCounts counts(uint32_t source) const;

  // Seconds from publish to the end of each delivery; set before events flow.
  void set_latency_histogram(prometheus::Histogram* h) { latency_ = h; }

 private:
  boost::asio::thread_pool& workers_;
  std::mutex mu_;
  std::array<std::vector<std::shared_ptr<EventSink>>, RAMPART_SOURCE_MAX> subscribers_;
  std::atomic<uint64_t> published_{0}, delivered_{0}, unrouted_{0};
  std::array<std::atomic<uint64_t>, RAMPART_SOURCE_MAX> published_by_{}, delivered_by_{},
      unrouted_by_{};
  prometheus::Histogram* latency_ = nullptr;
};

}  // namespace rampart::runtime
