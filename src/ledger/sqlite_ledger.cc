// SQLite implementation of LedgerWriter: the shared queue and writer thread
// (batch_writer.h) inserting each batch inside one transaction.
#include <sqlite3.h>

#include <chrono>
#include <thread>
#include <vector>

#include "common/log.h"
#include "ledger/batch_writer.h"
#include "ledger/columns.h"
#include "ledger/ledger.h"
#include "ledger/sqlite_schema.h"

namespace tollgate::ledger {
namespace {

class SqliteLedger final : public BatchedLedgerWriter {
 public:
  explicit SqliteLedger(SqliteOptions options)
      : BatchedLedgerWriter({options.batch_size, options.flush_interval_ms, options.max_queue_rows}),
        options_(std::move(options)) {}
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
    StartWriter();
    return Status::Ok();
  }

 private:
  // Finalizes the statements and closes the file once the thread has stopped.
  void OnWriterStopped() override {
    for (sqlite3_stmt** st : {&insert_, &charge_, &spend_}) {
      if (*st) sqlite3_finalize(*st);
      *st = nullptr;
    }
    if (db_) sqlite3_close(db_);
    db_ = nullptr;
  }

  // One transaction. Retries a busy database briefly; IoError after that.
  Status WriteBatch(const std::vector<Row>& rows) override {
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
      if (ok && sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK) return Status::Ok();
      log::Error(std::string("ledger: batch write failed: ") + sqlite3_errmsg(db_));
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return Status::IoError("ledger: batch write failed");
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

  const SqliteOptions options_;
  // The writer thread's after Open(); closed by OnWriterStopped().
  sqlite3* db_ = nullptr;
  sqlite3_stmt* insert_ = nullptr;
  sqlite3_stmt* charge_ = nullptr;
  sqlite3_stmt* spend_ = nullptr;
};

}  // namespace

Result<std::unique_ptr<LedgerWriter>> OpenSqliteLedger(const SqliteOptions& options) {
  auto ledger = std::make_unique<SqliteLedger>(options);
  TG_RETURN_IF_ERROR(ledger->Open());
  return std::unique_ptr<LedgerWriter>(std::move(ledger));
}

}  // namespace tollgate::ledger
