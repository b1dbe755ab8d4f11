// SPDX-License-Identifier: Apache-2.0
// What the stores share of SQLite: opening the agent's database, running
// plain statements, and prepared statements finalized on scope exit. Every
// failure is a StoreError with SQLite's words.
#pragma once

#include <sqlite3.h>

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>

namespace rampart::store {

class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A connection, closed when the object goes (moved, never copied); it
// converts to the raw handle for SQLite's calls.
class Database {
 public:
  Database() = default;
  explicit Database(sqlite3* db) : db_(db) {}
  operator sqlite3*() const { return db_.get(); }  // NOLINT: a handle, used as one
  sqlite3* get() const { return db_.get(); }
  explicit operator bool() const { return db_ != nullptr; }

 private:
  struct Close {
    void operator()(sqlite3* db) const { sqlite3_close(db); }
  };
  std::unique_ptr<sqlite3, Close> db_;
};

// Opens (creating it and its directory if needed) with a busy timeout.
Database open_database(const std::string& path);
void exec(sqlite3* db, const char* sql);

// Checkpoints a WAL database off its writers' path. SQLite's own
// checkpoint runs inside whichever commit takes the WAL past 1,000 pages,
// with its fsyncs (3-6 ms here, one rule write in ~100); this hooks the
// writer's commits instead (which turns SQLite's automatic checkpoint off
// for that connection) and, once the WAL holds `pages` pages, runs a
// PASSIVE checkpoint on a thread and a connection of its own, which copies
// what no reader needs without blocking writers. Under writes too steady
// for it to catch up (the WAL at 16 times `pages`), a commit checkpoints
// as SQLite would, so the WAL stays bounded. Stopped (with a last
// checkpoint) before the writer's connection closes.
class WalCheckpointer {
 public:
  WalCheckpointer(sqlite3* writer, const std::string& path, int pages = 1000);
  ~WalCheckpointer();
  WalCheckpointer(const WalCheckpointer&) = delete;
  WalCheckpointer& operator=(const WalCheckpointer&) = delete;
  // Checkpoints run so far, and the last one's WAL frames and frames
  // copied (equal: the next commit starts the WAL over).
  struct Progress {
    uint64_t checkpoints = 0;
    int wal_frames = 0, copied = 0;
  };
  Progress progress() const;

 private:
  static int on_commit(void* self, sqlite3* db, const char* name, int pages);
  void run();

  sqlite3* writer_;
  Database own_;
  const int pages_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool wanted_ = false, stop_ = false;
  Progress progress_;
  std::thread thread_;
};

// A connection's statements, each prepared once and kept until the cache
// goes (before its connection): SQLite's parser and code generator cost
// more than the keyed lookup or insert a hot statement runs (a 4,096-rule
// import spent half its time preparing its three statements a rule). Used
// under its owner's lock, like the connection; a statement already in use
// (a nested use of the same text) is prepared apart.
class StatementCache {
 public:
  StatementCache() = default;
  explicit StatementCache(sqlite3* db) : db_(db) {}
  ~StatementCache() {
    for (auto& [sql, e] : entries_) sqlite3_finalize(e.st);
  }
  StatementCache(const StatementCache&) = delete;
  StatementCache& operator=(const StatementCache&) = delete;

 private:
  friend class Stmt;
  struct Entry {
    sqlite3_stmt* st = nullptr;
    bool busy = false;
  };
  sqlite3* db_ = nullptr;
  std::unordered_map<std::string, Entry> entries_;  // by the statement's text
};

class Stmt {
 public:
  // A statement of its own, finalized when it goes.
  Stmt(sqlite3* db, const char* sql) : db_(db) { prepare(sql, 0); }
  // The cache's statement for `sql`, reset and unbound when it goes.
  Stmt(StatementCache& cache, const char* sql) : db_(cache.db_) {
    auto& e = cache.entries_[sql];
    if (e.busy) {
      prepare(sql, 0);
      return;
    }
    if (!e.st) {
      try {
        prepare(sql, SQLITE_PREPARE_PERSISTENT);
      } catch (...) {
        cache.entries_.erase(sql);
        throw;
      }
      e.st = st_;
    }
    st_ = e.st;
    entry_ = &e;
    e.busy = true;
  }
  ~Stmt() {
    if (!entry_) {
      sqlite3_finalize(st_);
      return;
    }
    sqlite3_reset(st_);
    sqlite3_clear_bindings(st_);
    entry_->busy = false;
  }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& text(int i, const std::string& s) {
    sqlite3_bind_text(st_, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
    return *this;
  }
  // Bound without a copy: `s` must stay as it is until the statement has
  // stepped (a temporary cannot be given).
  Stmt& text_view(int i, const std::string& s) {
    sqlite3_bind_text(st_, i, s.data(), static_cast<int>(s.size()), SQLITE_STATIC);
    return *this;
  }
  Stmt& text_view(int i, std::string&&) = delete;
  Stmt& text_view_or_null(int i, const std::string* s) { return s ? text_view(i, *s) : null(i); }
  Stmt& text_or_null(int i, const std::optional<std::string>& s) {
    return s ? text(i, *s) : null(i);
  }
  Stmt& text_or_null(int i, const std::string* s) { return s ? text(i, *s) : null(i); }
  Stmt& null(int i) {
    sqlite3_bind_null(st_, i);
    return *this;
  }
  Stmt& integer(int i, int64_t v) {
    sqlite3_bind_int64(st_, i, v);
    return *this;
  }
  bool step() {
    const int rc = sqlite3_step(st_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw StoreError(std::string("sqlite: ") + sqlite3_errmsg(db_));
  }
  // For re-running with new bindings: sqlite3_reset(st.raw()).
  sqlite3_stmt* raw() const { return st_; }
  int64_t col_int(int i) const { return sqlite3_column_int64(st_, i); }
  std::string col_text(int i) const {
    const auto* p = sqlite3_column_text(st_, i);
    return p ? std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(st_, i))
             : std::string();
  }

 private:
  void prepare(const char* sql, unsigned flags) {
    if (sqlite3_prepare_v3(db_, sql, -1, flags, &st_, nullptr) != SQLITE_OK) {
      throw StoreError(std::string("sqlite prepare: ") + sqlite3_errmsg(db_));
    }
  }

  sqlite3* db_;
  sqlite3_stmt* st_ = nullptr;
  StatementCache::Entry* entry_ = nullptr;  // the cache's, when borrowed
};

}  // namespace rampart::store
