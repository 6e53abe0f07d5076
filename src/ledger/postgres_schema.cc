#include "ledger/postgres_schema.h"

#include "ledger/columns.h"

namespace tollgate::ledger::pg {
namespace {

// Migrations[i] takes the schema from version i to i+1. Never edit a shipped
// migration: append a new one and bump kPostgresSchemaVersion. Names are those
// of the SQLite schema (docs/ledger.md); "user" and "window" are quoted because
// they are reserved words here. `seq` is the row's cursor (SQLite's rowid): it
// comes last, so `SELECT *` shows the columns in the SQLite file's order.
const char* const kMigrations[] = {
    // v1: the ledger and the governance state (SQLite's v1 to v3).
    "CREATE TABLE requests ("
    " id TEXT PRIMARY KEY,"
    " ts_start_ms BIGINT NOT NULL,"
    " ts_end_ms BIGINT NOT NULL,"
    " endpoint TEXT NOT NULL,"
    " api_key TEXT, \"user\" TEXT, project TEXT, tags TEXT,"
    " requested_model TEXT, served_model TEXT, provider TEXT,"
    " status BIGINT NOT NULL, error_class TEXT,"
    " input_tokens BIGINT NOT NULL DEFAULT 0,"
    " cache_read_tokens BIGINT NOT NULL DEFAULT 0,"
    " cache_write_5m_tokens BIGINT NOT NULL DEFAULT 0,"
    " cache_write_1h_tokens BIGINT NOT NULL DEFAULT 0,"
    " output_tokens BIGINT NOT NULL DEFAULT 0,"
    " reasoning_tokens BIGINT NOT NULL DEFAULT 0,"
    " input_cost_usd DOUBLE PRECISION, cache_read_cost_usd DOUBLE PRECISION,"
    " cache_write_cost_usd DOUBLE PRECISION, output_cost_usd DOUBLE PRECISION,"
    " reasoning_cost_usd DOUBLE PRECISION, cost_usd DOUBLE PRECISION,"
    " latency_ms DOUBLE PRECISION, ttft_ms DOUBLE PRECISION,"
    " streamed BIGINT NOT NULL DEFAULT 0,"
    " estimated BIGINT NOT NULL DEFAULT 0,"
    " retries BIGINT NOT NULL DEFAULT 0,"
    " fallbacks BIGINT NOT NULL DEFAULT 0,"
    " price_version TEXT,"
    " key_id TEXT, team TEXT, reserved_usd DOUBLE PRECISION,"
    " baseline_model TEXT, baseline_cost_usd DOUBLE PRECISION, cache TEXT, route TEXT,"
    " savings_lever TEXT, output_tokens_saved BIGINT NOT NULL DEFAULT 0, quality DOUBLE PRECISION,"
    " seq BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE);"
    "CREATE INDEX requests_ts ON requests (ts_start_ms);"
    "CREATE INDEX requests_savings ON requests (ts_start_ms)"
    " WHERE cache IS NOT NULL OR savings_lever IS NOT NULL;"
    "CREATE TABLE keys ("
    " id TEXT PRIMARY KEY, name TEXT, secret_hash TEXT NOT NULL UNIQUE, secret_prefix TEXT,"
    " owner TEXT, \"user\" TEXT, project TEXT, team TEXT, tags TEXT, allowed_models TEXT,"
    " expires_at_ms BIGINT, rpm BIGINT, tpm BIGINT, usd_per_minute DOUBLE PRECISION,"
    " created_at_ms BIGINT NOT NULL, revoked_at_ms BIGINT, rotated_at_ms BIGINT);"
    "CREATE TABLE budgets ("
    " id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, scope TEXT NOT NULL, subject TEXT,"
    " model TEXT, \"window\" TEXT NOT NULL, limit_usd DOUBLE PRECISION,"
    " soft_limit_usd DOUBLE PRECISION, created_at_ms BIGINT NOT NULL);"
    "CREATE TABLE budget_spend ("
    " budget_id TEXT NOT NULL, window_start_ms BIGINT NOT NULL,"
    " spent_usd DOUBLE PRECISION NOT NULL DEFAULT 0, requests BIGINT NOT NULL DEFAULT 0,"
    " PRIMARY KEY (budget_id, window_start_ms));"
    "CREATE TABLE budget_charges ("
    " request_id TEXT NOT NULL, budget_id TEXT NOT NULL, window_start_ms BIGINT NOT NULL,"
    " PRIMARY KEY (request_id, budget_id));"
    "CREATE TABLE audit_log ("
    " id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, ts_ms BIGINT NOT NULL,"
    " actor TEXT NOT NULL, action TEXT NOT NULL, target TEXT, detail TEXT);"
    "CREATE TABLE state_version ("
    " id INTEGER PRIMARY KEY CHECK (id = 1), version BIGINT NOT NULL);"
    "INSERT INTO state_version VALUES (1, 0);",
    // v2: agent sessions (SQLite's v4). Added after `seq`, which readers skip by name.
    "ALTER TABLE requests ADD COLUMN session TEXT;",
};
static_assert(sizeof(kMigrations) / sizeof(kMigrations[0]) == kPostgresSchemaVersion);

// Each applied migration is one row: a second application of the same version
// would be a primary-key violation, not a silent double.
constexpr const char* kVersionTable =
    "CREATE TABLE IF NOT EXISTS tollgate_schema_migrations ("
    " version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())";

Status Migrate(PGconn* c, const std::string& url) {
  TG_RETURN_IF_ERROR(Run(c, "ledger: migrations", kVersionTable));
  TG_ASSIGN_OR_RETURN(ResultPtr r,
                      Exec(c, "ledger: migrations",
                           "SELECT COALESCE(MAX(version), 0) FROM tollgate_schema_migrations"));
  const int version = static_cast<int>(GetInt(r.get(), 0, 0));
  if (version > kPostgresSchemaVersion)
    return Status::IoError("ledger: " + RedactUrl(url) + " has schema v" + std::to_string(version) +
                           ", newer than this build (v" + std::to_string(kPostgresSchemaVersion) +
                           "); upgrade tollgate");
  for (int v = version; v < kPostgresSchemaVersion; ++v) {
    const std::string what = "ledger: migration to v" + std::to_string(v + 1);
    TG_RETURN_IF_ERROR(Run(c, what, "BEGIN"));
    Status st = Run(c, what, kMigrations[v]);
    if (st.ok())
      st = Run(c, what, "INSERT INTO tollgate_schema_migrations (version) VALUES ($1)",
               Params().Int(v + 1));
    if (st.ok()) st = Run(c, what, "COMMIT");
    if (!st.ok()) {
      (void)Run(c, what, "ROLLBACK");
      return st;
    }
  }
  return Status::Ok();
}

}  // namespace

Result<Conn> ConnectAndMigrate(const std::string& url) {
  TG_ASSIGN_OR_RETURN(Conn c, Connect(url));
  // Replicas starting together wait here for the first one's migrations, then
  // find nothing left to do. A session lock: released with the connection if
  // this process dies mid-migration (whose transaction then rolls back).
  TG_RETURN_IF_ERROR(Run(c.get(), "ledger: migration lock", "SELECT pg_advisory_lock($1)",
                         Params().Int(kMigrationLockKey)));
  Status st = Migrate(c.get(), url);
  Status unlocked = Run(c.get(), "ledger: migration lock", "SELECT pg_advisory_unlock($1)",
                        Params().Int(kMigrationLockKey));
  TG_RETURN_IF_ERROR(st);
  TG_RETURN_IF_ERROR(unlocked);
  return c;
}

const std::string& QuotedRowColumns() {
  static const std::string* const kList = [] {
    auto* s = new std::string;
    for (size_t i = 0; i < kRowColumnCount; ++i) *s += (i ? ", " : "") + Quote(kRowColumns[i]);
    return s;
  }();
  return *kList;
}

}  // namespace tollgate::ledger::pg
