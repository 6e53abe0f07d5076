// SQLite implementation of StateStore: the keys, budgets, budget_spend,
// audit_log and state_version tables of the ledger file (schema v2,
// docs/ledger.md). One connection per object; each method is one statement
// (auto-commit), so none holds a read open while another connection writes.
#include <sqlite3.h>

#include "common/text.h"
#include "common/util.h"
#include "ledger/columns.h"
#include "ledger/sqlite_backend.h"
#include "ledger/sqlite_schema.h"
#include "ledger/sqlite_stmt.h"

namespace tollgate::ledger {
namespace {

constexpr const char* kKeyColumns =
    "id, name, secret_hash, secret_prefix, owner, user, project, team, tags, allowed_models, "
    "expires_at_ms,"
    " rpm, tpm, usd_per_minute, created_at_ms, revoked_at_ms";

VirtualKey ReadKey(Stmt& s) {
  VirtualKey k;
  k.id = s.ColText(0);
  k.name = s.ColText(1);
  k.secret_hash = s.ColText(2);
  k.secret_prefix = s.ColText(3);
  k.owner = s.ColText(4);
  k.user = s.ColText(5);
  k.project = s.ColText(6);
  k.team = s.ColText(7);
  auto list = [&](int col) {
    const char* c = s.ColCStr(col);
    return SplitListColumn(c ? c : "");
  };
  k.tags = list(8);
  k.allowed_models = list(9);
  if (!s.IsNull(10)) k.expires_at_ms = s.ColInt(10);
  k.rpm = s.ColInt(11);
  k.tpm = s.ColInt(12);
  k.usd_per_minute = s.ColReal(13);
  k.created_at_ms = s.ColInt(14);
  if (!s.IsNull(15)) k.revoked_at_ms = s.ColInt(15);
  return k;
}

Budget ReadBudget(Stmt& s) {
  Budget b;
  b.id = s.ColText(0);
  b.name = s.ColText(1);
  b.scope = s.ColText(2);
  b.subject = s.ColText(3);
  b.model = s.ColText(4);
  b.window = ParseWindow(s.ColText(5)).value_or(Window::kDaily);
  if (!s.IsNull(6)) b.limit_usd = s.ColReal(6);
  if (!s.IsNull(7)) b.soft_limit_usd = s.ColReal(7);
  b.created_at_ms = s.ColInt(8);
  return b;
}

class SqliteStateStore final : public StateStore {
 public:
  explicit SqliteStateStore(sqlite3* db) : db_(db) {}
  ~SqliteStateStore() override { sqlite3_close(db_); }

