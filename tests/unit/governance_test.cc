#include <gtest/gtest.h>

#include <filesystem>
#include <thread>
#include <vector>

#include "common/util.h"
#include "governance/counters.h"
#include "governance/rate_limiter.h"
#include "governance/reconcile.h"
#include "governance/store.h"
#include "governance/window.h"

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
  auto store = Store::Open(TempDb());
  ASSERT_TRUE(store.ok());
  Budget b;
  b.name = "g";
  b.scope = "global";
  b.limit_usd = 10;
  auto put = (*store)->PutBudget(b, "test");
  ASSERT_TRUE(put.ok());
  sqlite3* db = (*store)->db();
  ASSERT_EQ(sqlite3_exec(db,
                         "INSERT INTO requests (id, ts_start_ms, ts_end_ms, endpoint, status, cost_usd) VALUES"
                         " ('r1', 1, 2, 'chat.completions', 200, 0.25), ('r2', 1, 2, 'chat.completions', 200, 0.5);",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  std::string charges = "INSERT INTO budget_charges VALUES ('r1','" + put->id + "',0), ('r2','" + put->id + "',0);";
  ASSERT_EQ(sqlite3_exec(db, charges.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
  ASSERT_TRUE((*store)->SetSpend({put->id, 0, 0.75, 2}).ok());
  auto ok = Reconcile(**store, false);
  ASSERT_TRUE(ok.ok());
  ASSERT_EQ(ok->size(), 1u);
  EXPECT_TRUE((*ok)[0].agrees);
  ASSERT_TRUE((*store)->SetSpend({put->id, 0, 0.10, 1}).ok());  // tampered
  auto bad = Reconcile(**store, false);
  EXPECT_FALSE((*bad)[0].agrees);
  auto fixed = Reconcile(**store, true);
  EXPECT_FALSE((*fixed)[0].agrees);
  auto again = Reconcile(**store, false);
  EXPECT_TRUE((*again)[0].agrees);
  EXPECT_NEAR((*again)[0].counter_usd, 0.75, 1e-12);
}

}  // namespace
}  // namespace tollgate::governance
