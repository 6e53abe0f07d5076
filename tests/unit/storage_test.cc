// The storage seam is real: `report`, the dashboard API and `reconcile` run
// through ledger::LedgerReader (and the state store) against every backend
// (the in-memory store, the SQLite file, and a real PostgreSQL server started
// by the test when PostgreSQL is installed), fed the same rows, and must give
// the same answers as the in-memory store (sums equal up to their last bits).
#include "ledger/storage.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <cmath>
#include <filesystem>
#include <sstream>
#include <tuple>

#include "common/util.h"
#include "config/config.h"
#include "dashboard/dashboard.h"
#include "governance/counters.h"
#include "governance/governor.h"
#include "governance/reconcile.h"
#include "governance/store.h"
#include "ledger/columns.h"
#include "pg_test_server.h"
#include "plan/advise.h"
#include "report/report.h"

namespace tollgate::ledger {
namespace {

constexpr int64_t kDayMs = 86400000;
const int64_t kDay0 = *ParseDateUtcMs("2026-10-05");  // a Monday
constexpr int kRows = 400;

// Rows with every kind of value: empty (NULL) dimensions, unknown prices,
// errors, odd tag lists, each cache outcome and savings lever, baselines or
// none, streamed rows with a TTFT, and budget charges.
Row MakeRow(int i) {
  static const char* const kModels[] = {"gpt-4o", "claude-sonnet-4-5", "", "mystery"};
  static const char* const kUsers[] = {"alice", "bob", "", "carol"};
  static const char* const kTags[] = {"prod", "prod,batch", "", "a,,b", "batch", "x"};
  static const char* const kCache[] = {"hit", "miss", "semantic_hit", "bypass", ""};
  static const char* const kLevers[] = {"cache",          "", "routing", "cascade", "budget_hint",
                                        "semantic_cache", ""};
  Row r;
  r.id = "req_" + std::to_string(i);
  r.ts_start_ms = kDay0 + static_cast<int64_t>(i) * 2879000 + (i % 7) * 1000;  // ~13 days
  r.ts_end_ms = r.ts_start_ms + 500;
  r.endpoint = i % 7 == 0 ? "agent.codex" : "chat.completions";
  r.api_key = i % 11 == 0 ? "" : "key_" + std::to_string(i % 3);
  r.user = kUsers[i % 4];
  r.project = i % 2 ? "search" : "support";
  r.tags = kTags[i % 6];
  r.requested_model = kModels[i % 4];
  r.served_model = kModels[(i + 1) % 4];
  r.provider = i % 3 ? "openai" : "anthropic";
  r.status = i % 13 == 0 ? 502 : 200;
  r.error_class = i % 13 == 0 ? "upstream_5xx" : "";
  r.usage = {100 + i % 57, i % 7, i % 3, i % 2, 10 + i % 31, i % 5};
  r.cost_known = r.requested_model != "mystery";
  r.cost = {0.000137 * (1 + i % 17), 0.00001 * (i % 7), 0.00002 * (i % 3), 0.0004 * (1 + i % 5),
            0.0001 * (i % 5)};
  r.latency_ms = 50 + (i * 37) % 1000;
  if (i % 2) r.ttft_ms = 10 + (i * 13) % 200;
  r.streamed = i % 2;
  r.estimated = i % 17 == 0;
  r.retries = i % 3;
  r.price_version = "2026-10-01";
  r.key_id = i % 4 == 0 ? "key_gov" : "";
  r.team = i % 5 == 0 ? "platform" : "";
  r.reserved_usd = i % 2 ? 0.01 : 0;
  if (i % 5 != 1) r.baseline_model = "gpt-4o";
  if (i % 5 == 0) r.baseline_cost_usd = r.cost.Total() * 2.5;
  if (i % 5 == 2) r.baseline_cost_usd = r.cost.Total();
  r.cache = kCache[i % 5];
  r.route = i % 4 == 1 ? "rule:long->gpt-4o" : "";
  r.savings_lever = kLevers[i % 7];
  r.output_tokens_saved = i % 4;
  if (i % 3 == 0) r.quality = 0.25 * (i % 4);
  if (i % 2 == 0) r.charges.push_back({"bud_global", 0});
  if (i % 3 == 0) r.charges.push_back({"bud_daily", r.ts_start_ms / kDayMs * kDayMs});
  return r;
}

Budget MakeBudget(const std::string& id, Window w) {
  Budget b;
  b.id = id;
  b.name = id == "bud_global" ? "all-time" : "per-day";
  b.scope = "global";
  b.window = w;
  b.limit_usd = 100;
  b.soft_limit_usd = 50;
  b.created_at_ms = 1;
  return b;
}

// Writes the same budgets and rows (one of them twice: the second is ignored)
// into `s`.
void Fill(Storage& s) {
  auto state = s.OpenStateStore();
  ASSERT_TRUE(state.ok()) << state.status().message();
  ASSERT_TRUE((*state)->UpsertBudget(MakeBudget("bud_global", Window::kLifetime)).ok());
  ASSERT_TRUE((*state)->UpsertBudget(MakeBudget("bud_daily", Window::kDaily)).ok());
  ASSERT_TRUE((*state)->BumpStateVersion().ok());
  auto writer = s.OpenWriter();
  ASSERT_TRUE(writer.ok()) << writer.status().message();
  for (int i = 0; i < kRows; ++i) (*writer)->Append(MakeRow(i));
  (*writer)->Append(MakeRow(3));  // a re-sent row: stored and charged once
  ASSERT_TRUE((*writer)->Close().ok());
}

// Numbers equal to 1e-9 relative, everything else exactly.
void ExpectSameJson(const rapidjson::Value& a, const rapidjson::Value& b,
                    const std::string& where) {
  if (a.IsNumber() && b.IsNumber()) {
    const double x = a.GetDouble(), y = b.GetDouble();
    EXPECT_NEAR(x, y, 1e-9 * std::max(1.0, std::fabs(y))) << where;
    return;
  }
  ASSERT_EQ(a.GetType(), b.GetType()) << where;
  if (a.IsObject()) {
    ASSERT_EQ(a.MemberCount(), b.MemberCount()) << where;
    for (auto m = a.MemberBegin(), n = b.MemberBegin(); m != a.MemberEnd(); ++m, ++n) {
      ASSERT_STREQ(m->name.GetString(), n->name.GetString()) << where;
      ExpectSameJson(m->value, n->value, where + "." + m->name.GetString());
    }
  } else if (a.IsArray()) {
    ASSERT_EQ(a.Size(), b.Size()) << where;
    for (rapidjson::SizeType i = 0; i < a.Size(); ++i)
      ExpectSameJson(a[i], b[i], where + "[" + std::to_string(i) + "]");
  } else if (a.IsString()) {
    EXPECT_STREQ(a.GetString(), b.GetString()) << where;
  } else {
    EXPECT_TRUE(a == b) << where;
  }
}

// CSV cells equal, numbers to 1e-9 relative.
void ExpectSameCsv(const std::string& a, const std::string& b) {
  std::istringstream sa(a), sb(b);
  std::string la, lb;
  int line = 0;
  while (std::getline(sa, la)) {
    ++line;
    ASSERT_TRUE(std::getline(sb, lb)) << "line " << line;
    if (la == lb) continue;
    std::istringstream ca(la), cb(lb);
    std::string x, y;
    while (std::getline(ca, x, ',')) {
      ASSERT_TRUE(std::getline(cb, y, ',')) << "line " << line;
      char* end_x = nullptr;
      char* end_y = nullptr;
      const double dx = std::strtod(x.c_str(), &end_x), dy = std::strtod(y.c_str(), &end_y);
      if (!x.empty() && *end_x == '\0' && !y.empty() && *end_y == '\0')
        EXPECT_NEAR(dx, dy, 1e-9 * std::max(1.0, std::fabs(dy))) << "line " << line;
      else
        EXPECT_EQ(x, y) << "line " << line;
    }
  }
  EXPECT_FALSE(std::getline(sb, lb)) << "extra lines";
}

const char* kConfig = R"(
providers:
  - name: sim
    type: sim
models:
  - name: gpt-4o
    deployments: [{provider: sim}]
)";

class StorageSeamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("tollgate-storage-" + NewRequestId());
    std::filesystem::create_directories(dir_);
    auto sqlite = OpenLedger("sqlite://" + (dir_ / "ledger.db").string());
    ASSERT_TRUE(sqlite.ok()) << sqlite.status().message();
    sqlite_ = std::move(*sqlite);
    memory_ = NewMemoryStorage();
    Fill(*sqlite_);
    Fill(*memory_);
    auto pg_url = testing::NewPostgresDatabase();
    if (pg_url.ok()) {
      auto pg = OpenLedger(*pg_url);
      ASSERT_TRUE(pg.ok()) << pg.status().message();
      postgres_ = std::move(*pg);
      Fill(*postgres_);
    } else {
      // Not installed: the other backends are still checked (install-deps.sh installs it).
      ASSERT_EQ(pg_url.status().code(), StatusCode::kNotFound) << pg_url.status().message();
    }
    auto cfg = config::ParseConfig(kConfig, "storage.yaml");
    ASSERT_TRUE(cfg.ok()) << cfg.status().message();
    cfg_ = std::make_unique<config::Config>(std::move(*cfg));
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  // The in-memory store first: every other backend is compared with it.
  std::vector<Storage*> All() {
    std::vector<Storage*> all = {memory_.get(), sqlite_.get()};
    if (postgres_) all.push_back(postgres_.get());
    return all;
  }

