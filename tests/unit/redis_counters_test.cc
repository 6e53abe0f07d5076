// The counter stores against one contract: the in-process store and the Redis
// store (a real redis-server per test), then what only the Redis store does:
// several replicas on one budget, expiring reservations, settlements applied
// once, seeding that never adds, and both policies while Redis is down.
#include "governance/redis_counters.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <thread>

#include "common/util.h"
#include "governance/counters.h"
#include "redis_test_server.h"

namespace tollgate::governance {
namespace {

using testing::RedisTestServer;

BudgetSlot Slot(const std::string& id, double limit, double soft = -1) {
  BudgetSlot s;
  s.budget_id = id;
  s.budget_name = id;
  s.window_start_ms = 1000;
  s.window_end_ms = NowUnixMs() + 3600000;
  s.limit_usd = limit;
  s.soft_limit_usd = soft;
  return s;
}

ReserveResult Reserve(CounterStore& c, const std::vector<BudgetSlot>& slots, double amount) {
  return WaitFor<ReserveResult>(
      [&](Completion<ReserveResult> done) { c.Reserve(slots, amount, std::move(done)); });
}
std::vector<SoftLimitCrossing> Settle(CounterStore& c, const std::vector<BudgetSlot>& slots,
                                      const std::string& ticket, double reserved, double actual) {
  return WaitFor<std::vector<SoftLimitCrossing>>(
      [&](Completion<std::vector<SoftLimitCrossing>> done) {
        c.Settle(slots, ticket, reserved, actual, std::move(done));
      });
}
RateOutcome Rates(CounterStore& c, const std::vector<RateSubject>& subjects, int64_t tokens = 10) {
  return WaitFor<RateOutcome>([&](Completion<RateOutcome> done) {
    c.AdmitRates(subjects, tokens, 0.001, NowUnixMs(), std::move(done));
  });
}

std::unique_ptr<CounterStore> OpenRedis(
    const RedisTestServer& server,
    config::CountersPolicy policy = config::CountersPolicy::kFailClosed, int64_t replicas = 1,
    int64_t ttl_ms = 60000, std::function<Result<std::vector<SpendRow>>()> reseed = nullptr) {
  RedisCounterOptions o;
  o.url = server.url();
  o.policy = policy;
  o.replicas = replicas;
  o.timeout_ms = 200;
  o.reservation_ttl_ms = ttl_ms;
  o.reseed = std::move(reseed);
  auto s = RedisCounterStore::Open(std::move(o));
  EXPECT_TRUE(s.ok()) << s.status().message();
  return std::move(*s);
}

// Waits up to 5 s for `pred`.
template <class Pred>
bool Eventually(Pred pred) {
  for (int i = 0; i < 500; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

// ---- The contract, on both stores.

class CounterContract : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    if (!GetParam()) {
      store_ = std::make_unique<LocalCounterStore>();
      return;
    }
    redis_ = std::make_unique<RedisTestServer>();
    Status st = redis_->Start();
    if (st.code() == StatusCode::kNotFound) GTEST_SKIP() << st.message();
    ASSERT_TRUE(st.ok()) << st.message();
    store_ = OpenRedis(*redis_);
  }
  void TearDown() override {
    store_.reset();
    redis_.reset();
  }
  std::unique_ptr<RedisTestServer> redis_;
  std::unique_ptr<CounterStore> store_;
};

TEST_P(CounterContract, ReservesOnEverySlotOrNone) {
  std::vector<BudgetSlot> slots{Slot("a", 1.0), Slot("b", 0.5)};
  ReserveResult r = Reserve(*store_, slots, 0.3);
  ASSERT_TRUE(r.ok);
  EXPECT_NEAR(r.headroom, 0.5, 1e-12);  // before this reservation
  r = Reserve(*store_, slots, 0.3);     // b has 0.2 left: refused, nothing reserved
  ASSERT_FALSE(r.ok);
  EXPECT_FALSE(r.unavailable);
  EXPECT_EQ(r.failed_slot, 1u);
  EXPECT_NEAR(r.spent, 0.3, 1e-12);
  WindowState a = store_->Window("a", 1000);
  ASSERT_TRUE(a.ok);
  EXPECT_NEAR(a.reserved, 0.3, 1e-12);
}

TEST_P(CounterContract, SettleReplacesTheReservationByTheCost) {
  std::vector<BudgetSlot> slots{Slot("a", 1.0, 0.25)};
  ReserveResult r = Reserve(*store_, slots, 0.3);
  ASSERT_TRUE(r.ok);
  auto crossed = Settle(*store_, slots, r.ticket, 0.3, 0.2);
  EXPECT_TRUE(crossed.empty());
  r = Reserve(*store_, slots, 0.3);
  ASSERT_TRUE(r.ok);
  crossed = Settle(*store_, slots, r.ticket, 0.3, 0.1);
  ASSERT_EQ(crossed.size(), 1u);  // 0.2 -> 0.3 crossed the soft limit 0.25
  EXPECT_NEAR(crossed[0].spent, 0.3, 1e-12);
  EXPECT_NEAR(store_->Spent("a", 1000), 0.3, 1e-12);
  WindowState w = store_->Window("a", 1000);
  EXPECT_NEAR(w.reserved, 0, 1e-12);
}

TEST_P(CounterContract, RatesAreAllOrNothing) {
  RateSubject key{"key:k1", RateLimits{3, 0, 0}};
  RateSubject model{"model:m", RateLimits{0, 25, 0}};
  EXPECT_TRUE(Rates(*store_, {key, model}).ok);
  EXPECT_TRUE(Rates(*store_, {key, model}).ok);
  RateOutcome o = Rates(*store_, {key, model});  // 30 tokens > 25: the model refuses
  ASSERT_FALSE(o.ok);
  EXPECT_EQ(o.failed_subject, 1u);
  EXPECT_EQ(o.decision.dimension, "tokens");
  // The key was not charged for the refused request: one request left.
  EXPECT_TRUE(Rates(*store_, {key}).ok);
  o = Rates(*store_, {key});
  ASSERT_FALSE(o.ok);
  EXPECT_EQ(o.decision.dimension, "requests");
  EXPECT_EQ(o.decision.limit, 3);
  // Giving a request back makes room for one more.
  store_->AdjustRates({"key:k1"}, RateLimiter::MinuteOf(NowUnixMs()), -1, 0, 0);
  EXPECT_TRUE(Eventually([&] { return Rates(*store_, {key}).ok; }));
}

INSTANTIATE_TEST_SUITE_P(Stores, CounterContract, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Redis" : "InProcess"; });

// ---- Redis only.

TEST(RedisCounters, ThreeReplicasHoldOneBudget) {
  TG_REDIS_SERVER(redis);
  std::vector<std::unique_ptr<CounterStore>> replicas;
  for (int i = 0; i < 3; ++i) replicas.push_back(OpenRedis(redis));
  const std::vector<BudgetSlot> slots{Slot("team", 1.0)};
  std::atomic<int> admitted{0};
  std::atomic<int64_t> settled_micros{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t)
    threads.emplace_back([&, t] {
      CounterStore& c = *replicas[static_cast<size_t>(t % 3)];
      for (int i = 0; i < 50; ++i) {
        ReserveResult r = Reserve(c, slots, 0.02);
        if (!r.ok) continue;
        admitted.fetch_add(1);
        Settle(c, slots, r.ticket, 0.02, 0.015);
        settled_micros.fetch_add(15000);
      }
    });
  for (auto& th : threads) th.join();
  const double spent = replicas[0]->Spent("team", 1000);
  // Reservations of 0.02 against $1: never more than 1/0.015 settled requests.
  EXPECT_LE(spent, 1.0 + 1e-9);
  EXPECT_NEAR(spent, static_cast<double>(settled_micros.load()) / 1e6, 1e-9);
  EXPECT_GE(admitted.load(), 50);  // at least 1.0/0.02 requests fit
  EXPECT_NEAR(replicas[1]->Window("team", 1000).reserved, 0, 1e-12);
}

TEST(RedisCounters, UnsettledReservationsExpire) {
  TG_REDIS_SERVER(redis);
  auto store = OpenRedis(redis, config::CountersPolicy::kFailClosed, 1, /*ttl_ms=*/200);
  const std::vector<BudgetSlot> slots{Slot("b", 1.0)};
  ReserveResult dead = Reserve(*store, slots, 0.9);  // a replica that then died
  ASSERT_TRUE(dead.ok);
  EXPECT_FALSE(Reserve(*store, slots, 0.5).ok);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ReserveResult r = Reserve(*store, slots, 0.5);  // the dead one has expired
  ASSERT_TRUE(r.ok);
  WindowState w = store->Window("b", 1000);
  EXPECT_EQ(w.expired, 1);
  EXPECT_EQ(w.reservations, 1);
  EXPECT_NEAR(w.reserved, 0.5, 1e-12);
  // A late settlement of the expired one counts its cost once and frees nothing else.
  Settle(*store, slots, dead.ticket, 0.9, 0.1);
  w = store->Window("b", 1000);
  EXPECT_NEAR(w.spent, 0.1, 1e-12);
  EXPECT_NEAR(w.reserved, 0.5, 1e-12);
}

TEST(RedisCounters, ASettlementAppliesOnce) {
  TG_REDIS_SERVER(redis);
  auto store = OpenRedis(redis);
  const std::vector<BudgetSlot> slots{Slot("b", 1.0)};
  ReserveResult r = Reserve(*store, slots, 0.2);
  ASSERT_TRUE(r.ok);
  Settle(*store, slots, r.ticket, 0.2, 0.05);
  Settle(*store, slots, r.ticket, 0.2, 0.05);  // resent after a lost reply
  EXPECT_NEAR(store->Spent("b", 1000), 0.05, 1e-12);
}

TEST(RedisCounters, SeedSetsAndNeverAdds) {
  TG_REDIS_SERVER(redis);
  auto first = OpenRedis(redis);
  first->Seed("b", 1000, 0.4);
  EXPECT_TRUE(Eventually([&] { return std::fabs(first->Spent("b", 1000) - 0.4) < 1e-12; }));
  auto second = OpenRedis(redis);  // another replica starting later, from a stale ledger
  second->Seed("b", 1000, 0.3);
  second->Seed("b", 1000, 0.3);
  EXPECT_NEAR(second->Spent("b", 1000), 0.4, 1e-12);
  second->Repair("b", 1000, 0.3);  // reconcile --repair overwrites
  EXPECT_NEAR(first->Spent("b", 1000), 0.3, 1e-12);
}

TEST(RedisCounters, FailClosedRefusesWhileRedisIsDown) {
  TG_REDIS_SERVER(redis);
  auto store = OpenRedis(redis);
  const std::vector<BudgetSlot> slots{Slot("b", 1.0)};
  ASSERT_TRUE(Reserve(*store, slots, 0.1).ok);
  redis.Kill();
  ReserveResult r = Reserve(*store, slots, 0.1);
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(r.unavailable);
  RateOutcome o = Rates(*store, {{"key:k", RateLimits{100, 0, 0}}});
  EXPECT_TRUE(o.unavailable);
  EXPECT_FALSE(store->Health().up);
  EXPECT_GE(store->Health().refused_unavailable, 2u);
  EXPECT_TRUE(std::isnan(store->Spent("b", 1000)));
  ASSERT_TRUE(redis.Start().ok());  // back (empty): admitted again
  EXPECT_TRUE(Eventually([&] { return Reserve(*store, slots, 0.1).ok; }));
  EXPECT_TRUE(store->Health().up);
}

TEST(RedisCounters, FailOpenAdmitsAgainstThisReplicasShare) {
  TG_REDIS_SERVER(redis);
  auto store = OpenRedis(redis, config::CountersPolicy::kFailOpen, /*replicas=*/2);
  const std::vector<BudgetSlot> slots{Slot("b", 1.0)};
  ReserveResult r = Reserve(*store, slots, 0.4);
  ASSERT_TRUE(r.ok);
  Settle(*store, slots, r.ticket, 0.4, 0.4);
  ASSERT_TRUE(Reserve(*store, slots, 0.01).ok);  // Redis last said: 0.4 spent (+0.01 reserved)
  redis.Pause();
  // Left: 1.0 - 0.41 = 0.59; this replica's half: 0.295, so two of 0.1 fit, not three.
  int admitted = 0;
  std::vector<std::string> tickets;
  for (int i = 0; i < 5; ++i) {
    ReserveResult l = Reserve(*store, slots, 0.1);
    EXPECT_FALSE(l.unavailable);
    if (l.ok) {
      ++admitted;
      tickets.push_back(l.ticket);
    }
  }
  EXPECT_EQ(admitted, 2);
  EXPECT_EQ(store->Health().local_admissions, 2u);
  // Rates: rpm 10 over 2 replicas: 5 here.
  int rated = 0;
  for (int i = 0; i < 8; ++i) rated += Rates(*store, {{"key:k", RateLimits{10, 0, 0}}}).ok ? 1 : 0;
  EXPECT_EQ(rated, 5);
  // Spend settled during the outage reaches Redis when it returns.
  for (const auto& t : tickets)
    store->Settle(slots, t, 0.1, 0.07, [](std::vector<SoftLimitCrossing>) {});
  EXPECT_TRUE(Eventually([&] { return store->Health().pending >= 2; }));
  redis.Resume();
  EXPECT_TRUE(Eventually([&] {
    return store->Health().pending == 0 && std::fabs(store->Spent("b", 1000) - 0.54) < 1e-9;
  })) << store->Spent("b", 1000);
}

TEST(RedisCounters, ARedisThatLostItsDataIsSeededFromTheLedger) {
  TG_REDIS_SERVER(redis);
  std::atomic<int> reseeds{0};
  auto store = OpenRedis(redis, config::CountersPolicy::kFailClosed, 1, 60000,
                         [&]() -> Result<std::vector<SpendRow>> {
                           reseeds.fetch_add(1);
                           return std::vector<SpendRow>{{"b", 1000, 0.25, 3}};
                         });
  EXPECT_TRUE(Eventually([&] { return std::fabs(store->Spent("b", 1000) - 0.25) < 1e-12; }));
  EXPECT_EQ(reseeds.load(), 1);
  redis.Kill();
  ASSERT_TRUE(redis.Start().ok());  // restarted empty
  EXPECT_TRUE(Eventually([&] { return std::fabs(store->Spent("b", 1000) - 0.25) < 1e-12; }));
  EXPECT_EQ(reseeds.load(), 2);
}

TEST(RedisCounters, AReplicaThatFindsAnotherSeedingDropsItsQueuedSettlements) {
  TG_REDIS_SERVER(redis);
  std::atomic<int> ledger_micros{200000};  // what the ledger's budget_spend says
  auto reseed = [&]() -> Result<std::vector<SpendRow>> {
    return std::vector<SpendRow>{{"b", 1000, ledger_micros.load() / 1e6, 1}};
  };
  auto a = OpenRedis(redis, config::CountersPolicy::kFailClosed, 2, 60000, reseed);
  auto b = OpenRedis(redis, config::CountersPolicy::kFailClosed, 2, 60000, reseed);
  ASSERT_TRUE(Eventually([&] { return std::fabs(a->Spent("b", 1000) - 0.2) < 1e-12; }));
  ASSERT_TRUE(Eventually([&] { return std::fabs(b->Spent("b", 1000) - 0.2) < 1e-12; }));
  redis.Kill();
  // Replica b settles $0.10 while Redis is down; its ledger row reaches the database.
  b->Settle({Slot("b", 1.0)}, "", 0, 0.1, [](std::vector<SoftLimitCrossing>) {});
  ledger_micros = 300000;
  ASSERT_TRUE(Eventually([&] { return b->Health().pending >= 1; }));
  ASSERT_TRUE(redis.Start().ok());  // back, empty
  // Whichever replica reconnects first seeds $0.30 from the ledger; the other
  // finds that seeding and drops its queued settlement: never $0.40.
  EXPECT_TRUE(Eventually([&] { return std::fabs(a->Spent("b", 1000) - 0.3) < 1e-12; }));
  EXPECT_TRUE(Eventually([&] { return b->Health().pending == 0; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_NEAR(b->Spent("b", 1000), 0.3, 1e-12);
}

TEST(RedisCounters, RejectsBadUrls) {
  for (const char* url :
       {"http://x", "redis://host:0", "redis://host:99999", "redis://host:6379/x"}) {
    RedisCounterOptions o;
    o.url = url;
    EXPECT_FALSE(RedisCounterStore::Open(o).ok()) << url;
  }
  auto a = ParseRedisUrl("redis://:s3cret@10.0.0.2:6380/2");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "10.0.0.2");
  EXPECT_EQ(a->port, 6380);
  EXPECT_EQ(a->password, "s3cret");
  EXPECT_EQ(a->db, 2);
}

}  // namespace
}  // namespace tollgate::governance
