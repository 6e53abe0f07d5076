// The PostgreSQL writer while its database is down, against a real server
// (pg_test_server.h) that the tests stop and start again: rows go to the spool
// file, Flush reports them durable, and they are replayed in order exactly once
// when the server is back (also by a later writer, also twice, as after a crash
// between the replay's commit and the spool's truncation), budget spend
// included; a torn spool tail is reported and cut off, never a crash.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/util.h"
#include "ledger/storage.h"
#include "pg_test_server.h"

namespace tollgate::ledger {
namespace {

namespace fs = std::filesystem;

Row SpoolRow(int i) {
  Row r;
  r.id = "spool_" + std::to_string(i);
  r.ts_start_ms = 1790000000000 + i * 1000;
  r.ts_end_ms = r.ts_start_ms + 250;
  r.endpoint = "chat.completions";
  r.api_key = "key_1";
  r.user = i % 2 ? "bob\twith\ttabs" : "";
  r.requested_model = "gpt-4o";
  r.served_model = "gpt-4o-mini";
  r.provider = "openai";
  r.status = 200;
  r.usage = {100 + i, 3, 0, 0, 10 + i, 2};
  r.cost_known = true;
  r.cost = {0.001 * (1 + i % 7), 0.0001, 0, 0.003, 0.0002};
  r.latency_ms = 40.5 + i;
  if (i % 3) r.ttft_ms = 12.25;
  r.quality = i % 4 ? std::optional<double>(0.5) : std::nullopt;
  r.charges.push_back({"bud_a", 0});
  if (i % 2) r.charges.push_back({"bud_b", 86400000});
  return r;
}

constexpr auto Query = testing::QueryPostgres;

// Spend that rows [from, to) charge to bud_a (every row) and bud_b (the odd ones).
double Spend(int from, int to, bool odd_only) {
  double usd = 0;
  for (int i = from; i < to; ++i)
    if (!odd_only || i % 2) usd += SpoolRow(i).cost.Total();
  return usd;
}

// A database, a budget store and a spool path of its own; the server is
// started again however the test ends.
class PostgresSpool : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = testing::NewPostgresDatabase();
    if (!db.ok() && db.status().code() == StatusCode::kNotFound)
      GTEST_SKIP() << db.status().message();
    ASSERT_TRUE(db.ok()) << db.status().message();
    url_ = *db;
    dir_ = fs::temp_directory_path() / ("tollgate-spool-" + NewRequestId());
    fs::create_directories(dir_);
    options_.flush_interval_ms = 20;
    options_.spool_path = (dir_ / "ledger.spool").string();
    auto s = OpenLedger(url_, options_);
    ASSERT_TRUE(s.ok()) << s.status().message();
    storage_ = std::move(*s);
    auto state = storage_->OpenStateStore();
    ASSERT_TRUE(state.ok()) << state.status().message();
    for (const char* id : {"bud_a", "bud_b"}) {
      Budget b;
      b.id = b.name = id;
      b.scope = "global";
      b.window = Window::kLifetime;
      b.limit_usd = 1000;
      ASSERT_TRUE((*state)->UpsertBudget(b).ok());
    }
  }
  void TearDown() override {
    if (stopped_) {
      EXPECT_TRUE(testing::StartPostgresServer().ok());
    }
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  void Stop() {
    ASSERT_TRUE(testing::StopPostgresServer().ok()) << testing::PostgresServerLog();
    stopped_ = true;
  }
  void Start() {
    ASSERT_TRUE(testing::StartPostgresServer().ok()) << testing::PostgresServerLog();
    stopped_ = false;
  }
  std::unique_ptr<LedgerWriter> Writer() {
    auto w = storage_->OpenWriter();
    EXPECT_TRUE(w.ok()) << w.status().message();
    return w.ok() ? std::move(*w) : nullptr;
  }
  static bool WaitUntilReplayed(const LedgerWriter& w) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (w.spooled_rows() > 0 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return w.spooled_rows() == 0;
  }
  // A new writer, which replays what the spool holds at open, closed once it has.
  void ReplayInNewWriter() {
    auto w = Writer();
    ASSERT_TRUE(w);
    EXPECT_TRUE(WaitUntilReplayed(*w));
    ASSERT_TRUE(w->Close().ok());
  }
  uintmax_t SpoolBytes() const {
    std::error_code ec;
    const uintmax_t n = fs::file_size(options_.spool_path, ec);
    return ec ? 0 : n;
  }
  // The stored rows and budget spend are exactly those of rows [0, n), each once.
  void ExpectStoredOnce(int n) {
    EXPECT_EQ(Query(url_, "SELECT COUNT(*) FROM requests"), std::to_string(n));
    EXPECT_EQ(Query(url_, "SELECT COUNT(DISTINCT id) FROM requests"), std::to_string(n));
    EXPECT_EQ(Query(url_, "SELECT requests FROM budget_spend WHERE budget_id = 'bud_a'"),
              std::to_string(n));
    EXPECT_EQ(Query(url_, "SELECT requests FROM budget_spend WHERE budget_id = 'bud_b'"),
              std::to_string(n / 2));
    EXPECT_NEAR(
        std::stod(Query(url_, "SELECT spent_usd FROM budget_spend WHERE budget_id = 'bud_a'")),
        Spend(0, n, false), 1e-9);
    EXPECT_NEAR(
        std::stod(Query(url_, "SELECT spent_usd FROM budget_spend WHERE budget_id = 'bud_b'")),
        Spend(0, n, true), 1e-9);
    EXPECT_EQ(Query(url_, "SELECT COUNT(*) FROM budget_charges"), std::to_string(n + n / 2));
  }

  std::string url_;
  fs::path dir_;
  StorageOptions options_;
  std::unique_ptr<Storage> storage_;
  bool stopped_ = false;
};

// Rows appended while the server is down are durable in the spool at once,
// then stored in append order, once, when it is back; rows appended after it
// is back but before the spool is empty keep their place behind them.
TEST_F(PostgresSpool, OutageIsSpooledAndReplayedInOrderOnce) {
  auto w = Writer();
  ASSERT_TRUE(w);
  for (int i = 0; i < 5; ++i) w->Append(SpoolRow(i));
  ASSERT_TRUE(w->Flush().ok());
  Stop();
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 5; i < 405; ++i) w->Append(SpoolRow(i));
  ASSERT_TRUE(w->Flush().ok());
  EXPECT_LT(std::chrono::steady_clock::now() - t0,
            std::chrono::seconds(5));  // not the 10 s of retries
  EXPECT_EQ(w->spooled_rows(), 400u);
  EXPECT_EQ(w->failed_rows(), 0u);
  EXPECT_GT(SpoolBytes(), 0u);
  for (int i = 405; i < 410; ++i) w->Append(SpoolRow(i));  // a second batch while down
  ASSERT_TRUE(w->Flush().ok());
  EXPECT_EQ(w->spooled_rows(), 405u);
  Start();
  ASSERT_TRUE(WaitUntilReplayed(*w));
  EXPECT_EQ(SpoolBytes(), 0u);
  for (int i = 410; i < 420; ++i) w->Append(SpoolRow(i));
  ASSERT_TRUE(w->Flush().ok());
  ASSERT_TRUE(w->Close().ok());
  EXPECT_EQ(w->failed_rows(), 0u);
  ExpectStoredOnce(420);
  // seq follows the order the rows were appended in (ts_start_ms grows with i).
  EXPECT_EQ(
      Query(url_,
            "SELECT COUNT(*) FROM (SELECT ts_start_ms, LAG(ts_start_ms) OVER (ORDER BY seq) AS prev"
            " FROM requests) t WHERE prev > ts_start_ms"),
      "0");
  // Every column survived the spool: one row read back as stored.
  EXPECT_EQ(Query(url_,
                  "SELECT concat_ws('|', \"user\", served_model, input_tokens, reasoning_tokens, "
                  "latency_ms,"
                  " ttft_ms, quality) FROM requests WHERE id = 'spool_7'"),
            "bob\twith\ttabs|gpt-4o-mini|107|2|47.5|12.25|0.5");
}

