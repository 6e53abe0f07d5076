// PostgreSQL implementation of LedgerReader, with the SQLite reader's
// definitions (sqlite_reader.cc) written in PostgreSQL's SQL. Each call takes
// a connection from a small pool (connecting costs a server process, so idle
// ones are kept) and reads inside one REPEATABLE READ, READ ONLY transaction:
// one snapshot per call, and calls may run on any thread at once. Scans read
// through a cursor, a few thousand rows at a time, so a million-row scan never
// holds the whole result; the visitor sees each row's text in place.
#include <algorithm>
#include <vector>

#include "common/mutex.h"
#include "ledger/ledger.h"
#include "ledger/postgres_backend.h"
#include "ledger/postgres_schema.h"

namespace tollgate::ledger {
namespace {

using pg::GetInt;
using pg::GetReal;
using pg::GetRealOrNull;
using pg::GetView;
using pg::Params;

constexpr int kFetchRows = 4096;  // a cursor's page
constexpr size_t kIdleConns = 4;  // connections kept for the next calls

class ConnPool {
 public:
  explicit ConnPool(std::string url) : url_(std::move(url)) {}
  const std::string& url() const { return url_; }

  // An idle connection, or a new one (always new when `fresh`).
  Result<pg::Conn> Take(bool fresh = false) {
    if (!fresh) {
      MutexLock lock(&mu_);
      if (!idle_.empty()) {
        pg::Conn c = std::move(idle_.back());
        idle_.pop_back();
        return c;
      }
    }
    return pg::Connect(url_);
  }
  // A connection that is healthy and outside any transaction goes back.
  void Give(pg::Conn c) {
    if (!c || PQstatus(c.get()) != CONNECTION_OK || PQtransactionStatus(c.get()) != PQTRANS_IDLE)
      return;
    MutexLock lock(&mu_);
    if (idle_.size() < kIdleConns) idle_.push_back(std::move(c));
  }

