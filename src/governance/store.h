// Governance state and its rules: creating keys (the secret is generated here
// and only its SHA-256 is stored), rotating and revoking them, validated
// budgets, and an audit entry and a state-version bump for every change. The
// state itself is a ledger::StateStore (ledger/state_store.h), opened from the
// configured storage. Used by the CLI, the admin API and the server's reloader.
// A Store owns one state store connection and is not thread-safe; open one per thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "ledger/state_store.h"
#include "ledger/storage.h"

namespace tollgate::governance {

// The records are the storage layer's (ledger/state_store.h); governance
// names them as its own.
using ledger::AuditEntry;
using ledger::Budget;
using ledger::ParseWindow;
using ledger::SpendRow;
using ledger::VirtualKey;
using ledger::Window;
using ledger::WindowName;

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
  explicit Store(std::unique_ptr<ledger::StateStore> state) : state_(std::move(state)) {}
  // Opens the state of `storage` (creating and migrating it as needed). IoError on failure.
  static Result<std::unique_ptr<Store>> Open(ledger::Storage& storage);
  // Opens the state of the ledger at `url` (storage.h: a sqlite:// URL or a
  // file path). For callers that hold no Storage (the admin API); IoError on
  // failure, InvalidArgument for an unknown scheme.
  static Result<std::unique_ptr<Store>> Open(const std::string& url);

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

 private:
  std::unique_ptr<ledger::StateStore> state_;
};

// Creates a key and, when `budget` is given, a key-scoped budget named
// "key:<id>" from it (its scope and subject are filled in). Used by the CLI
// and the admin API so both behave the same.
Result<VirtualKey> CreateKeyWithBudget(Store& store, const KeySpec& spec, const std::optional<Budget>& budget,
                                       const std::string& actor, std::string* secret);

// Budget validation shared by config, CLI and admin API.
Status ValidateBudget(const Budget& b);

}  // namespace tollgate::governance
