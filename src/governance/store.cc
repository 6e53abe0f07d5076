#include "governance/store.h"

#include <openssl/rand.h>

#include <sstream>

#include "common/util.h"
#include "ledger/schema.h"

namespace tollgate::governance {
namespace {

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

std::vector<std::string> Split(const char* s) {
  std::vector<std::string> out;
  if (!s) return out;
  std::string_view v(s);
  size_t pos = 0;
  while (pos <= v.size() && !v.empty()) {
    size_t c = v.find(',', pos);
    std::string_view part = Trim(v.substr(pos, c == std::string_view::npos ? std::string_view::npos : c - pos));
    if (!part.empty()) out.emplace_back(part);
    if (c == std::string_view::npos) break;
    pos = c + 1;
  }
  return out;
}

std::string RandomBase62(size_t n) {
  static const char* kAlphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  std::string out;
  unsigned char buf[64];
  while (out.size() < n) {
    RAND_bytes(buf, sizeof buf);
    for (unsigned char b : buf) {
      if (b >= 248) continue;  // keep the distribution uniform over 62 symbols
      out.push_back(kAlphabet[b % 62]);
      if (out.size() == n) break;
    }
  }
  return out;
}

// Minimal RAII statement wrapper with typed binders.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) { rc_ = sqlite3_prepare_v2(db, sql, -1, &s_, nullptr); }
  ~Stmt() { sqlite3_finalize(s_); }
  bool ok() const { return rc_ == SQLITE_OK; }
  Stmt& Text(int i, const std::string& v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& TextOrNull(int i, const std::string& v) {
    if (v.empty()) sqlite3_bind_null(s_, i);
    else Text(i, v);
    return *this;
  }
  Stmt& Int(int i, int64_t v) {
    sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  Stmt& IntOrNull(int i, std::optional<int64_t> v) {
    if (v) sqlite3_bind_int64(s_, i, *v);
    else sqlite3_bind_null(s_, i);
    return *this;
  }
  Stmt& Real(int i, double v) {
    sqlite3_bind_double(s_, i, v);
    return *this;
  }
  Stmt& RealOrNull(int i, std::optional<double> v) {
    if (v) sqlite3_bind_double(s_, i, *v);
    else sqlite3_bind_null(s_, i);
    return *this;
  }
  int Step() { return sqlite3_step(s_); }
  Status Run() {
    if (!ok() || Step() != SQLITE_DONE) return Status::IoError(std::string("state db: ") + sqlite3_errmsg(db_));
    return Status::Ok();
  }
  std::string ColText(int i) {
    auto p = sqlite3_column_text(s_, i);
    return p ? reinterpret_cast<const char*>(p) : "";
  }
  const char* ColCStr(int i) { return reinterpret_cast<const char*>(sqlite3_column_text(s_, i)); }
  int64_t ColInt(int i) { return sqlite3_column_int64(s_, i); }
  double ColReal(int i) { return sqlite3_column_double(s_, i); }
  bool IsNull(int i) { return sqlite3_column_type(s_, i) == SQLITE_NULL; }

 private:
  sqlite3* db_;
  sqlite3_stmt* s_ = nullptr;
  int rc_;
};

constexpr const char* kKeyColumns =
    "id, name, secret_hash, secret_prefix, owner, user, project, team, tags, allowed_models, expires_at_ms,"
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
  k.tags = Split(s.ColCStr(8));
  k.allowed_models = Split(s.ColCStr(9));
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

bool ValidName(const std::string& s) {
  if (s.size() > 128) return false;
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f || c == ',') return false;
  return true;
}

}  // namespace

const char* WindowName(Window w) {
  switch (w) {
    case Window::kDaily: return "daily";
    case Window::kWeekly: return "weekly";
    case Window::kMonthly: return "monthly";
    case Window::kLifetime: return "lifetime";
  }
  return "daily";
}

std::optional<Window> ParseWindow(std::string_view s) {
  if (s == "daily" || s == "day") return Window::kDaily;
  if (s == "weekly" || s == "week") return Window::kWeekly;
  if (s == "monthly" || s == "month") return Window::kMonthly;
  if (s == "lifetime" || s == "total") return Window::kLifetime;
  return std::nullopt;
}

Status ValidateBudget(const Budget& b) {
  if (b.name.empty() || !ValidName(b.name)) return Status::InvalidArgument("budget name must be 1-128 printable characters without commas");
  if (b.scope != "global" && b.scope != "key" && b.scope != "user" && b.scope != "project" && b.scope != "team")
    return Status::InvalidArgument("budget scope must be global, key, user, project or team (got '" + b.scope + "')");
  if (b.scope == "global" && !b.subject.empty())
    return Status::InvalidArgument("a global budget takes no subject");
  if (b.scope != "global" && b.subject.empty())
    return Status::InvalidArgument("a " + b.scope + " budget needs a subject (the " + b.scope + " it limits)");
  if (!b.limit_usd && !b.soft_limit_usd) return Status::InvalidArgument("a budget needs limit_usd and/or soft_limit_usd");
  if ((b.limit_usd && *b.limit_usd < 0) || (b.soft_limit_usd && *b.soft_limit_usd < 0))
    return Status::InvalidArgument("budget limits must be >= 0");
  if (b.limit_usd && b.soft_limit_usd && *b.soft_limit_usd > *b.limit_usd)
    return Status::InvalidArgument("soft_limit_usd must not exceed limit_usd");
  return Status::Ok();
}

Result<VirtualKey> CreateKeyWithBudget(Store& store, const KeySpec& spec, const std::optional<Budget>& budget,
                                       const std::string& actor, std::string* secret) {
  if (budget) {
    Budget probe = *budget;
    probe.name = "key:probe";
    probe.scope = "key";
    probe.subject = "probe";
    TG_RETURN_IF_ERROR(ValidateBudget(probe));  // refuse before creating the key
  }
  TG_ASSIGN_OR_RETURN(VirtualKey k, store.CreateKey(spec, actor, secret));
  if (budget) {
    Budget b = *budget;
    b.name = "key:" + k.id;
    b.scope = "key";
    b.subject = k.id;
    TG_RETURN_IF_ERROR(store.PutBudget(b, actor).status());
  }
  return k;
}

Result<std::unique_ptr<Store>> Store::Open(const std::string& path) {
  TG_ASSIGN_OR_RETURN(sqlite3 * db, ledger::OpenAndMigrate(path));
  return std::unique_ptr<Store>(new Store(db));
}

Store::~Store() { sqlite3_close(db_); }

Status Store::BumpVersion() {
  return Stmt(db_, "UPDATE state_version SET version = version + 1 WHERE id = 1").Run();
}

Status Store::Audit(const std::string& actor, const std::string& action, const std::string& target,
                    const std::string& detail) {
  return Stmt(db_, "INSERT INTO audit_log (ts_ms, actor, action, target, detail) VALUES (?,?,?,?,?)")
      .Int(1, NowUnixMs())
      .Text(2, actor)
      .Text(3, action)
      .Text(4, target)
      .Text(5, detail)
      .Run();
}

Result<VirtualKey> Store::CreateKey(const KeySpec& spec, const std::string& actor, std::string* secret) {
  for (const std::string* s : {&spec.name, &spec.owner, &spec.user, &spec.project, &spec.team})
    if (!ValidName(*s)) return Status::InvalidArgument("key fields must be printable, without commas, at most 128 characters");
  for (const auto& t : spec.tags)
    if (!ValidName(t) || t.empty()) return Status::InvalidArgument("invalid tag '" + t + "'");
  if (spec.rpm < 0 || spec.tpm < 0 || spec.usd_per_minute < 0) return Status::InvalidArgument("limits must be >= 0");
  if (spec.expires_at_ms && *spec.expires_at_ms <= NowUnixMs())
    return Status::InvalidArgument("expiry must be in the future");
  if (!spec.name.empty() && GetKey(spec.name).ok())
    return Status::InvalidArgument("a key named '" + spec.name + "' already exists");
  VirtualKey k;
  k.id = "key_" + Sha256Hex(NewRequestId()).substr(0, 16);
  k.name = spec.name;
  k.owner = spec.owner;
  k.user = spec.user;
  k.project = spec.project;
  k.team = spec.team;
  k.tags = spec.tags;
  k.allowed_models = spec.allowed_models;
  k.expires_at_ms = spec.expires_at_ms;
  k.rpm = spec.rpm;
  k.tpm = spec.tpm;
  k.usd_per_minute = spec.usd_per_minute;
  k.created_at_ms = NowUnixMs();
  *secret = "tg-" + RandomBase62(40);
  k.secret_hash = Sha256Hex(*secret);
  k.secret_prefix = secret->substr(0, 7);
  Stmt s(db_, "INSERT INTO keys (id, name, secret_hash, secret_prefix, owner, user, project, team, tags,"
              " allowed_models, expires_at_ms, rpm, tpm, usd_per_minute, created_at_ms) VALUES"
              " (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  s.Text(1, k.id).TextOrNull(2, k.name).Text(3, k.secret_hash).Text(4, k.secret_prefix);
  s.TextOrNull(5, k.owner).TextOrNull(6, k.user).TextOrNull(7, k.project).TextOrNull(8, k.team);
  s.TextOrNull(9, Join(k.tags)).TextOrNull(10, Join(k.allowed_models)).IntOrNull(11, k.expires_at_ms);
  s.Int(12, k.rpm).Int(13, k.tpm).Real(14, k.usd_per_minute).Int(15, k.created_at_ms);
  TG_RETURN_IF_ERROR(s.Run());
  TG_RETURN_IF_ERROR(BumpVersion());
  TG_RETURN_IF_ERROR(Audit(actor, "key.create", k.id, k.name));
  return k;
}

Result<std::vector<VirtualKey>> Store::ListKeys(bool include_revoked) {
  std::string sql = std::string("SELECT ") + kKeyColumns + " FROM keys" +
                    (include_revoked ? "" : " WHERE revoked_at_ms IS NULL") + " ORDER BY created_at_ms";
  Stmt s(db_, sql.c_str());
  if (!s.ok()) return Status::IoError(std::string("state db: ") + sqlite3_errmsg(db_));
  std::vector<VirtualKey> out;
  while (s.Step() == SQLITE_ROW) out.push_back(ReadKey(s));
  return out;
}

Result<VirtualKey> Store::GetKey(const std::string& id_or_name) {
  std::string sql = std::string("SELECT ") + kKeyColumns + " FROM keys WHERE id = ? OR name = ? LIMIT 1";
  Stmt s(db_, sql.c_str());
  s.Text(1, id_or_name).Text(2, id_or_name);
  if (s.Step() != SQLITE_ROW) return Status::NotFound("no key '" + id_or_name + "'");
  return ReadKey(s);
}

Status Store::RevokeKey(const std::string& id_or_name, const std::string& actor) {
  TG_ASSIGN_OR_RETURN(VirtualKey k, GetKey(id_or_name));
  if (k.revoked_at_ms) return Status::InvalidArgument("key " + k.id + " is already revoked");
  TG_RETURN_IF_ERROR(Stmt(db_, "UPDATE keys SET revoked_at_ms = ? WHERE id = ?").Int(1, NowUnixMs()).Text(2, k.id).Run());
  TG_RETURN_IF_ERROR(BumpVersion());
  return Audit(actor, "key.revoke", k.id, k.name);
}

Result<std::string> Store::RotateKey(const std::string& id_or_name, const std::string& actor) {
  TG_ASSIGN_OR_RETURN(VirtualKey k, GetKey(id_or_name));
  if (k.revoked_at_ms) return Status::InvalidArgument("key " + k.id + " is revoked; create a new one");
  std::string secret = "tg-" + RandomBase62(40);
  TG_RETURN_IF_ERROR(Stmt(db_, "UPDATE keys SET secret_hash = ?, secret_prefix = ?, rotated_at_ms = ? WHERE id = ?")
                         .Text(1, Sha256Hex(secret))
                         .Text(2, secret.substr(0, 7))
                         .Int(3, NowUnixMs())
                         .Text(4, k.id)
                         .Run());
  TG_RETURN_IF_ERROR(BumpVersion());
  TG_RETURN_IF_ERROR(Audit(actor, "key.rotate", k.id, k.name));
  return secret;
}

Result<Budget> Store::PutBudget(Budget b, const std::string& actor) {
  TG_RETURN_IF_ERROR(ValidateBudget(b));
  {
    // Finished before the write: a still-open read would have to upgrade to a
    // write lock, and SQLite fails that at once (no busy wait) when the ledger
    // writer committed in between ("database is locked").
    Stmt find(db_, "SELECT id, created_at_ms FROM budgets WHERE name = ?");
    find.Text(1, b.name);
    if (find.Step() == SQLITE_ROW) {
      b.id = find.ColText(0);
      b.created_at_ms = find.ColInt(1);
    } else {
      b.id = "bud_" + Sha256Hex(NewRequestId()).substr(0, 12);
      b.created_at_ms = NowUnixMs();
    }
  }
  Stmt s(db_, "INSERT INTO budgets (id, name, scope, subject, model, window, limit_usd, soft_limit_usd, created_at_ms)"
              " VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET scope = excluded.scope,"
              " subject = excluded.subject, model = excluded.model, window = excluded.window,"
              " limit_usd = excluded.limit_usd, soft_limit_usd = excluded.soft_limit_usd");
  s.Text(1, b.id).Text(2, b.name).Text(3, b.scope).TextOrNull(4, b.subject).TextOrNull(5, b.model);
  s.Text(6, WindowName(b.window)).RealOrNull(7, b.limit_usd).RealOrNull(8, b.soft_limit_usd).Int(9, b.created_at_ms);
  TG_RETURN_IF_ERROR(s.Run());
  TG_RETURN_IF_ERROR(BumpVersion());
  std::ostringstream detail;
  detail << b.scope << ":" << b.subject << " " << WindowName(b.window) << " limit=" << b.limit_usd.value_or(-1)
         << " soft=" << b.soft_limit_usd.value_or(-1);
  TG_RETURN_IF_ERROR(Audit(actor, "budget.put", b.id, detail.str()));
  return b;
}

Result<std::vector<Budget>> Store::ListBudgets() {
  Stmt s(db_, "SELECT id, name, scope, subject, model, window, limit_usd, soft_limit_usd, created_at_ms FROM budgets"
              " ORDER BY name");
  if (!s.ok()) return Status::IoError(std::string("state db: ") + sqlite3_errmsg(db_));
  std::vector<Budget> out;
  while (s.Step() == SQLITE_ROW) out.push_back(ReadBudget(s));
  return out;
}

Status Store::DeleteBudget(const std::string& id_or_name, const std::string& actor) {
  Stmt s(db_, "DELETE FROM budgets WHERE id = ? OR name = ?");
  s.Text(1, id_or_name).Text(2, id_or_name);
  TG_RETURN_IF_ERROR(s.Run());
  if (sqlite3_changes(db_) == 0) return Status::NotFound("no budget '" + id_or_name + "'");
  TG_RETURN_IF_ERROR(BumpVersion());
  return Audit(actor, "budget.delete", id_or_name, "");
}

Result<std::vector<SpendRow>> Store::ListSpend() {
  Stmt s(db_, "SELECT budget_id, window_start_ms, spent_usd, requests FROM budget_spend");
  std::vector<SpendRow> out;
  while (s.Step() == SQLITE_ROW) out.push_back({s.ColText(0), s.ColInt(1), s.ColReal(2), s.ColInt(3)});
  return out;
}

Status Store::SetSpend(const SpendRow& r) {
  return Stmt(db_, "INSERT INTO budget_spend (budget_id, window_start_ms, spent_usd, requests) VALUES (?,?,?,?)"
                   " ON CONFLICT(budget_id, window_start_ms) DO UPDATE SET spent_usd = excluded.spent_usd,"
                   " requests = excluded.requests")
      .Text(1, r.budget_id)
      .Int(2, r.window_start_ms)
      .Real(3, r.spent_usd)
      .Int(4, r.requests)
      .Run();
}

Result<std::vector<AuditEntry>> Store::ListAudit(int limit) {
  Stmt s(db_, "SELECT ts_ms, actor, action, target, detail FROM audit_log ORDER BY id DESC LIMIT ?");
  s.Int(1, limit);
  std::vector<AuditEntry> out;
  while (s.Step() == SQLITE_ROW) out.push_back({s.ColInt(0), s.ColText(1), s.ColText(2), s.ColText(3), s.ColText(4)});
  return out;
}

Result<int64_t> Store::StateVersion() {
  Stmt s(db_, "SELECT version FROM state_version WHERE id = 1");
  if (s.Step() != SQLITE_ROW) return Status::IoError("state db: no state_version row");
  return s.ColInt(0);
}

}  // namespace tollgate::governance
