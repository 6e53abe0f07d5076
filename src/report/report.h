// Reports over the ledger: spend, tokens and requests grouped by a time bucket
// or a dimension, over a date range, rendered as an aligned table, CSV or JSON.
// Reads through a ledger::LedgerReader (the store sums each group); safe while
// `tollgate serve` writes.
#pragma once

#include <string>
#include <vector>

#include "common/json.h"
#include "common/status.h"
#include "ledger/ledger.h"
#include "ledger/reader.h"

namespace tollgate::report {

struct ReportOptions {
  std::string db_path;     // the ledger's URL or file path (only for BuildReport(options))
  std::string by = "day";  // day|week|month|model|provider|key|user|project|tag|lever
  std::string from;        // YYYY-MM-DD inclusive (UTC); empty = 30 days before `to`
  std::string to;          // YYYY-MM-DD inclusive (UTC); empty = today
};

struct ReportRow {
  std::string group;
  double cost_usd = 0;
  long long tokens = 0, input_tokens = 0, output_tokens = 0, requests = 0, errors = 0, unknown_cost = 0;
  // Savings (ledger v3): what the rows would have cost without tollgate's
  // cache and routing, and the dollars saved by each lever (kLevers order).
  double baseline_usd = 0;
  double lever_usd[5] = {0, 0, 0, 0, 0};
  long long output_tokens_saved = 0;
  double saved_usd() const { return baseline_usd - cost_usd; }
};

// The savings levers, as stored in requests.savings_lever.
inline constexpr const auto& kLevers = ledger::kSavingsLevers;

struct Report {
  std::string from, to, by;
  ReportRow totals;
  std::vector<ReportRow> rows;  // sorted by group for time buckets, by cost desc otherwise
};

// InvalidArgument for a bad --by or date; NotFound if the ledger is missing.
Result<Report> BuildReport(const ledger::LedgerReader& ledger, const ReportOptions& options);
// The same over the ledger at options.db_path, opened for this call (for
// callers that hold no reader); InvalidArgument also for an unknown URL scheme.
Result<Report> BuildReport(const ReportOptions& options);

std::string RenderTable(const Report& r);
std::string RenderCsv(const Report& r);
std::string RenderJson(const Report& r);
// One row of RenderJson ({group?, cost_usd, tokens, input_tokens, output_tokens,
// requests, errors, unknown_cost_requests}); the dashboard's sums use it too.
void WriteRowJson(JsonWriter& w, const ReportRow& x, bool with_group);
// The savings view of the same report: cost, baseline, saved, and per lever.
std::string RenderSavingsTable(const Report& r);
std::string RenderSavingsCsv(const Report& r);
std::string RenderSavingsJson(const Report& r);

}  // namespace tollgate::report
