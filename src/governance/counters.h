// Spend counters behind one narrow interface, so budgets can be shared by
// several replicas (a Redis store) without touching the request path. The
// local store keeps counters in memory, seeded from the SQLite budget_spend
// table; the ledger writer persists each charge in the same transaction as the
// request's row. Thread-safe: one mutex, held for a few map operations.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

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
  size_t failed_slot = 0;  // which slot refused, when !ok
  double spent = 0;        // that slot's spend + reservations at the time
  double headroom = 0;     // min over hard-limited slots of limit - (spent + reserved), before this reservation
};

class CounterStore {
 public:
  virtual ~CounterStore() = default;
  // Atomically: if every hard-limited slot has room for `amount`, reserves it
  // on all of them. Otherwise reserves nothing and says which slot refused.
  virtual ReserveResult Reserve(const std::vector<BudgetSlot>& slots, double amount) = 0;
  // Replaces a reservation by the actual cost. Returns the slots whose spend
  // crossed their soft limit with this settlement (for alerts).
  virtual std::vector<size_t> Settle(const std::vector<BudgetSlot>& slots, double reserved, double actual) = 0;
  // Spend (settled) in a budget's window.
  virtual double Spent(const std::string& budget_id, int64_t window_start_ms) = 0;
  // Headroom of the tightest hard-limited slot (infinite when none).
  virtual double Headroom(const std::vector<BudgetSlot>& slots) = 0;
};

class LocalCounterStore final : public CounterStore {
 public:
  // Seeds settled spend for one window (at start-up, from budget_spend).
  void Seed(const std::string& budget_id, int64_t window_start_ms, double spent);
  ReserveResult Reserve(const std::vector<BudgetSlot>& slots, double amount) override;
  std::vector<size_t> Settle(const std::vector<BudgetSlot>& slots, double reserved, double actual) override;
  double Spent(const std::string& budget_id, int64_t window_start_ms) override;
  double Headroom(const std::vector<BudgetSlot>& slots) override;

 private:
  struct Counter {
    double spent = 0;
    double reserved = 0;
  };
  static std::string Key(const std::string& id, int64_t start) { return id + "@" + std::to_string(start); }
  std::mutex mu_;
  std::unordered_map<std::string, Counter> counters_;  // GUARDED_BY(mu_)
};

}  // namespace tollgate::governance
