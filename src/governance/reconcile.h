// Reconciliation: recomputes every budget window's spend from the ledger rows
// charged to it and compares it with the stored counter (budget_spend, written
// in the same transaction as the rows, so a difference there means outside
// tampering or a bug) and, with shared counters (counters.url), with what Redis
// holds: its spend, its live reservations and the reservations that expired
// unsettled (a replica that died mid-request). Optionally repairs both.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "governance/counters.h"
#include "governance/store.h"
#include "ledger/reader.h"

namespace tollgate::governance {

struct ReconcileLine {
  std::string budget_id, budget_name;
  int64_t window_start_ms = 0;
  double counter_usd = 0, ledger_usd = 0;
  int64_t counter_requests = 0, ledger_requests = 0;
  // The shared store's view (when one was given).
  bool shared = false;
  bool shared_ok = true;  // false: it could not be read
  double shared_usd = 0, reserved_usd = 0;
  int64_t live = 0, expired = 0;
  bool agrees = true;
};

// Compares (and with `repair`, fixes) every counter in `store`, and in
// `shared` when not null, with the charges `ledger` holds. IoError on
// database failure.
Result<std::vector<ReconcileLine>> Reconcile(Store& store, const ledger::LedgerReader& ledger, bool repair,
                                             CounterStore* shared = nullptr);

}  // namespace tollgate::governance
