// Reconciliation: recomputes every budget window's spend from the ledger rows
// charged to it and compares it with the stored counter; optionally repairs
// the counters. Counters are written in the same transaction as the rows, so a
// difference means outside tampering or a bug, and is reported as such.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "governance/store.h"
#include "ledger/reader.h"

namespace tollgate::governance {

struct ReconcileLine {
  std::string budget_id, budget_name;
  int64_t window_start_ms = 0;
  double counter_usd = 0, ledger_usd = 0;
  int64_t counter_requests = 0, ledger_requests = 0;
  bool agrees = true;
};

// Compares (and with `repair`, fixes) every counter in `store` with the
// charges `ledger` holds. IoError on database failure.
Result<std::vector<ReconcileLine>> Reconcile(Store& store, const ledger::LedgerReader& ledger, bool repair);

}  // namespace tollgate::governance
