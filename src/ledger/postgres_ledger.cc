// PostgreSQL implementation of LedgerWriter: the SQLite writer's queue (swapped
// under a short mutex) and one writer thread that owns one connection. Each
// batch is one transaction holding the writers' advisory lock: it looks up
// which of the batch's ids are stored already (a replayed batch), streams the
// others with COPY straight into `requests` (encoding the next rows while the
// server inserts), then records their budget charges and adds their cost to
// budget_spend, so the counters never drift from the ledger. Every writer takes
// the same lock, so no other writer can store an id between the lookup and the
// COPY; should anything else have, the COPY fails and the retry skips it.
// The request path never waits on the database.
#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <thread>
#include <unordered_set>
#include <vector>

#include "common/log.h"
#include "common/mutex.h"
#include "ledger/columns.h"
#include "ledger/postgres_backend.h"
#include "ledger/postgres_schema.h"

namespace tollgate::ledger {
namespace {

using pg::Params;

// A failed batch is retried this many times (a dropped connection is
// reconnected), backing off from 50 ms to 1 s: about 10 s in all, then its
// rows count as failed. Spooling them to disk is issue 13's next step.
constexpr int kAttempts = 14;
// COPY data is sent in pieces of about this size.
constexpr size_t kCopyPiece = 256 * 1024;

class PostgresLedger final : public LedgerWriter {
 public:
  PostgresLedger(std::string url, StorageOptions options)
      : url_(std::move(url)), options_(options) {}
  ~PostgresLedger() override { (void)Close(); }