  std::filesystem::path dir_;
  std::unique_ptr<Storage> sqlite_, memory_, postgres_;
  std::unique_ptr<config::Config> cfg_;
};

TEST_F(StorageSeamTest, EveryBackendStoresTheSameColumns) {
  auto b = memory_->OpenReader()->Columns();
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->size(), kRowColumnCount);
  for (Storage* s : All()) {
    SCOPED_TRACE(s->url());
    auto a = s->OpenReader()->Columns();
    ASSERT_TRUE(a.ok()) << a.status().message();
    EXPECT_EQ(*a, *b);
  }
}

TEST_F(StorageSeamTest, ReportIsTheSameThroughEitherReader) {
  const std::string from = FormatDateUtc(kDay0), to = FormatDateUtc(kDay0 + 20 * kDayMs);
  for (const char* by :
       {"day", "week", "month", "model", "provider", "key", "user", "project", "tag", "lever"}) {
    report::ReportOptions o;
    o.by = by;
    o.from = from;
    o.to = to;
    auto b = report::BuildReport(*memory_->OpenReader(), o);
    for (Storage* s : All()) {
      SCOPED_TRACE(std::string(by) + " " + s->url());
      auto a = report::BuildReport(*s->OpenReader(), o);
      ASSERT_TRUE(a.ok()) << a.status().message();
      ASSERT_TRUE(b.ok()) << b.status().message();
      EXPECT_EQ(a->totals.requests, kRows);
      rapidjson::Document ja, jb;
      ja.Parse(report::RenderJson(*a).c_str());
      jb.Parse(report::RenderJson(*b).c_str());
      ExpectSameJson(ja, jb, by);
      ja.Parse(report::RenderSavingsJson(*a).c_str());
      jb.Parse(report::RenderSavingsJson(*b).c_str());
      ExpectSameJson(ja, jb, std::string(by) + " savings");
      ExpectSameCsv(report::RenderCsv(*a), report::RenderCsv(*b));
    }
  }
}

