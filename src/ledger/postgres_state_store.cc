// PostgreSQL implementation of StateStore: the keys, budgets, budget_spend,
// audit_log and state_version tables, with sqlite_state_store.cc's semantics.
// One connection per object; each method is one auto-committed statement, so
// a key created or revoked on one replica is what every other replica reads
// next (they poll StateVersion).
#include "common/util.h"
#include "ledger/columns.h"
#include "ledger/postgres_backend.h"
#include "ledger/postgres_schema.h"

namespace tollgate::ledger {
namespace {

using pg::GetInt;
using pg::GetReal;
using pg::GetText;
using pg::Params;

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

constexpr const char* kKeyColumns =
    "id, name, secret_hash, secret_prefix, owner, \"user\", project, team, tags, allowed_models,"
    " expires_at_ms, rpm, tpm, usd_per_minute, created_at_ms, revoked_at_ms";

VirtualKey ReadKey(const PGresult* r, int i) {
  VirtualKey k;
  k.id = GetText(r, i, 0);
  k.name = GetText(r, i, 1);
  k.secret_hash = GetText(r, i, 2);
  k.secret_prefix = GetText(r, i, 3);
  k.owner = GetText(r, i, 4);
  k.user = GetText(r, i, 5);
  k.project = GetText(r, i, 6);
  k.team = GetText(r, i, 7);
  k.tags = SplitListColumn(pg::GetView(r, i, 8));
  k.allowed_models = SplitListColumn(pg::GetView(r, i, 9));
  if (!pg::IsNull(r, i, 10)) k.expires_at_ms = GetInt(r, i, 10);
  k.rpm = GetInt(r, i, 11);
  k.tpm = GetInt(r, i, 12);
  k.usd_per_minute = GetReal(r, i, 13);
  k.created_at_ms = GetInt(r, i, 14);
  if (!pg::IsNull(r, i, 15)) k.revoked_at_ms = GetInt(r, i, 15);
  return k;
}

constexpr const char* kBudgetColumns =
    "id, name, scope, subject, model, \"window\", limit_usd, soft_limit_usd, created_at_ms";

Budget ReadBudget(const PGresult* r, int i) {
  Budget b;
  b.id = GetText(r, i, 0);
  b.name = GetText(r, i, 1);
  b.scope = GetText(r, i, 2);
  b.subject = GetText(r, i, 3);
  b.model = GetText(r, i, 4);
  b.window = ParseWindow(pg::GetView(r, i, 5)).value_or(Window::kDaily);
  if (!pg::IsNull(r, i, 6)) b.limit_usd = GetReal(r, i, 6);
  if (!pg::IsNull(r, i, 7)) b.soft_limit_usd = GetReal(r, i, 7);
  b.created_at_ms = GetInt(r, i, 8);
  return b;
}

class PostgresStateStore final : public StateStore {
 public:
  explicit PostgresStateStore(pg::Conn c) : c_(std::move(c)) {}

