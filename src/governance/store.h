// Governance state at rest: virtual keys (only a SHA-256 of each secret is
// kept), budgets, spend counters and the audit log, in the ledger's SQLite
// file. Used by the CLI, the admin API and the server's reloader. A Store owns
// one connection and is not thread-safe; open one per thread.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace tollgate::governance {

struct VirtualKey {
  std::string id;             // key_<hex>, public
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
  std::string secret_hash;    // hex SHA-256 of the secret; never the secret
};

enum class Window { kDaily, kWeekly, kMonthly, kLifetime };
const char* WindowName(Window w);
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

// Input to CreateKey; validated by the Store.
struct KeySpec {
  std::string name, owner, user, project, team;
  std::vector<std::string> tags, allowed_models;
  std::optional<int64_t> expires_at_ms;
  int64_t rpm = 0, tpm = 0;
  double usd_per_minute = 0;
};

class Store {
 public:
  // Opens (creating/migrating) the database at `path`. IoError on failure.
  static Result<std::unique_ptr<Store>> Open(const std::string& path);
  ~Store();

  // Creates a key; returns it and sets *secret to the only copy of the secret.
  Result<VirtualKey> CreateKey(const KeySpec& spec, const std::string& actor, std::string* secret);
  Result<std::vector<VirtualKey>> ListKeys(bool include_revoked);
  // NotFound if no key has this id (or name).
  Result<VirtualKey> GetKey(const std::string& id_or_name);
  Status RevokeKey(const std::string& id_or_name, const std::string& actor);
  // Replaces the secret, keeping id, budgets and limits; returns the new secret.
  Result<std::string> RotateKey(const std::string& id_or_name, const std::string& actor);

  // Creates or replaces (by name) a budget. InvalidArgument if malformed.
  Result<Budget> PutBudget(Budget b, const std::string& actor);
  Result<std::vector<Budget>> ListBudgets();
  Status DeleteBudget(const std::string& id_or_name, const std::string& actor);

  Result<std::vector<SpendRow>> ListSpend();
  Status SetSpend(const SpendRow& row);
  Result<std::vector<AuditEntry>> ListAudit(int limit);
  Status Audit(const std::string& actor, const std::string& action, const std::string& target,
               const std::string& detail);
  // Monotonic counter bumped by every change to keys or budgets.
  Result<int64_t> StateVersion();
  sqlite3* db() { return db_; }

 private:
  explicit Store(sqlite3* db) : db_(db) {}
  Status BumpVersion();
  sqlite3* db_;
};

// Creates a key and, when `budget` is given, a key-scoped budget named
// "key:<id>" from it (its scope and subject are filled in). Used by the CLI
// and the admin API so both behave the same.
Result<VirtualKey> CreateKeyWithBudget(Store& store, const KeySpec& spec, const std::optional<Budget>& budget,
                                       const std::string& actor, std::string* secret);

// Budget validation shared by config, CLI and admin API.
Status ValidateBudget(const Budget& b);

}  // namespace tollgate::governance