TEST_F(StorageSeamTest, DashboardApiIsTheSameThroughEitherReader) {
  std::vector<std::unique_ptr<governance::LocalCounterStore>> counters;
  std::vector<std::unique_ptr<governance::Governor>> governors;
  std::vector<std::unique_ptr<dashboard::Dashboard>> dashboards;
  for (Storage* s : All()) {
    counters.push_back(std::make_unique<governance::LocalCounterStore>());
    auto gov = governance::Governor::Create(*cfg_, *s, *counters.back());
    ASSERT_TRUE(gov.ok()) << gov.status().message();
    governors.push_back(std::move(*gov));
    auto dash = dashboard::Dashboard::Create(*cfg_, *governors.back(), s->OpenReader());
    ASSERT_TRUE(dash.ok()) << dash.status().message();
    dashboards.push_back(std::move(*dash));
  }
  const std::string range =
      "from=" + FormatDateUtc(kDay0) + "&to=" + FormatDateUtc(kDay0 + 20 * kDayMs);
  const std::pair<const char*, std::string> kJson[] = {
      {"/api/summary", range},
      {"/api/daily", range},
      {"/api/breakdown", "by=model&" + range},
      {"/api/breakdown", "by=tag&" + range},
      {"/api/breakdown", "by=key&limit=2&" + range},
      {"/api/breakdown", "by=user&" + range},
      {"/api/breakdown", "by=project&" + range},
      {"/api/breakdown", "by=provider&" + range},
      {"/api/top", "limit=40&" + range},
      {"/api/recent", "limit=30"},
      {"/api/recent", "after=350&limit=500"},
      {"/api/request", "id=req_12"},
      {"/api/request", "id=req_3"},
      {"/api/latency", range},
      {"/api/advise", range},
      {"/api/budgets", ""},
  };
  // dashboards[0] is the in-memory store's; each other one must agree with it.
  for (size_t i = 1; i < dashboards.size(); ++i)
    for (const auto& [path, query] : kJson) {
      SCOPED_TRACE(std::string(path) + "?" + query + " " + All()[i]->url());
      auto a = dashboards[i]->Handle("GET", path, query, "");
      auto b = dashboards[0]->Handle("GET", path, query, "");
      ASSERT_TRUE(a && b);
      ASSERT_EQ(a->status, 200) << a->body;
      ASSERT_EQ(b->status, 200) << b->body;
      rapidjson::Document ja, jb;
      ja.Parse(a->body.c_str());
      jb.Parse(b->body.c_str());
      ASSERT_FALSE(ja.HasParseError() || jb.HasParseError());
      if (std::string(path) == "/api/budgets") {  // the current time, read twice
        ja.RemoveMember("now");
        jb.RemoveMember("now");
      }
      ExpectSameJson(ja, jb, path);
    }
  // The request view shows every column and the charges, and the charges
  // were made once for a re-sent row.
  for (auto& d : dashboards) {
    auto row = d->Handle("GET", "/api/request", "id=req_0", "");
    ASSERT_TRUE(row && row->status == 200);
    rapidjson::Document j;
    j.Parse(row->body.c_str());
    EXPECT_EQ(j["row"].MemberCount(), kRowColumnCount);
    EXPECT_EQ(j["budget_charges"].Size(), 2u);
  }
  for (auto& d : dashboards) {
    auto missing = d->Handle("GET", "/api/request", "id=req_nope", "");
    ASSERT_TRUE(missing);
    EXPECT_EQ(missing->status, 404);
  }

  for (size_t i = 1; i < dashboards.size(); ++i)
    for (const std::string& query :
         {range, range + "&limit=25", "by=day&" + range, "by=tag&" + range}) {
      SCOPED_TRACE("/api/export.csv?" + query + " " + All()[i]->url());
      auto a = dashboards[i]->Handle("GET", "/api/export.csv", query, "");
      auto b = dashboards[0]->Handle("GET", "/api/export.csv", query, "");
      ASSERT_TRUE(a && b);
      ASSERT_EQ(a->status, 200) << a->body;
      ASSERT_EQ(b->status, 200) << b->body;
      if (query.rfind("by=", 0) == 0) {
        ExpectSameCsv(a->body, b->body);
      } else {
        EXPECT_EQ(a->body, b->body);  // every column as stored, oldest first
      }
      EXPECT_EQ(a->headers, b->headers);
    }
}

