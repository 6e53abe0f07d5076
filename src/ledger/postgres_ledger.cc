// PostgreSQL implementation of LedgerWriter: the shared batched writer
// (batch_writer.h), whose thread owns one connection and the spool. Each batch is one transaction
// holding the writers' advisory lock: it looks up which of the batch's ids are stored already (a
// replayed batch), streams the others with COPY straight into `requests` (encoding the next rows
// while the server inserts), then records their budget charges and adds their cost to budget_spend,
// so the counters never drift from the ledger. Every writer takes the same lock, so no other writer
// can store an id between the lookup and the COPY; should anything else have, the COPY fails and
// the retry skips it. The request path never waits on the database. When the database cannot be
// reached, batches go to the spool file (spool.h) instead, fsync'd, and are
// replayed in order once it answers again; the skipped ids make that replay
// exactly-once, budget spend included.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <unordered_set>
#include <vector>

#include "common/log.h"
#include "ledger/batch_writer.h"
#include "ledger/columns.h"
#include "ledger/postgres_backend.h"
#include "ledger/postgres_schema.h"
#include "ledger/spool.h"

namespace tollgate::ledger {
namespace {

using pg::Params;

// A failed batch is retried this many times (a dropped connection is
// reconnected), backing off from 50 ms to 1 s: about 10 s in all, then its
// rows count as failed. With a spool, a database that cannot be connected to
// ends the retries at once: the batch is spooled.
constexpr int kAttempts = 14;
// While rows wait in the spool, the database is tried again after this long,
// doubling up to kMaxRetryDelay.
constexpr std::chrono::milliseconds kFirstRetryDelay{200};
constexpr std::chrono::milliseconds kMaxRetryDelay{5000};
// COPY data is sent in pieces of about this size.
constexpr size_t kCopyPiece = 256 * 1024;

class PostgresLedger final : public BatchedLedgerWriter {
 public:
  PostgresLedger(std::string url, const StorageOptions& options)
      : BatchedLedgerWriter(
            {options.batch_size, options.flush_interval_ms, options.max_queue_rows}),
        url_(std::move(url)),
        spool_path_(options.spool_path) {}
  ~PostgresLedger() override { (void)Close(); }

  Status Open() {
    TG_ASSIGN_OR_RETURN(conn_, pg::ConnectAndMigrate(url_));
    TG_RETURN_IF_ERROR(PrepareSession());
    if (!spool_path_.empty()) {
      TG_ASSIGN_OR_RETURN(spool_, LedgerSpool::Open(spool_path_));
      spooled_rows_ = spool_->rows();
      if (spooled_rows_ > 0) {
        // The writer's first tick replays them.
        log::Warn("ledger: replaying " + std::to_string(spooled_rows_) +
                  " rows that an earlier run left in the spool " + spool_path_);
        outage_spooled_ = spooled_rows_;
        outage_ = true;
      }
    }
    StartWriter();
    return Status::Ok();
  }

  uint64_t spooled_rows() const override { return spooled_rows_.load(std::memory_order_relaxed); }

