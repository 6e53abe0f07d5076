// The PostgreSQL backend: the ledger (`requests`, `budget_charges`) and the
// governance state (keys, budgets, budget_spend, audit_log, state_version) in
// one database shared by every replica, with budget counters charged in the
// same transaction as the rows they count. Chosen by ledger.url
// postgres://user@host:port/db (or postgresql://; any URI libpq takes).
// Backend-internal: reached through OpenLedger (storage.h); only
// src/ledger/postgres_*.cc include this.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "ledger/ledger.h"
#include "ledger/reader.h"
#include "ledger/state_store.h"
#include "ledger/storage.h"

namespace tollgate::ledger {

// The batch writer (postgres_ledger.cc): migrates, then starts its thread.
// IoError when the database cannot be reached or migrated.
Result<std::unique_ptr<LedgerWriter>> OpenPostgresLedger(const std::string& url,
                                                         const StorageOptions& options);
// A reader of the database at `url` (postgres_reader.cc). Connects on first use
// and keeps a few idle connections; each call reads one snapshot.
std::unique_ptr<LedgerReader> OpenPostgresReader(const std::string& url);
// One connection, migrated first (postgres_state_store.cc).
Result<std::unique_ptr<StateStore>> OpenPostgresStateStore(const std::string& url);
// The Storage of the database at `url` (postgres_storage.cc).
std::unique_ptr<Storage> NewPostgresStorage(std::string url, const StorageOptions& options);

}  // namespace tollgate::ledger