TEST_F(StorageSeamTest, ReconcileIsTheSameThroughEitherReader) {
  std::vector<std::vector<governance::ReconcileLine>> results;
  for (Storage* s : All()) {
    auto store = governance::Store::Open(*s);
    ASSERT_TRUE(store.ok()) << store.status().message();
    auto reader = s->OpenReader();
    auto clean = governance::Reconcile(**store, *reader, false);
    ASSERT_TRUE(clean.ok()) << clean.status().message();
    ASSERT_FALSE(clean->empty());
    for (const auto& l : *clean) EXPECT_TRUE(l.agrees) << l.budget_name << " " << l.window_start_ms;
    ASSERT_TRUE((*store)->SetSpend({"bud_global", 0, 0.5, 3}).ok());  // tampered
    auto repaired = governance::Reconcile(**store, *reader, true);
    ASSERT_TRUE(repaired.ok());
    auto again = governance::Reconcile(**store, *reader, false);
    ASSERT_TRUE(again.ok());
    for (const auto& l : *again) EXPECT_TRUE(l.agrees);
    results.push_back(*repaired);
  }
  for (size_t k = 1; k < results.size(); ++k) {
    SCOPED_TRACE(All()[k]->url());
    ASSERT_EQ(results[k].size(), results[0].size());
    int disagreed = 0;
    for (size_t i = 0; i < results[0].size(); ++i) {
      const auto &a = results[k][i], &b = results[0][i];
      EXPECT_EQ(a.budget_id, b.budget_id);
      EXPECT_EQ(a.budget_name, b.budget_name);
      EXPECT_EQ(a.window_start_ms, b.window_start_ms);
      EXPECT_NEAR(a.ledger_usd, b.ledger_usd, 1e-12);
      EXPECT_EQ(a.ledger_requests, b.ledger_requests);
      EXPECT_EQ(a.counter_requests, b.counter_requests);
      EXPECT_EQ(a.agrees, b.agrees);
      disagreed += a.agrees ? 0 : 1;
    }
    EXPECT_EQ(disagreed, 1);
  }
}

