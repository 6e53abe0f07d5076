// SQLite implementation of LedgerReader. Each call opens its own read-only
// connection and reads inside one transaction, so calls may run on any thread
// at once and each sees one snapshot; WAL mode lets them run while the writer
// writes. Aggregates are GROUP BY queries; scans step a statement and hand
// each row to the visitor without copying its text.
#include <sqlite3.h>

#include "ledger/ledger.h"
#include "ledger/sqlite_backend.h"
#include "ledger/sqlite_schema.h"
#include "ledger/sqlite_stmt.h"

namespace tollgate::ledger {
namespace {

// A read-only connection inside one read transaction, closed on scope exit.
class ReadConn {
 public:
  ReadConn() = default;
  ReadConn(const ReadConn&) = delete;
  ReadConn& operator=(const ReadConn&) = delete;
  ~ReadConn() {
    if (!db_) return;
    sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr);
    sqlite3_close(db_);
  }
  Status Open(const std::string& path) {
    path_ = path;
    TG_ASSIGN_OR_RETURN(db_, OpenReadOnly(path));
    sqlite3_exec(db_, "BEGIN", nullptr, nullptr, nullptr);
    return Status::Ok();
  }
  sqlite3* db() { return db_; }
  // The error for a statement that did not prepare: most likely not a ledger.
  Status NotALedger(const Stmt& s) const {
    return s.Error("ledger: cannot read " + path_ + " (is it a tollgate ledger?)");
  }
  Status Failed(const Stmt& s) const { return s.Error("ledger: reading " + path_ + " failed"); }