 private:
  const std::string url_;
  Mutex mu_;
  std::vector<pg::Conn> idle_ GUARDED_BY(mu_);
};

// One call's connection inside one read-only snapshot; returned to the pool
// (or closed) on scope exit.
class ReadTxn {
 public:
  explicit ReadTxn(ConnPool* pool) : pool_(pool) {}
  ReadTxn(const ReadTxn&) = delete;
  ReadTxn& operator=(const ReadTxn&) = delete;
  ~ReadTxn() {
    if (!c_) return;
    if (PQtransactionStatus(c_.get()) != PQTRANS_IDLE)
      (void)pg::Run(c_.get(), "ledger: read", "ROLLBACK");
    pool_->Give(std::move(c_));
  }
  Status Begin() {
    for (int attempt = 0;; ++attempt) {
      TG_ASSIGN_OR_RETURN(c_, pool_->Take(/*fresh=*/attempt > 0));
      Status st = pg::Run(c_.get(), What(), "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
      if (st.ok() || attempt > 0 || PQstatus(c_.get()) == CONNECTION_OK) return st;
      c_.reset();  // an idle connection the server closed (a restart): once more, new
    }
  }
  PGconn* conn() { return c_.get(); }
  std::string What() const { return "ledger: reading " + pg::RedactUrl(pool_->url()); }
  Result<pg::ResultPtr> Exec(const std::string& sql, const Params& params = {}) {
    return pg::Exec(c_.get(), What(), sql, params);
  }
  // Runs `sql` (no parameters: literals only) through a cursor and calls
  // `row(result, i)` for each row, in order.
  template <class RowFn>
  Status Scan(const std::string& sql, RowFn&& row) {
    TG_RETURN_IF_ERROR(pg::Run(c_.get(), What(), "DECLARE tg_scan NO SCROLL CURSOR FOR " + sql));
    for (;;) {
      TG_ASSIGN_OR_RETURN(pg::ResultPtr r,
                          Exec("FETCH " + std::to_string(kFetchRows) + " FROM tg_scan"));
      const int n = PQntuples(r.get());
      for (int i = 0; i < n; ++i) row(r.get(), i);
      if (n < kFetchRows) break;
    }
    return pg::Run(c_.get(), What(), "CLOSE tg_scan");
  }

 private:
  ConnPool* const pool_;
  pg::Conn c_;
};

// The time buckets in UTC, with SQLite's arithmetic: seconds truncated, then
// the calendar day (week: its Monday; month: YYYY-MM).
constexpr const char* kUtcStart = "(to_timestamp(ts_start_ms / 1000) AT TIME ZONE 'UTC')";

std::string GroupExpr(GroupKey key) {
  switch (key) {
    case GroupKey::kDay:
      return std::string("to_char(") + kUtcStart + ", 'YYYY-MM-DD')";
    case GroupKey::kWeek:
      return std::string("to_char(date_trunc('week', ") + kUtcStart + "), 'YYYY-MM-DD')";
    case GroupKey::kMonth:
      return std::string("to_char(") + kUtcStart + ", 'YYYY-MM')";
    case GroupKey::kModel:
      return "requested_model";
    case GroupKey::kProvider:
      return "provider";
    case GroupKey::kKey:
      return "api_key";
    case GroupKey::kUser:
      return "\"user\"";
    case GroupKey::kProject:
      return "project";
    case GroupKey::kTag:
      return "tags";
    case GroupKey::kLever:
      return "savings_lever";
    case GroupKey::kEndpoint:
      return "endpoint";
    case GroupKey::kSession:
      return "session";
    case GroupKey::kAll:
      return "''";
  }
  return "''";
}

// The columns of a SummaryRow, in ReadSummaryRow's order.
constexpr const char* kSummaryColumns =
    "seq, ts_start_ms, requested_model, provider, api_key, \"user\", project, tags, cost_usd,"
    " input_tokens + cache_read_tokens + cache_write_5m_tokens + cache_write_1h_tokens,"
    " output_tokens + reasoning_tokens, error_class IS NOT NULL, latency_ms, ttft_ms";

SummaryRow ReadSummaryRow(const PGresult* r, int i) {
  SummaryRow v;
  v.seq = GetInt(r, i, 0);
  v.ts_start_ms = GetInt(r, i, 1);
  v.requested_model = GetView(r, i, 2);
  v.provider = GetView(r, i, 3);
  v.api_key = GetView(r, i, 4);
  v.user = GetView(r, i, 5);
  v.project = GetView(r, i, 6);
  v.tags = GetView(r, i, 7);
  v.cost_usd = GetRealOrNull(r, i, 8);
  v.input_tokens = GetInt(r, i, 9);
  v.output_tokens = GetInt(r, i, 10);
  v.failed = GetView(r, i, 11) == "t";
  v.latency_ms = GetRealOrNull(r, i, 12);
  v.ttft_ms = GetRealOrNull(r, i, 13);
  return v;
}

// The columns of a UsageRow, in ReadUsageRow's order.
constexpr const char* kUsageColumns =
    "ts_start_ms, status, requested_model, served_model, tags, input_tokens, cache_read_tokens,"
    " cache_write_5m_tokens, cache_write_1h_tokens, output_tokens, reasoning_tokens, cost_usd, latency_ms";

UsageRow ReadUsageRow(const PGresult* r, int i) {
  UsageRow v;
  v.ts_start_ms = GetInt(r, i, 0);
  v.status = static_cast<int>(GetInt(r, i, 1));
  v.requested_model = GetView(r, i, 2);
  v.served_model = GetView(r, i, 3);
  v.tags = GetView(r, i, 4);
  v.usage.input = GetInt(r, i, 5);
  v.usage.cache_read = GetInt(r, i, 6);
  v.usage.cache_write_5m = GetInt(r, i, 7);
  v.usage.cache_write_1h = GetInt(r, i, 8);
  v.usage.output = GetInt(r, i, 9);
  v.usage.reasoning = GetInt(r, i, 10);
  v.cost_usd = GetRealOrNull(r, i, 11);
  v.latency_ms = GetRealOrNull(r, i, 12);
  return v;
}

// A cell as the type its column is stored as (int8/int4/int2, float8/float4/
// numeric, else text): the Value kinds SQLite gives the same columns.
Value CellValue(const PGresult* r, int row, int col) {
  if (pg::IsNull(r, row, col)) return Value::Null();
  switch (PQftype(r, col)) {
    case 20:
    case 21:
    case 23:  // INT8OID, INT2OID, INT4OID
      return Value::Integer(GetInt(r, row, col));
    case 700:
    case 701:
    case 1700:  // FLOAT4OID, FLOAT8OID, NUMERICOID
      return Value::Real(GetReal(r, row, col));
    default:
      return Value::Text(GetView(r, row, col));
  }
}

std::string Int(int64_t v) { return std::to_string(v); }

class PostgresReader final : public LedgerReader {
 public:
  explicit PostgresReader(std::string url) : pool_(std::make_unique<ConnPool>(std::move(url))) {}

