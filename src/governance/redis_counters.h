// The Redis counter store: budget reservations, spend and per-minute rate
// windows shared by every replica (counters.url), so that a budget or a rate
// limit holds across a fleet instead of per replica. A request costs two
// atomic Lua scripts: one admission (its rate limits and its budget
// reservation, all or nothing) and one finish (rate corrections and the
// settlement), sent through a pipelined client thread (redis_client.h):
// nothing blocks an event loop.
//
// Keys (counters.key_prefix, default "tollgate:"):
//   <p>b:<budget>:<window>  hash: spent, reserved, live, expired, t<ticket> = amount
//   <p>r:<budget>:<window>  sorted set: ticket -> expiry (ms, Redis clock);
//                           ~ticket -> when a settled ticket may be forgotten
//   <p>q:<subject>:<minute> hash: r (requests), t (tokens), u (usd); expires
//   <p>epoch                set once the counters were seeded from the ledger
// A reservation expires counters.reservation_ttl_ms after it was made if it is
// never settled (its replica died). A settlement is applied at most once (the
// ~ticket record), so a settlement resent after a lost reply is harmless.
//
// When Redis cannot be reached, counters.policy decides: fail_closed answers
// `unavailable` (the Governor refuses with 503); fail_open admits against an
// in-process store holding this replica's 1/counters.replicas share of what
// was left of every limit, and sends that spend to Redis when it returns.
// Settlements are never dropped while Redis is down: they wait, in order.
// When Redis comes back without our keys (restarted empty), the counters are
// seeded again from the ledger's budget_spend, set and never added.
// Thread safety: every method may be called from any thread.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/mutex.h"
#include "common/status.h"
#include "config/closed_sets.h"
#include "config/config.h"
#include "governance/counters.h"
#include "governance/redis_client.h"
#include "governance/store.h"
#include "ledger/storage.h"

namespace tollgate::governance {

struct RedisCounterOptions {
  std::string url;  // redis://[:password@]host[:port][/db]
  config::CountersPolicy policy = config::CountersPolicy::kFailClosed;
  int64_t replicas = 1;
  int64_t timeout_ms = 250;
  int64_t reservation_ttl_ms = 900000;
  std::string key_prefix = "tollgate:";
  // The ledger's settled spend per window, read when Redis holds no counters
  // of ours (first start, or a Redis that restarted empty). Called on the
  // client thread; may block.
  std::function<Result<std::vector<SpendRow>>()> reseed;
};

class RedisCounterStore final : public CounterStore {
 public:
  // InvalidArgument for a bad URL. Does not wait for Redis: an unreachable
  // server is retried in the background and the policy applies meanwhile.
  static Result<std::unique_ptr<RedisCounterStore>> Open(RedisCounterOptions options);
  ~RedisCounterStore() override;

  using CounterStore::Spent;
  using CounterStore::Window;
  void Seed(const std::string& budget_id, int64_t window_start_ms, double spent) override;
  void Repair(const std::string& budget_id, int64_t window_start_ms, double spent) override;
  void Admit(const std::vector<RateSubject>& subjects, int64_t tokens, double usd, int64_t now_ms,
             const std::vector<BudgetSlot>& slots, double amount,
             Completion<AdmitOutcome> done) override;
  void Finish(const std::vector<std::string>& rate_subjects, int64_t minute, int64_t tokens_delta,
              double usd_delta, const std::vector<BudgetSlot>& slots, const std::string& ticket,
              double reserved, double actual,
              Completion<std::vector<SoftLimitCrossing>> done) override;
  // The single operations, each as an Admit or a Finish with the other half empty.
  void Reserve(const std::vector<BudgetSlot>& slots, double amount,
               Completion<ReserveResult> done) override;
  void Settle(const std::vector<BudgetSlot>& slots, const std::string& ticket, double reserved,
              double actual, Completion<std::vector<SoftLimitCrossing>> done) override;
  void AdmitRates(const std::vector<RateSubject>& subjects, int64_t tokens, double usd,
                  int64_t now_ms, Completion<RateOutcome> done) override;
  void AdjustRates(const std::vector<std::string>& subjects, int64_t minute, int64_t requests_delta,
                   int64_t tokens_delta, double usd_delta) override;
  void Spent(const std::string& budget_id, int64_t window_start_ms,
             Completion<double> done) override;
  void Window(const std::string& budget_id, int64_t window_start_ms,
              Completion<WindowState> done) override;
  CounterHealth Health() const override;
  void Quiesce() override { client_->WaitIdle(4 * opt_.timeout_ms + 1000); }

 private:
  explicit RedisCounterStore(RedisCounterOptions options);
  RedisClient::ConnectOutcome OnConnect(redisContext* c);
  std::string BudgetKey(const std::string& budget_id, int64_t window_start_ms) const;
  std::string ReservationsKey(const std::string& budget_id, int64_t window_start_ms) const;
  std::string RateKey(const std::string& subject, int64_t minute) const;
  // argv of one script call: EVALSHA sha numkeys keys... args...
  std::vector<std::string> Script(int which, const std::vector<std::string>& keys,
                                  const std::vector<std::string>& args) const;
  // fail_open: this replica's share of what was left of each slot's limit.
  std::vector<BudgetSlot> LocalShare(const std::vector<BudgetSlot>& slots);
  // Redis could not be reached: the policy's answer.
  void AdmitLocally(const std::vector<RateSubject>& subjects, int64_t tokens, double usd,
                    int64_t now_ms, const std::vector<BudgetSlot>& slots, double amount,
                    Completion<AdmitOutcome> done);
  // One finish script: rate corrections and a settlement, either part empty.
  void SendFinish(const std::vector<std::string>& subjects, int64_t minute, int64_t requests_delta,
                  int64_t tokens_delta, double usd_delta, const std::vector<BudgetSlot>& slots,
                  const std::string& ticket, double reserved, double actual,
                  Completion<std::vector<SoftLimitCrossing>> done);

  const RedisCounterOptions opt_;
  std::vector<std::string> shas_;  // the scripts' SHA1s, fixed before the client starts
  LocalCounterStore local_;        // fail_open's shares

  Mutex mu_;
  // Each slot's spend + reservations as Redis last reported it, for fail_open's shares.
  std::unordered_map<std::string, double> last_used_ GUARDED_BY(mu_);
  std::atomic<uint64_t> local_admissions_{0}, refused_{0};
  std::string seen_epoch_;  // the client thread's own (OnConnect): the last seeding it saw

  std::unique_ptr<RedisClient> client_;  // last: stopped first
};

// The counter store counters.url names: in process when empty, else Redis
// (seeded from `storage`'s budget spend). InvalidArgument for a bad URL.
Result<std::unique_ptr<CounterStore>> OpenCounterStore(const config::CountersConfig& cfg,
                                                       ledger::Storage& storage);

}  // namespace tollgate::governance
