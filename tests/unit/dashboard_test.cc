// The dashboard's rollup must give the figures of `tollgate report` (the same
// groups, counts and order; sums equal up to the last bits), follow appended
// rows, and keep latency percentiles within half a percent.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "common/util.h"
#include "dashboard/rollup.h"
#include "ledger/sqlite_schema.h"
#include "ledger/storage.h"
#include "report/report.h"

namespace tollgate::dashboard {
namespace {

constexpr int64_t kDayMs = 86400000;

std::string TempDb() {
  auto dir = std::filesystem::temp_directory_path() / ("tollgate-dash-" + NewRequestId());
  std::filesystem::create_directories(dir);
  return (dir / "ledger.db").string();
}

// The rollup reads through the ledger's reader, as the dashboard does.
std::unique_ptr<ledger::LedgerReader> ReaderOf(const std::string& path) {
  return (*ledger::OpenLedger(path))->OpenReader();
}

void Exec(sqlite3* db, const std::string& sql) {
  char* err = nullptr;
  ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
}

// Appends `n` rows numbered from `first` over the days from `day0`, with NULL
// and empty dimensions, unknown prices, errors and odd tag lists mixed in.
void AddRows(sqlite3* db, int first, int n, int64_t day0) {
  static const char* const kModels[] = {"gpt-4o", "claude-sonnet-4-5", "", nullptr, "mystery"};
  static const char* const kUsers[] = {"alice", "bob", nullptr, ""};
  static const char* const kTags[] = {"prod", "prod,batch", nullptr, "", "a,,b", "batch"};
  Exec(db, "BEGIN");
  sqlite3_stmt* s = nullptr;
  ASSERT_EQ(
      sqlite3_prepare_v2(
          db,
          "INSERT INTO requests (id, ts_start_ms, ts_end_ms, endpoint, api_key, user, project, "
          "tags,"
          " requested_model, provider, status, error_class, input_tokens, cache_read_tokens,"
          " output_tokens, reasoning_tokens, cost_usd, latency_ms, ttft_ms)"
          " VALUES (?, ?, ?, 'chat.completions', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
          -1, &s, nullptr),
      SQLITE_OK);
  for (int i = first; i < first + n; ++i) {
    auto text = [&](int col, const char* v) {
      if (v)
        sqlite3_bind_text(s, col, v, -1, SQLITE_TRANSIENT);
      else
        sqlite3_bind_null(s, col);
    };
    const int64_t ts =
        day0 * kDayMs + (static_cast<int64_t>(i) * 7919 % 9) * kDayMs + (i * 104729LL) % kDayMs;
    std::string id = "req_" + std::to_string(i);
    sqlite3_bind_text(s, 1, id.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 2, ts);
    sqlite3_bind_int64(s, 3, ts + 500);
    std::string key = "key_" + std::to_string(i % 3);
    text(4, i % 11 == 0 ? nullptr : key.c_str());
    text(5, kUsers[i % 4]);
    text(6, i % 2 ? "search" : "support");
    text(7, kTags[i % 6]);
    const char* model = kModels[i % 5];
    text(8, model);
    text(9, i % 3 ? "openai" : "anthropic");
    const bool failed = i % 13 == 0;
    sqlite3_bind_int(s, 10, failed ? 502 : 200);
    text(11, failed ? "upstream_5xx" : nullptr);
    sqlite3_bind_int(s, 12, 100 + i % 57);
    sqlite3_bind_int(s, 13, i % 7);
    sqlite3_bind_int(s, 14, 10 + i % 31);
    sqlite3_bind_int(s, 15, i % 5);
    if (model && std::string(model) == "mystery")
      sqlite3_bind_null(s, 16);
    else
      sqlite3_bind_double(s, 16, 0.000137 * (1 + i % 17) + 1e-7 * i);
    sqlite3_bind_double(s, 17, 50 + (i * 37) % 1000);
    if (i % 2)
      sqlite3_bind_double(s, 18, 10 + (i * 13) % 200);
    else
      sqlite3_bind_null(s, 18);
    ASSERT_EQ(sqlite3_step(s), SQLITE_DONE);
    sqlite3_reset(s);
  }
  sqlite3_finalize(s);
  Exec(db, "COMMIT");
}

void ExpectSameAsReport(const std::string& path, LedgerRollup& rollup, int64_t day0, int days) {
  report::ReportOptions o;
  o.db_path = path;
  o.from = FormatDateUtc(day0 * kDayMs);
  o.to = FormatDateUtc((day0 + days - 1) * kDayMs);
  for (const char* by : {"model", "provider", "key", "user", "project", "tag"}) {
    SCOPED_TRACE(by);
    o.by = by;
    auto rep = report::BuildReport(o);
    ASSERT_TRUE(rep.ok()) << rep.status().message();
    Dim dim;
    ASSERT_TRUE(ParseDim(by, &dim));
    auto rows = rollup.Groups(dim, day0, day0 + days - 1);
    ASSERT_EQ(rows.size(), rep->rows.size());
    // Most expensive first. Two groups whose sums differ only in their last
    // bits may come in either order, so values are compared by name.
    for (size_t i = 1; i < rows.size(); ++i)
      EXPECT_GE(rows[i - 1].agg.cost_usd, rows[i].agg.cost_usd);
    auto want_rows = rep->rows;
    auto by_name = [](const auto& a, const auto& b) { return a.group < b.group; };
    std::sort(want_rows.begin(), want_rows.end(), by_name);
    std::sort(rows.begin(), rows.end(), by_name);
    for (size_t i = 0; i < rows.size(); ++i) {
      const auto& want = want_rows[i];
      EXPECT_EQ(rows[i].group, want.group);
      EXPECT_NEAR(rows[i].agg.cost_usd, want.cost_usd, 1e-12);
      EXPECT_EQ(rows[i].agg.requests, want.requests);
      EXPECT_EQ(rows[i].agg.input_tokens, want.input_tokens);
      EXPECT_EQ(rows[i].agg.output_tokens, want.output_tokens);
      EXPECT_EQ(rows[i].agg.errors, want.errors);
      EXPECT_EQ(rows[i].agg.unknown_cost, want.unknown_cost);
    }
    Agg t = rollup.Totals(day0, day0 + days - 1);
    EXPECT_NEAR(t.cost_usd, rep->totals.cost_usd, 1e-12);
    EXPECT_EQ(t.requests, rep->totals.requests);
    EXPECT_EQ(t.input_tokens + t.output_tokens, rep->totals.tokens);
  }
}

TEST(Rollup, MatchesTheReportAndFollowsAppendedRows) {
  const std::string path = TempDb();
  auto db = ledger::OpenAndMigrate(path);
  ASSERT_TRUE(db.ok());
  const int64_t day0 = *ParseDateUtcMs("2026-11-01") / kDayMs;
  AddRows(*db, 0, 700, day0);
  auto reader = ReaderOf(path);
  LedgerRollup rollup(*reader);
  ASSERT_TRUE(rollup.Refresh().ok());
  EXPECT_EQ(rollup.rows_seen(), 700);
  ExpectSameAsReport(path, rollup, day0, 9);
  ExpectSameAsReport(path, rollup, day0 + 2, 3);  // a sub-range

  AddRows(*db, 700, 300, day0);
  ASSERT_TRUE(rollup.Refresh().ok());
  EXPECT_EQ(rollup.rows_seen(), 1000);
  ExpectSameAsReport(path, rollup, day0, 9);

  // Daily series add up to the day totals.
  auto series = rollup.DailyByModel(day0, day0 + 8);
  for (int d = 0; d < 9; ++d) {
    double sum = 0;
    for (const auto& m : series) sum += m.daily_usd[static_cast<size_t>(d)];
    EXPECT_NEAR(sum, rollup.Totals(day0 + d, day0 + d).cost_usd, 1e-12);
  }
  sqlite3_close(*db);
}

TEST(Rollup, TopSeqsAreTheMostExpensivePricedRequests) {
  const std::string path = TempDb();
  auto db = ledger::OpenAndMigrate(path);
  ASSERT_TRUE(db.ok());
  const int64_t day0 = *ParseDateUtcMs("2026-11-01") / kDayMs;
  AddRows(*db, 0, 2000, day0);
  auto reader = ReaderOf(path);
  LedgerRollup rollup(*reader);
  ASSERT_TRUE(rollup.Refresh().ok());
  auto top = rollup.TopSeqs(day0, day0 + 8, 25);
  ASSERT_EQ(top.size(), 25u);
  sqlite3_stmt* s = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(*db,
                               "SELECT rowid FROM requests WHERE cost_usd IS NOT NULL"
                               " ORDER BY cost_usd DESC, ts_start_ms DESC, rowid DESC LIMIT 25",
                               -1, &s, nullptr),
            SQLITE_OK);
  std::vector<int64_t> want;
  while (sqlite3_step(s) == SQLITE_ROW) want.push_back(sqlite3_column_int64(s, 0));
  sqlite3_finalize(s);
  EXPECT_EQ(top, want);
  sqlite3_close(*db);
}

TEST(Rollup, LatencyPercentilesWithinHalfAPercent) {
  const std::string path = TempDb();
  auto db = ledger::OpenAndMigrate(path);
  ASSERT_TRUE(db.ok());
  const int64_t day0 = *ParseDateUtcMs("2026-11-01") / kDayMs;
  AddRows(*db, 0, 3000, day0);
  auto reader = ReaderOf(path);
  LedgerRollup rollup(*reader);
  ASSERT_TRUE(rollup.Refresh().ok());
  for (const auto& p : rollup.Latency(day0, day0 + 8)) {
    SCOPED_TRACE(p.provider);
    std::vector<double> v;
    sqlite3_stmt* s = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(
                  *db, "SELECT latency_ms FROM requests WHERE provider = ? AND error_class IS NULL",
                  -1, &s, nullptr),
              SQLITE_OK);
    sqlite3_bind_text(s, 1, p.provider.c_str(), -1, SQLITE_TRANSIENT);
    while (sqlite3_step(s) == SQLITE_ROW) v.push_back(sqlite3_column_double(s, 0));
    sqlite3_finalize(s);
    std::sort(v.begin(), v.end());
    ASSERT_EQ(static_cast<int64_t>(v.size()), p.requests);
    auto exact = [&](double q) {
      return v[static_cast<size_t>(std::ceil(q * static_cast<double>(v.size()))) - 1];
    };
    EXPECT_NEAR(p.p50_ms, exact(0.50), 0.005 * (exact(0.50) + 1));
    EXPECT_NEAR(p.p95_ms, exact(0.95), 0.005 * (exact(0.95) + 1));
    EXPECT_GT(p.ttft_count, 0);
  }
  sqlite3_close(*db);
}

TEST(Rollup, StartsOverWhenTheLedgerIsReplaced) {
  const std::string path = TempDb();
  {
    auto db = ledger::OpenAndMigrate(path);
    ASSERT_TRUE(db.ok());
    AddRows(*db, 0, 100, 20000);
    sqlite3_close(*db);
  }
  auto reader = ReaderOf(path);
  LedgerRollup rollup(*reader);
  ASSERT_TRUE(rollup.Refresh().ok());
  EXPECT_EQ(rollup.Totals(20000, 20010).requests, 100);
  std::filesystem::remove(path);
  {
    auto db = ledger::OpenAndMigrate(path);
    ASSERT_TRUE(db.ok());
    AddRows(*db, 0, 40, 20000);
    sqlite3_close(*db);
  }
  ASSERT_TRUE(rollup.Refresh().ok());
  EXPECT_EQ(rollup.Totals(20000, 20010).requests, 40);
}

TEST(Rollup, MissingLedgerIsNotFound) {
  auto reader = ReaderOf("/nonexistent/dir/ledger.db");
  LedgerRollup rollup(*reader);
  EXPECT_EQ(rollup.Refresh().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace tollgate::dashboard