  Result<std::vector<GroupTotals>> TotalsByGroup(GroupKey key, TimeRange range) const override {
    ReadTxn t(pool_.get());
    TG_RETURN_IF_ERROR(t.Begin());
    std::string sql =
        "SELECT COALESCE(" + GroupExpr(key) +
        ", ''), COALESCE(SUM(cost_usd), 0),"
        " SUM(input_tokens + cache_read_tokens + cache_write_5m_tokens + cache_write_1h_tokens),"
        " SUM(output_tokens + reasoning_tokens), COUNT(*),"
        " SUM(CASE WHEN error_class IS NOT NULL THEN 1 ELSE 0 END),"
        " SUM(CASE WHEN cost_usd IS NULL THEN 1 ELSE 0 END),"
        // A row with no baseline (no savings engine, or an unpriced baseline) saved nothing.
        " COALESCE(SUM(COALESCE(baseline_cost_usd, cost_usd)), 0), SUM(output_tokens_saved)";
    for (const char* lever : kSavingsLevers)
      sql += std::string(", COALESCE(SUM(CASE WHEN savings_lever = '") + lever +
             "' THEN COALESCE(baseline_cost_usd, cost_usd, 0) - COALESCE(cost_usd, 0) ELSE 0 "
             "END), 0)";
    sql += " FROM requests WHERE ts_start_ms >= $1 AND ts_start_ms < $2 GROUP BY 1";
    TG_ASSIGN_OR_RETURN(pg::ResultPtr r,
                        t.Exec(sql, Params().Int(range.from_ms).Int(range.end_ms)));
    std::vector<GroupTotals> out;
    for (int i = 0; i < PQntuples(r.get()); ++i) {
      GroupTotals g;
      g.key = pg::GetText(r.get(), i, 0);
      g.cost_usd = GetReal(r.get(), i, 1);
      g.input_tokens = GetInt(r.get(), i, 2);
      g.output_tokens = GetInt(r.get(), i, 3);
      g.requests = GetInt(r.get(), i, 4);
      g.errors = GetInt(r.get(), i, 5);
      g.unknown_cost = GetInt(r.get(), i, 6);
      g.baseline_usd = GetReal(r.get(), i, 7);
      g.output_tokens_saved = GetInt(r.get(), i, 8);
      for (int k = 0; k < 5; ++k) g.lever_usd[k] = GetReal(r.get(), i, 9 + k);
      out.push_back(std::move(g));
    }
    return out;
  }

