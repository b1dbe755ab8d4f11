// SPDX-License-Identifier: Apache-2.0
#include "store/sqlite.hpp"

#include <filesystem>

namespace rampart::store {

Database open_database(const std::string& path) {
  std::error_code ec;
  const auto dir = std::filesystem::path(path).parent_path();
  if (!dir.empty()) std::filesystem::create_directories(dir, ec);
  sqlite3* raw = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
  Database db(raw);  // closed on every way out, a failed open's handle too
  if (rc != SQLITE_OK) {
    throw StoreError(path +
                     ": cannot open database: " + (raw ? sqlite3_errmsg(raw) : "out of memory"));
  }
  sqlite3_busy_timeout(db, 5000);
  return db;
}

void exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    const std::string why = err ? err : "unknown error";
    sqlite3_free(err);
    throw StoreError("sqlite: " + why);
  }
}

WalCheckpointer::WalCheckpointer(sqlite3* writer, const std::string& path, int pages)
    : writer_(writer), own_(open_database(path)), pages_(pages) {
  exec(own_, "PRAGMA journal_mode=WAL");  // opens the database (and its WAL) now
  sqlite3_wal_hook(writer_, &WalCheckpointer::on_commit, this);
  thread_ = std::thread([this] { run(); });
}

WalCheckpointer::~WalCheckpointer() {
  sqlite3_wal_hook(writer_, nullptr, nullptr);
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

WalCheckpointer::Progress WalCheckpointer::progress() const {
  std::lock_guard lock(mu_);
  return progress_;
}

// After each commit of the writer, in its thread: a flag and a wake-up.
int WalCheckpointer::on_commit(void* self, sqlite3* db, const char* name, int pages) {
  auto* me = static_cast<WalCheckpointer*>(self);
  if (int64_t{pages} >= 16 * int64_t{me->pages_}) {
    sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
  } else if (pages >= me->pages_) {
    {
      std::lock_guard lock(me->mu_);
      me->wanted_ = true;
    }
    me->cv_.notify_one();
  }
  return SQLITE_OK;
}

void WalCheckpointer::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return wanted_ || stop_; });
    const bool last = stop_;
    wanted_ = false;
    lock.unlock();
    // Busy (another checkpoint, or a reader at the WAL's start): what it
    // could not copy waits for the next one.
    int wal = 0, copied = 0;
    sqlite3_wal_checkpoint_v2(own_, nullptr, SQLITE_CHECKPOINT_PASSIVE, &wal, &copied);
    lock.lock();
    progress_ = {progress_.checkpoints + 1, wal, copied};
    if (last) return;
  }
}

}  // namespace rampart::store
