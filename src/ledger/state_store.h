// Governance state at rest: virtual keys (only a SHA-256 of each secret),
// budgets, the budget spend counters, the audit log and the state version, as
// one interface with no policy in it: validation, secrets and auditing are
// governance::Store's (src/governance/store.h), which is built on this.
// Backends: SQLite (sqlite_state_store.cc, the ledger's own file, so the spend
// counters are charged in the same transaction as the rows), PostgreSQL
// (postgres_state_store.cc, likewise, shared by replicas) and in memory.
// Thread safety: a StateStore is one connection and is not thread-safe; open
// one per thread (Storage::OpenStateStore).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "config/closed_sets.h"

namespace tollgate::ledger {

struct VirtualKey {
  std::string id;  // key_<hex>, public
  std::string name;
  std::string secret_prefix;  // first characters of the secret, for recognition
  std::string owner, user, project, team;
  std::vector<std::string> tags;
  std::vector<std::string> allowed_models;  // empty = all
  std::optional<int64_t> expires_at_ms;
  int64_t rpm = 0, tpm = 0;   // 0 = unlimited
  double usd_per_minute = 0;  // 0 = unlimited
  int64_t created_at_ms = 0;
  std::optional<int64_t> revoked_at_ms;
  std::string secret_hash;  // hex SHA-256 of the secret; never the secret
};

using Window = config::BudgetWindow;
const char* WindowName(Window w);  // config::BudgetWindowName
// Also takes the admin API's short forms: day, week, month, total.
std::optional<Window> ParseWindow(std::string_view s);

struct Budget {
  std::string id;
  std::string name;
  std::string scope;    // global | key | user | project | team
  std::string subject;  // key id, user, project or team; empty for global
  std::string model;    // empty = every model
  Window window = Window::kDaily;
  std::optional<double> limit_usd;       // hard: requests are refused past it
  std::optional<double> soft_limit_usd;  // soft: an alert when crossed
  int64_t created_at_ms = 0;
};

struct SpendRow {
  std::string budget_id;
  int64_t window_start_ms = 0;
  double spent_usd = 0;
  int64_t requests = 0;
};

struct AuditEntry {
  int64_t ts_ms = 0;
  std::string actor, action, target, detail;
};

class StateStore {
 public:
  virtual ~StateStore() = default;

  // IoError when the key cannot be stored (its id or secret hash is taken).
  virtual Status InsertKey(const VirtualKey& k) = 0;
  // Oldest first.
  virtual Result<std::vector<VirtualKey>> ListKeys(bool include_revoked) = 0;
  // NotFound if no key has this id or name.
  virtual Result<VirtualKey> FindKey(const std::string& id_or_name) = 0;
  virtual Status SetKeyRevoked(const std::string& id, int64_t revoked_at_ms) = 0;
  virtual Status SetKeySecret(const std::string& id, const std::string& secret_hash,
                              const std::string& secret_prefix, int64_t rotated_at_ms) = 0;

  // Inserts, or updates everything but name and created_at_ms of the budget with b.id.
  virtual Status UpsertBudget(const Budget& b) = 0;
  // Ordered by name.
  virtual Result<std::vector<Budget>> ListBudgets() = 0;
  // Deletes the budgets with this id or name. NotFound if there is none.
  virtual Status DeleteBudget(const std::string& id_or_name) = 0;

  // Every (budget, window) counter.
  virtual Result<std::vector<SpendRow>> ListSpend() = 0;
  // Overwrites one counter.
  virtual Status SetSpend(const SpendRow& row) = 0;

  virtual Status AppendAudit(const AuditEntry& e) = 0;
  // Newest first, at most `limit`.
  virtual Result<std::vector<AuditEntry>> ListAudit(int limit) = 0;

  // A counter bumped by every change to keys or budgets; servers poll it.
  virtual Result<int64_t> StateVersion() = 0;
  virtual Status BumpStateVersion() = 0;
};

}  // namespace tollgate::ledger
