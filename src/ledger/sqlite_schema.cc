#include "ledger/sqlite_schema.h"

#include "ledger/ledger.h"

namespace tollgate::ledger {
namespace {

// Migrations[i] takes the schema from version i to i+1. Never edit a shipped
// migration: append a new one and bump kSchemaVersion.
const char* const kMigrations[] = {
    // v1: the requests table.
    "CREATE TABLE IF NOT EXISTS requests ("
    " id TEXT PRIMARY KEY,"
    " ts_start_ms INTEGER NOT NULL,"
    " ts_end_ms INTEGER NOT NULL,"
    " endpoint TEXT NOT NULL,"
    " api_key TEXT, user TEXT, project TEXT, tags TEXT,"
    " requested_model TEXT, served_model TEXT, provider TEXT,"
    " status INTEGER NOT NULL, error_class TEXT,"
    " input_tokens INTEGER NOT NULL DEFAULT 0,"
    " cache_read_tokens INTEGER NOT NULL DEFAULT 0,"
    " cache_write_5m_tokens INTEGER NOT NULL DEFAULT 0,"
    " cache_write_1h_tokens INTEGER NOT NULL DEFAULT 0,"
    " output_tokens INTEGER NOT NULL DEFAULT 0,"
    " reasoning_tokens INTEGER NOT NULL DEFAULT 0,"
    " input_cost_usd REAL, cache_read_cost_usd REAL, cache_write_cost_usd REAL,"
    " output_cost_usd REAL, reasoning_cost_usd REAL,"
    " cost_usd REAL,"
    " latency_ms REAL, ttft_ms REAL,"
    " streamed INTEGER NOT NULL DEFAULT 0,"
    " estimated INTEGER NOT NULL DEFAULT 0,"
    " retries INTEGER NOT NULL DEFAULT 0,"
    " fallbacks INTEGER NOT NULL DEFAULT 0,"
    " price_version TEXT);"
    "CREATE INDEX IF NOT EXISTS requests_ts ON requests(ts_start_ms);",
    // v2: governance. Virtual keys (only a hash of each secret), budgets, the
    // spend counters (charged in the same transaction as the ledger rows, so
    // they always agree), the audit log, and who each request was charged to.
    "ALTER TABLE requests ADD COLUMN key_id TEXT;"
    "ALTER TABLE requests ADD COLUMN team TEXT;"
    "ALTER TABLE requests ADD COLUMN reserved_usd REAL;"
    "CREATE TABLE IF NOT EXISTS keys ("
    " id TEXT PRIMARY KEY, name TEXT, secret_hash TEXT NOT NULL UNIQUE, secret_prefix TEXT,"
    " owner TEXT, user TEXT, project TEXT, team TEXT, tags TEXT, allowed_models TEXT,"
    " expires_at_ms INTEGER, rpm INTEGER, tpm INTEGER, usd_per_minute REAL,"
    " created_at_ms INTEGER NOT NULL, revoked_at_ms INTEGER, rotated_at_ms INTEGER);"
    "CREATE TABLE IF NOT EXISTS budgets ("
    " id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, scope TEXT NOT NULL, subject TEXT, model TEXT,"
    " window TEXT NOT NULL, limit_usd REAL, soft_limit_usd REAL, created_at_ms INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS budget_spend ("
    " budget_id TEXT NOT NULL, window_start_ms INTEGER NOT NULL, spent_usd REAL NOT NULL DEFAULT 0,"
    " requests INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (budget_id, window_start_ms));"
    "CREATE TABLE IF NOT EXISTS budget_charges ("
    " request_id TEXT NOT NULL, budget_id TEXT NOT NULL, window_start_ms INTEGER NOT NULL,"
    " PRIMARY KEY (request_id, budget_id));"
    "CREATE TABLE IF NOT EXISTS audit_log ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, ts_ms INTEGER NOT NULL, actor TEXT NOT NULL,"
    " action TEXT NOT NULL, target TEXT, detail TEXT);"
    "CREATE TABLE IF NOT EXISTS state_version (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL);"
    "INSERT OR IGNORE INTO state_version VALUES (1, 0);",
    // v3: savings accounting. What the request would have cost with no cache
    // and no routing, which lever changed it, the route taken, and the output
    // tokens budget-aware prompting saved (estimated against a control group).
    "ALTER TABLE requests ADD COLUMN baseline_model TEXT;"
    "ALTER TABLE requests ADD COLUMN baseline_cost_usd REAL;"
    "ALTER TABLE requests ADD COLUMN cache TEXT;"
    "ALTER TABLE requests ADD COLUMN route TEXT;"
    "ALTER TABLE requests ADD COLUMN savings_lever TEXT;"
    "ALTER TABLE requests ADD COLUMN output_tokens_saved INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE requests ADD COLUMN quality REAL;"
    // Only rows the savings engine touched: the dashboard's savings panel reads these.
    "CREATE INDEX IF NOT EXISTS requests_savings ON requests(ts_start_ms)"
    " WHERE cache IS NOT NULL OR savings_lever IS NOT NULL;",
    // v4: agent sessions (Claude Code's session id), for `report --by session`.
    "ALTER TABLE requests ADD COLUMN session TEXT;",
};
static_assert(sizeof(kMigrations) / sizeof(kMigrations[0]) == kSchemaVersion);

Status Exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string m = err ? err : "unknown error";
    sqlite3_free(err);
    return Status::IoError("ledger: " + m);
  }
  return Status::Ok();
}

}  // namespace

Result<sqlite3*> OpenAndMigrate(const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string m = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return Status::IoError("ledger: cannot open " + path + ": " + m);
  }
  sqlite3_busy_timeout(db, 5000);
  Status st = Exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;");
  int version = 0;
  if (st.ok()) {
    sqlite3_stmt* s = nullptr;
    sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, nullptr);
    if (s && sqlite3_step(s) == SQLITE_ROW) version = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    if (version > kSchemaVersion)
      st = Status::IoError("ledger: " + path + " has schema v" + std::to_string(version) +
                           ", newer than this build (v" + std::to_string(kSchemaVersion) + "); upgrade tollgate");
  }
  for (int v = version; st.ok() && v < kSchemaVersion; ++v) {
    st = Exec(db, "BEGIN");
    if (st.ok()) st = Exec(db, kMigrations[v]);
    if (st.ok()) st = Exec(db, ("PRAGMA user_version=" + std::to_string(v + 1)).c_str());
    if (st.ok()) st = Exec(db, "COMMIT");
    else (void)Exec(db, "ROLLBACK");
  }
  if (!st.ok()) {
    sqlite3_close(db);
    return st;
  }
  return db;
}

Result<sqlite3*> OpenReadOnly(const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    std::string m = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return Status::NotFound("ledger: cannot open " + path + ": " + m);
  }
  sqlite3_busy_timeout(db, 5000);
  return db;
}

}  // namespace tollgate::ledger