// ScanRange: every row of the range oldest first, with its latency, and the
// capacity plan built on it (plan --from-ledger) the same through every reader.
TEST_F(StorageSeamTest, ScanRangeAndThePlanAreTheSameThroughEitherReader) {
  const ledger::TimeRange range{kDay0 + kDayMs, kDay0 + 8 * kDayMs};
  std::vector<std::vector<std::tuple<int64_t, std::string, int64_t, double>>> scans;
  for (Storage* s : All()) {
    SCOPED_TRACE(s->url());
    auto& rows = scans.emplace_back();
    ASSERT_TRUE(s->OpenReader()
                    ->ScanRange(range,
                                [&](const UsageRow& r) {
                                  ASSERT_TRUE(r.latency_ms.has_value());
                                  rows.emplace_back(r.ts_start_ms, std::string(r.served_model),
                                                    r.usage.OutputTotal(), *r.latency_ms);
                                })
                    .ok());
    ASSERT_FALSE(rows.empty());
    for (size_t i = 1; i < rows.size(); ++i) EXPECT_LE(std::get<0>(rows[i - 1]), std::get<0>(rows[i]));
  }
  for (size_t k = 1; k < scans.size(); ++k) EXPECT_EQ(scans[k], scans[0]) << All()[k]->url();

  std::vector<std::string> plans;
  for (Storage* s : All()) {
    auto t = plan::ReadTraffic(*s->OpenReader(), range.from_ms, range.end_ms, false);
    ASSERT_TRUE(t.ok()) << t.status().message();
    EXPECT_GT(t->all.peak_concurrency, 0);
    auto a = plan::Advise(*t, plan::AdviseOptions{}, plan::BuiltinCatalog());
    ASSERT_TRUE(a.ok()) << a.status().message();
    plans.push_back(plan::RenderAdviceJson(*a));
  }
  for (size_t k = 1; k < plans.size(); ++k) {
    SCOPED_TRACE(All()[k]->url());
    rapidjson::Document ja, jb;
    ja.Parse(plans[k].c_str());
    jb.Parse(plans[0].c_str());
    ASSERT_FALSE(ja.HasParseError() || jb.HasParseError());
    ExpectSameJson(ja, jb, "advice");
  }
}

