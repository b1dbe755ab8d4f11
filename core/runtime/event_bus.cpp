// SPDX-License-Identifier: Apache-2.0
#include "runtime/event_bus.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>
#include <chrono>
#include <ctime>

namespace rampart::runtime {

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

EventBus::SourceCounts EventBus::counts(uint32_t source) const {
  if (source >= RAMPART_SOURCE_MAX) return {0, 0, 0, 0};
  return {published_by_[source].load(), delivered_by_[source].load(), unrouted_by_[source].load(),
          overflowed_by_[source].load()};
}

void EventBus::publish(uint32_t source, uint32_t type, std::span<const uint8_t> payload) {
  std::vector<std::shared_ptr<EventSink>> targets;
  if (source < RAMPART_SOURCE_MAX) {
    std::lock_guard lock(mu_);
    targets = subscribers_[source];
  }
  dispatch(source, type, payload, std::move(targets));
}

void EventBus::publish_to(const std::shared_ptr<EventSink>& sink, uint32_t source, uint32_t type,
                          std::span<const uint8_t> payload) {
  std::vector<std::shared_ptr<EventSink>> targets;
  if (sink) targets.push_back(sink);
  dispatch(source, type, payload, std::move(targets));
}

void EventBus::dispatch(uint32_t source, uint32_t type, std::span<const uint8_t> payload,
                        std::vector<std::shared_ptr<EventSink>> targets) {
  published_.fetch_add(1, std::memory_order_relaxed);
  const bool known = source < RAMPART_SOURCE_MAX;
  if (known) published_by_[source].fetch_add(1, std::memory_order_relaxed);
  if (targets.empty()) {
    unrouted_.fetch_add(1, std::memory_order_relaxed);
    if (known) unrouted_by_[source].fetch_add(1, std::memory_order_relaxed);
    return;
  }
  // Claimed before anything is allocated for the event, so a full backlog
  // costs a drop and nothing else.
  const size_t n = targets.size();
  const size_t depth = backlog_.fetch_add(n, std::memory_order_relaxed) + n;
  if (depth > max_backlog_) {
    backlog_.fetch_sub(n, std::memory_order_relaxed);
    overflowed_.fetch_add(1, std::memory_order_relaxed);
    if (known) overflowed_by_[source].fetch_add(1, std::memory_order_relaxed);
    return;
  }
  trim_.grew(depth);
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  const uint64_t now = static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + ts.tv_nsec;
  auto data = std::make_shared<std::vector<uint8_t>>(payload.begin(), payload.end());
  for (auto& sink : targets) {
    boost::asio::post(workers_, [this, sink, data, source, type, now] {
      rampart_event ev{};
      ev.struct_size = sizeof(ev);
      ev.source = source;
      ev.type = type;
      ev.time_ns = now;
      ev.data = data->data();
      ev.len = data->size();
      sink->deliver(ev);
      if (latency_) {
        timespec done{};
        clock_gettime(CLOCK_MONOTONIC, &done);
        const uint64_t end = static_cast<uint64_t>(done.tv_sec) * 1000000000ull + done.tv_nsec;
        latency_->Observe(static_cast<double>(end - now) / 1e9);
      }
      delivered_one(source);
    });
  }
}

void EventBus::delivered_one(uint32_t source) noexcept {
  delivered_.fetch_add(1, std::memory_order_relaxed);
  if (source < RAMPART_SOURCE_MAX) delivered_by_[source].fetch_add(1, std::memory_order_relaxed);
  trim_.shrank(backlog_.fetch_sub(1, std::memory_order_acq_rel) - 1);
}

}  // namespace rampart::runtime
