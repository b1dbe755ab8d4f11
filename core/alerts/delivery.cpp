// SPDX-License-Identifier: Apache-2.0
#include "alerts/delivery.hpp"

#include "log/logger.hpp"

namespace rampart::alerts {
namespace {

std::chrono::steady_clock::duration seconds(double s) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(s));
}

}  // namespace

bool CircuitBreaker::allow(TimePoint now) {
  if (state_ == State::open && now >= retry_at()) state_ = State::half_open;
  return state_ != State::open;
}

void CircuitBreaker::success() {
  state_ = State::closed;
  failures_ = 0;
}

void CircuitBreaker::failure(TimePoint now) {
  if (state_ == State::half_open || ++failures_ >= threshold_) {
    state_ = State::open;
    opened_at_ = now;
    failures_ = 0;
  }
}

void CircuitBreaker::configure(unsigned failures, std::chrono::steady_clock::duration open_for) {
  threshold_ = failures ? failures : 1;
  open_for_ = open_for;
}

const char* state_name(CircuitBreaker::State s) {
  switch (s) {
    case CircuitBreaker::State::closed:
      return "closed";
    case CircuitBreaker::State::open:
      return "open";
    case CircuitBreaker::State::half_open:
      return "half-open";
  }
  return "closed";
}

SenderQueue::SenderQueue(std::string sender, Send send, const DeliverySettings& settings,
                         Clock clock)
    : sender_(std::move(sender)),
      send_(std::move(send)),
      clock_(std::move(clock)),
      capacity_(settings.queue ? settings.queue : 1),
      breaker_(settings.breaker_failures, seconds(settings.breaker_open_s)),
      thread_([this] { run(); }) {}

SenderQueue::~SenderQueue() { stop(); }

void SenderQueue::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void SenderQueue::push(std::shared_ptr<const AlertRecord> alert) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    if (queue_.size() >= capacity_) {
      queue_.pop_front();
      ++stats_.dropped;
    }
    queue_.push_back(std::move(alert));
  }
  cv_.notify_one();
}

void SenderQueue::configure(const DeliverySettings& settings) {
  std::lock_guard lock(mu_);
  capacity_ = settings.queue ? settings.queue : 1;
  while (queue_.size() > capacity_) {
    queue_.pop_front();
    ++stats_.dropped;
  }
  breaker_.configure(settings.breaker_failures, seconds(settings.breaker_open_s));
}

DeliveryStats SenderQueue::stats() const {
  std::lock_guard lock(mu_);
  DeliveryStats s = stats_;
  s.queued = queue_.size();
  s.state = breaker_.state();
  return s;
}

void SenderQueue::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    if (!breaker_.allow(clock_())) {
      // Open: wait for the probe time (or stop); alerts keep queueing.
      const auto wait = breaker_.retry_at() - clock_();
      cv_.wait_for(lock, wait, [&] { return stopping_; });
      continue;
    }
    // Taken out while it is tried; a failed attempt puts it back first in
    // line (or, when the queue filled up meanwhile, counts it as dropped:
    // it is then the oldest undelivered alert).
    const std::shared_ptr<const AlertRecord> alert = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    std::string error;
    try {
      send_(*alert);
    } catch (const std::exception& e) {
      error = e.what();
    }
    lock.lock();
    if (error.empty()) {
      if (breaker_.state() == CircuitBreaker::State::half_open)
        log::info("alerts", "sender recovered: circuit breaker closed", {{"sender", sender_}});
      breaker_.success();
      ++stats_.delivered;
    } else {
      if (queue_.size() < capacity_) {
        queue_.push_front(alert);
      } else {
        ++stats_.dropped;
      }
      const auto before = breaker_.state();
      breaker_.failure(clock_());
      ++stats_.failed;
      if (before != CircuitBreaker::State::open &&
          breaker_.state() == CircuitBreaker::State::open) {
        log::warn("alerts", "sender failing: circuit breaker open",
                  {{"sender", sender_}, {"error", error}});
      }
    }
  }
}

}  // namespace rampart::alerts
