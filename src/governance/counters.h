// Spend counters and rate-limit windows behind one interface, so that budgets
// and rate limits can be shared by several replicas (a Redis store) without
// touching the request path. Every operation completes through a callback: the
// in-process store (LocalCounterStore, the default) calls it before returning;
// a networked one calls it later, from its own thread, and the Governor resumes
// the request's coroutine on its event loop (Governor::AdmitAsync), so no
// store ever blocks a worker. The store is built by the composition root
// (src/cli) and injected into the Governor.
// Thread safety: every method may be called from any thread at once.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/mutex.h"
#include "governance/rate_limiter.h"

namespace tollgate::governance {

// One budget's current window, as a request sees it.
struct BudgetSlot {
  std::string budget_id;
  std::string budget_name;
  int64_t window_start_ms = 0;
  int64_t window_end_ms = 0;
  double limit_usd = -1;       // < 0: no hard limit
  double soft_limit_usd = -1;  // < 0: no soft limit
};

struct ReserveResult {
  bool ok = true;
  // The shared store could not be reached (nothing was reserved): the policy
  // decides (counters.policy; the Governor answers 503 under fail_closed).
  bool unavailable = false;
  // Names this reservation in Settle (the Redis store expires unsettled ones);
  // empty for the in-process store.
  std::string ticket;
  size_t failed_slot = 0;  // which slot refused, when !ok
  double spent = 0;        // that slot's spend + reservations at the time
  double headroom =
      0;  // min over hard-limited slots of limit - (spent + reserved), before this reservation
};

// A slot whose settled spend crossed its soft limit, and the spend after it.
struct SoftLimitCrossing {
  BudgetSlot slot;
  double spent = 0;
};

// A rate-limited subject ("key:<id>", "model:<name>") and its limits.
struct RateSubject {
  std::string name;
  RateLimits limits;
};

// The outcome of charging one request to several rate-limit subjects.
struct RateOutcome {
  bool ok = true;
  bool unavailable = false;   // the shared store could not be reached (nothing was charged)
  size_t failed_subject = 0;  // which subject refused, when !ok
  RateDecision decision;      // that subject's decision (the last subject's when ok)
};

// One admission's answer: the rate limits, then the budgets.
struct AdmitOutcome {
  bool unavailable = false;  // the shared store could not be reached (nothing was charged)
  RateOutcome rates;         // !rates.ok: a rate limit refused (nothing was charged)
  ReserveResult budget;      // !budget.ok: a budget refused (nothing was charged, rates included)
};

// One budget window as the store holds it (reconcile, the admin API).
struct WindowState {
  bool ok = true;            // false: the store could not be read
  double spent = 0;          // settled spend
  double reserved = 0;       // live reservations
  int64_t reservations = 0;  // live reservations, counted
  int64_t expired = 0;       // reservations that expired unsettled (their replica died)
};

// How the counter store is doing, for /metrics and logs.
struct CounterHealth {
  bool shared = false;   // a store shared by replicas (Redis)
  bool up = true;        // reachable now
  uint64_t pending = 0;  // settlements waiting to be applied (store unreachable)
  uint64_t local_admissions =
      0;  // admitted against this replica's share while unreachable (fail_open)
  uint64_t refused_unavailable = 0;  // refused because unreachable (fail_closed)
};

// Called exactly once with an operation's result: before the call returns, or
// later from another thread. It must not block.
template <class T>
using Completion = std::function<void(T)>;

class CounterStore {
 public:
  virtual ~CounterStore() = default;

