// SPDX-License-Identifier: Apache-2.0
#include "alerts/alert_store.hpp"

#include <Poco/JSON/Object.h>

#include <algorithm>
#include <chrono>
#include <sstream>

#include "log/logger.hpp"
#include "store/sqlite.hpp"

namespace rampart::alerts {
namespace {

using store::Stmt;

constexpr size_t kBatch = 4096;  // at most per transaction
constexpr auto kPruneEvery = std::chrono::seconds(5);

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void create_schema(sqlite3* db) {
  // WAL, and commits that wait for the log write but not for every fsync:
  // a crash loses nothing stored; a power cut may lose the last batch.
  store::exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;");
  store::exec(db,
              "CREATE TABLE IF NOT EXISTS alerts ("
              " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
              " id TEXT UNIQUE NOT NULL,"
              " time_ns INTEGER NOT NULL,"
              " severity INTEGER NOT NULL,"
              " component TEXT NOT NULL,"
              " src TEXT NOT NULL,"
              " dst TEXT NOT NULL,"
              " false_positive INTEGER NOT NULL DEFAULT 0,"
              " fp_by TEXT, fp_reason TEXT, fp_at_ns INTEGER,"
              " body TEXT NOT NULL);"
              "CREATE INDEX IF NOT EXISTS alerts_time ON alerts(time_ns);"
              // The senders that still owe an alert a delivery.
              "CREATE TABLE IF NOT EXISTS alert_deliveries ("
              " alert_id TEXT NOT NULL,"
              " sender TEXT NOT NULL,"
              " PRIMARY KEY (alert_id, sender)) WITHOUT ROWID;");
}

// The stored body with the false-positive fields added.
StoredAlert stored(const Stmt& st) {
  StoredAlert a;
  a.seq = st.col_int(0);
  std::string body = st.col_text(1);
  std::ostringstream extra;
  Poco::JSON::Object fp(Poco::JSON_PRESERVE_KEY_ORDER);
  fp.set("false_positive", st.col_int(2) != 0);
  if (st.col_int(2) != 0) {
    fp.set("false_positive_by", st.col_text(3));
    fp.set("false_positive_reason", st.col_text(4));
    fp.set("false_positive_at_ns", st.col_int(5));
  }
  fp.stringify(extra);
  const std::string more = extra.str();  // {"false_positive":...}
  if (body.size() >= 2 && body.back() == '}') {
    body.pop_back();
    body += (body.size() > 1 ? "," : "") + more.substr(1);
  }
  a.json = std::move(body);
  return a;
}

constexpr const char* kColumns =
    "SELECT seq, body, false_positive, fp_by, fp_reason, fp_at_ns FROM alerts";

}  // namespace

AlertStore::AlertStore(const std::string& path, const StoreSettings& settings)
    : settings_(settings) {
  writer_ = store::open_database(path);
  create_schema(writer_);
  reader_ = store::open_database(path);
  thread_ = std::thread([this] { run(); });
}

AlertStore::~AlertStore() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();  // before the connections close (after this body)
}

void AlertStore::add(std::shared_ptr<const AlertRecord> alert, std::vector<std::string> due_to) {
  queue(Write{std::move(alert), std::move(due_to), {}, {}});
}

void AlertStore::settle(const std::string& alert_id, const std::string& sender) {
  queue(Write{nullptr, {}, alert_id, sender});
}

void AlertStore::queue(Write w) {
  {
    std::lock_guard lock(mu_);
    if (pending_.size() >= kMaxPending) {
      if (w.alert) ++dropped_;
      return;
    }
    pending_.push_back(std::move(w));
    ++queued_;
    trim_.grew(pending_.size());
  }
  cv_.notify_one();
}

void AlertStore::flush() {
  std::unique_lock lock(mu_);
  const uint64_t target = queued_;
  written_cv_.wait(lock, [&] { return done_ >= target || stopping_; });
}

