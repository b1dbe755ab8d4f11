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
                         Clock clock, Settled settled, Backlog backlog)
    : sender_(std::move(sender)),
      send_(std::move(send)),
      settled_(std::move(settled)),
      clock_(std::move(clock)),
      queue_(std::move(backlog)),
      capacity_(settings.queue ? settings.queue : 1),
      breaker_(settings.breaker_failures, seconds(settings.breaker_open_s)) {
  std::vector<std::shared_ptr<const AlertRecord>> dropped;
  trim_locked(dropped);  // no thread yet: nothing else touches the queue
  settle(dropped);
  thread_ = std::thread([this] { run(); });
}

SenderQueue::~SenderQueue() { stop(); }

void SenderQueue::request_stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
}

void SenderQueue::stop() {
  request_stop();
  if (thread_.joinable()) thread_.join();
}

void SenderQueue::trim_locked(std::vector<std::shared_ptr<const AlertRecord>>& dropped) {
  while (queue_.size() > capacity_) {
    dropped.push_back(std::move(queue_.front()));
    queue_.pop_front();
    ++stats_.dropped;
  }
}

void SenderQueue::settle(const std::vector<std::shared_ptr<const AlertRecord>>& alerts) const {
  if (!settled_) return;
  for (const auto& a : alerts) settled_(*a);
}

void SenderQueue::push(std::shared_ptr<const AlertRecord> alert) {
  std::vector<std::shared_ptr<const AlertRecord>> dropped;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    queue_.push_back(std::move(alert));
    trim_locked(dropped);
  }
  cv_.notify_one();
  settle(dropped);
}

void SenderQueue::configure(const DeliverySettings& settings) {
  std::vector<std::shared_ptr<const AlertRecord>> dropped;
  {
    std::lock_guard lock(mu_);
    capacity_ = settings.queue ? settings.queue : 1;
    trim_locked(dropped);
    breaker_.configure(settings.breaker_failures, seconds(settings.breaker_open_s));
  }
  settle(dropped);
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
    if (error.empty()) settle({alert});
    lock.lock();
    if (error.empty()) {
      if (breaker_.state() == CircuitBreaker::State::half_open)
        log::info("alerts", "sender recovered: circuit breaker closed", {{"sender", sender_}});
      breaker_.success();
      ++stats_.delivered;
    } else {
      const bool kept = queue_.size() < capacity_;
      if (kept) {
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
      if (!kept) {
        lock.unlock();
        settle({alert});
        lock.lock();
      }
    }
  }
}

}  // namespace rampart::alerts