  Result<SavingsTotals> Savings(TimeRange range) const override {
    ReadTxn t(pool_.get());
    TG_RETURN_IF_ERROR(t.Begin());
    // The rows the savings engine touched: a partial index keeps this cheap.
    TG_ASSIGN_OR_RETURN(
        pg::ResultPtr r,
        t.Exec(
            "SELECT COALESCE(SUM(CASE WHEN cache IN ('hit', 'semantic_hit') THEN 1 ELSE 0 END), 0),"
            " COALESCE(SUM(CASE WHEN cache IN ('hit', 'semantic_hit', 'miss') THEN 1 ELSE 0 END), "
            "0),"
            " COALESCE(SUM(COALESCE(baseline_cost_usd, cost_usd, 0) - COALESCE(cost_usd, 0)), 0),"
            " COALESCE(SUM(COALESCE(baseline_cost_usd, cost_usd, 0)), 0), COUNT(*)"
            " FROM requests WHERE (cache IS NOT NULL OR savings_lever IS NOT NULL)"
            " AND ts_start_ms >= $1 AND ts_start_ms < $2",
            Params().Int(range.from_ms).Int(range.end_ms)));
    SavingsTotals s;
    s.cache_hits = GetInt(r.get(), 0, 0);
    s.cache_lookups = GetInt(r.get(), 0, 1);
    s.saved_usd = GetReal(r.get(), 0, 2);
    s.baseline_usd = GetReal(r.get(), 0, 3);
    s.requests = GetInt(r.get(), 0, 4);
    return s;
  }

  Result<std::vector<ChargeTotals>> ChargesByWindow() const override {
    ReadTxn t(pool_.get());
    TG_RETURN_IF_ERROR(t.Begin());
    TG_ASSIGN_OR_RETURN(
        pg::ResultPtr r,
        t.Exec("SELECT c.budget_id, c.window_start_ms, SUM(COALESCE(r.cost_usd, 0)), COUNT(*)"
               " FROM budget_charges c JOIN requests r ON r.id = c.request_id GROUP BY 1, 2"));
    std::vector<ChargeTotals> out;
    for (int i = 0; i < PQntuples(r.get()); ++i)
      out.push_back({pg::GetText(r.get(), i, 0), GetInt(r.get(), i, 1), GetReal(r.get(), i, 2),
                     GetInt(r.get(), i, 3)});
    return out;
  }

  Result<std::vector<RequestCharge>> ChargesOf(const std::string& id) const override {
    ReadTxn t(pool_.get());
    TG_RETURN_IF_ERROR(t.Begin());
    TG_ASSIGN_OR_RETURN(pg::ResultPtr r,
                        t.Exec("SELECT c.budget_id, b.name, c.window_start_ms FROM budget_charges c"
                               " LEFT JOIN budgets b ON b.id = c.budget_id WHERE c.request_id = $1"
                               " ORDER BY c.budget_id",
                               Params().Text(id)));
    std::vector<RequestCharge> out;
    for (int i = 0; i < PQntuples(r.get()); ++i)
      out.push_back({pg::GetText(r.get(), i, 0),
                     pg::IsNull(r.get(), i, 1)
                         ? std::nullopt
                         : std::optional<std::string>(pg::GetText(r.get(), i, 1)),
                     GetInt(r.get(), i, 2)});
    return out;
  }

  Status ScanAfter(int64_t after_seq, const std::function<void()>& on_restart,
                   const SummaryVisitor& visit) const override {
    ReadTxn t(pool_.get());
    TG_RETURN_IF_ERROR(t.Begin());
    {
      TG_ASSIGN_OR_RETURN(pg::ResultPtr last, t.Exec("SELECT COALESCE(MAX(seq), 0) FROM requests"));
      if (GetInt(last.get(), 0, 0) < after_seq) {  // replaced or truncated: start over
        on_restart();
        after_seq = 0;
      }
    }
    return t.Scan(std::string("SELECT ") + kSummaryColumns + " FROM requests WHERE seq > " +
                      Int(after_seq) + " ORDER BY seq",
                  [&](const PGresult* r, int i) { visit(ReadSummaryRow(r, i)); });
  }