std::vector<std::shared_ptr<const AlertRecord>> AlertStore::owed(const std::string& sender) {
  flush();
  std::vector<std::shared_ptr<const AlertRecord>> out;
  std::lock_guard lock(read_mu_);
  Stmt st(reader_,
          "SELECT a.body FROM alert_deliveries d JOIN alerts a ON a.id = d.alert_id"
          " WHERE d.sender = ?1 ORDER BY a.seq");
  st.text(1, sender);
  while (st.step()) {
    const std::string body = st.col_text(0);
    try {
      out.push_back(std::make_shared<const AlertRecord>(from_json(body)));
    } catch (const std::exception& e) {
      log::warn("alerts", "stored alert unreadable; not delivered again",
                {{"sender", sender}, {"reason", e.what()}});
    }
  }
  return out;
}

uint64_t AlertStore::count_alerts(const std::vector<Write>& batch) {
  return static_cast<uint64_t>(
      std::count_if(batch.begin(), batch.end(), [](const Write& w) { return w.alert != nullptr; }));
}

void AlertStore::run() {
  auto last_prune = std::chrono::steady_clock::now();
  std::vector<Write> batch;
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait_for(lock, kPruneEvery, [&] { return stopping_ || !pending_.empty(); });
    while (!pending_.empty() && batch.size() < kBatch) {
      batch.push_back(std::move(pending_.front()));
      pending_.pop_front();
    }
    const bool stop = stopping_ && pending_.empty();
    lock.unlock();
    if (!batch.empty()) write_batch(batch);
    const auto now = std::chrono::steady_clock::now();
    if (now - last_prune >= kPruneEvery) {
      last_prune = now;
      prune();
    }
    const size_t done = batch.size();
    const uint64_t alerts = count_alerts(batch);
    batch.clear();  // the records go, unless a sender or stream still holds one
    lock.lock();
    if (pending_.empty()) {
      // Not under the lock (emit() must not wait for a trim), but before
      // the batch counts as written: flush() returns with a drained
      // burst's memory already given back.
      lock.unlock();
      trim_.shrank(0);
      lock.lock();
    }
    written_ += alerts;
    done_ += done;
    written_cv_.notify_all();
    if (stop) return;
  }
}