 private:
  sqlite3* db_ = nullptr;
  std::string path_;
};

const char* GroupExpr(GroupKey key) {
  switch (key) {
    case GroupKey::kDay:
      return "strftime('%Y-%m-%d', ts_start_ms / 1000, 'unixepoch')";
    case GroupKey::kWeek:
      return "date(ts_start_ms / 1000, 'unixepoch', '-6 days', 'weekday 1')";
    case GroupKey::kMonth:
      return "strftime('%Y-%m', ts_start_ms / 1000, 'unixepoch')";
    case GroupKey::kModel:
      return "requested_model";
    case GroupKey::kProvider:
      return "provider";
    case GroupKey::kKey:
      return "api_key";
    case GroupKey::kUser:
      return "user";
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

// The columns of a SummaryRow, in ReadSummaryRow's order (the report's sums computed here).
constexpr const char* kSummaryColumns =
    "rowid, ts_start_ms, requested_model, provider, api_key, user, project, tags, cost_usd,"
    " input_tokens + cache_read_tokens + cache_write_5m_tokens + cache_write_1h_tokens,"
    " output_tokens + reasoning_tokens, error_class IS NOT NULL, latency_ms, ttft_ms";

SummaryRow ReadSummaryRow(Stmt& s) {
  SummaryRow v;
  v.seq = s.ColInt(0);
  v.ts_start_ms = s.ColInt(1);
  v.requested_model = s.ColView(2);
  v.provider = s.ColView(3);
  v.api_key = s.ColView(4);
  v.user = s.ColView(5);
  v.project = s.ColView(6);
  v.tags = s.ColView(7);
  v.cost_usd = s.ColRealOrNull(8);
  v.input_tokens = s.ColInt(9);
  v.output_tokens = s.ColInt(10);
  v.failed = s.ColInt(11) != 0;
  v.latency_ms = s.ColRealOrNull(12);
  v.ttft_ms = s.ColRealOrNull(13);
  return v;
}

// The columns of a UsageRow, in ReadUsageRow's order.
constexpr const char* kUsageColumns =
    "ts_start_ms, status, requested_model, served_model, tags, input_tokens, cache_read_tokens,"
    " cache_write_5m_tokens, cache_write_1h_tokens, output_tokens, reasoning_tokens, cost_usd, latency_ms";

UsageRow ReadUsageRow(Stmt& s) {
  UsageRow v;
  v.ts_start_ms = s.ColInt(0);
  v.status = static_cast<int>(s.ColInt(1));
  v.requested_model = s.ColView(2);
  v.served_model = s.ColView(3);
  v.tags = s.ColView(4);
  v.usage.input = s.ColInt(5);
  v.usage.cache_read = s.ColInt(6);
  v.usage.cache_write_5m = s.ColInt(7);
  v.usage.cache_write_1h = s.ColInt(8);
  v.usage.output = s.ColInt(9);
  v.usage.reasoning = s.ColInt(10);
  v.cost_usd = s.ColRealOrNull(11);
  v.latency_ms = s.ColRealOrNull(12);
  return v;
}

Value ColumnValue(Stmt& s, int i) {
  switch (sqlite3_column_type(s.get(), i)) {
    case SQLITE_INTEGER:
      return Value::Integer(s.ColInt(i));
    case SQLITE_FLOAT:
      return Value::Real(s.ColReal(i));
    case SQLITE_NULL:
      return Value::Null();
    default:
      return Value::Text(s.ColView(i));
  }
}

class SqliteReader final : public LedgerReader {
 public:
  explicit SqliteReader(std::string path) : path_(std::move(path)) {}

  Result<std::vector<GroupTotals>> TotalsByGroup(GroupKey key, TimeRange range) const override {
    ReadConn c;
    TG_RETURN_IF_ERROR(c.Open(path_));
    std::string sql =
        std::string("SELECT COALESCE(") + GroupExpr(key) +
        ", ''), COALESCE(SUM(cost_usd), 0),"
        " SUM(input_tokens + cache_read_tokens + cache_write_5m_tokens + cache_write_1h_tokens),"
        " SUM(output_tokens + reasoning_tokens), COUNT(*),"
        " SUM(CASE WHEN error_class IS NOT NULL THEN 1 ELSE 0 END),"
        " SUM(CASE WHEN cost_usd IS NULL THEN 1 ELSE 0 END),"
        // A row with no baseline (no savings engine, or an unpriced baseline) saved nothing.
        " COALESCE(SUM(COALESCE(baseline_cost_usd, cost_usd)), 0), SUM(output_tokens_saved)";
    for (const char* lever : kSavingsLevers)
      sql +=
          std::string(", COALESCE(SUM(CASE WHEN savings_lever = '") + lever +
          "' THEN COALESCE(baseline_cost_usd, cost_usd, 0) - COALESCE(cost_usd, 0) ELSE 0 END), 0)";
    sql += " FROM requests WHERE ts_start_ms >= ? AND ts_start_ms < ? GROUP BY 1";
    Stmt s(c.db(), sql.c_str());
    if (!s.ok()) return c.NotALedger(s);
    s.Int(1, range.from_ms).Int(2, range.end_ms);
    std::vector<GroupTotals> out;
    int rc;
    while ((rc = s.Step()) == SQLITE_ROW) {
      GroupTotals g;
      g.key = s.ColText(0);
      g.cost_usd = s.ColReal(1);
      g.input_tokens = s.ColInt(2);
      g.output_tokens = s.ColInt(3);
      g.requests = s.ColInt(4);
      g.errors = s.ColInt(5);
      g.unknown_cost = s.ColInt(6);
      g.baseline_usd = s.ColReal(7);
      g.output_tokens_saved = s.ColInt(8);
      for (int i = 0; i < 5; ++i) g.lever_usd[i] = s.ColReal(9 + i);
      out.push_back(std::move(g));
    }
    if (rc != SQLITE_DONE) return c.Failed(s);
    return out;
  }

  Result<SavingsTotals> Savings(TimeRange range) const override {
    ReadConn c;
    TG_RETURN_IF_ERROR(c.Open(path_));
    // The rows the savings engine touched: a partial index keeps this cheap.
    Stmt s(c.db(),
           "SELECT COALESCE(SUM(cache IN ('hit', 'semantic_hit')), 0),"
           " COALESCE(SUM(cache IN ('hit', 'semantic_hit', 'miss')), 0),"
           " COALESCE(SUM(COALESCE(baseline_cost_usd, cost_usd, 0) - COALESCE(cost_usd, 0)), 0),"
           " COALESCE(SUM(COALESCE(baseline_cost_usd, cost_usd, 0)), 0), COUNT(*)"
           " FROM requests WHERE (cache IS NOT NULL OR savings_lever IS NOT NULL)"
           " AND ts_start_ms >= ? AND ts_start_ms < ?");
    if (!s.ok()) return c.NotALedger(s);
    s.Int(1, range.from_ms).Int(2, range.end_ms);
    if (s.Step() != SQLITE_ROW) return c.Failed(s);
    SavingsTotals t;
    t.cache_hits = s.ColInt(0);
    t.cache_lookups = s.ColInt(1);
    t.saved_usd = s.ColReal(2);
    t.baseline_usd = s.ColReal(3);
    t.requests = s.ColInt(4);
    return t;
  }

  Result<std::vector<ChargeTotals>> ChargesByWindow() const override {
    ReadConn c;
    TG_RETURN_IF_ERROR(c.Open(path_));
    Stmt s(c.db(),
           "SELECT c.budget_id, c.window_start_ms, SUM(COALESCE(r.cost_usd, 0)), COUNT(*)"
           " FROM budget_charges c JOIN requests r ON r.id = c.request_id GROUP BY 1, 2");
    if (!s.ok()) return c.NotALedger(s);
    std::vector<ChargeTotals> out;
    int rc;
    while ((rc = s.Step()) == SQLITE_ROW)
      out.push_back({s.ColText(0), s.ColInt(1), s.ColReal(2), s.ColInt(3)});
    if (rc != SQLITE_DONE) return c.Failed(s);
    return out;
  }

  Result<std::vector<RequestCharge>> ChargesOf(const std::string& id) const override {
    ReadConn c;
    TG_RETURN_IF_ERROR(c.Open(path_));
    Stmt s(
        c.db(),
        "SELECT c.budget_id, b.name, c.window_start_ms FROM budget_charges c"
        " LEFT JOIN budgets b ON b.id = c.budget_id WHERE c.request_id = ? ORDER BY c.budget_id");
    if (!s.ok()) return c.NotALedger(s);
    s.Text(1, id);
    std::vector<RequestCharge> out;
    int rc;
    while ((rc = s.Step()) == SQLITE_ROW)
      out.push_back({s.ColText(0),
                     s.IsNull(1) ? std::nullopt : std::optional<std::string>(s.ColText(1)),
                     s.ColInt(2)});
    if (rc != SQLITE_DONE) return c.Failed(s);
    return out;
  }

  Status ScanAfter(int64_t after_seq, const std::function<void()>& on_restart,
                   const SummaryVisitor& visit) const override {
    ReadConn c;
    TG_RETURN_IF_ERROR(c.Open(path_));
    {
      Stmt last(c.db(), "SELECT COALESCE(MAX(rowid), 0) FROM requests");
      if (!last.ok()) return c.NotALedger(last);
      if (last.Step() != SQLITE_ROW) return c.Failed(last);
      if (last.ColInt(0) < after_seq) {  // replaced or truncated: start over
        on_restart();
        after_seq = 0;
      }
    }
    const std::string sql =
        std::string("SELECT ") + kSummaryColumns + " FROM requests WHERE rowid > ? ORDER BY rowid";
    Stmt s(c.db(), sql.c_str());
    if (!s.ok()) return c.NotALedger(s);
    s.Int(1, after_seq);
    int rc;
    while ((rc = s.Step()) == SQLITE_ROW) visit(ReadSummaryRow(s));
    return rc == SQLITE_DONE ? Status::Ok() : c.Failed(s);
  }

  Status ScanRange(TimeRange range, const UsageVisitor& visit) const override {
    ReadConn c;
    TG_RETURN_IF_ERROR(c.Open(path_));
    const std::string sql = std::string("SELECT ") + kUsageColumns +
                            " FROM requests WHERE ts_start_ms >= ? AND ts_start_ms < ? ORDER BY ts_start_ms, rowid";
    Stmt s(c.db(), sql.c_str());
    if (!s.ok()) return c.NotALedger(s);
    s.Int(1, range.from_ms).Int(2, range.end_ms);
    int rc;
    while ((rc = s.Step()) == SQLITE_ROW) visit(ReadUsageRow(s));
    return rc == SQLITE_DONE ? Status::Ok() : c.Failed(s);
  }

  Result<std::vector<std::string>> Columns() const override {
    ReadConn c;
    TG_RETURN_IF_ERROR(c.Open(path_));
    Stmt s(c.db(), "SELECT * FROM requests LIMIT 0");
    if (!s.ok()) return c.NotALedger(s);
    std::vector<std::string> names;
    for (int i = 0; i < sqlite3_column_count(s.get()); ++i)
      names.emplace_back(sqlite3_column_name(s.get(), i));
    return names;
  }

  Status RecordsWithSeqs(std::span<const int64_t> seqs, const RecordVisitor& visit) const override {
    if (seqs.empty()) return Status::Ok();
    std::string where = "rowid IN (";
    for (size_t i = 0; i < seqs.size(); ++i) where += i ? ",?" : "?";
    where += ") ORDER BY rowid";
    return Records(where, visit, [&](Stmt& s) {
      for (size_t i = 0; i < seqs.size(); ++i) s.Int(static_cast<int>(i + 1), seqs[i]);
    });
  }

  Status RecordsAfter(int64_t after_seq, int64_t limit, const RecordVisitor& visit) const override {
    return Records("rowid > ? ORDER BY rowid DESC LIMIT ?", visit,
                   [&](Stmt& s) { s.Int(1, after_seq).Int(2, limit); });
  }

  Status RecordWithId(const std::string& id, const RecordVisitor& visit) const override {
    return Records("id = ?", visit, [&](Stmt& s) { s.Text(1, id); });
  }

  Status RecordsInRange(TimeRange range, int64_t limit, const RecordVisitor& visit) const override {
    return Records("ts_start_ms >= ? AND ts_start_ms < ? ORDER BY ts_start_ms LIMIT ?", visit,
                   [&](Stmt& s) { s.Int(1, range.from_ms).Int(2, range.end_ms).Int(3, limit); });
  }

 private:
  // SELECT rowid, * ... WHERE `where`: every column as stored.
  template <class Bind>
  Status Records(const std::string& where, const RecordVisitor& visit, Bind&& bind) const {
    ReadConn c;
    TG_RETURN_IF_ERROR(c.Open(path_));
    const std::string sql = "SELECT rowid, * FROM requests WHERE " + where;
    Stmt s(c.db(), sql.c_str());
    if (!s.ok()) return c.NotALedger(s);
    bind(s);
    const int n = sqlite3_column_count(s.get()) - 1;
    std::vector<std::string> names;
    for (int i = 0; i < n; ++i) names.emplace_back(sqlite3_column_name(s.get(), i + 1));
    std::vector<Value> values(static_cast<size_t>(n));
    int rc;
    while ((rc = s.Step()) == SQLITE_ROW) {
      for (int i = 0; i < n; ++i) values[static_cast<size_t>(i)] = ColumnValue(s, i + 1);
      visit(Record{s.ColInt(0), names, values});
    }
    return rc == SQLITE_DONE ? Status::Ok() : c.Failed(s);
  }

  const std::string path_;
};

}  // namespace

std::unique_ptr<LedgerReader> OpenSqliteReader(const std::string& path) {
  return std::make_unique<SqliteReader>(path);
}

}  // namespace tollgate::ledger
