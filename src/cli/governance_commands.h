// CLI for governance: `tollgate keys ...`, `tollgate budgets ...`,
// `tollgate audit` and `tollgate reconcile`. They work directly on the stored
// state (the ledger's, opened by its URL), so they run with or without a live
// server; a running server picks changes up within governance.reload_interval_ms.
#pragma once

#include <CLI/CLI.hpp>

#include <optional>
#include <string>
#include <vector>

namespace tollgate::cli {

class GovernanceCommands {
 public:
  // Registers the subcommands on `app`.
  explicit GovernanceCommands(CLI::App& app);
  // Runs the parsed subcommand; nullopt if none of these was given.
  std::optional<int> Run();

 private:
  std::string DbPath() const;
  int KeysCreate();
  int KeysList();
  int KeysShow();
  int KeysRevoke();
  int KeysRotate();
  int BudgetsSet();
  int BudgetsList();
  int BudgetsDelete();
  int Audit();
  int Reconcile();

  CLI::App *keys_ = nullptr, *k_create_ = nullptr, *k_list_ = nullptr, *k_show_ = nullptr, *k_revoke_ = nullptr,
           *k_rotate_ = nullptr;
  CLI::App *budgets_ = nullptr, *b_set_ = nullptr, *b_list_ = nullptr, *b_delete_ = nullptr;
  CLI::App *audit_ = nullptr, *reconcile_ = nullptr;

  std::string db_, config_, format_ = "table", id_;
  std::string counters_url_;
  // keys create
  std::string name_, owner_, user_, project_, team_, expires_;
  std::vector<std::string> tags_, models_;
  int64_t rpm_ = 0, tpm_ = 0;
  double usd_per_minute_ = 0;
  double budget_usd_ = -1, soft_budget_usd_ = -1;
  std::string budget_window_ = "monthly";
  bool all_ = false;
  // budgets set
  std::string b_scope_ = "global", b_subject_, b_model_;
  double b_limit_ = -1, b_soft_ = -1;
  bool repair_ = false;
  int audit_limit_ = 50;
};

}  // namespace tollgate::cli
