// SPDX-License-Identifier: Apache-2.0
// Rules that expire: an API rule whose body carries "expires_at" (an
// integer, seconds since the epoch, at its top level) is deleted once that
// time has passed, as a DELETE over the API would: its owner applies it
// first, then the store drops it with an audit entry by actor "expiry".
// The IPS and DDoS engines' blocklist entries end this way, and any
// engine's domain can use it. Config-file rules never expire (the file
// manages them).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "store/rule_service.hpp"

namespace rampart::store {

class RuleExpiry {
 public:
  // `clock_s`: seconds since the epoch (tests pass their own).
  explicit RuleExpiry(RuleService& rules, std::function<int64_t()> clock_s = {});
  ~RuleExpiry();
  RuleExpiry(const RuleExpiry&) = delete;
  RuleExpiry& operator=(const RuleExpiry&) = delete;

  // Sweeps once a second on a thread of its own until stop(). A rule is
  // gone within about a second of its expiry.
  void start();
  void stop();
  // One sweep over the owned domains: deletes what is due; returns how
  // many rules it deleted.
  size_t sweep();

 private:
  RuleService& rules_;
  std::function<int64_t()> clock_s_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
  std::set<std::string> failing_;  // domains whose deletions fail: logged once (sweep's thread)
};

}  // namespace rampart::store
