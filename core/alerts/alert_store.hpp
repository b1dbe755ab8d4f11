// SPDX-License-Identifier: Apache-2.0
// The alert record: every alert (delivered or suppressed) in SQLite, in the
// agent's database, with retention by age and count, and which senders
// still owe each one a delivery: written with the alert, removed once the
// sender delivered (or dropped) it, so alerts a stop or a crash left
// undelivered go out after the next start. Writes are queued and batched
// by a writer thread so emitting never waits for the disk; reads see
// everything added before them (they wait for the writer to catch up).
#pragma once

#include <sqlite3.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "alerts/alert.hpp"
#include "alerts/settings.hpp"
#include "runtime/burst_trim.hpp"
#include "store/sqlite.hpp"

namespace rampart::alerts {

struct AlertQuery {
  std::optional<uint32_t> severity;      // exactly
  std::optional<uint32_t> min_severity;  // at least
  std::string component;
  uint64_t since_ns = 0;
  std::string src, dst;  // addresses, as printed
  std::optional<bool> false_positive;
  size_t limit = 100;
  int64_t before_seq = 0;  // paging: only older than this (0: from the newest)
};

struct StoredAlert {
  int64_t seq = 0;
  std::string json;  // the alert object, false-positive fields included
};

class AlertStore {
 public:
  AlertStore(const std::string& path, const StoreSettings& settings);
  ~AlertStore();
  AlertStore(const AlertStore&) = delete;
  AlertStore& operator=(const AlertStore&) = delete;

  // Queues the record for writing, with the senders it is due to; never
  // blocks on the disk.
  void add(std::shared_ptr<const AlertRecord> alert, std::vector<std::string> due_to = {});
  // `sender` is done with the alert (delivered it, or dropped it for room).
  void settle(const std::string& alert_id, const std::string& sender);
  // The alerts `sender` still owes, oldest first (retention removes what
  // is too old here too).
  std::vector<std::shared_ptr<const AlertRecord>> owed(const std::string& sender);
  // Returns once everything added before the call is written.
  void flush();
  // Newest first.
  std::vector<StoredAlert> list(const AlertQuery& q);
  std::optional<StoredAlert> get(const std::string& id);
  // Marks an alert as a false positive (who, when); nullopt if unknown.
  std::optional<StoredAlert> mark_false_positive(const std::string& id, const std::string& actor,
                                                 const std::string& reason);
  void configure(const StoreSettings& settings);
  // Applies retention now (the writer does it every few seconds).
  void prune();

  uint64_t written() const;
  uint64_t pruned() const;
  uint64_t dropped() const;  // queue overflow: more than kMaxPending writes waiting

  static constexpr size_t kMaxPending = 200000;

 private:
  // One queued write: a new alert and the senders it is due to, or (no
  // alert) a delivery settled.
  struct Write {
    std::shared_ptr<const AlertRecord> alert;
    std::vector<std::string> due_to;
    std::string settled_id, settled_sender;
  };
  void queue(Write w);
  static uint64_t count_alerts(const std::vector<Write>& batch);  // new alerts, not settlements
  void run();
  void write_batch(std::vector<Write>& batch);
  void prune_locked(sqlite3* db);

  store::Database writer_;  // the writer thread's connection
  store::Database reader_;  // API calls, under read_mu_
  std::mutex read_mu_;
  mutable std::mutex mu_;
  std::condition_variable cv_, written_cv_;
  std::deque<Write> pending_;
  uint64_t queued_ = 0, done_ = 0;                   // writes, for flush()
  uint64_t written_ = 0, pruned_ = 0, dropped_ = 0;  // alerts
  StoreSettings settings_;
  bool stopping_ = false;
  // The writer trims once a burst of 4,096 records (~4 MiB) has drained.
  runtime::BurstTrim trim_{4096};
  std::thread thread_;
};

}  // namespace rampart::alerts