  Status InsertKey(const VirtualKey& k) override {
    Params p;
    p.Text(k.id).TextOrNull(k.name).Text(k.secret_hash).Text(k.secret_prefix);
    p.TextOrNull(k.owner).TextOrNull(k.user).TextOrNull(k.project).TextOrNull(k.team);
    p.TextOrNull(Join(k.tags)).TextOrNull(Join(k.allowed_models)).IntOrNull(k.expires_at_ms);
    p.Int(k.rpm).Int(k.tpm).Real(k.usd_per_minute).Int(k.created_at_ms);
    return Run(
        "INSERT INTO keys (id, name, secret_hash, secret_prefix, owner, \"user\", project, team,"
        " tags, allowed_models, expires_at_ms, rpm, tpm, usd_per_minute, created_at_ms) VALUES"
        " ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        p);
  }

  Result<std::vector<VirtualKey>> ListKeys(bool include_revoked) override {
    TG_ASSIGN_OR_RETURN(pg::ResultPtr r,
                        Exec(std::string("SELECT ") + kKeyColumns + " FROM keys" +
                             (include_revoked ? "" : " WHERE revoked_at_ms IS NULL") +
                             " ORDER BY created_at_ms, id"));
    std::vector<VirtualKey> out;
    for (int i = 0; i < PQntuples(r.get()); ++i) out.push_back(ReadKey(r.get(), i));
    return out;
  }

  Result<VirtualKey> FindKey(const std::string& id_or_name) override {
    TG_ASSIGN_OR_RETURN(
        pg::ResultPtr r,
        Exec(std::string("SELECT ") + kKeyColumns +
                 " FROM keys WHERE id = $1 OR name = $1 ORDER BY id = $1 DESC LIMIT 1",
             Params().Text(id_or_name)));
    if (PQntuples(r.get()) == 0) return Status::NotFound("no key '" + id_or_name + "'");
    return ReadKey(r.get(), 0);
  }

  Status SetKeyRevoked(const std::string& id, int64_t revoked_at_ms) override {
    return Run("UPDATE keys SET revoked_at_ms = $1 WHERE id = $2",
               Params().Int(revoked_at_ms).Text(id));
  }

  Status SetKeySecret(const std::string& id, const std::string& secret_hash,
                      const std::string& secret_prefix, int64_t rotated_at_ms) override {
    return Run(
        "UPDATE keys SET secret_hash = $1, secret_prefix = $2, rotated_at_ms = $3 WHERE id = $4",
        Params().Text(secret_hash).Text(secret_prefix).Int(rotated_at_ms).Text(id));
  }

  Status UpsertBudget(const Budget& b) override {
    Params p;
    p.Text(b.id).Text(b.name).Text(b.scope).TextOrNull(b.subject).TextOrNull(b.model);
    p.Text(WindowName(b.window)).RealOrNull(b.limit_usd).RealOrNull(b.soft_limit_usd);
    p.Int(b.created_at_ms);
    return Run(
        "INSERT INTO budgets (id, name, scope, subject, model, \"window\", limit_usd,"
        " soft_limit_usd, created_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        " ON CONFLICT (id) DO UPDATE SET scope = excluded.scope, subject = excluded.subject,"
        " model = excluded.model, \"window\" = excluded.\"window\","
        " limit_usd = excluded.limit_usd, soft_limit_usd = excluded.soft_limit_usd",
        p);
  }

  Result<std::vector<Budget>> ListBudgets() override {
    TG_ASSIGN_OR_RETURN(pg::ResultPtr r, Exec(std::string("SELECT ") + kBudgetColumns +
                                              " FROM budgets ORDER BY name"));
    std::vector<Budget> out;
    for (int i = 0; i < PQntuples(r.get()); ++i) out.push_back(ReadBudget(r.get(), i));
    return out;
  }

  Status DeleteBudget(const std::string& id_or_name) override {
    TG_ASSIGN_OR_RETURN(pg::ResultPtr r, Exec("DELETE FROM budgets WHERE id = $1 OR name = $1",
                                              Params().Text(id_or_name)));
    if (std::string_view(PQcmdTuples(r.get())) == "0")
      return Status::NotFound("no budget '" + id_or_name + "'");
    return Status::Ok();
  }

  Result<std::vector<SpendRow>> ListSpend() override {
    TG_ASSIGN_OR_RETURN(
        pg::ResultPtr r,
        Exec("SELECT budget_id, window_start_ms, spent_usd, requests FROM budget_spend"));
    std::vector<SpendRow> out;
    for (int i = 0; i < PQntuples(r.get()); ++i)
      out.push_back({GetText(r.get(), i, 0), GetInt(r.get(), i, 1), GetReal(r.get(), i, 2),
                     GetInt(r.get(), i, 3)});
    return out;
  }

  Status SetSpend(const SpendRow& row) override {
    return Run(
        "INSERT INTO budget_spend (budget_id, window_start_ms, spent_usd, requests)"
        " VALUES ($1, $2, $3, $4) ON CONFLICT (budget_id, window_start_ms) DO UPDATE SET"
        " spent_usd = excluded.spent_usd, requests = excluded.requests",
        Params()
            .Text(row.budget_id)
            .Int(row.window_start_ms)
            .Real(row.spent_usd)
            .Int(row.requests));
  }

  Status AppendAudit(const AuditEntry& e) override {
    return Run(
        "INSERT INTO audit_log (ts_ms, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5)",
        Params().Int(e.ts_ms).Text(e.actor).Text(e.action).Text(e.target).Text(e.detail));
  }

  Result<std::vector<AuditEntry>> ListAudit(int limit) override {
    TG_ASSIGN_OR_RETURN(
        pg::ResultPtr r,
        Exec("SELECT ts_ms, actor, action, target, detail FROM audit_log ORDER BY id DESC"
             " LIMIT $1",
             Params().Int(std::max(limit, 0))));
    std::vector<AuditEntry> out;
    for (int i = 0; i < PQntuples(r.get()); ++i)
      out.push_back({GetInt(r.get(), i, 0), GetText(r.get(), i, 1), GetText(r.get(), i, 2),
                     GetText(r.get(), i, 3), GetText(r.get(), i, 4)});
    return out;
  }

  Result<int64_t> StateVersion() override {
    TG_ASSIGN_OR_RETURN(pg::ResultPtr r, Exec("SELECT version FROM state_version WHERE id = 1"));
    if (PQntuples(r.get()) == 0) return Status::IoError("state db: no state_version row");
    return GetInt(r.get(), 0, 0);
  }

  Status BumpStateVersion() override {
    return Run("UPDATE state_version SET version = version + 1 WHERE id = 1");
  }

 private:
  // A statement. A connection the server closed (a restart) is reconnected
  // first; the statement that found it closed has failed already, and is not
  // retried, since it may have been applied.
  Result<pg::ResultPtr> Exec(const std::string& sql, const Params& params = {}) {
    if (PQstatus(c_.get()) != CONNECTION_OK) {
      PQreset(c_.get());
      if (PQstatus(c_.get()) == CONNECTION_OK) TG_RETURN_IF_ERROR(pg::SetUpSession(c_.get()));
    }
    return pg::Exec(c_.get(), "state db", sql, params);
  }
  Status Run(const std::string& sql, const Params& params = {}) {
    auto r = Exec(sql, params);
    return r.ok() ? Status::Ok() : r.status();
  }

  pg::Conn c_;
};

}  // namespace

Result<std::unique_ptr<StateStore>> OpenPostgresStateStore(const std::string& url) {
  TG_ASSIGN_OR_RETURN(pg::Conn c, pg::ConnectAndMigrate(url));
  return std::unique_ptr<StateStore>(new PostgresStateStore(std::move(c)));
}

}  // namespace tollgate::ledger
