#include "governance/reconcile.h"

#include <cmath>
#include <map>

namespace tollgate::governance {

namespace {
// Sums of doubles may differ in the last bits depending on order.
bool Same(double a, double b) { return std::fabs(a - b) <= 1e-9 * std::max(1.0, std::fabs(b)); }
}  // namespace

Result<std::vector<ReconcileLine>> Reconcile(Store& store, const ledger::LedgerReader& ledger, bool repair,
                                             CounterStore* shared) {
  std::map<std::pair<std::string, int64_t>, ReconcileLine> lines;
  TG_ASSIGN_OR_RETURN(std::vector<SpendRow> spend, store.ListSpend());
  for (const auto& s : spend) {
    auto& l = lines[{s.budget_id, s.window_start_ms}];
    l.counter_usd = s.spent_usd;
    l.counter_requests = s.requests;
  }
  TG_ASSIGN_OR_RETURN(std::vector<ledger::ChargeTotals> charged, ledger.ChargesByWindow());
  for (const auto& c : charged) {
    auto& l = lines[{c.budget_id, c.window_start_ms}];
    l.ledger_usd = c.cost_usd;
    l.ledger_requests = c.requests;
  }
  TG_ASSIGN_OR_RETURN(std::vector<Budget> budgets, store.ListBudgets());
  std::vector<ReconcileLine> out;
  for (auto& [k, l] : lines) {
    l.budget_id = k.first;
    l.window_start_ms = k.second;
    for (const auto& b : budgets)
      if (b.id == l.budget_id) l.budget_name = b.name;
    if (l.budget_name.empty()) l.budget_name = "(deleted)";
    const bool stored_agrees = Same(l.counter_usd, l.ledger_usd) && l.counter_requests == l.ledger_requests;
    bool shared_agrees = true;
    if (shared) {
      const WindowState w = shared->Window(l.budget_id, l.window_start_ms);
      l.shared = true;
      l.shared_ok = w.ok;
      l.shared_usd = w.spent;
      l.reserved_usd = w.reserved;
      l.live = w.reservations;
      l.expired = w.expired;
      shared_agrees = w.ok && Same(w.spent, l.ledger_usd);
    }
    l.agrees = stored_agrees && shared_agrees;
    if (!stored_agrees && repair)
      TG_RETURN_IF_ERROR(store.SetSpend({l.budget_id, l.window_start_ms, l.ledger_usd, l.ledger_requests}));
    if (!shared_agrees && repair) {
      if (!l.shared_ok) return Status::IoError("the shared counters (counters.url) cannot be read; nothing repaired there");
      shared->Repair(l.budget_id, l.window_start_ms, l.ledger_usd);
    }
    out.push_back(l);
  }
  if (repair) TG_RETURN_IF_ERROR(store.Audit("cli", "reconcile.repair", "", std::to_string(out.size()) + " windows checked"));
  return out;
}

}  // namespace tollgate::governance