// A writer closed while the server is down leaves its spool; the next writer
// replays it at open.
TEST_F(PostgresSpool, SpoolLeftByAClosedWriterIsReplayedByTheNext) {
  auto w = Writer();  // opening needs the server
  ASSERT_TRUE(w);
  Stop();
  for (int i = 0; i < 100; ++i) w->Append(SpoolRow(i));
  ASSERT_TRUE(w->Close().ok());  // durable in the spool
  EXPECT_EQ(w->spooled_rows(), 100u);
  EXPECT_GT(SpoolBytes(), 0u);
  Start();
  EXPECT_EQ(Query(url_, "SELECT COUNT(*) FROM requests"), "0");
  ReplayInNewWriter();
  ExpectStoredOnce(100);
  EXPECT_EQ(SpoolBytes(), 0u);
}

// A crash after the replay committed but before the spool was truncated: the
// same spool replayed again stores nothing twice and charges nothing twice.
TEST_F(PostgresSpool, SpoolReplayedTwiceStoresAndChargesOnce) {
  auto w = Writer();
  ASSERT_TRUE(w);
  Stop();
  for (int i = 0; i < 60; ++i) w->Append(SpoolRow(i));
  ASSERT_TRUE(w->Flush().ok());
  for (int i = 60; i < 100; ++i) w->Append(SpoolRow(i));
  ASSERT_TRUE(w->Close().ok());
  const fs::path copy = dir_ / "copy.spool";
  fs::copy_file(options_.spool_path, copy);
  Start();
  for (int round = 0; round < 2; ++round) {
    if (round == 1) fs::copy_file(copy, options_.spool_path, fs::copy_options::overwrite_existing);
    ReplayInNewWriter();
    ExpectStoredOnce(100);
  }
  EXPECT_EQ(Query(url_, "SELECT MAX(seq) FROM requests"), "100");  // no seq spent on the replay
}

