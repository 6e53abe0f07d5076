// Reports over imported agent usage: entries grouped by day, week, month, session
// or 5-hour block (per agent), rendered as an aligned table or JSON. Times are
// UTC, as in `tollgate report`. Pure functions over their inputs; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "usage/importer.h"

namespace tollgate::usage {

enum class GroupBy { kDaily, kWeekly, kMonthly, kSession, kBlocks };

// "daily", "weekly", "monthly", "session", "blocks"; nullopt for anything else.
std::optional<GroupBy> ParseGroupBy(std::string_view name);
std::string_view GroupByName(GroupBy by);

// The agents' usage limits reset on rolling 5-hour windows. A block starts at the
// hour of its first entry and takes every entry of that agent within 5 hours.
constexpr int64_t kBlockMs = 5LL * 3600 * 1000;

struct ReportRow {
  // daily "2025-10-01"; weekly the Monday "2025-09-29"; monthly "2025-10";
  // session the session id; blocks the start "2025-10-01T10:00:00Z".
  std::string group;
  Agent agent = Agent::kClaudeCode;
  std::string project;                           // session rows
  int64_t first_ms = 0, last_ms = 0;             // first and last entry
  int64_t block_start_ms = 0, block_end_ms = 0;  // blocks: [start, start + 5 h)
  bool active = false;                           // blocks: the block has not ended yet
  std::vector<std::string> models;               // distinct, sorted
  pricing::Usage usage;
  double cost_usd = 0;  // sum of the entries whose cost is known
  int64_t entries = 0;
  int64_t unknown_cost_entries = 0;  // entries with no price: not in cost_usd
};

struct Report {
  GroupBy by = GroupBy::kDaily;
  std::string from, to;         // the date filter, YYYY-MM-DD, or empty
  ReportRow totals;             // over every row (group "TOTAL")
  std::vector<ReportRow> rows;  // time buckets and blocks by time, sessions by last activity
  uint64_t files = 0, lines = 0, duplicates = 0, diagnostics = 0, out_of_range = 0;
  std::vector<std::pair<std::string, uint64_t>> unpriced_models;
};

// Groups `result.entries` and copies its import counters. `now_ms` decides which
// blocks are still active.
Report BuildReport(const ImportResult& result, GroupBy by, int64_t now_ms);

std::string RenderTable(const Report& report);
std::string RenderJson(const Report& report);

// "2025-10-01T10:00:00Z" (UTC, whole seconds).
std::string FormatIsoUtc(int64_t unix_ms);

}  // namespace tollgate::usage
