// The ledger's read side: everything `report`, the dashboard, `reconcile`,
// `whatif --ledger` and `usage --into-ledger` read, as one interface, so that
// no component opens the ledger's store itself. Aggregates over many rows
// (report groups, savings sums, budget charges) are computed by the store, where
// the rows are; scans hand rows to a visitor one at a time and never build the
// whole result. Backends: SQLite (sqlite_reader.cc), PostgreSQL
// (postgres_reader.cc) and in memory (memory_storage.cc).
// Thread safety: every method is const and may run on any thread at once; each
// call reads one consistent snapshot. A missing ledger is NotFound.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "pricing/catalog.h"

namespace tollgate::ledger {

// Rows whose ts_start_ms is in [from_ms, end_ms).
struct TimeRange {
  int64_t from_ms = std::numeric_limits<int64_t>::min();
  int64_t end_ms = std::numeric_limits<int64_t>::max();
};

// What report rows are grouped by. Time buckets are UTC: day "YYYY-MM-DD",
// week the date of its Monday, month "YYYY-MM". The others are the column's
// value as stored (tags comma-joined; splitting them is the report's business).
enum class GroupKey {
  kDay,
  kWeek,
  kMonth,
  kModel,
  kProvider,
  kKey,
  kUser,
  kProject,
  kTag,
  kLever,
  kEndpoint,
  kSession,
  kAll
};

// Sums over the rows of one group, with the report's definitions: tokens in =
// uncached + cache reads + cache writes, out = output + reasoning; an unknown
// price adds 0 to cost_usd and 1 to unknown_cost; a row without a baseline
// counts its own cost as its baseline (it saved nothing).
struct GroupTotals {
  std::string key;  // "" for a NULL value (kAll: always "")
  double cost_usd = 0;
  int64_t input_tokens = 0, output_tokens = 0, requests = 0, errors = 0, unknown_cost = 0;
  double baseline_usd = 0;
  int64_t output_tokens_saved = 0;
  double lever_usd[5] = {0, 0, 0, 0, 0};  // saved per lever, in kSavingsLevers order
};

// The rows the savings engine touched (cache set or a savings lever named).
struct SavingsTotals {
  int64_t cache_hits = 0;     // cache hit or semantic_hit
  int64_t cache_lookups = 0;  // hits and misses
  double saved_usd = 0, baseline_usd = 0;
  int64_t requests = 0;
};

// The ledger's cost of the requests charged to one budget window.
struct ChargeTotals {
  std::string budget_id;
  int64_t window_start_ms = 0;
  double cost_usd = 0;  // unknown prices count 0
  int64_t requests = 0;
};

// One budget a request was charged to.
struct RequestCharge {
  std::string budget_id;
  std::optional<std::string> budget_name;  // nullopt when the budget was deleted since
  int64_t window_start_ms = 0;
};

// What a running summary (the dashboard's rollup) reads of one stored row:
// the report's dimensions and its sums, no more, so that reading a million rows
// stays cheap. Text views live only during the visitor's call; NULL reads as empty.
struct SummaryRow {
  int64_t seq = 0;  // grows with every row written, never reused: a cursor
  int64_t ts_start_ms = 0;
  std::string_view requested_model, provider, api_key, user, project, tags;
  std::optional<double> cost_usd;  // nullopt: the price was unknown
  int64_t input_tokens = 0;        // uncached + cache reads + cache writes
  int64_t output_tokens = 0;       // output + reasoning
  bool failed = false;             // error_class is set
  std::optional<double> latency_ms, ttft_ms;
};
using SummaryVisitor = std::function<void(const SummaryRow&)>;

// What re-pricing a stored row (whatif --ledger) and sizing a fleet for the
// traffic (plan --from-ledger, the dashboard's Advise view) need: who asked for
// what, what served it, when it started and how long it took, its tokens and
// its cost. Text views live only during the visitor's call; a NULL text reads
// as empty.
struct UsageRow {
  int64_t ts_start_ms = 0;
  int status = 0;
  std::string_view requested_model, served_model, tags;
  pricing::Usage usage;
  std::optional<double> cost_usd;    // nullopt: the price was unknown
  std::optional<double> latency_ms;  // start to last byte; nullopt when not recorded
};
using UsageVisitor = std::function<void(const UsageRow&)>;

// A stored value, with the type it is stored as (views live during the call).
struct Value {
  enum class Kind { kNull, kInteger, kReal, kText };
  Kind kind = Kind::kNull;
  int64_t integer = 0;
  double real = 0;
  std::string_view text;
  static Value Null() { return {}; }
  static Value Integer(int64_t v) { return {Kind::kInteger, v, 0, {}}; }
  static Value Real(double v) { return {Kind::kReal, 0, v, {}}; }
  static Value Text(std::string_view v) { return {Kind::kText, 0, 0, v}; }
};

// One stored row with every column as stored (the columns are the ledger's
// own, so a file of an older schema shows its own set).
struct Record {
  int64_t seq = 0;
  std::span<const std::string> names;
  std::span<const Value> values;
  // The value of column `name`, or nullptr when the ledger has no such column.
  const Value* Find(std::string_view name) const;
};
using RecordVisitor = std::function<void(const Record&)>;

class LedgerReader {
 public:
  virtual ~LedgerReader() = default;

  // --- Aggregates, computed by the store.
  // Per group over the range, in no particular order.
  virtual Result<std::vector<GroupTotals>> TotalsByGroup(GroupKey key, TimeRange range) const = 0;
  virtual Result<SavingsTotals> Savings(TimeRange range) const = 0;
  // Per (budget, window): the requests charged to it and their ledger cost.
  virtual Result<std::vector<ChargeTotals>> ChargesByWindow() const = 0;
  // The budgets request `id` was charged to, by budget id (empty for an unknown id).
  virtual Result<std::vector<RequestCharge>> ChargesOf(const std::string& id) const = 0;

  // --- Scans, one row at a time.
  // Every row with seq > after_seq, in seq order. When the ledger now ends
  // before after_seq (it was replaced or truncated), calls `on_restart` first
  // and then visits every row.
  virtual Status ScanAfter(int64_t after_seq, const std::function<void()>& on_restart,
                           const SummaryVisitor& visit) const = 0;
  // Every row that started in the range, oldest first (ts_start_ms, then seq),
  // so that a sweep over the [start, start + latency] intervals keeps only the
  // open ones (the ts_start_ms index gives the order for free).
  virtual Status ScanRange(TimeRange range, const UsageVisitor& visit) const = 0;

  // --- Whole records (every column), for showing and exporting rows.
  // The ledger's columns, in order.
  virtual Result<std::vector<std::string>> Columns() const = 0;
  // The rows with these seqs (unknown ones are skipped), in seq order.
  virtual Status RecordsWithSeqs(std::span<const int64_t> seqs,
                                 const RecordVisitor& visit) const = 0;
  // The newest `limit` rows with seq > after_seq, newest first.
  virtual Status RecordsAfter(int64_t after_seq, int64_t limit,
                              const RecordVisitor& visit) const = 0;
  // The row with this id: one visit, or none.
  virtual Status RecordWithId(const std::string& id, const RecordVisitor& visit) const = 0;
  // The first `limit` rows that started in the range, oldest first.
  virtual Status RecordsInRange(TimeRange range, int64_t limit,
                                const RecordVisitor& visit) const = 0;
};

}  // namespace tollgate::ledger