  Status ScanRange(TimeRange range, const UsageVisitor& visit) const override {
    ReadTxn t(pool_.get());
    TG_RETURN_IF_ERROR(t.Begin());
    return t.Scan(std::string("SELECT ") + kUsageColumns + " FROM requests WHERE ts_start_ms >= " +
                      Int(range.from_ms) + " AND ts_start_ms < " + Int(range.end_ms) + " ORDER BY ts_start_ms, seq",
                  [&](const PGresult* r, int i) { visit(ReadUsageRow(r, i)); });
  }

  Result<std::vector<std::string>> Columns() const override {
    ReadTxn t(pool_.get());
    TG_RETURN_IF_ERROR(t.Begin());
    TG_ASSIGN_OR_RETURN(pg::ResultPtr r, t.Exec("SELECT * FROM requests LIMIT 0"));
    std::vector<std::string> names;
    for (int i = 0; i < PQnfields(r.get()); ++i)
      if (std::string_view(PQfname(r.get(), i)) != "seq") names.emplace_back(PQfname(r.get(), i));
    return names;
  }

  Status RecordsWithSeqs(std::span<const int64_t> seqs, const RecordVisitor& visit) const override {
    if (seqs.empty()) return Status::Ok();
    std::string in = "seq IN (";
    for (size_t i = 0; i < seqs.size(); ++i) in += (i ? "," : "") + Int(seqs[i]);
    return Records([&](PGconn*) { return in + ") ORDER BY seq"; }, visit);
  }

  Status RecordsAfter(int64_t after_seq, int64_t limit, const RecordVisitor& visit) const override {
    return Records(
        [&](PGconn*) { return "seq > " + Int(after_seq) + " ORDER BY seq DESC" + Limit(limit); },
        visit);
  }

  Status RecordWithId(const std::string& id, const RecordVisitor& visit) const override {
    return Records([&](PGconn* c) { return "id = " + pg::Literal(c, id); }, visit);
  }

  Status RecordsInRange(TimeRange range, int64_t limit, const RecordVisitor& visit) const override {
    // Oldest first; rows that started together in the order they were written.
    return Records(
        [&](PGconn*) {
          return "ts_start_ms >= " + Int(range.from_ms) + " AND ts_start_ms < " +
                 Int(range.end_ms) + " ORDER BY ts_start_ms, seq" + Limit(limit);
        },
        visit);
  }

 private:
  // SQLite's LIMIT -1 (any negative) is no limit.
  static std::string Limit(int64_t limit) {
    return limit < 0 ? std::string() : " LIMIT " + Int(limit);
  }

  // SELECT * ... WHERE `where(conn)`: every column as stored, `seq` apart.
  template <class Where>
  Status Records(Where&& where, const RecordVisitor& visit) const {
    ReadTxn t(pool_.get());
    TG_RETURN_IF_ERROR(t.Begin());
    std::vector<std::string> names;
    std::vector<int> cols;
    int seq_col = -1;
    std::vector<Value> values;
    return t.Scan("SELECT * FROM requests WHERE " + where(t.conn()), [&](const PGresult* r, int i) {
      if (seq_col < 0) {  // the first page: the columns
        for (int k = 0; k < PQnfields(r); ++k) {
          if (std::string_view(PQfname(r, k)) == "seq") {
            seq_col = k;
          } else {
            names.emplace_back(PQfname(r, k));
            cols.push_back(k);
          }
        }
        values.resize(cols.size());
      }
      for (size_t k = 0; k < cols.size(); ++k) values[k] = CellValue(r, i, cols[k]);
      visit(Record{GetInt(r, i, seq_col), names, values});
    });
  }

  std::unique_ptr<ConnPool> pool_;  // const methods share it; it locks itself
};

}  // namespace

std::unique_ptr<LedgerReader> OpenPostgresReader(const std::string& url) {
  return std::make_unique<PostgresReader>(url);
}

}  // namespace tollgate::ledger
