// The SQLite backend: the ledger (`requests`, `budget_charges`) and the
// governance state (keys, budgets, budget_spend, audit_log, state_version) in
// one WAL-mode file, so budget counters are charged in the same transaction as
// the rows they count. Backend-internal: reached through OpenLedger
// (storage.h); only src/ledger/sqlite_*.cc include this.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "ledger/reader.h"
#include "ledger/state_store.h"
#include "ledger/storage.h"

namespace tollgate::ledger {

// A reader of the file at `path` (sqlite_reader.cc). Opens it per call, read-only.
std::unique_ptr<LedgerReader> OpenSqliteReader(const std::string& path);
// One read-write connection to the file at `path`, created and migrated if
// needed (sqlite_state_store.cc). IoError naming the path when it cannot be opened.
Result<std::unique_ptr<StateStore>> OpenSqliteStateStore(const std::string& path);
// The Storage of the file at `path`, opened as `url` (sqlite_storage.cc).
std::unique_ptr<Storage> NewSqliteStorage(std::string url, std::string path,
                                          const StorageOptions& options);

}  // namespace tollgate::ledger
