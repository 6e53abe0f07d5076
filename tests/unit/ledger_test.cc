#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <thread>
#include <vector>

#include "common/util.h"
#include "ledger/ledger.h"
#include "report/report.h"

namespace tollgate::ledger {
namespace {

std::string TempDb(const char* name) {
  auto dir = std::filesystem::temp_directory_path() / ("tollgate-unit-" + NewRequestId());
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

Row MakeRow(int i, int64_t ts) {
  Row r;
  r.id = NewRequestId();
  r.ts_start_ms = ts;
  r.ts_end_ms = ts + 5;
  r.endpoint = "chat.completions";
  r.requested_model = i % 2 ? "a" : "b";
  r.provider = "p";
  r.project = "proj";
  r.tags = i % 3 ? "x,y" : "x";
  r.status = 200;
  r.usage.input = 10;
  r.usage.output = 5;
  r.cost.input = 0.001;
  r.cost.output = 0.002;
  r.cost_known = true;
  return r;
}

int64_t CountRows(const std::string& path) {
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_stmt* s = nullptr;
  sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM requests", -1, &s, nullptr);
  sqlite3_step(s);
  int64_t n = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  sqlite3_close(db);
  return n;
}

TEST(Ledger, ConcurrentAppendsAreAllWrittenOnClose) {
  std::string path = TempDb("l.db");
  auto l = OpenSqliteLedger({path, 64, 50, 100000});
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  const int64_t now = NowUnixMs();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2500; ++i) (*l)->Append(MakeRow(t * 10000 + i, now));
    });
  for (auto& t : threads) t.join();
  ASSERT_TRUE((*l)->Close().ok());
  EXPECT_EQ(CountRows(path), 10000);
}

TEST(Ledger, FlushMakesRowsVisibleAndReopenKeepsThem) {
  std::string path = TempDb("l.db");
  {
    auto l = OpenSqliteLedger({path, 1000, 10000, 100000});
    ASSERT_TRUE(l.ok());
    (*l)->Append(MakeRow(1, NowUnixMs()));
    ASSERT_TRUE((*l)->Flush().ok());
    EXPECT_EQ(CountRows(path), 1);
  }
  auto again = OpenSqliteLedger({path, 1000, 100, 100000});  // migrations are idempotent
  ASSERT_TRUE(again.ok());
  (*again)->Append(MakeRow(2, NowUnixMs()));
  ASSERT_TRUE((*again)->Close().ok());
  EXPECT_EQ(CountRows(path), 2);
}

TEST(Ledger, UnknownCostIsNullNotZero) {
  std::string path = TempDb("l.db");
  auto l = OpenSqliteLedger({path, 10, 10, 1000});
  ASSERT_TRUE(l.ok());
  Row r = MakeRow(1, NowUnixMs());
  r.cost_known = false;
  (*l)->Append(r);
  ASSERT_TRUE((*l)->Close().ok());
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_stmt* s = nullptr;
  sqlite3_prepare_v2(db, "SELECT cost_usd IS NULL FROM requests", -1, &s, nullptr);
  ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(s, 0), 1);
  sqlite3_finalize(s);
  sqlite3_close(db);
}

TEST(Ledger, OpenFailsCleanlyOnBadPath) {
  auto l = OpenSqliteLedger({"/nonexistent-dir/x/y.db", 10, 10, 1000});
  EXPECT_FALSE(l.ok());
}

TEST(Report, GroupsByModelTagAndDay) {
  std::string path = TempDb("r.db");
  auto l = OpenSqliteLedger({path, 100, 10, 1000});
  ASSERT_TRUE(l.ok());
  const int64_t day = *ParseDateUtcMs("2026-03-10");
  for (int i = 0; i < 6; ++i) (*l)->Append(MakeRow(i, day + 3600000));
  (*l)->Append(MakeRow(7, day + 86400000 + 60000));  // next day
  ASSERT_TRUE((*l)->Close().ok());

  report::ReportOptions o{path, "model", "2026-03-10", "2026-03-10"};
  auto r = report::BuildReport(o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->totals.requests, 6);
  EXPECT_NEAR(r->totals.cost_usd, 6 * 0.003, 1e-9);
  EXPECT_EQ(r->totals.tokens, 6 * 15);
  ASSERT_EQ(r->rows.size(), 2u);

  o.by = "tag";
  o.to = "2026-03-11";
  auto t = report::BuildReport(o);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->totals.requests, 7);
  ASSERT_EQ(t->rows.size(), 2u);  // x and y
  EXPECT_EQ(t->rows[0].group, "x");
  EXPECT_EQ(t->rows[0].requests, 7);

  o.by = "day";
  auto d = report::BuildReport(o);
  ASSERT_TRUE(d.ok());
  ASSERT_EQ(d->rows.size(), 2u);
  EXPECT_EQ(d->rows[0].group, "2026-03-10");
  EXPECT_NE(report::RenderTable(*d).find("across 105 tokens and 7 requests"), std::string::npos);
  EXPECT_NE(report::RenderJson(*d).find("\"requests\":7"), std::string::npos);
  EXPECT_NE(report::RenderCsv(*d).find("2026-03-11,1,15"), std::string::npos);

  o.by = "colour";
  EXPECT_FALSE(report::BuildReport(o).ok());
  o.by = "day";
  o.from = "2026-03-12";
  EXPECT_FALSE(report::BuildReport(o).ok());  // from after to
}

}  // namespace
}  // namespace tollgate::ledger
