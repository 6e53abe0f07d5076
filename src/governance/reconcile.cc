#include "governance/reconcile.h"

#include <cmath>
#include <map>

namespace tollgate::governance {

Result<std::vector<ReconcileLine>> Reconcile(Store& store, const ledger::LedgerReader& ledger, bool repair) {
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
    // Sums of doubles may differ in the last bits depending on order.
    l.agrees = std::fabs(l.counter_usd - l.ledger_usd) <= 1e-9 * std::max(1.0, std::fabs(l.ledger_usd)) &&
               l.counter_requests == l.ledger_requests;
    if (!l.agrees && repair) {
      TG_RETURN_IF_ERROR(store.SetSpend({l.budget_id, l.window_start_ms, l.ledger_usd, l.ledger_requests}));
    }
    out.push_back(l);
  }
  if (repair) TG_RETURN_IF_ERROR(store.Audit("cli", "reconcile.repair", "", std::to_string(out.size()) + " windows checked"));
  return out;
}

}  // namespace tollgate::governance