void AlertStore::write_batch(std::vector<Write>& batch) {
  try {
    store::exec(writer_, "BEGIN");
    Stmt ins(writer_,
             "INSERT OR IGNORE INTO alerts (id, time_ns, severity, component, src, dst, body)"
             " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
    Stmt due(writer_, "INSERT OR IGNORE INTO alert_deliveries (alert_id, sender) VALUES (?1, ?2)");
    Stmt done(writer_, "DELETE FROM alert_deliveries WHERE alert_id = ?1 AND sender = ?2");
    for (const auto& w : batch) {
      if (!w.alert) {
        sqlite3_reset(done.raw());
        done.text(1, w.settled_id).text(2, w.settled_sender);
        done.step();
        continue;
      }
      const AlertRecord& a = *w.alert;
      std::ostringstream body;
      to_json(a)->stringify(body);
      sqlite3_reset(ins.raw());
      ins.text(1, a.id)
          .integer(2, static_cast<int64_t>(a.time_ns))
          .integer(3, a.severity)
          .text(4, a.component)
          .text(5, a.src_ip())
          .text(6, a.dst_ip())
          .text(7, body.str());
      ins.step();
      for (const auto& sender : w.due_to) {
        sqlite3_reset(due.raw());
        due.text(1, a.id).text(2, sender);
        due.step();
      }
    }
    store::exec(writer_, "COMMIT");
  } catch (const store::StoreError& e) {
    sqlite3_exec(writer_, "ROLLBACK", nullptr, nullptr, nullptr);
    const uint64_t alerts = count_alerts(batch);
    std::lock_guard lock(mu_);
    dropped_ += alerts;
    log::error("alerts", "cannot store alerts",
               {{"count", std::to_string(alerts)}, {"reason", e.what()}});
  }
}

void AlertStore::prune() {
  StoreSettings s;
  {
    std::lock_guard lock(mu_);
    s = settings_;
  }
  std::lock_guard lock(read_mu_);  // one pruner at a time, on the reader connection
  int64_t removed = 0;
  try {
    if (s.max_age_s > 0) {
      Stmt del(reader_, "DELETE FROM alerts WHERE time_ns < ?1");
      del.integer(1, now_ns() - static_cast<int64_t>(s.max_age_s * 1e9));
      del.step();
      removed += sqlite3_changes(reader_);
    }
    if (s.max_count > 0) {
      Stmt del(reader_,
               "DELETE FROM alerts WHERE seq <= (SELECT seq FROM alerts ORDER BY seq DESC "
               "LIMIT 1 OFFSET ?1)");
      del.integer(1, static_cast<int64_t>(s.max_count));
      del.step();
      removed += sqlite3_changes(reader_);
    }
    // Deliveries still owed for alerts retention removed: nothing to send.
    if (removed > 0) {
      store::exec(reader_,
                  "DELETE FROM alert_deliveries WHERE alert_id NOT IN (SELECT id FROM alerts)");
    }
  } catch (const store::StoreError& e) {
    log::warn("alerts", "alert retention failed", {{"reason", e.what()}});
  }
  std::lock_guard l2(mu_);
  pruned_ += static_cast<uint64_t>(removed);
}

std::vector<StoredAlert> AlertStore::list(const AlertQuery& q) {
  flush();
  std::string sql = std::string(kColumns) + " WHERE 1";
  if (q.severity) sql += " AND severity = ?1";
  if (q.min_severity) sql += " AND severity >= ?2";
  if (!q.component.empty()) sql += " AND component = ?3";
  if (q.since_ns) sql += " AND time_ns >= ?4";
  if (!q.src.empty()) sql += " AND src = ?5";
  if (!q.dst.empty()) sql += " AND dst = ?6";
  if (q.false_positive) sql += " AND false_positive = ?7";
  if (q.before_seq > 0) sql += " AND seq < ?8";
  sql += " ORDER BY seq DESC LIMIT ?9";
  std::lock_guard lock(read_mu_);
  Stmt st(reader_, sql.c_str());
  if (q.severity) st.integer(1, *q.severity);
  if (q.min_severity) st.integer(2, *q.min_severity);
  if (!q.component.empty()) st.text(3, q.component);
  if (q.since_ns) st.integer(4, static_cast<int64_t>(q.since_ns));
  if (!q.src.empty()) st.text(5, q.src);
  if (!q.dst.empty()) st.text(6, q.dst);
  if (q.false_positive) st.integer(7, *q.false_positive ? 1 : 0);
  if (q.before_seq > 0) st.integer(8, q.before_seq);
  st.integer(9, static_cast<int64_t>(q.limit));
  std::vector<StoredAlert> out;
  while (st.step()) out.push_back(stored(st));
  return out;
}

std::optional<StoredAlert> AlertStore::get(const std::string& id) {
  flush();
  std::lock_guard lock(read_mu_);
  Stmt st(reader_, (std::string(kColumns) + " WHERE id = ?1").c_str());
  st.text(1, id);
  if (!st.step()) return std::nullopt;
  return stored(st);
}

std::optional<StoredAlert> AlertStore::mark_false_positive(const std::string& id,
                                                           const std::string& actor,
                                                           const std::string& reason) {
  flush();
  {
    std::lock_guard lock(read_mu_);
    Stmt st(reader_,
            "UPDATE alerts SET false_positive = 1, fp_by = ?2, fp_reason = ?3, fp_at_ns = ?4"
            " WHERE id = ?1");
    st.text(1, id).text(2, actor).text(3, reason).integer(4, now_ns());
    st.step();
    if (sqlite3_changes(reader_) == 0) return std::nullopt;
  }
  return get(id);
}

void AlertStore::configure(const StoreSettings& settings) {
  {
    std::lock_guard lock(mu_);
    settings_ = settings;
  }
  prune();
}

uint64_t AlertStore::written() const {
  std::lock_guard lock(mu_);
  return written_;
}
uint64_t AlertStore::pruned() const {
  std::lock_guard lock(mu_);
  return pruned_;
}
uint64_t AlertStore::dropped() const {
  std::lock_guard lock(mu_);
  return dropped_;
}

}  // namespace rampart::alerts
