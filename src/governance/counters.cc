#include "governance/counters.h"

#include <limits>

namespace tollgate::governance {

double CounterStore::Spent(const std::string& budget_id, int64_t window_start_ms) {
  return WaitFor<double>(
      [&](Completion<double> done) { Spent(budget_id, window_start_ms, std::move(done)); });
}

WindowState CounterStore::Window(const std::string& budget_id, int64_t window_start_ms) {
  return WaitFor<WindowState>(
      [&](Completion<WindowState> done) { Window(budget_id, window_start_ms, std::move(done)); });
}

void CounterStore::Admit(const std::vector<RateSubject>& subjects, int64_t tokens, double usd,
                         int64_t now_ms, const std::vector<BudgetSlot>& slots, double amount,
                         Completion<AdmitOutcome> done) {
  // Shared by the steps, which may complete later on another thread.
  struct Op {
    std::vector<std::string> names;
    int64_t minute, tokens;
    double usd, amount;
    std::vector<BudgetSlot> slots;
    Completion<AdmitOutcome> done;
  };
  auto op = std::make_shared<Op>(
      Op{{}, RateLimiter::MinuteOf(now_ms), tokens, usd, amount, slots, std::move(done)});
  for (const auto& s : subjects) op->names.push_back(s.name);
  auto after_rates = [this, op](RateOutcome r) {
    AdmitOutcome out;
    out.rates = r;
    out.unavailable = r.unavailable;
    if (r.unavailable || !r.ok || op->slots.empty()) return op->done(out);
    Reserve(op->slots, op->amount, [this, op, out](ReserveResult b) mutable {
      out.budget = b;
      out.unavailable = b.unavailable;
      // A refused request does not count against the rate limits either.
      if (!b.ok && !op->names.empty())
        AdjustRates(op->names, op->minute, -1, -op->tokens, -op->usd);
      op->done(out);
    });
  };
  if (subjects.empty()) return after_rates(RateOutcome{});
  AdmitRates(subjects, tokens, usd, now_ms, std::move(after_rates));
}

void CounterStore::Finish(const std::vector<std::string>& rate_subjects, int64_t minute,
                          int64_t tokens_delta, double usd_delta,
                          const std::vector<BudgetSlot>& slots, const std::string& ticket,
                          double reserved, double actual,
                          Completion<std::vector<SoftLimitCrossing>> done) {
  if (!rate_subjects.empty()) AdjustRates(rate_subjects, minute, 0, tokens_delta, usd_delta);
  if (slots.empty()) return done({});
  Settle(slots, ticket, reserved, actual, std::move(done));
}

void LocalCounterStore::Seed(const std::string& budget_id, int64_t window_start_ms, double spent) {
  MutexLock lock(&mu_);
  counters_[Key(budget_id, window_start_ms)].spent = spent;
}

ReserveResult LocalCounterStore::Reserve(const std::vector<BudgetSlot>& slots, double amount) {
  ReserveResult r;
  r.headroom = std::numeric_limits<double>::infinity();
  MutexLock lock(&mu_);
  std::vector<Counter*> cs;
  cs.reserve(slots.size());
  for (size_t i = 0; i < slots.size(); ++i) {
    Counter& c = counters_[Key(slots[i].budget_id, slots[i].window_start_ms)];
    cs.push_back(&c);
    if (slots[i].limit_usd < 0) continue;
    double used = c.spent + c.reserved;
    r.headroom = std::min(r.headroom, slots[i].limit_usd - used);
    if (r.ok && used + amount > slots[i].limit_usd) {
      r.ok = false;
      r.failed_slot = i;
      r.spent = used;
    }
  }
  if (r.ok)
    for (Counter* c : cs) c->reserved += amount;
  return r;
}

std::vector<size_t> LocalCounterStore::Settle(const std::vector<BudgetSlot>& slots, double reserved,
                                              double actual) {
  std::vector<size_t> crossed;
  MutexLock lock(&mu_);
  for (size_t i = 0; i < slots.size(); ++i) {
    Counter& c = counters_[Key(slots[i].budget_id, slots[i].window_start_ms)];
    double before = c.spent;
    c.reserved -= reserved;
    if (c.reserved < 1e-12) c.reserved = 0;  // float dust
    c.spent += actual;
    if (slots[i].soft_limit_usd >= 0 && before < slots[i].soft_limit_usd &&
        c.spent >= slots[i].soft_limit_usd)
      crossed.push_back(i);
  }
  return crossed;
}

void LocalCounterStore::Settle(const std::vector<BudgetSlot>& slots, const std::string& /*ticket*/,
                               double reserved, double actual,
                               Completion<std::vector<SoftLimitCrossing>> done) {
  std::vector<SoftLimitCrossing> crossings;
  for (size_t i : Settle(slots, reserved, actual))
    crossings.push_back({slots[i], SpentNow(slots[i].budget_id, slots[i].window_start_ms)});
  done(std::move(crossings));
}

double LocalCounterStore::SpentNow(const std::string& budget_id, int64_t window_start_ms) {
  MutexLock lock(&mu_);
  auto it = counters_.find(Key(budget_id, window_start_ms));
  return it == counters_.end() ? 0 : it->second.spent;
}

void LocalCounterStore::Window(const std::string& budget_id, int64_t window_start_ms,
                               Completion<WindowState> done) {
  WindowState w;
  {
    MutexLock lock(&mu_);
    if (auto it = counters_.find(Key(budget_id, window_start_ms)); it != counters_.end()) {
      w.spent = it->second.spent;
      w.reserved = it->second.reserved;
    }
  }
  done(w);
}

double LocalCounterStore::Headroom(const std::vector<BudgetSlot>& slots) {
  double h = std::numeric_limits<double>::infinity();
  MutexLock lock(&mu_);
  for (const auto& s : slots) {
    if (s.limit_usd < 0) continue;
    auto it = counters_.find(Key(s.budget_id, s.window_start_ms));
    double used = it == counters_.end() ? 0 : it->second.spent + it->second.reserved;
    h = std::min(h, s.limit_usd - used);
  }
  return h;
}

void LocalCounterStore::AdmitRates(const std::vector<RateSubject>& subjects, int64_t tokens,
                                   double usd, int64_t now_ms, Completion<RateOutcome> done) {
  RateOutcome out;
  for (size_t i = 0; i < subjects.size(); ++i) {
    out.decision = rates_.Admit(subjects[i].name, subjects[i].limits, tokens, usd, now_ms);
    if (out.decision.ok) continue;
    // Give back what the earlier subjects already counted for this request.
    for (size_t k = 0; k < i; ++k)
      rates_.Adjust(subjects[k].name, RateLimiter::MinuteOf(now_ms), -1, -tokens, -usd);
    out.ok = false;
    out.failed_subject = i;
    break;
  }
  done(std::move(out));
}

void LocalCounterStore::AdjustRates(const std::vector<std::string>& subjects, int64_t minute,
                                    int64_t requests_delta, int64_t tokens_delta,
                                    double usd_delta) {
  for (const auto& s : subjects) rates_.Adjust(s, minute, requests_delta, tokens_delta, usd_delta);
}

}  // namespace tollgate::governance
