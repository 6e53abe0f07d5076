#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <chrono>
#include <filesystem>
#include <thread>
#include <vector>

#include "common/util.h"
#include "config/config.h"
#include "governance/counters.h"
#include "governance/governor.h"
#include "governance/rate_limiter.h"
#include "governance/reconcile.h"
#include "governance/store.h"
#include "governance/window.h"
#include "ledger/sqlite_schema.h"
#include "ledger/storage.h"

namespace tollgate::governance {
namespace {

std::string TempDb() {
  auto dir = std::filesystem::temp_directory_path() / ("tollgate-gov-" + NewRequestId());
  std::filesystem::create_directories(dir);
  return (dir / "s.db").string();
}

TEST(Window, CalendarBoundariesInUtc) {
  ASSERT_TRUE(SetTimezone("UTC").ok());
  const int64_t wed = *ParseDateUtcMs("2026-11-25") + 13 * 3600000LL;  // Wednesday 13:00
  EXPECT_EQ(WindowStart(Window::kDaily, wed), *ParseDateUtcMs("2026-11-25"));
  EXPECT_EQ(WindowEnd(Window::kDaily, wed), *ParseDateUtcMs("2026-11-26"));
  EXPECT_EQ(WindowStart(Window::kWeekly, wed), *ParseDateUtcMs("2026-11-23"));  // Monday
  EXPECT_EQ(WindowEnd(Window::kWeekly, wed), *ParseDateUtcMs("2026-11-30"));
  EXPECT_EQ(WindowStart(Window::kMonthly, wed), *ParseDateUtcMs("2026-11-01"));
  EXPECT_EQ(WindowEnd(Window::kMonthly, wed), *ParseDateUtcMs("2026-12-01"));
  EXPECT_EQ(WindowStart(Window::kLifetime, wed), 0);
}

TEST(Window, ConfiguredTimezoneShiftsTheDay) {
  ASSERT_TRUE(SetTimezone("Asia/Tokyo").ok());  // UTC+9, no DST
  const int64_t t = *ParseDateUtcMs("2026-11-25") + 20 * 3600000LL;  // 05:00 on the 26th in Tokyo
  EXPECT_EQ(WindowStart(Window::kDaily, t), *ParseDateUtcMs("2026-11-25") + 15 * 3600000LL);
  EXPECT_FALSE(SetTimezone("Mars/Olympus").ok());
  ASSERT_TRUE(SetTimezone("UTC").ok());
}

TEST(Counters, ConcurrentReservationsNeverExceedTheLimit) {
  LocalCounterStore store;
  std::vector<BudgetSlot> slots{{"b1", "b1", 0, 0, 1.0, -1}};
  std::atomic<int> admitted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 100; ++i) {
        if (store.Reserve(slots, 0.03).ok) {
          admitted.fetch_add(1);
          store.Settle(slots, 0.03, 0.01);  // actual cost is below the reservation
        }
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_LE(store.Spent("b1", 0), 1.0 + 1e-9);
  EXPECT_GE(store.Spent("b1", 0), 0.97 - 1e-9);  // stops within one reservation of the limit
  EXPECT_EQ(admitted.load(), static_cast<int>(store.Spent("b1", 0) / 0.01 + 0.5));
}

TEST(Counters, AllOrNothingAcrossBudgetsAndSoftCrossing) {
  LocalCounterStore store;
  std::vector<BudgetSlot> slots{{"big", "big", 0, 0, 100, 0.5}, {"small", "small", 0, 0, 1.0, -1}};
  store.Seed("small", 0, 0.9);
  ReserveResult r = store.Reserve(slots, 0.2);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.failed_slot, 1u);
  EXPECT_NEAR(store.Headroom(slots), 0.1, 1e-12);
  ASSERT_TRUE(store.Reserve(slots, 0.05).ok);
  auto crossed = store.Settle(slots, 0.05, 0.6);
  ASSERT_EQ(crossed.size(), 1u);
  EXPECT_EQ(crossed[0], 0u);  // "big" crossed its 0.5 soft limit
}

TEST(RateLimiter, RequestsTokensAndDollarsPerMinute) {
  RateLimiter rl;
  const int64_t t0 = 120000;  // start of a minute
  RateLimits l{2, 1000, 0};
  EXPECT_TRUE(rl.Admit("k", l, 100, 0, t0).ok);
  EXPECT_TRUE(rl.Admit("k", l, 100, 0, t0 + 1).ok);
  RateDecision d = rl.Admit("k", l, 100, 0, t0 + 2);
  EXPECT_FALSE(d.ok);
  EXPECT_EQ(d.dimension, "requests");
  EXPECT_EQ(d.reset_s, 60);
  EXPECT_TRUE(rl.Admit("k", l, 100, 0, t0 + 60000).ok);  // next minute
  RateLimits tok{0, 500, 0};
  EXPECT_TRUE(rl.Admit("t", tok, 400, 0, t0).ok);
  EXPECT_FALSE(rl.Admit("t", tok, 200, 0, t0).ok);
  rl.Adjust("t", RateLimiter::MinuteOf(t0), 0, -300, 0);  // actual usage was lower
  EXPECT_TRUE(rl.Admit("t", tok, 200, 0, t0).ok);
  RateLimits usd{0, 0, 1.0};
  EXPECT_TRUE(rl.Admit("u", usd, 0, 0.6, t0).ok);
  EXPECT_EQ(rl.Admit("u", usd, 0, 0.6, t0).dimension, "usd");
}

TEST(Store, KeysAreHashedRevocableAndRotatable) {
  auto store = Store::Open(TempDb());
  ASSERT_TRUE(store.ok());
  KeySpec spec;
  spec.name = "ci";
  spec.project = "p";
  spec.allowed_models = {"m1"};
  std::string secret;
  auto k = (*store)->CreateKey(spec, "test", &secret);
  ASSERT_TRUE(k.ok()) << k.status().ToString();
  EXPECT_EQ(secret.rfind("tg-", 0), 0u);
  EXPECT_EQ(k->secret_hash, Sha256Hex(secret));
  EXPECT_FALSE((*store)->CreateKey(spec, "test", &secret).ok());  // duplicate name
  auto v1 = (*store)->StateVersion();
  auto rotated = (*store)->RotateKey("ci", "test");
  ASSERT_TRUE(rotated.ok());
  EXPECT_NE(*rotated, secret);
  EXPECT_GT(*(*store)->StateVersion(), *v1);
  ASSERT_TRUE((*store)->RevokeKey(k->id, "test").ok());
  EXPECT_FALSE((*store)->RevokeKey(k->id, "test").ok());
  EXPECT_EQ((*store)->ListKeys(false)->size(), 0u);
  EXPECT_EQ((*store)->ListKeys(true)->size(), 1u);
  auto audit = (*store)->ListAudit(10);
  ASSERT_TRUE(audit.ok());
  EXPECT_EQ(audit->size(), 3u);
  for (const auto& e : *audit) EXPECT_EQ(e.detail.find(secret), std::string::npos);
}

TEST(Store, BudgetValidation) {
  Budget b;
  b.name = "x";
  b.scope = "team";
  b.limit_usd = 1;
  EXPECT_FALSE(ValidateBudget(b).ok());  // team needs a subject
  b.subject = "t";
  EXPECT_TRUE(ValidateBudget(b).ok());
  b.soft_limit_usd = 2;
  EXPECT_FALSE(ValidateBudget(b).ok());  // soft above hard
  b.scope = "galaxy";
  EXPECT_FALSE(ValidateBudget(b).ok());
}

TEST(Reconcile, DetectsAndRepairsTamperedCounters) {
  const std::string path = TempDb();
  auto storage = ledger::OpenLedger(path);
  ASSERT_TRUE(storage.ok());
  auto store = Store::Open(**storage);
  ASSERT_TRUE(store.ok());
  Budget b;
  b.name = "g";
  b.scope = "global";
  b.limit_usd = 10;
  auto put = (*store)->PutBudget(b, "test");
  ASSERT_TRUE(put.ok());
  // Rows and charges as a SQLite fixture (the writer would also charge the counters).
  auto db = ledger::OpenAndMigrate(path);
  ASSERT_TRUE(db.ok());
  ASSERT_EQ(sqlite3_exec(*db,
                         "INSERT INTO requests (id, ts_start_ms, ts_end_ms, endpoint, status, cost_usd) VALUES"
                         " ('r1', 1, 2, 'chat.completions', 200, 0.25), ('r2', 1, 2, 'chat.completions', 200, 0.5);",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  std::string charges = "INSERT INTO budget_charges VALUES ('r1','" + put->id + "',0), ('r2','" + put->id + "',0);";
  ASSERT_EQ(sqlite3_exec(*db, charges.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(*db);
  auto reader = (*storage)->OpenReader();
  ASSERT_TRUE((*store)->SetSpend({put->id, 0, 0.75, 2}).ok());
  auto ok = Reconcile(**store, *reader, false);
  ASSERT_TRUE(ok.ok());
  ASSERT_EQ(ok->size(), 1u);
  EXPECT_TRUE((*ok)[0].agrees);
  ASSERT_TRUE((*store)->SetSpend({put->id, 0, 0.10, 1}).ok());  // tampered
  auto bad = Reconcile(**store, *reader, false);
  EXPECT_FALSE((*bad)[0].agrees);
  auto fixed = Reconcile(**store, *reader, true);
  EXPECT_FALSE((*fixed)[0].agrees);
  auto again = Reconcile(**store, *reader, false);
  EXPECT_TRUE((*again)[0].agrees);
  EXPECT_NEAR((*again)[0].counter_usd, 0.75, 1e-12);
}

// A counter store on another machine: every answer comes later, from a
// thread of its own (what a networked store does).
class RemoteCounterStore final : public CounterStore {
 public:
  using CounterStore::Spent;
  using CounterStore::Window;
  ~RemoteCounterStore() override { Drain(); }
  // Waits for every answer (answers may start new calls: admission chains them).
  void Drain() {
    for (;;) {
      std::vector<std::thread> running;
      {
        std::lock_guard<std::mutex> lock(mu_);
        running.swap(threads_);
      }
      if (running.empty()) return;
      joined_ += static_cast<int>(running.size());
      for (auto& t : running) t.join();
    }
  }
  void Seed(const std::string& id, int64_t start, double spent) override { local_.Seed(id, start, spent); }
  void Reserve(const std::vector<BudgetSlot>& slots, double amount, Completion<ReserveResult> done) override {
    Later([this, slots, amount, done] { local_.Reserve(slots, amount, done); });
  }
  void Settle(const std::vector<BudgetSlot>& slots, const std::string& ticket, double reserved, double actual,
              Completion<std::vector<SoftLimitCrossing>> done) override {
    Later([this, slots, ticket, reserved, actual, done] { local_.Settle(slots, ticket, reserved, actual, done); });
  }
  void Window(const std::string& id, int64_t start, Completion<WindowState> done) override {
    Later([this, id, start, done] { local_.Window(id, start, done); });
  }
  void Spent(const std::string& id, int64_t start, Completion<double> done) override {
    Later([this, id, start, done] { local_.Spent(id, start, done); });
  }
  void AdmitRates(const std::vector<RateSubject>& subjects, int64_t tokens, double usd, int64_t now_ms,
                  Completion<RateOutcome> done) override {
    Later([this, subjects, tokens, usd, now_ms, done] { local_.AdmitRates(subjects, tokens, usd, now_ms, done); });
  }
  void AdjustRates(const std::vector<std::string>& subjects, int64_t minute, int64_t requests, int64_t tokens,
                   double usd) override {
    local_.AdjustRates(subjects, minute, requests, tokens, usd);
  }
  int calls() {
    Drain();
    return joined_;
  }

 private:
  void Later(std::function<void()> answer) {
    std::lock_guard<std::mutex> lock(mu_);
    threads_.emplace_back([answer = std::move(answer)] {
      std::this_thread::sleep_for(std::chrono::milliseconds(15));
      answer();
    });
  }
  LocalCounterStore local_;
  std::mutex mu_;
  std::vector<std::thread> threads_;  // GUARDED_BY(mu_)
  int joined_ = 0;                    // only Drain's caller
};

const char* kGovernedConfig = R"(
providers:
  - name: sim
    type: sim
models:
  - name: m
    deployments: [{provider: sim}]
  - name: n
    deployments: [{provider: sim}]
budgets:
  - {name: small, scope: global, window: lifetime, limit_usd: 1.0}
rate_limits:
  - {model: m, rpm: 3}
)";

RequestFacts Facts(const std::string& model, double worst_usd) {
  RequestFacts f;
  f.model = model;
  f.input_tokens_bound = 1000;
  f.max_output_tokens = 1000;
  f.input_usd_per_token = worst_usd / 2000;
  f.output_usd_per_token = worst_usd / 2000;
  return f;
}

// Three requests for m pass its rpm, the fourth is refused by it; then two for
// n ($0.3 each) against the $1 budget holding $0.6: one fits, one is refused.
const char* const kExpectedCodes[] = {"", "", "", "rate_limit_exceeded", "", "budget_exceeded"};

// A Governor over kGovernedConfig and an empty in-memory store, counting with `counters`.
struct Governed {
  explicit Governed(CounterStore& counters) {
    auto c = config::ParseConfig(kGovernedConfig, "governed.yaml");
    EXPECT_TRUE(c.ok()) << c.status().message();
    cfg = std::make_unique<config::Config>(std::move(*c));
    auto g = Governor::Create(*cfg, *storage, counters);
    EXPECT_TRUE(g.ok()) << g.status().message();
    if (g.ok()) gov = std::move(*g);
  }
  std::unique_ptr<config::Config> cfg;
  std::unique_ptr<ledger::Storage> storage = ledger::NewMemoryStorage();
  std::unique_ptr<Governor> gov;
};

TEST(Governor, AdmitAsyncAwaitsARemoteStoreWithoutBlockingTheLoop) {
  RemoteCounterStore counters;
  Governed governed(counters);
  ASSERT_TRUE(governed.gov);
  Governor* gov = governed.gov.get();
  namespace asio = boost::asio;
  asio::io_context ioc;
  // A timer on the same loop keeps firing while requests wait for the store.
  int ticks = 0;
  bool finished = false;  // a tick already queued when the timer is cancelled must not re-arm it
  asio::steady_timer timer(ioc);
  std::function<void()> tick = [&] {
    timer.expires_after(std::chrono::milliseconds(1));
    timer.async_wait([&](boost::system::error_code ec) {
      if (ec || finished) return;
      ++ticks;
      tick();
    });
  };
  tick();
  const std::thread::id loop_thread = std::this_thread::get_id();
  std::vector<std::string> codes;
  auto requests = [&]() -> asio::awaitable<void> {
    for (int i = 0; i < 6; ++i) {
      Admission a;
      const RequestFacts f = i < 4 ? Facts("m", 0.2) : Facts("n", 0.3);
      const int before = ticks;
      std::optional<Denial> d = co_await gov->AdmitAsync(nullptr, f, &a);
      EXPECT_GT(ticks, before) << i;  // the loop ran while this request waited
      EXPECT_EQ(std::this_thread::get_id(), loop_thread) << i;  // resumed on its own loop
      codes.push_back(d ? d->code : "");
      if (!d) gov->Settle(a, f.model == "m" ? 0.2 : 0.3, 2000);
    }
    finished = true;
    timer.cancel();
  };
  asio::co_spawn(ioc, requests, asio::detached);
  ioc.run();
  ASSERT_EQ(codes.size(), 6u);
  for (size_t i = 0; i < 6; ++i) EXPECT_EQ(codes[i], kExpectedCodes[i]) << i;
  EXPECT_GT(counters.calls(), 6);
  // Off the loop, Admit waits for the store.
  Admission a;
  auto d = gov->Admit(nullptr, Facts("n", 0.3), &a);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->code, "budget_exceeded");
  counters.Drain();  // before the Governor its answers call back into goes
}

TEST(Governor, AdmitAsyncWithTheInProcessStoreNeverSuspends) {
  LocalCounterStore counters;
  Governed governed(counters);
  ASSERT_TRUE(governed.gov);
  Governor* gov = governed.gov.get();
  namespace asio = boost::asio;
  asio::io_context ioc;
  std::vector<std::string> codes;
  bool suspended = false;
  auto requests = [&]() -> asio::awaitable<void> {
    for (int i = 0; i < 6; ++i) {
      bool posted = false;
      asio::post(ioc, [&posted] { posted = true; });  // runs at the first suspension
      Admission a;
      const RequestFacts f = i < 4 ? Facts("m", 0.2) : Facts("n", 0.3);
      std::optional<Denial> d = co_await gov->AdmitAsync(nullptr, f, &a);
      suspended = suspended || posted;
      codes.push_back(d ? d->code : "");
      if (!d) gov->Settle(a, f.model == "m" ? 0.2 : 0.3, 2000);
      co_await asio::post(ioc, asio::use_awaitable);  // let `posted` run before its frame goes
    }
  };
  asio::co_spawn(ioc, requests, asio::detached);
  ioc.run();
  EXPECT_FALSE(suspended);
  ASSERT_EQ(codes.size(), 6u);
  for (size_t i = 0; i < 6; ++i) EXPECT_EQ(codes[i], kExpectedCodes[i]) << i;
  EXPECT_NEAR(counters.SpentNow(gov->BudgetStatus().front().first.id, 0), 0.9, 1e-9);
}

}  // namespace
}  // namespace tollgate::governance
