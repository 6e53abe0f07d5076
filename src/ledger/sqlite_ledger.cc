// SQLite implementation of LedgerWriter: a queue swapped under a short mutex and a
// single writer thread that inserts batches inside one transaction each.
#include <sqlite3.h>

#include <pthread.h>

#include <chrono>
#include <thread>
#include <vector>

#include "common/log.h"
#include "common/mutex.h"
#include "ledger/columns.h"
#include "ledger/ledger.h"
#include "ledger/sqlite_schema.h"

namespace tollgate::ledger {
namespace {

class SqliteLedger final : public LedgerWriter {
 public:
  explicit SqliteLedger(SqliteOptions options) : options_(std::move(options)) {}
  ~SqliteLedger() override { (void)Close(); }

  Status Open() {
    TG_ASSIGN_OR_RETURN(db_, OpenAndMigrate(options_.path));
    // The columns and their values come from columns.h, shared with every backend.
    std::string sql = "INSERT INTO requests (";
    for (size_t i = 0; i < kRowColumnCount; ++i) sql += std::string(i ? "," : "") + kRowColumns[i];
    sql += ") VALUES (";
    for (size_t i = 0; i < kRowColumnCount; ++i) sql += i ? ",?" : "?";
    sql += ") ON CONFLICT(id) DO NOTHING";
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &insert_, nullptr) != SQLITE_OK)
      return Status::IoError(std::string("ledger: prepare insert: ") + sqlite3_errmsg(db_));
    // Budget counters are charged in the same transaction as the row, once per
    // (request, budget): the counters can never drift from the ledger.
    if (sqlite3_prepare_v2(db_,
                           "INSERT INTO budget_charges (request_id, budget_id, window_start_ms) VALUES (?,?,?)"
                           " ON CONFLICT DO NOTHING",
                           -1, &charge_, nullptr) != SQLITE_OK ||
        sqlite3_prepare_v2(db_,
                           "INSERT INTO budget_spend (budget_id, window_start_ms, spent_usd, requests) VALUES (?,?,?,1)"
                           " ON CONFLICT(budget_id, window_start_ms) DO UPDATE SET"
                           " spent_usd = spent_usd + excluded.spent_usd, requests = requests + 1",
                           -1, &spend_, nullptr) != SQLITE_OK)
      return Status::IoError(std::string("ledger: prepare budget statements: ") + sqlite3_errmsg(db_));
    writer_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "tollgate-ledger");  // visible in top/perf; the bench pins it apart
      WriterLoop();
    });
    return Status::Ok();
  }

  void Append(Row row) override {
    MutexLock lock(&mu_);
    // Back-pressure only if the disk has fallen far behind; rows are never dropped.
    while (static_cast<int64_t>(queue_.size()) >= options_.max_queue_rows && !stopping_) space_cv_.Wait(&mu_);
    queue_.push_back(std::move(row));
    ++appended_;
    if (static_cast<int64_t>(queue_.size()) >= options_.batch_size) cv_.Signal();
  }

  Status Flush() override {
    MutexLock lock(&mu_);
    uint64_t target = appended_;
    flush_requested_ = true;
    cv_.Signal();
    while (written_ + failed_ < target && !writer_exited_) done_cv_.Wait(&mu_);
    return failed_ > 0 ? Status::IoError("ledger: " + std::to_string(failed_) + " rows failed to write")
                       : Status::Ok();
  }

  Status Close() override {
    {
      MutexLock lock(&mu_);
      if (closed_) return Status::Ok();
      closed_ = true;
      stopping_ = true;
    }
    cv_.Signal();
    space_cv_.SignalAll();
    if (writer_.joinable()) writer_.join();
    for (sqlite3_stmt** st : {&insert_, &charge_, &spend_}) {
      if (*st) sqlite3_finalize(*st);
      *st = nullptr;
    }
    if (db_) sqlite3_close(db_);
    db_ = nullptr;
    MutexLock lock(&mu_);
    return failed_ > 0 ? Status::IoError("ledger: rows failed to write") : Status::Ok();
  }

  uint64_t failed_rows() const override {
    MutexLock lock(&mu_);
    return failed_;
  }

 private:
  void WriterLoop() {
    std::vector<Row> batch;
    for (;;) {
      bool stop = false;
      {
        MutexLock lock(&mu_);
        const auto deadline =
            std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.flush_interval_ms);
        while (!stopping_ && !flush_requested_ && static_cast<int64_t>(queue_.size()) < options_.batch_size) {
          if (!cv_.WaitUntil(&mu_, deadline)) break;
        }
        flush_requested_ = false;
        batch.swap(queue_);
        stop = stopping_;
      }
      space_cv_.SignalAll();
      if (!batch.empty()) {
        uint64_t ok = WriteBatch(batch);
        MutexLock lock(&mu_);
        written_ += ok;
        failed_ += batch.size() - ok;
      }
      batch.clear();
      done_cv_.SignalAll();
      if (stop) {
        MutexLock lock(&mu_);
        if (queue_.empty()) {
          writer_exited_ = true;
          done_cv_.SignalAll();
          return;
        }
      }
    }
  }

  // Returns how many rows were committed. Retries a busy database briefly.
  uint64_t WriteBatch(const std::vector<Row>& rows) {
    for (int attempt = 0; attempt < 50; ++attempt) {
      if (sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        continue;
      }
      bool ok = true;
      for (const Row& r : rows) {
        BindRow(r);
        if (sqlite3_step(insert_) != SQLITE_DONE) ok = false;
        const bool inserted = ok && sqlite3_changes(db_) == 1;
        sqlite3_reset(insert_);
        if (!ok) break;
        if (inserted && !ChargeBudgets(r)) {
          ok = false;
          break;
        }
      }
      if (ok && sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK) return rows.size();
      log::Error(std::string("ledger: batch write failed: ") + sqlite3_errmsg(db_));
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return 0;
  }

  bool ChargeBudgets(const Row& r) {
    const double cost = r.cost_known ? r.cost.Total() : 0.0;
    for (const auto& c : r.charges) {
      sqlite3_bind_text(charge_, 1, r.id.data(), static_cast<int>(r.id.size()), SQLITE_STATIC);
      sqlite3_bind_text(charge_, 2, c.budget_id.data(), static_cast<int>(c.budget_id.size()), SQLITE_STATIC);
      sqlite3_bind_int64(charge_, 3, c.window_start_ms);
      bool ok = sqlite3_step(charge_) == SQLITE_DONE;
      bool fresh = ok && sqlite3_changes(db_) == 1;
      sqlite3_reset(charge_);
      if (!ok) return false;
      if (!fresh) continue;
      sqlite3_bind_text(spend_, 1, c.budget_id.data(), static_cast<int>(c.budget_id.size()), SQLITE_STATIC);
      sqlite3_bind_int64(spend_, 2, c.window_start_ms);
      sqlite3_bind_double(spend_, 3, cost);
      ok = sqlite3_step(spend_) == SQLITE_DONE;
      sqlite3_reset(spend_);
      if (!ok) return false;
    }
    return true;
  }

  void BindRow(const Row& r) {
    const std::array<Value, kRowColumnCount> values = RowValues(r);
    for (size_t k = 0; k < kRowColumnCount; ++k) {
      const int i = static_cast<int>(k + 1);
      const Value& v = values[k];
      switch (v.kind) {
        case Value::Kind::kNull: sqlite3_bind_null(insert_, i); break;
        case Value::Kind::kInteger: sqlite3_bind_int64(insert_, i, v.integer); break;
        case Value::Kind::kReal: sqlite3_bind_double(insert_, i, v.real); break;
        case Value::Kind::kText:
          // The row outlives the step: no copy.
          sqlite3_bind_text(insert_, i, v.text.data(), static_cast<int>(v.text.size()), SQLITE_STATIC);
          break;
      }
    }
  }

  SqliteOptions options_;
  sqlite3* db_ = nullptr;          // owned by the writer thread after Open()
  sqlite3_stmt* insert_ = nullptr;
  sqlite3_stmt* charge_ = nullptr;
  sqlite3_stmt* spend_ = nullptr;
  std::thread writer_;

  mutable Mutex mu_;
  CondVar cv_;        // wakes the writer
  CondVar done_cv_;   // wakes Flush()
  CondVar space_cv_;  // wakes producers under back-pressure
  std::vector<Row> queue_ GUARDED_BY(mu_);
  uint64_t appended_ GUARDED_BY(mu_) = 0;
  uint64_t written_ GUARDED_BY(mu_) = 0;
  uint64_t failed_ GUARDED_BY(mu_) = 0;
  bool flush_requested_ GUARDED_BY(mu_) = false;
  bool stopping_ GUARDED_BY(mu_) = false;
  bool closed_ GUARDED_BY(mu_) = false;
  bool writer_exited_ GUARDED_BY(mu_) = false;
};

}  // namespace

Result<std::unique_ptr<LedgerWriter>> OpenSqliteLedger(const SqliteOptions& options) {
  auto ledger = std::make_unique<SqliteLedger>(options);
  TG_RETURN_IF_ERROR(ledger->Open());
  return std::unique_ptr<LedgerWriter>(std::move(ledger));
}

}  // namespace tollgate::ledger