TEST(OpenLedger, UrlsAndPaths) {
  auto url = OpenLedger("sqlite:///var/lib/tollgate.db");
  ASSERT_TRUE(url.ok());
  EXPECT_EQ((*url)->url(), "sqlite:///var/lib/tollgate.db");
  EXPECT_TRUE(OpenLedger("sqlite://relative.db").ok());
  EXPECT_TRUE(OpenLedger("./tollgate.db").ok());
  // PostgreSQL by URL (opening connects to nothing yet); any other scheme is
  // refused, naming the ones there are.
  auto pg = OpenLedger("postgres://tollgate@db:5432/tollgate");
  ASSERT_TRUE(pg.ok());
  EXPECT_EQ((*pg)->url(), "postgres://tollgate@db:5432/tollgate");
  EXPECT_TRUE(OpenLedger("postgresql://db/tollgate").ok());
  auto bad = OpenLedger("mysql://db/tollgate");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("'mysql'"), std::string::npos);
  EXPECT_NE(bad.status().message().find("postgres://"), std::string::npos);
  EXPECT_FALSE(OpenLedger("sqlite://").ok());
  EXPECT_FALSE(OpenLedger("").ok());
  // A reader opens nothing: a missing ledger is NotFound when read.
  auto missing = OpenLedger("/nonexistent/dir/ledger.db");
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ((*missing)->OpenReader()->TotalsByGroup(GroupKey::kAll, {}).status().code(),
            StatusCode::kNotFound);
}

// ledger.url chooses the backend; the old ledger.path still works; exactly
// one of them; a bad URL is a config error with its line and the fix.
TEST(LedgerUrlConfig, UrlOrPathButNotBoth) {
  const std::string rest =
      "providers:\n  - name: sim\n    type: sim\nmodels:\n  - name: m\n    deployments: "
      "[{provider: sim}]\n";
  auto by_url = config::ParseConfig("ledger:\n  url: sqlite:///var/lib/t.db\n" + rest, "u.yaml");
  ASSERT_TRUE(by_url.ok()) << by_url.status().message();
  EXPECT_EQ(by_url->ledger.url, "sqlite:///var/lib/t.db");
  EXPECT_EQ(by_url->ledger.path, "/var/lib/t.db");
  auto by_path = config::ParseConfig("ledger:\n  path: ./x.db\n" + rest, "p.yaml");
  ASSERT_TRUE(by_path.ok());
  EXPECT_EQ(by_path->ledger.url, "./x.db");  // a plain path: the SQLite file, as before
  auto by_pg = config::ParseConfig("ledger:\n  url: postgres://tg@db:5432/tg\n" + rest, "g.yaml");
  ASSERT_TRUE(by_pg.ok()) << by_pg.status().message();
  EXPECT_EQ(by_pg->ledger.url, "postgres://tg@db:5432/tg");
  EXPECT_TRUE(config::ParseConfig("ledger:\n  url: postgresql://db/tg\n" + rest, "g.yaml").ok());
  auto neither = config::ParseConfig(rest, "n.yaml");
  ASSERT_TRUE(neither.ok());
  EXPECT_EQ(neither->ledger.url, "./tollgate.db");
  ASSERT_TRUE(OpenLedger(neither->ledger.url).ok());

  struct Bad {
    std::string yaml, text;
  };
  for (const Bad& b : {Bad{"ledger:\n  path: a.db\n  url: sqlite://b.db\n", "both set"},
                       Bad{"ledger:\n  url: mysql://db/tollgate\n", "unknown scheme 'mysql'"},
                       Bad{"ledger:\n  url: tollgate.db\n", "has no scheme"},
                       Bad{"ledger:\n  url: sqlite://\n", "names no file"}}) {
    auto c = config::ParseConfig(b.yaml + rest, "bad.yaml");
    ASSERT_FALSE(c.ok()) << b.yaml;
    const std::string& m = c.status().message();
    EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(m.find("bad.yaml:"), std::string::npos) << m;
    EXPECT_NE(m.find(b.text), std::string::npos) << m;
    EXPECT_NE(m.find("fix:"), std::string::npos) << m;
  }
}

}  // namespace
}  // namespace tollgate::ledger
