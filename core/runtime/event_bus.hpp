// SPDX-License-Identifier: Apache-2.0
// Routes events by source to the sinks (engine instances) subscribed to it;
// each delivery runs on the worker pool. The ring-buffer dispatcher (kernel
// side) publishes here.
//
// The worker pool's queue has no limit of its own, and the ring is drained
// far faster than an engine that raises alerts can keep up (tens of
// millions of events a second against ~100 thousand), so the bus bounds
// the deliveries it has queued or running: past `max_backlog` an event is
// dropped and counted (overflowed) instead of queued. Unbounded, a flood of
// 10^6 events held 690,000 deliveries and ~300 MiB (docs/performance.md).
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

#include "runtime/burst_trim.hpp"

namespace rampart::runtime {

class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void deliver(const rampart_event& event) = 0;
};

class EventBus {
 public:
  // A queued delivery costs a few hundred bytes (its handler and the
  // event's copy): 65,536 are tens of MiB at most, and most of a second of
  // an alerting engine's work.
  static constexpr size_t kDefaultMaxBacklog = 65536;

  explicit EventBus(boost::asio::thread_pool& workers, size_t max_backlog = kDefaultMaxBacklog)
      : workers_(workers), max_backlog_(max_backlog ? max_backlog : 1) {}

  bool subscribe(uint32_t source, std::shared_ptr<EventSink> sink);
  bool unsubscribe(uint32_t source, const EventSink* sink);
  void unsubscribe_all(const EventSink* sink);

  // Copies the payload and hands it to every subscriber of `source`, or
  // drops it when that would take the backlog past its bound.
  void publish(uint32_t source, uint32_t type, std::span<const uint8_t> payload);
  // The same for one sink alone, whatever it subscribed to: a plugin's own
  // ring buffer's records (sources >= RAMPART_SOURCE_MAX are counted in
  // the totals only).
  void publish_to(const std::shared_ptr<EventSink>& sink, uint32_t source, uint32_t type,
                  std::span<const uint8_t> payload);

  uint64_t published() const { return published_.load(); }
  uint64_t delivered() const { return delivered_.load(); }
  uint64_t unrouted() const { return unrouted_.load(); }
  uint64_t overflowed() const { return overflowed_.load(); }
  // Deliveries queued for the workers or running now; at most max_backlog().
  size_t backlog() const { return backlog_.load(); }
  size_t max_backlog() const { return max_backlog_; }

  // Per source (index < RAMPART_SOURCE_MAX): events published, deliveries
  // made, events no one subscribed to, events dropped for a full backlog.
  struct SourceCounts {
    uint64_t published, delivered, unrouted, overflowed;
  };
  SourceCounts counts(uint32_t source) const;

  // Seconds from publish to the end of each delivery; set before events flow.
  void set_latency_histogram(prometheus::Histogram* h) { latency_ = h; }

 private:
  void dispatch(uint32_t source, uint32_t type, std::span<const uint8_t> payload,
                std::vector<std::shared_ptr<EventSink>> targets);
  // Runs on a worker once a delivery is done.
  void delivered_one(uint32_t source) noexcept;

  boost::asio::thread_pool& workers_;
  const size_t max_backlog_;
  std::atomic<size_t> backlog_{0};
  // A drained flood's memory goes back to the kernel; 16,384 deliveries
  // (~5 MiB) make a burst worth a trim.
  BurstTrim trim_{16384};
  std::mutex mu_;
  std::array<std::vector<std::shared_ptr<EventSink>>, RAMPART_SOURCE_MAX> subscribers_;
  std::atomic<uint64_t> published_{0}, delivered_{0}, unrouted_{0}, overflowed_{0};
  std::array<std::atomic<uint64_t>, RAMPART_SOURCE_MAX> published_by_{}, delivered_by_{},
      unrouted_by_{}, overflowed_by_{};
  prometheus::Histogram* latency_ = nullptr;
};

}  // namespace rampart::runtime
