// The SQLite backend's schema and its migrations (documented in
// docs/ledger.md), and the only two places the ledger file is opened: for
// writing (the writer and state stores) and read-only (readers).
// Backend-internal: only src/ledger/sqlite_*.cc call these (and tests that
// build SQLite fixtures).
#pragma once
#include <sqlite3.h>

#include <string>

#include "common/status.h"

namespace tollgate::ledger {
// Opens `path`, enables WAL, and applies every migration newer than the file's
// user_version. IoError if the file cannot be opened or migrated; the caller
// owns the returned handle (sqlite3_close).
Result<sqlite3*> OpenAndMigrate(const std::string& path);
// Opens an existing ledger read-only. NotFound if it does not exist.
Result<sqlite3*> OpenReadOnly(const std::string& path);
}  // namespace tollgate::ledger
