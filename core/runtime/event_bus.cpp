// SPDX-License-Identifier: Apache-2.0
#include "runtime/event_bus.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>
#include <chrono>
#include <ctime>

namespace rampart::runtime {
namespace {

uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace

void EventBatch::add(uint32_t source, uint32_t type, std::span<const uint8_t> payload) {
  if (items.empty() && time_ns == 0) time_ns = monotonic_ns();
  items.push_back(Item{source, type, bytes.size(), payload.size()});
  bytes.insert(bytes.end(), payload.begin(), payload.end());
}

bool EventBus::subscribe(uint32_t source, std::shared_ptr<EventSink> sink) {
  if (source >= RAMPART_SOURCE_MAX || !sink) return false;
  std::lock_guard lock(mu_);
  auto& subs = subscribers_[source];
  if (std::find(subs.begin(), subs.end(), sink) == subs.end()) subs.push_back(std::move(sink));
  return true;
}

bool EventBus::unsubscribe(uint32_t source, const EventSink* sink) {
  if (source >= RAMPART_SOURCE_MAX) return false;
  std::lock_guard lock(mu_);
  auto& subs = subscribers_[source];
  std::erase_if(subs, [&](const auto& s) { return s.get() == sink; });
  return true;
}

void EventBus::unsubscribe_all(const EventSink* sink) {
  std::lock_guard lock(mu_);
  for (auto& subs : subscribers_)
    std::erase_if(subs, [&](const auto& s) { return s.get() == sink; });
}

EventBus::Counters* EventBus::counters_of(uint32_t source) {
  const size_t slot = sources_.slot(source);
  return &by_source_[slot < EventSources::kSlots ? slot : EventSources::kSlots];
}

EventBus::SourceCounts EventBus::counts(uint32_t source) const {
  const size_t slot = sources_.slot(source);
  if (slot >= EventSources::kSlots) return {0, 0, 0, 0};
  const Counters& c = by_source_[slot];
  return {c.published.load(), c.delivered.load(), c.unrouted.load(), c.overflowed.load()};
}

size_t EventBus::claim_backlog(size_t n) {
  // Claimed before anything is allocated for the events, so a full backlog
  // costs a drop and nothing else.
  size_t depth = backlog_.load(std::memory_order_relaxed);
  size_t granted;
  do {
    granted = depth >= max_backlog_ ? 0 : std::min(n, max_backlog_ - depth);
    if (granted == 0) return 0;
  } while (!backlog_.compare_exchange_weak(depth, depth + granted, std::memory_order_relaxed));
  trim_.grew(depth + granted);
  return granted;
}

template <class Fn>
void EventBus::post(const std::shared_ptr<EventSink>& sink, Fn&& fn) {
  deliveries_.fetch_add(1, std::memory_order_relaxed);
  if (DeliveryStrand* s = sink->strand()) {
    boost::asio::post(*s, std::forward<Fn>(fn));
  } else {
    boost::asio::post(workers_, std::forward<Fn>(fn));
  }
}

template <class Field>
void EventBus::count_items(const EventBatch& batch, size_t from, Field field) {
  // A ring's records mostly share one source: one registry lookup per run.
  uint32_t last = 0;
  Counters* c = nullptr;
  for (size_t i = from; i < batch.items.size(); ++i) {
    if (c == nullptr || batch.items[i].source != last) {
      last = batch.items[i].source;
      c = counters_of(last);
    }
    (c->*field).fetch_add(1, std::memory_order_relaxed);
  }
}

// Runs on a worker once a batch is delivered.
void EventBus::delivered_batch(const EventBatch& batch) noexcept {
  const size_t n = batch.size();
  if (latency_) {
    const double seconds = static_cast<double>(monotonic_ns() - batch.time_ns) / 1e9;
    for (size_t i = 0; i < n; ++i) latency_->Observe(seconds);
  }
  delivered_.fetch_add(n, std::memory_order_relaxed);
  count_items(batch, 0, &Counters::delivered);
  trim_.shrank(backlog_.fetch_sub(n, std::memory_order_acq_rel) - n);
}

namespace {

void deliver_to(EventSink& sink, const EventBatch& batch) {
  std::array<rampart_event, EventBus::kMaxBatch> events;
  size_t done = 0;
  while (done < batch.size()) {
    const size_t n = std::min(batch.size() - done, EventBus::kMaxBatch);
    for (size_t i = 0; i < n; ++i) {
      const auto& item = batch.items[done + i];
      rampart_event& ev = events[i];
      ev = rampart_event{};
      ev.struct_size = sizeof(ev);
      ev.source = item.source;
      ev.type = item.type;
      ev.time_ns = batch.time_ns;
      ev.data = batch.bytes.data() + item.offset;
      ev.len = item.len;
    }
    sink.deliver_batch(std::span<const rampart_event>(events.data(), n));
    done += n;
  }
}

}  // namespace

void EventBus::publish(uint32_t source, uint32_t type, std::span<const uint8_t> payload) {
  std::vector<std::shared_ptr<EventSink>> targets;
  if (source < RAMPART_SOURCE_MAX) {
    std::lock_guard lock(mu_);
    targets = subscribers_[source];
  }
  Counters* c = counters_of(source);
  published_.fetch_add(1, std::memory_order_relaxed);
  c->published.fetch_add(1, std::memory_order_relaxed);
  if (targets.empty()) {
    unrouted_.fetch_add(1, std::memory_order_relaxed);
    c->unrouted.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  // One copy of the event for every subscriber; a subscriber past the
  // backlog's room misses it (counted once per event).
  auto batch = std::make_shared<EventBatch>();
  batch->add(source, type, payload);
  bool dropped = false;
  for (auto& sink : targets) {
    if (claim_backlog(1) == 0) {
      dropped = true;
      continue;
    }
    post(sink, [this, sink, batch] {
      deliver_to(*sink, *batch);
      delivered_batch(*batch);
    });
  }
  if (dropped) {
    overflowed_.fetch_add(1, std::memory_order_relaxed);
    c->overflowed.fetch_add(1, std::memory_order_relaxed);
  }
}

void EventBus::publish_batch_to(const std::shared_ptr<EventSink>& sink, EventBatch&& batch) {
  if (batch.empty()) return;
  published_.fetch_add(batch.size(), std::memory_order_relaxed);
  count_items(batch, 0, &Counters::published);
  const size_t granted = sink ? claim_backlog(batch.size()) : 0;
  if (granted < batch.size()) {
    const size_t lost = batch.size() - granted;
    (sink ? overflowed_ : unrouted_).fetch_add(lost, std::memory_order_relaxed);
    count_items(batch, granted, sink ? &Counters::overflowed : &Counters::unrouted);
    batch.items.resize(granted);
    if (granted == 0) return;
  }
  auto shared = std::make_shared<EventBatch>(std::move(batch));
  post(sink, [this, sink, shared] {
    deliver_to(*sink, *shared);
    delivered_batch(*shared);
  });
}

}  // namespace rampart::runtime