  Status Open() {
    TG_ASSIGN_OR_RETURN(conn_, pg::ConnectAndMigrate(url_));
    TG_RETURN_IF_ERROR(PrepareSession());
    writer_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "tollgate-ledger");
      WriterLoop();
    });
    return Status::Ok();
  }

  void Append(Row row) override {
    MutexLock lock(&mu_);
    // Back-pressure only if the database has fallen far behind; rows are never dropped.
    while (static_cast<int64_t>(queue_.size()) >= options_.max_queue_rows && !stopping_)
      space_cv_.Wait(&mu_);
    queue_.push_back(std::move(row));
    ++appended_;
    if (static_cast<int64_t>(queue_.size()) >= options_.batch_size) cv_.Signal();
  }

  Status Flush() override {
    MutexLock lock(&mu_);
    const uint64_t target = appended_;
    flush_requested_ = true;
    cv_.Signal();
    while (written_ + failed_ < target && !writer_exited_) done_cv_.Wait(&mu_);
    return failed_ > 0
               ? Status::IoError("ledger: " + std::to_string(failed_) + " rows failed to write")
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
    conn_.reset();
    MutexLock lock(&mu_);
    return failed_ > 0 ? Status::IoError("ledger: rows failed to write") : Status::Ok();
  }

  uint64_t failed_rows() const override {
    MutexLock lock(&mu_);
    return failed_;
  }

 private:
  // The session's temp table of a batch's charges (emptied by every commit).
  // Run after every (re)connect.
  Status PrepareSession() {
    return pg::Run(conn_.get(), "ledger: preparing the writer",
                   "CREATE TEMP TABLE IF NOT EXISTS tg_batch_charges (n BIGINT, request_id TEXT,"
                   " budget_id TEXT, window_start_ms BIGINT, cost DOUBLE PRECISION)"
                   " ON COMMIT DELETE ROWS");
  }

  void WriterLoop() {
    std::vector<Row> batch;
    for (;;) {
      bool stop = false;
      {
        MutexLock lock(&mu_);
        const auto deadline = std::chrono::steady_clock::now() +
                              std::chrono::milliseconds(options_.flush_interval_ms);
        while (!stopping_ && !flush_requested_ &&
               static_cast<int64_t>(queue_.size()) < options_.batch_size) {
          if (!cv_.WaitUntil(&mu_, deadline)) break;
        }
        flush_requested_ = false;
        batch.swap(queue_);
        stop = stopping_;
      }
      space_cv_.SignalAll();
      if (!batch.empty()) {
        const uint64_t ok = WriteBatch(batch);
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

  // The batch's distinct ids as a text[] literal.
  static std::string IdArray(const std::vector<Row>& rows) {
    std::string a = "{";
    for (const Row& r : rows) {
      if (a.size() > 1) a.push_back(',');
      a.push_back('"');
      for (char ch : r.id) {
        if (ch == '"' || ch == '\\') a.push_back('\\');
        a.push_back(ch);
      }
      a.push_back('"');
    }
    a.push_back('}');
    return a;
  }

  // `r` as one COPY text line of `requests`.
  static void EncodeRow(const Row& r, std::string* out) {
    bool first = true;
    for (const Value& v : RowValues(r)) {
      if (!first) out->push_back('\t');
      first = false;
      switch (v.kind) {
        case Value::Kind::kNull:
          pg::AppendCopyNull(out);
          break;
        case Value::Kind::kInteger:
          pg::AppendCopyInt(out, v.integer);
          break;
        case Value::Kind::kReal:
          pg::AppendCopyReal(out, v.real);
          break;
        case Value::Kind::kText:
          pg::AppendCopyText(out, v.text);
          break;
      }
    }
    out->push_back('\n');
  }

  // `r`'s charges as COPY text lines of tg_batch_charges: one per budget (the
  // first, as SQLite's (request, budget) key keeps), with the row's cost.
  static void EncodeCharges(const Row& r, int64_t* n, std::string* out) {
    for (size_t i = 0; i < r.charges.size(); ++i) {
      const auto& c = r.charges[i];
      bool seen = false;
      for (size_t j = 0; j < i && !seen; ++j) seen = r.charges[j].budget_id == c.budget_id;
      if (seen) continue;
      pg::AppendCopyInt(out, (*n)++);
      out->push_back('\t');
      pg::AppendCopyText(out, r.id);
      out->push_back('\t');
      pg::AppendCopyText(out, c.budget_id);
      out->push_back('\t');
      pg::AppendCopyInt(out, c.window_start_ms);
      out->push_back('\t');
      pg::AppendCopyReal(out, r.cost_known ? r.cost.Total() : 0.0);
      out->push_back('\n');
    }
  }

  // One transaction: the writers' lock, the ids already stored, the COPY of
  // the others (the first row of each id), then their charges and spend.
  Status WriteOnce(const std::vector<Row>& rows) {
    PGconn* c = conn_.get();
    const std::string what = "ledger: batch write";
    TG_RETURN_IF_ERROR(pg::Run(c, what, "BEGIN"));
    TG_RETURN_IF_ERROR(
        pg::Run(c, what, "SELECT pg_advisory_xact_lock($1)", Params().Int(pg::kWriterLockKey)));
    TG_ASSIGN_OR_RETURN(pg::ResultPtr stored,
                        pg::Exec(c, what, "SELECT id FROM requests WHERE id = ANY($1::text[])",
                                 Params().Text(IdArray(rows))));
    std::unordered_set<std::string_view> skip;  // stored, or written earlier in this batch
    skip.reserve(rows.size() + static_cast<size_t>(PQntuples(stored.get())));
    for (int i = 0; i < PQntuples(stored.get()); ++i) skip.insert(pg::GetView(stored.get(), i, 0));

    static const std::string* const kCopy =
        new std::string("COPY requests (" + pg::QuotedRowColumns() + ") FROM STDIN");
    pg::CopyStream copy(c);
    TG_RETURN_IF_ERROR(copy.Start(*kCopy));
    std::string& buf = requests_copy_;
    buf.clear();
    charges_copy_.clear();
    int64_t charge_n = 0;
    for (const Row& r : rows) {
      if (!skip.insert(r.id).second) continue;
      EncodeRow(r, &buf);
      EncodeCharges(r, &charge_n, &charges_copy_);
      if (buf.size() >= kCopyPiece) {  // the server inserts these while the next are encoded
        copy.Put(buf);
        buf.clear();
      }
    }
    copy.Put(buf);
    buf.clear();
    TG_RETURN_IF_ERROR(copy.End());

    if (!charges_copy_.empty()) {
      TG_RETURN_IF_ERROR(pg::CopyIn(
          c, "COPY tg_batch_charges (n, request_id, budget_id, window_start_ms, cost) FROM STDIN",
          charges_copy_));
      // Every request here is new, so are its charges; ON CONFLICT is a safety
      // net, and spend counts only the charges actually recorded.
      TG_RETURN_IF_ERROR(
          pg::Run(c, what,
                  "WITH ch AS ("
                  " INSERT INTO budget_charges (request_id, budget_id, window_start_ms)"
                  " SELECT request_id, budget_id, window_start_ms FROM tg_batch_charges ORDER BY n"
                  " ON CONFLICT DO NOTHING RETURNING request_id, budget_id)"
                  " INSERT INTO budget_spend (budget_id, window_start_ms, spent_usd, requests)"
                  " SELECT c.budget_id, c.window_start_ms, SUM(c.cost), COUNT(*)"
                  " FROM tg_batch_charges c JOIN ch USING (request_id, budget_id)"
                  " GROUP BY 1, 2 ORDER BY 1, 2"
                  " ON CONFLICT (budget_id, window_start_ms) DO UPDATE SET"
                  " spent_usd = budget_spend.spent_usd + excluded.spent_usd,"
                  " requests = budget_spend.requests + excluded.requests"));
    }
    return pg::Run(c, what, "COMMIT");
  }

  // Returns how many rows were committed (all or none).
  uint64_t WriteBatch(const std::vector<Row>& rows) {
    auto backoff = std::chrono::milliseconds(50);
    for (int attempt = 0; attempt < kAttempts; ++attempt) {
      Status st = Status::Ok();
      if (!conn_ || PQstatus(conn_.get()) != CONNECTION_OK) {
        auto c = pg::ConnectAndMigrate(url_);
        if (c.ok()) {
          conn_ = std::move(*c);
          st = PrepareSession();
        } else {
          st = c.status();
        }
      }
      if (st.ok()) st = WriteOnce(rows);
      if (st.ok()) return rows.size();
      log::Error(st.message());
      if (conn_ && PQstatus(conn_.get()) == CONNECTION_OK)
        (void)pg::Run(conn_.get(), "ledger: rollback", "ROLLBACK");
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
    }
    return 0;
  }

  const std::string url_;
  const StorageOptions options_;
  pg::Conn conn_;                             // owned by the writer thread after Open()
  std::string requests_copy_, charges_copy_;  // the writer thread's buffers, reused
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

Result<std::unique_ptr<LedgerWriter>> OpenPostgresLedger(const std::string& url,
                                                         const StorageOptions& options) {
  auto ledger = std::make_unique<PostgresLedger>(url, options);
  TG_RETURN_IF_ERROR(ledger->Open());
  return std::unique_ptr<LedgerWriter>(std::move(ledger));
}

}  // namespace tollgate::ledger