  // Sets one window's settled spend, at start-up (from the state store's
  // budget_spend), before any request. A shared store keeps a value it
  // already holds (another replica is counting it): it sets, never adds.
  virtual void Seed(const std::string& budget_id, int64_t window_start_ms, double spent) = 0;
  // Overwrites one window's settled spend (reconcile --repair). Waits.
  virtual void Repair(const std::string& budget_id, int64_t window_start_ms, double spent) {
    Seed(budget_id, window_start_ms, spent);
  }
  // Atomically: if every hard-limited slot has room for `amount`, reserves it
  // on all of them; otherwise reserves nothing and says which slot refused.
  virtual void Reserve(const std::vector<BudgetSlot>& slots, double amount,
                       Completion<ReserveResult> done) = 0;
  // Replaces a reservation (named by `ticket`, from ReserveResult) by the
  // actual cost; completes with the slots whose spend crossed their soft limit
  // with this settlement (for alerts). Never lost: a shared store that cannot
  // be reached keeps it until it can.
  virtual void Settle(const std::vector<BudgetSlot>& slots, const std::string& ticket,
                      double reserved, double actual,
                      Completion<std::vector<SoftLimitCrossing>> done) = 0;
  // What an admission does, in one step: charges `subjects` one request of
  // `tokens` and `usd`, then reserves `amount` on `slots`; all or nothing (a
  // refusal by a budget charges no rate either). The Redis store does it in
  // one script; this default chains AdmitRates and Reserve.
  virtual void Admit(const std::vector<RateSubject>& subjects, int64_t tokens, double usd,
                     int64_t now_ms, const std::vector<BudgetSlot>& slots, double amount,
                     Completion<AdmitOutcome> done);
  // What the end of a request does, in one step: corrects `minute` of the
  // rate subjects by the actual tokens and usd, and settles the reservation
  // (Settle's rules). The default chains AdjustRates and Settle.
  virtual void Finish(const std::vector<std::string>& rate_subjects, int64_t minute,
                      int64_t tokens_delta, double usd_delta, const std::vector<BudgetSlot>& slots,
                      const std::string& ticket, double reserved, double actual,
                      Completion<std::vector<SoftLimitCrossing>> done);
  // Spend (settled) in a budget's window; NaN when the store cannot be read.
  virtual void Spent(const std::string& budget_id, int64_t window_start_ms,
                     Completion<double> done) = 0;
  // The whole window: spend, live and expired reservations.
  virtual void Window(const std::string& budget_id, int64_t window_start_ms,
                      Completion<WindowState> done) = 0;
  virtual CounterHealth Health() const { return {}; }
  // Waits until every operation that completes a caller (Reserve, AdmitRates,
  // Spent, Window) has completed, so that no completion can reach a coroutine
  // frame destroyed after this (Server::DestroyLoops). Settlements may still
  // be queued. The in-process store completes inline: nothing to wait for.
  virtual void Quiesce() {}
  // Charges one request of `tokens` and `usd` to every subject's current
  // minute, all or nothing: a refusal by any subject charges none of them.
  virtual void AdmitRates(const std::vector<RateSubject>& subjects, int64_t tokens, double usd,
                          int64_t now_ms, Completion<RateOutcome> done) = 0;
  // Adds (possibly negative) corrections to `minute` of every subject; nothing
  // waits for it, and a minute that is over is left alone.
  virtual void AdjustRates(const std::vector<std::string>& subjects, int64_t minute,
                           int64_t requests_delta, int64_t tokens_delta, double usd_delta) = 0;

  // Spend() for callers that may wait (the CLI, the admin API, the dashboard's
  // blocking pool, /metrics): at once from the in-process store; a networked
  // store blocks the calling thread until it answers.
  double Spent(const std::string& budget_id, int64_t window_start_ms);
  WindowState Window(const std::string& budget_id, int64_t window_start_ms);
};

// Runs `start(done)` and waits for `done`: at once when the store completes
// inline, otherwise blocking this thread. Never on an event loop with a
// networked store (use Governor::AdmitAsync's way there).
template <class T, class Start>
T WaitFor(Start&& start) {
  // Lives on this stack until `done` has run: this function does not return before.
  struct State {
    Mutex mu;
    CondVar cv;
    std::optional<T> value GUARDED_BY(mu);
  } st;
  start([&st](T v) {
    MutexLock lock(&st.mu);
    st.value = std::move(v);
    st.cv.Signal();  // under the lock: the waiter cannot return (and free st) before we are done
  });
  MutexLock lock(&st.mu);
  while (!st.value.has_value()) st.cv.Wait(&st.mu);
  return std::move(*st.value);
}

// The in-process store: counters and rate windows in this process's memory.
// Completes every operation before returning. The sync methods below are its
// own (tests, and the interface's implementation).
class LocalCounterStore final : public CounterStore {
 public:
  using CounterStore::Spent;
  using CounterStore::Window;
  void Seed(const std::string& budget_id, int64_t window_start_ms, double spent) override;
  void Reserve(const std::vector<BudgetSlot>& slots, double amount,
               Completion<ReserveResult> done) override {
    done(Reserve(slots, amount));
  }
  void Settle(const std::vector<BudgetSlot>& slots, const std::string& ticket, double reserved,
              double actual, Completion<std::vector<SoftLimitCrossing>> done) override;
  void Spent(const std::string& budget_id, int64_t window_start_ms,
             Completion<double> done) override {
    done(SpentNow(budget_id, window_start_ms));
  }
  void Window(const std::string& budget_id, int64_t window_start_ms,
              Completion<WindowState> done) override;
  void AdmitRates(const std::vector<RateSubject>& subjects, int64_t tokens, double usd,
                  int64_t now_ms, Completion<RateOutcome> done) override;
  void AdjustRates(const std::vector<std::string>& subjects, int64_t minute, int64_t requests_delta,
                   int64_t tokens_delta, double usd_delta) override;

  ReserveResult Reserve(const std::vector<BudgetSlot>& slots, double amount);
  // Returns the indices of the slots that crossed their soft limit.
  std::vector<size_t> Settle(const std::vector<BudgetSlot>& slots, double reserved, double actual);
  double SpentNow(const std::string& budget_id, int64_t window_start_ms);
  // Headroom of the tightest hard-limited slot (infinite when none).
  double Headroom(const std::vector<BudgetSlot>& slots);

 private:
  struct Counter {
    double spent = 0;
    double reserved = 0;
  };
  static std::string Key(const std::string& id, int64_t start) {
    return id + "@" + std::to_string(start);
  }
  Mutex mu_;
  std::unordered_map<std::string, Counter> counters_ GUARDED_BY(mu_);
  RateLimiter rates_;
};

}  // namespace tollgate::governance