  Status InsertKey(const VirtualKey& k) override {
    Stmt s(
        db_,
        "INSERT INTO keys (id, name, secret_hash, secret_prefix, owner, user, project, team, tags,"
        " allowed_models, expires_at_ms, rpm, tpm, usd_per_minute, created_at_ms) VALUES"
        " (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    s.Text(1, k.id).TextOrNull(2, k.name).Text(3, k.secret_hash).Text(4, k.secret_prefix);
    s.TextOrNull(5, k.owner).TextOrNull(6, k.user).TextOrNull(7, k.project).TextOrNull(8, k.team);
    s.TextOrNull(9, Join(k.tags, ","))
        .TextOrNull(10, Join(k.allowed_models, ","))
        .IntOrNull(11, k.expires_at_ms);
    s.Int(12, k.rpm).Int(13, k.tpm).Real(14, k.usd_per_minute).Int(15, k.created_at_ms);
    return s.Run();
  }

  Result<std::vector<VirtualKey>> ListKeys(bool include_revoked) override {
    std::string sql = std::string("SELECT ") + kKeyColumns + " FROM keys" +
                      (include_revoked ? "" : " WHERE revoked_at_ms IS NULL") +
                      " ORDER BY created_at_ms";
    Stmt s(db_, sql.c_str());
    if (!s.ok()) return s.Error("state db");
    std::vector<VirtualKey> out;
    while (s.Step() == SQLITE_ROW) out.push_back(ReadKey(s));
    return out;
  }

  Result<VirtualKey> FindKey(const std::string& id_or_name) override {
    std::string sql =
        std::string("SELECT ") + kKeyColumns + " FROM keys WHERE id = ? OR name = ? LIMIT 1";
    Stmt s(db_, sql.c_str());
    s.Text(1, id_or_name).Text(2, id_or_name);
    if (s.Step() != SQLITE_ROW) return Status::NotFound("no key '" + id_or_name + "'");
    return ReadKey(s);
  }

  Status SetKeyRevoked(const std::string& id, int64_t revoked_at_ms) override {
    return Stmt(db_, "UPDATE keys SET revoked_at_ms = ? WHERE id = ?")
        .Int(1, revoked_at_ms)
        .Text(2, id)
        .Run();
  }

  Status SetKeySecret(const std::string& id, const std::string& secret_hash,
                      const std::string& secret_prefix, int64_t rotated_at_ms) override {
    return Stmt(
               db_,
               "UPDATE keys SET secret_hash = ?, secret_prefix = ?, rotated_at_ms = ? WHERE id = ?")
        .Text(1, secret_hash)
        .Text(2, secret_prefix)
        .Int(3, rotated_at_ms)
        .Text(4, id)
        .Run();
  }

  Status UpsertBudget(const Budget& b) override {
    Stmt s(db_,
           "INSERT INTO budgets (id, name, scope, subject, model, window, limit_usd, "
           "soft_limit_usd, created_at_ms)"
           " VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET scope = excluded.scope,"
           " subject = excluded.subject, model = excluded.model, window = excluded.window,"
           " limit_usd = excluded.limit_usd, soft_limit_usd = excluded.soft_limit_usd");
    s.Text(1, b.id)
        .Text(2, b.name)
        .Text(3, b.scope)
        .TextOrNull(4, b.subject)
        .TextOrNull(5, b.model);
    s.Text(6, WindowName(b.window)).RealOrNull(7, b.limit_usd).RealOrNull(8, b.soft_limit_usd);
    s.Int(9, b.created_at_ms);
    return s.Run();
  }

  Result<std::vector<Budget>> ListBudgets() override {
    Stmt s(db_,
           "SELECT id, name, scope, subject, model, window, limit_usd, soft_limit_usd, "
           "created_at_ms FROM budgets"
           " ORDER BY name");
    if (!s.ok()) return s.Error("state db");
    std::vector<Budget> out;
    while (s.Step() == SQLITE_ROW) out.push_back(ReadBudget(s));
    return out;
  }

  Status DeleteBudget(const std::string& id_or_name) override {
    Stmt s(db_, "DELETE FROM budgets WHERE id = ? OR name = ?");
    s.Text(1, id_or_name).Text(2, id_or_name);
    TG_RETURN_IF_ERROR(s.Run());
    if (sqlite3_changes(db_) == 0) return Status::NotFound("no budget '" + id_or_name + "'");
    return Status::Ok();
  }

  Result<std::vector<SpendRow>> ListSpend() override {
    Stmt s(db_, "SELECT budget_id, window_start_ms, spent_usd, requests FROM budget_spend");
    std::vector<SpendRow> out;
    while (s.Step() == SQLITE_ROW)
      out.push_back({s.ColText(0), s.ColInt(1), s.ColReal(2), s.ColInt(3)});
    return out;
  }

  Status SetSpend(const SpendRow& r) override {
    return Stmt(db_,
                "INSERT INTO budget_spend (budget_id, window_start_ms, spent_usd, requests) VALUES "
                "(?,?,?,?)"
                " ON CONFLICT(budget_id, window_start_ms) DO UPDATE SET spent_usd = "
                "excluded.spent_usd,"
                " requests = excluded.requests")
        .Text(1, r.budget_id)
        .Int(2, r.window_start_ms)
        .Real(3, r.spent_usd)
        .Int(4, r.requests)
        .Run();
  }

  Status AppendAudit(const AuditEntry& e) override {
    return Stmt(db_,
                "INSERT INTO audit_log (ts_ms, actor, action, target, detail) VALUES (?,?,?,?,?)")
        .Int(1, e.ts_ms)
        .Text(2, e.actor)
        .Text(3, e.action)
        .Text(4, e.target)
        .Text(5, e.detail)
        .Run();
  }

  Result<std::vector<AuditEntry>> ListAudit(int limit) override {
    Stmt s(db_,
           "SELECT ts_ms, actor, action, target, detail FROM audit_log ORDER BY id DESC LIMIT ?");
    s.Int(1, limit);
    std::vector<AuditEntry> out;
    while (s.Step() == SQLITE_ROW)
      out.push_back({s.ColInt(0), s.ColText(1), s.ColText(2), s.ColText(3), s.ColText(4)});
    return out;
  }

  Result<int64_t> StateVersion() override {
    Stmt s(db_, "SELECT version FROM state_version WHERE id = 1");
    if (s.Step() != SQLITE_ROW) return Status::IoError("state db: no state_version row");
    return s.ColInt(0);
  }

  Status BumpStateVersion() override {
    return Stmt(db_, "UPDATE state_version SET version = version + 1 WHERE id = 1").Run();
  }

 private:
  sqlite3* db_;
};

}  // namespace

Result<std::unique_ptr<StateStore>> OpenSqliteStateStore(const std::string& path) {
  TG_ASSIGN_OR_RETURN(sqlite3 * db, OpenAndMigrate(path));
  return std::unique_ptr<StateStore>(new SqliteStateStore(db));
}

}  // namespace tollgate::ledger
