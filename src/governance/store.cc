#include "governance/store.h"

#include <openssl/rand.h>

#include <algorithm>
#include <sstream>

#include "common/util.h"
#include "config/closed_sets.h"

namespace tollgate::governance {
namespace {

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

bool ValidName(const std::string& s) {
  if (s.size() > 128) return false;
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f || c == ',') return false;
  return true;
}

}  // namespace

Status ValidateBudget(const Budget& b) {
  if (b.name.empty() || !ValidName(b.name)) return Status::InvalidArgument("budget name must be 1-128 printable characters without commas");
  const std::optional<config::BudgetScope> scope = config::ParseBudgetScope(b.scope);
  if (!scope)
    return Status::InvalidArgument("budget scope must be global, key, user, project or team (got '" + b.scope + "')");
  const bool global = *scope == config::BudgetScope::kGlobal;
  if (global && !b.subject.empty())
    return Status::InvalidArgument("a global budget takes no subject");
  if (!global && b.subject.empty())
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

Result<std::unique_ptr<Store>> Store::Open(ledger::Storage& storage) {
  TG_ASSIGN_OR_RETURN(std::unique_ptr<ledger::StateStore> state, storage.OpenStateStore());
  return std::make_unique<Store>(std::move(state));
}

Result<std::unique_ptr<Store>> Store::Open(const std::string& url) {
  TG_ASSIGN_OR_RETURN(std::unique_ptr<ledger::Storage> storage, ledger::OpenLedger(url));
  return Open(*storage);
}

Status Store::Audit(const std::string& actor, const std::string& action, const std::string& target,
                    const std::string& detail) {
  return state_->AppendAudit({NowUnixMs(), actor, action, target, detail});
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
  TG_RETURN_IF_ERROR(state_->InsertKey(k));
  TG_RETURN_IF_ERROR(state_->BumpStateVersion());
  TG_RETURN_IF_ERROR(Audit(actor, "key.create", k.id, k.name));
  return k;
}

Result<std::vector<VirtualKey>> Store::ListKeys(bool include_revoked) { return state_->ListKeys(include_revoked); }

Result<VirtualKey> Store::GetKey(const std::string& id_or_name) { return state_->FindKey(id_or_name); }

Status Store::RevokeKey(const std::string& id_or_name, const std::string& actor) {
  TG_ASSIGN_OR_RETURN(VirtualKey k, GetKey(id_or_name));
  if (k.revoked_at_ms) return Status::InvalidArgument("key " + k.id + " is already revoked");
  TG_RETURN_IF_ERROR(state_->SetKeyRevoked(k.id, NowUnixMs()));
  TG_RETURN_IF_ERROR(state_->BumpStateVersion());
  return Audit(actor, "key.revoke", k.id, k.name);
}

Result<std::string> Store::RotateKey(const std::string& id_or_name, const std::string& actor) {
  TG_ASSIGN_OR_RETURN(VirtualKey k, GetKey(id_or_name));
  if (k.revoked_at_ms) return Status::InvalidArgument("key " + k.id + " is revoked; create a new one");
  std::string secret = "tg-" + RandomBase62(40);
  TG_RETURN_IF_ERROR(state_->SetKeySecret(k.id, Sha256Hex(secret), secret.substr(0, 7), NowUnixMs()));
  TG_RETURN_IF_ERROR(state_->BumpStateVersion());
  TG_RETURN_IF_ERROR(Audit(actor, "key.rotate", k.id, k.name));
  return secret;
}

Result<Budget> Store::PutBudget(Budget b, const std::string& actor) {
  TG_RETURN_IF_ERROR(ValidateBudget(b));
  // A budget is replaced by name: it keeps its id and creation time.
  TG_ASSIGN_OR_RETURN(std::vector<Budget> existing, state_->ListBudgets());
  auto same = std::find_if(existing.begin(), existing.end(), [&](const Budget& e) { return e.name == b.name; });
  if (same != existing.end()) {
    b.id = same->id;
    b.created_at_ms = same->created_at_ms;
  } else {
    b.id = "bud_" + Sha256Hex(NewRequestId()).substr(0, 12);
    b.created_at_ms = NowUnixMs();
  }
  TG_RETURN_IF_ERROR(state_->UpsertBudget(b));
  TG_RETURN_IF_ERROR(state_->BumpStateVersion());
  std::ostringstream detail;
  detail << b.scope << ":" << b.subject << " " << WindowName(b.window) << " limit=" << b.limit_usd.value_or(-1)
         << " soft=" << b.soft_limit_usd.value_or(-1);
  TG_RETURN_IF_ERROR(Audit(actor, "budget.put", b.id, detail.str()));
  return b;
}

Result<std::vector<Budget>> Store::ListBudgets() { return state_->ListBudgets(); }

Status Store::DeleteBudget(const std::string& id_or_name, const std::string& actor) {
  TG_RETURN_IF_ERROR(state_->DeleteBudget(id_or_name));
  TG_RETURN_IF_ERROR(state_->BumpStateVersion());
  return Audit(actor, "budget.delete", id_or_name, "");
}

Result<std::vector<SpendRow>> Store::ListSpend() { return state_->ListSpend(); }

Status Store::SetSpend(const SpendRow& r) { return state_->SetSpend(r); }

Result<std::vector<AuditEntry>> Store::ListAudit(int limit) { return state_->ListAudit(limit); }

Result<int64_t> Store::StateVersion() { return state_->StateVersion(); }

}  // namespace tollgate::governance
