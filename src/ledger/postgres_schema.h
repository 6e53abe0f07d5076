// The PostgreSQL backend's schema and its versioned migrations (documented in
// docs/ledger.md, "PostgreSQL"), and where its connections are opened: for
// writing (the writer and state stores, which migrate first) and for reading.
// Migrations run under a session advisory lock, so replicas that start at the
// same moment apply each one exactly once. Backend-internal: only
// src/ledger/postgres_*.cc call these (and the PostgreSQL tests).
#pragma once

#include <string>

#include "common/status.h"
#include "ledger/postgres_conn.h"

namespace tollgate::ledger::pg {

// The schema version this build writes. Its own count, not SQLite's
// kSchemaVersion: v1 is the whole of SQLite's v3 in one step, v2 SQLite's v4.
constexpr int kPostgresSchemaVersion = 2;

// The advisory lock keys (pg_advisory_lock's bigint): migrations, and the
// writers' batches (each writer's transaction takes it, so a batch's seqs are
// assigned and committed before the next writer's: a reader's cursor over seq
// never skips a row that commits late).
constexpr long long kMigrationLockKey = 0x746f6c6c67617401LL;  // "tollgat" + 1
constexpr long long kWriterLockKey = 0x746f6c6c67617402LL;

// Connects to `url` and applies every migration newer than the database's
// version, under the migration lock. IoError if it cannot connect or migrate,
// or if the database has a newer schema than this build.
Result<Conn> ConnectAndMigrate(const std::string& url);

// The `requests` columns' list for SQL, quoted, in columns.h's order.
const std::string& QuotedRowColumns();

}  // namespace tollgate::ledger::pg
