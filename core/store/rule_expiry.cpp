// SPDX-License-Identifier: Apache-2.0
#include "store/rule_expiry.hpp"

#include <chrono>

#include "log/logger.hpp"

namespace rampart::store {
namespace {

constexpr const char* kLog = "rule_expiry";
// Deletions per domain and sweep: a backlog (rampartd was down while
// thousands expired) goes in batches, without holding up other domains.
constexpr size_t kBatch = 512;

int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

RuleExpiry::RuleExpiry(RuleService& rules, std::function<int64_t()> clock_s)
    : rules_(rules), clock_s_(clock_s ? std::move(clock_s) : now_s) {}

RuleExpiry::~RuleExpiry() { stop(); }

void RuleExpiry::start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] {
    std::unique_lock lock(mu_);
    while (!stopping_) {
      lock.unlock();
      try {
        sweep();
      } catch (const std::exception& e) {
        log::warn(kLog, "expiry sweep failed", {{"reason", e.what()}});
      }
      lock.lock();
      cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_; });
    }
  });
}

void RuleExpiry::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

size_t RuleExpiry::sweep() {
  size_t deleted = 0;
  const int64_t now = clock_s_();
  // Only domains an engine owns now: another's rules wait for it.
  for (const auto& d : rules_.domains()) {
    bool failed = false;
    for (const uint64_t id : rules_.store().expired(d.name, now, kBatch)) {
      const auto r = rules_.change(d.name, RAMPART_RULE_DELETE, id, std::nullopt, "expiry");
      if (r.status == RAMPART_OK) {
        ++deleted;
      } else if (r.status != RAMPART_ERR_NOT_FOUND) {  // NOT_FOUND: deleted meanwhile
        failed = true;
        if (failing_.insert(d.name).second) {
          log::warn(kLog, "cannot delete an expired rule",
                    {{"domain", d.name}, {"id", std::to_string(id)}, {"reason", r.message}});
        }
        break;  // the next sweep tries again
      }
    }
    if (!failed) failing_.erase(d.name);
  }
  return deleted;
}

}  // namespace rampart::store
