// SPDX-License-Identifier: Apache-2.0
// Routes events to the sinks (engine instances) that receive them: the
// records of a plugin's own ring buffers to that plugin alone, in batches
// (publish_batch_to), and the core's own events to the subscribers of their
// source (publish). Each delivery runs on the worker pool, or on the sink's
// strand when the sink wants its events one at a time and in order.
//
// The worker pool's queue has no limit of its own, and the ring is drained
// far faster than an engine that raises alerts can keep up (tens of
// millions of events a second against ~100 thousand), so the bus bounds
// the events it has queued or in delivery: past `max_backlog` an event is
// dropped and counted (overflowed) instead of queued. Unbounded, a flood of
// 10^6 events held 690,000 deliveries and ~300 MiB (docs/performance.md).
#pragma once

#include <rampart/sdk/abi.h>

#include <prometheus/histogram.h>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "runtime/burst_trim.hpp"
#include "runtime/event_sources.hpp"

namespace rampart::runtime {

using DeliveryStrand = boost::asio::strand<boost::asio::thread_pool::executor_type>;

class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void deliver(const rampart_event& event) = 0;
  // A batch, in order; by default one deliver() each.
  virtual void deliver_batch(std::span<const rampart_event> events) {
    for (const auto& e : events) deliver(e);
  }
  // Non-null: every delivery to this sink runs on this strand, so they run
  // one at a time, in the order they were published.
  virtual DeliveryStrand* strand() { return nullptr; }
};

// Records read from one ring in one drain, copied out of the ring.
struct EventBatch {
  struct Item {
    uint32_t source, type;
    size_t offset, len;
  };
  std::vector<uint8_t> bytes;
  std::vector<Item> items;
  uint64_t time_ns = 0;  // CLOCK_MONOTONIC when the first record was read

  void add(uint32_t source, uint32_t type, std::span<const uint8_t> payload);
  bool empty() const { return items.empty(); }
  size_t size() const { return items.size(); }
};

class EventBus {
 public:
  // A queued event costs its copy and a share of its batch's handler:
  // 65,536 are tens of MiB at most, and most of a second of an alerting
  // engine's work.
  static constexpr size_t kDefaultMaxBacklog = 65536;
  // Records per delivery call (rampart_plugin_api.on_events says so).
  static constexpr size_t kMaxBatch = 256;

  explicit EventBus(boost::asio::thread_pool& workers, size_t max_backlog = kDefaultMaxBacklog)
      : workers_(workers), max_backlog_(max_backlog ? max_backlog : 1) {}

  EventSources& sources() { return sources_; }
  const EventSources& sources() const { return sources_; }

  bool subscribe(uint32_t source, std::shared_ptr<EventSink> sink);
  bool unsubscribe(uint32_t source, const EventSink* sink);
  void unsubscribe_all(const EventSink* sink);

  // Copies the payload and hands it to every subscriber of `source`, or
  // drops it when that would take the backlog past its bound.
  void publish(uint32_t source, uint32_t type, std::span<const uint8_t> payload);
  // A batch for one sink alone (a plugin's own ring buffer's records), in
  // one delivery; the events past the backlog's room are dropped and
  // counted. A null sink (its plugin is gone): counted as unrouted.
  void publish_batch_to(const std::shared_ptr<EventSink>& sink, EventBatch&& batch);

  uint64_t published() const { return published_.load(); }
  uint64_t delivered() const { return delivered_.load(); }
  uint64_t unrouted() const { return unrouted_.load(); }
  uint64_t overflowed() const { return overflowed_.load(); }
  // Delivery calls made (a batch is one): delivered() / deliveries() is
  // the mean batch.
  uint64_t deliveries() const { return deliveries_.load(); }
  // Events queued for the workers or in delivery now; at most max_backlog().
  size_t backlog() const { return backlog_.load(); }
  size_t max_backlog() const { return max_backlog_; }

  // Per source: events published, delivered, no one subscribed to, and
  // dropped for a full backlog.
  struct SourceCounts {
    uint64_t published, delivered, unrouted, overflowed;
  };
  SourceCounts counts(uint32_t source) const;

  // Seconds from publish to the end of each delivery; set before events flow.
  void set_latency_histogram(prometheus::Histogram* h) { latency_ = h; }

 private:
  struct Counters {
    std::atomic<uint64_t> published{0}, delivered{0}, unrouted{0}, overflowed{0};
  };
  Counters* counters_of(uint32_t source);
  // Room for up to `n` more events: how many were granted.
  size_t claim_backlog(size_t n);
  template <class Fn>
  void post(const std::shared_ptr<EventSink>& sink, Fn&& fn);
  template <class Field>
  void count_items(const EventBatch& batch, size_t from, Field field);
  void delivered_batch(const EventBatch& batch) noexcept;

  boost::asio::thread_pool& workers_;
  const size_t max_backlog_;
  EventSources sources_;
  std::atomic<size_t> backlog_{0};
  // A drained flood's memory goes back to the kernel; 16,384 events
  // (~5 MiB) make a burst worth a trim.
  BurstTrim trim_{16384};
  std::mutex mu_;
  std::array<std::vector<std::shared_ptr<EventSink>>, RAMPART_SOURCE_MAX> subscribers_;
  std::atomic<uint64_t> published_{0}, delivered_{0}, unrouted_{0}, overflowed_{0}, deliveries_{0};
  // Indexed by the source's slot (EventSources); the last one counts
  // sources no one registered.
  std::array<Counters, EventSources::kSlots + 1> by_source_{};
  prometheus::Histogram* latency_ = nullptr;
};

}  // namespace rampart::runtime