// A spool whose last batch was cut short (a crash mid-write) or followed by
// garbage: the whole batches are replayed, the tail is kept aside in
// .corrupt, and nothing crashes.
TEST_F(PostgresSpool, TornSpoolTailIsReportedAndTheWholeBatchesReplayed) {
  auto w = Writer();
  ASSERT_TRUE(w);
  Stop();
  for (int i = 0; i < 30; ++i) w->Append(SpoolRow(i));
  ASSERT_TRUE(w->Flush().ok());
  const uintmax_t first = SpoolBytes();
  for (int i = 30; i < 50; ++i) w->Append(SpoolRow(i));
  ASSERT_TRUE(w->Close().ok());
  ASSERT_GT(SpoolBytes(), first);
  fs::resize_file(options_.spool_path, SpoolBytes() - 7);  // the second batch, torn
  Start();
  ReplayInNewWriter();
  ExpectStoredOnce(30);
  EXPECT_GT(fs::file_size(options_.spool_path + ".corrupt"), 0u);
  EXPECT_EQ(SpoolBytes(), 0u);

  // A file that is garbage from its first byte (a length no batch has).
  {
    std::ofstream f(options_.spool_path, std::ios::binary | std::ios::trunc);
    f << "TGS1\xff\xff\xff\x7fnot a batch";
  }
  ReplayInNewWriter();
  ExpectStoredOnce(30);
  EXPECT_EQ(SpoolBytes(), 0u);
}

// Two writers (replicas started in one folder) cannot share one spool file.
TEST_F(PostgresSpool, ASpoolFileBelongsToOneWriter) {
  auto w = Writer();
  ASSERT_TRUE(w);
  auto second = storage_->OpenWriter();
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("spool_path"), std::string::npos)
      << second.status().message();
  ASSERT_TRUE(w->Close().ok());
  auto after = storage_->OpenWriter();  // the lock goes with the writer
  ASSERT_TRUE(after.ok()) << after.status().message();
}

}  // namespace
}  // namespace tollgate::ledger