 private:
  // The session's temp table of a batch's charges (emptied by every commit).
  // Run after every (re)connect.
  Status PrepareSession() {
    return pg::Run(conn_.get(), "ledger: preparing the writer",
                   "CREATE TEMP TABLE IF NOT EXISTS tg_batch_charges (n BIGINT, request_id TEXT,"
                   " budget_id TEXT, window_start_ms BIGINT, cost DOUBLE PRECISION)"
                   " ON COMMIT DELETE ROWS");
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

  // (Re)connects when the connection is gone. IoError when the server cannot
  // be reached.
  Status EnsureConnected() {
    if (conn_ && PQstatus(conn_.get()) == CONNECTION_OK) return Status::Ok();
    TG_ASSIGN_OR_RETURN(conn_, pg::ConnectAndMigrate(url_));
    return PrepareSession();
  }

  // WriteOnce, rolled back on failure when the connection survived it.
  Status WriteOrRollBack(const std::vector<Row>& rows) {
    Status st = WriteOnce(rows);
    if (!st.ok() && conn_ && PQstatus(conn_.get()) == CONNECTION_OK)
      (void)pg::Run(conn_.get(), "ledger: rollback", "ROLLBACK");
    return st;
  }

  // Durable means committed, or (with a spool) in the fsync'd spool: once rows
  // wait there, later batches follow them, so the database gets them in order.
  // Without a spool, or when the database answers but refuses the batch, the
  // batch is retried for about 10 s, then it fails.
  Status WriteBatch(const std::vector<Row>& rows) override {
    if (spool_ && spool_->rows() > 0) return Spool(rows);
    auto backoff = std::chrono::milliseconds(50);
    Status st = Status::Ok();
    for (int attempt = 0; attempt < kAttempts; ++attempt) {
      st = EnsureConnected();
      if (!st.ok() && spool_) {
        BeginOutage(st);
        return Spool(rows);
      }
      if (st.ok()) st = WriteOrRollBack(rows);
      if (st.ok()) return st;
      // A connection lost mid-batch is replaced at once; with a spool, one that
      // cannot be replaced is the outage, logged then.
      if (spool_ && PQstatus(conn_.get()) != CONNECTION_OK) continue;
      log::Error(st.message());
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
    }
    return st;
  }

  Status Spool(const std::vector<Row>& rows) {
    Status st = spool_->Append(rows);
    if (!st.ok()) {
      log::Error(st.message() + " (" + std::to_string(rows.size()) + " rows lost)");
      return st;
    }
    outage_spooled_ += rows.size();
    spooled_rows_ += rows.size();
    return st;
  }

  void BeginOutage(const Status& why) {
    if (outage_) return;
    outage_ = true;
    outage_spooled_ = 0;
    retry_delay_ = kFirstRetryDelay;
    next_retry_ = std::chrono::steady_clock::now() + retry_delay_;
    log::Warn(why.message() + "; spooling ledger rows to " + spool_path_ +
              " until PostgreSQL is back");
  }

  // While rows wait in the spool: when the retry is due, replays them (each
  // batch in its own transaction, so a failure part-way keeps what committed),
  // and on failure backs off.
  void OnWriterTick() override {
    if (!spool_ || spool_->rows() == 0 || std::chrono::steady_clock::now() < next_retry_) return;
    Status st = EnsureConnected();
    if (st.ok())
      st = spool_->Replay([this](const std::vector<Row>& rows) {
        TG_RETURN_IF_ERROR(WriteOrRollBack(rows));
        outage_replayed_ += rows.size();
        spooled_rows_ -= rows.size();
        return Status::Ok();
      });
    if (!st.ok()) {
      // The server answered and refused a batch: nothing later replays until
      // that is fixed, so say so on every try.
      if (PQstatus(conn_.get()) == CONNECTION_OK)
        log::Error(st.message() + " (replaying the spool " + spool_path_ + "; will retry)");
      next_retry_ = std::chrono::steady_clock::now() + retry_delay_;
      retry_delay_ = std::min(retry_delay_ * 2, kMaxRetryDelay);
      return;
    }
    log::Info("ledger: PostgreSQL is back: " + std::to_string(outage_spooled_) +
              " rows spooled to " + spool_path_ + ", " + std::to_string(outage_replayed_) +
              " replayed");
    outage_ = false;
    outage_spooled_ = outage_replayed_ = 0;
    retry_delay_ = kFirstRetryDelay;
  }

  void OnWriterStopped() override {
    conn_.reset();
    if (spool_ && spool_->rows() > 0)
      log::Warn("ledger: " + std::to_string(spool_->rows()) + " rows stay in the spool " +
                spool_path_ + " until the next start");
    spool_.reset();
  }

  const std::string url_;
  const std::string spool_path_;  // empty: no spool
  // The writer thread's after Open().
  pg::Conn conn_;
  std::string requests_copy_, charges_copy_;  // buffers, reused
  std::unique_ptr<LedgerSpool> spool_;
  bool outage_ = false;           // rows went to the spool since the last replay
  uint64_t outage_spooled_ = 0;   // rows spooled in this outage, for the log
  uint64_t outage_replayed_ = 0;  // and replayed
  std::chrono::milliseconds retry_delay_ = kFirstRetryDelay;
  std::chrono::steady_clock::time_point next_retry_{};
  // spool_->rows(), for other threads (metrics).
  std::atomic<uint64_t> spooled_rows_{0};
};

}  // namespace

Result<std::unique_ptr<LedgerWriter>> OpenPostgresLedger(const std::string& url,
                                                         const StorageOptions& options) {
  auto ledger = std::make_unique<PostgresLedger>(url, options);
  TG_RETURN_IF_ERROR(ledger->Open());
  return std::unique_ptr<LedgerWriter>(std::move(ledger));
}

}  // namespace tollgate::ledger
