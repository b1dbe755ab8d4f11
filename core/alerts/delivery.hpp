// SPDX-License-Identifier: Apache-2.0
// Delivery to one sender: a bounded queue drained by the sender's own
// thread, behind a circuit breaker. A slow or dead receiver fills only its
// own queue (the oldest undelivered alert is dropped and counted when it
// is full; the record is in the store either way) and never delays the
// pipeline or the other senders. What the queue still holds when it stops,
// the alert being delivered included, is still owed: the store keeps that
// (AlertStore::owed) until the alert settles here, delivered or dropped.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "alerts/alert.hpp"
#include "alerts/router.hpp"
#include "alerts/settings.hpp"

namespace rampart::alerts {

// closed -> open after `failures` consecutive failures -> half-open (one
// probe) once `open_for` has passed -> closed on success, open on failure.
class CircuitBreaker {
 public:
  enum class State { closed = 0, open = 1, half_open = 2 };
  using TimePoint = std::chrono::steady_clock::time_point;

  CircuitBreaker(unsigned failures, std::chrono::steady_clock::duration open_for)
      : threshold_(failures ? failures : 1), open_for_(open_for) {}

  // May a delivery be attempted now? Moves open -> half-open when due.
  bool allow(TimePoint now);
  void success();
  void failure(TimePoint now);
  State state() const { return state_; }
  // When an open breaker lets the next probe through.
  TimePoint retry_at() const { return opened_at_ + open_for_; }
  void configure(unsigned failures, std::chrono::steady_clock::duration open_for);

 private:
  unsigned threshold_;
  std::chrono::steady_clock::duration open_for_;
  State state_ = State::closed;
  unsigned failures_ = 0;
  TimePoint opened_at_{};
};

const char* state_name(CircuitBreaker::State s);

struct DeliveryStats {
  uint64_t delivered = 0, failed = 0, dropped = 0, queued = 0;
  CircuitBreaker::State state = CircuitBreaker::State::closed;
};

class SenderQueue {
 public:
  // send delivers one alert and throws on failure. Runs on this queue's thread.
  using Send = std::function<void(const AlertRecord&)>;
  // Told of each alert that leaves the queue for good: delivered, or dropped
  // for room. Runs outside the queue's lock, on whichever thread did it.
  using Settled = std::function<void(const AlertRecord&)>;
  using Backlog = std::deque<std::shared_ptr<const AlertRecord>>;

  // `backlog`: alerts owed from before (oldest first), queued ahead of any
  // pushed later; beyond the queue's size the oldest are dropped.
  SenderQueue(std::string sender, Send send, const DeliverySettings& settings,
              Clock clock = steady_clock(), Settled settled = nullptr, Backlog backlog = {});
  ~SenderQueue();
  SenderQueue(const SenderQueue&) = delete;
  SenderQueue& operator=(const SenderQueue&) = delete;

  const std::string& sender() const { return sender_; }
  // Never blocks.
  void push(std::shared_ptr<const AlertRecord> alert);
  void configure(const DeliverySettings& settings);
  DeliveryStats stats() const;
  // The thread starts no further attempt; one in progress goes on (the
  // sender's stop() is what cuts it short). Never blocks.
  void request_stop();
  // request_stop(), then waits for the thread. What is still queued stays
  // owed (it is in the store).
  void stop();

 private:
  void run();
  void trim_locked(std::vector<std::shared_ptr<const AlertRecord>>& dropped);
  void settle(const std::vector<std::shared_ptr<const AlertRecord>>& alerts) const;

  const std::string sender_;
  Send send_;
  Settled settled_;
  Clock clock_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<const AlertRecord>> queue_;
  size_t capacity_;
  CircuitBreaker breaker_;
  DeliveryStats stats_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace rampart::alerts
