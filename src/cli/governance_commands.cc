#include "cli/governance_commands.h"

#include "cli/validators.h"

#include <cstdio>
#include <iostream>

#include "common/text.h"
#include "common/util.h"
#include "config/closed_sets.h"
#include "config/config.h"
#include "governance/reconcile.h"
#include "governance/redis_counters.h"
#include "governance/serialize.h"
#include "governance/store.h"
#include "governance/window.h"
#include "ledger/storage.h"

namespace tollgate::cli {
namespace {

void AddDbOptions(CLI::App* cmd, std::string* db, std::string* config) {
  cmd->add_option("--db", *db,
                  "Ledger holding the state: a file path, sqlite:// or postgres:// URL (default: ledger.url/path of --config, "
                  "or ./tollgate.db)");
  cmd->add_option("-c,--config", *config, "Config whose ledger to use")->check(CLI::ExistingFile);
}

int Fail(const Status& st) {
  std::fprintf(stderr, "error: %s\n", st.message().c_str());
  return st.code() == StatusCode::kInvalidArgument || st.code() == StatusCode::kNotFound ? 2 : 1;
}

std::string Money(double v) { return FourDecimals(v); }

std::string JoinList(const std::vector<std::string>& v) {
  std::string out = Join(v, ",");
  return out.empty() ? "-" : out;
}

}  // namespace

GovernanceCommands::GovernanceCommands(CLI::App& app) {
  keys_ = app.add_subcommand("keys", "Manage virtual keys");
  keys_->require_subcommand(1);
  k_create_ = keys_->add_subcommand("create", "Create a key; its secret is printed once");
  k_create_->add_option("--name", name_, "Unique, human-readable name");
  k_create_->add_option("--owner", owner_, "Who is responsible for the key");
  k_create_->add_option("--user", user_, "User the key's requests are attributed to");
  k_create_->add_option("--project", project_, "Project the key's requests are attributed to");
  k_create_->add_option("--team", team_, "Team the key's requests are attributed to");
  k_create_->add_option("--tag", tags_, "Tag added to every request (repeatable)");
  k_create_->add_option("--model", models_, "Model the key may use (repeatable; default: all)");
  k_create_->add_option("--expires", expires_, "Expiry date, YYYY-MM-DD (UTC midnight)");
  k_create_->add_option("--rpm", rpm_, "Requests per minute (0 = unlimited)")->check(NonNegative());
  k_create_->add_option("--tpm", tpm_, "Tokens per minute (0 = unlimited)")->check(NonNegative());
  k_create_->add_option("--usd-per-minute", usd_per_minute_, "Dollars per minute (0 = unlimited)")->check(NonNegative());
  k_create_->add_option("--budget-usd", budget_usd_, "Hard budget for this key, in USD")->check(NonNegative());
  k_create_->add_option("--soft-budget-usd", soft_budget_usd_, "Soft (alerting) budget for this key, in USD")
      ->check(NonNegative());
  k_create_->add_option("--budget-window", budget_window_, "daily|weekly|monthly|lifetime")
      ->check(CLI::IsMember(config::BudgetWindowNames()));
  k_list_ = keys_->add_subcommand("list", "List keys");
  k_list_->add_flag("--all", all_, "Include revoked keys");
  k_show_ = keys_->add_subcommand("show", "Show one key");
  k_revoke_ = keys_->add_subcommand("revoke", "Revoke a key (it stops working at once)");
  k_rotate_ = keys_->add_subcommand("rotate", "Replace a key's secret, keeping its id, budgets and limits");
  for (CLI::App* c : {k_show_, k_revoke_, k_rotate_}) c->add_option("key", id_, "Key id or name")->required();
  for (CLI::App* c : {k_create_, k_list_, k_show_, k_revoke_, k_rotate_}) {
    AddDbOptions(c, &db_, &config_);
    c->add_option("--format", format_, "table|json")->check(CLI::IsMember({"table", "json"}));
  }

  budgets_ = app.add_subcommand("budgets", "Manage budgets");
  budgets_->require_subcommand(1);
  b_set_ = budgets_->add_subcommand("set", "Create or update a budget (by name)");
  b_set_->add_option("--name", name_, "Budget name")->required();
  b_set_->add_option("--scope", b_scope_, "global|key|user|project|team")
      ->check(CLI::IsMember(config::BudgetScopeNames()));
  b_set_->add_option("--subject", b_subject_, "The key id, user, project or team limited");
  b_set_->add_option("--model", b_model_, "Only count this model");
  b_set_->add_option("--window", budget_window_, "daily|weekly|monthly|lifetime")
      ->check(CLI::IsMember(config::BudgetWindowNames()));
  b_set_->add_option("--limit-usd", b_limit_, "Hard limit in USD")->check(NonNegative());
  b_set_->add_option("--soft-limit-usd", b_soft_, "Soft limit in USD")->check(NonNegative());
  b_list_ = budgets_->add_subcommand("list", "List budgets with their current spend");
  b_delete_ = budgets_->add_subcommand("delete", "Delete a budget");
  b_delete_->add_option("budget", id_, "Budget id or name")->required();
  for (CLI::App* c : {b_set_, b_list_, b_delete_}) {
    AddDbOptions(c, &db_, &config_);
    c->add_option("--format", format_, "table|json")->check(CLI::IsMember({"table", "json"}));
  }

  audit_ = app.add_subcommand("audit", "Show the audit log of admin actions");
  audit_->add_option("--limit", audit_limit_, "Entries to show")->check(CLI::PositiveNumber);
  AddDbOptions(audit_, &db_, &config_);
  reconcile_ = app.add_subcommand("reconcile", "Check that budget counters agree with the ledger");
  reconcile_->add_flag("--repair", repair_, "Rewrite counters that disagree from the ledger");
  reconcile_->add_option("--counters", counters_url_,
                         "redis:// URL of shared counters to check too (default: counters.url of --config)");
  AddDbOptions(reconcile_, &db_, &config_);
}

std::string GovernanceCommands::DbPath() const {
  if (!db_.empty()) return db_;
  if (!config_.empty()) {
    auto c = config::LoadConfigFile(config_);
    if (c.ok()) {
      (void)governance::SetTimezone(c->governance.timezone);
      return c->ledger.url;
    }
  }
  return "./tollgate.db";
}

std::optional<int> GovernanceCommands::Run() {
  if (!config_.empty()) {
    auto c = config::LoadConfigFile(config_);
    if (!c.ok()) {
      std::fprintf(stderr, "%s\n", c.status().message().c_str());
      return 2;
    }
  }
  if (k_create_->parsed()) return KeysCreate();
  if (k_list_->parsed()) return KeysList();
  if (k_show_->parsed()) return KeysShow();
  if (k_revoke_->parsed()) return KeysRevoke();
  if (k_rotate_->parsed()) return KeysRotate();
  if (b_set_->parsed()) return BudgetsSet();
  if (b_list_->parsed()) return BudgetsList();
  if (b_delete_->parsed()) return BudgetsDelete();
  if (audit_->parsed()) return Audit();
  if (reconcile_->parsed()) return Reconcile();
  return std::nullopt;
}

int GovernanceCommands::KeysCreate() {
  auto store = governance::Store::Open(DbPath());
  if (!store.ok()) return Fail(store.status());
  governance::KeySpec spec{name_, owner_, user_, project_, team_, tags_, models_, std::nullopt, rpm_, tpm_, usd_per_minute_};
  if (!expires_.empty()) {
    auto ms = ParseDateUtcMs(expires_);
    if (!ms) return Fail(Status::InvalidArgument("--expires must be a date YYYY-MM-DD (got '" + expires_ + "')"));
    spec.expires_at_ms = *ms;
  }
  std::optional<governance::Budget> budget;
  if (budget_usd_ >= 0 || soft_budget_usd_ >= 0) {
    governance::Budget b;
    b.window = *governance::ParseWindow(budget_window_);
    if (budget_usd_ >= 0) b.limit_usd = budget_usd_;
    if (soft_budget_usd_ >= 0) b.soft_limit_usd = soft_budget_usd_;
    budget = b;
  }
  std::string secret;
  auto k = governance::CreateKeyWithBudget(**store, spec, budget, "cli", &secret);
  if (!k.ok()) return Fail(k.status());
  if (format_ == "json") {
    rapidjson::StringBuffer sb;
    governance::JsonWriter w(sb);
    w.StartObject();
    w.Key("key");
    governance::WriteKey(w, *k);
    w.Key("secret");
    w.String(secret.c_str());
    w.EndObject();
    std::cout << sb.GetString() << "\n";
  } else {
    std::cout << "created " << k->id << (k->name.empty() ? "" : " (" + k->name + ")") << "\n"
              << "secret: " << secret << "\n"
              << "This secret is shown only once; tollgate stores only its SHA-256.\n";
  }
  return 0;
}

int GovernanceCommands::KeysList() {
  auto store = governance::Store::Open(DbPath());
  if (!store.ok()) return Fail(store.status());
  auto keys = (*store)->ListKeys(all_);
  if (!keys.ok()) return Fail(keys.status());
  if (format_ == "json") {
    rapidjson::StringBuffer sb;
    governance::JsonWriter w(sb);
    w.StartArray();
    for (const auto& k : *keys) governance::WriteKey(w, k);
    w.EndArray();
    std::cout << sb.GetString() << "\n";
    return 0;
  }
  std::printf("%-22s %-16s %-9s %-12s %-12s %-20s %s\n", "ID", "NAME", "PREFIX", "PROJECT", "TEAM", "MODELS", "STATE");
  for (const auto& k : *keys) {
    std::string state = k.revoked_at_ms ? "revoked" : (k.expires_at_ms && *k.expires_at_ms <= NowUnixMs()) ? "expired" : "active";
    std::printf("%-22s %-16s %-9s %-12s %-12s %-20s %s\n", k.id.c_str(), k.name.empty() ? "-" : k.name.c_str(),
                k.secret_prefix.c_str(), k.project.empty() ? "-" : k.project.c_str(),
                k.team.empty() ? "-" : k.team.c_str(), JoinList(k.allowed_models).c_str(), state.c_str());
  }
  return 0;
}

int GovernanceCommands::KeysShow() {
  auto store = governance::Store::Open(DbPath());
  if (!store.ok()) return Fail(store.status());
  auto k = (*store)->GetKey(id_);
  if (!k.ok()) return Fail(k.status());
  rapidjson::StringBuffer sb;
  governance::JsonWriter w(sb);
  governance::WriteKey(w, *k);
  std::cout << sb.GetString() << "\n";
  return 0;
}

int GovernanceCommands::KeysRevoke() {
  auto store = governance::Store::Open(DbPath());
  if (!store.ok()) return Fail(store.status());
  Status st = (*store)->RevokeKey(id_, "cli");
  if (!st.ok()) return Fail(st);
  std::cout << "revoked " << id_ << "\n";
  return 0;
}

int GovernanceCommands::KeysRotate() {
  auto store = governance::Store::Open(DbPath());
  if (!store.ok()) return Fail(store.status());
  auto secret = (*store)->RotateKey(id_, "cli");
  if (!secret.ok()) return Fail(secret.status());
  std::cout << "rotated " << id_ << "\nsecret: " << *secret << "\nThe old secret no longer works.\n";
  return 0;
}

int GovernanceCommands::BudgetsSet() {
  auto store = governance::Store::Open(DbPath());
  if (!store.ok()) return Fail(store.status());
  governance::Budget b;
  b.name = name_;
  b.scope = b_scope_;
  b.subject = b_subject_;
  b.model = b_model_;
  b.window = *governance::ParseWindow(budget_window_);
  if (b_limit_ >= 0) b.limit_usd = b_limit_;
  if (b_soft_ >= 0) b.soft_limit_usd = b_soft_;
  auto put = (*store)->PutBudget(b, "cli");
  if (!put.ok()) return Fail(put.status());
  std::cout << "budget " << put->name << " (" << put->id << ") saved\n";
  return 0;
}

int GovernanceCommands::BudgetsList() {
  const std::string path = DbPath();
  auto store = governance::Store::Open(path);
  if (!store.ok()) return Fail(store.status());
  auto budgets = (*store)->ListBudgets();
  if (!budgets.ok()) return Fail(budgets.status());
  auto spend = (*store)->ListSpend();
  if (!spend.ok()) return Fail(spend.status());
  const int64_t now = NowUnixMs();
  auto spent_of = [&](const governance::Budget& b) {
    int64_t start = governance::WindowStart(b.window, now);
    for (const auto& s : *spend)
      if (s.budget_id == b.id && s.window_start_ms == start) return s.spent_usd;
    return 0.0;
  };
  if (format_ == "json") {
    rapidjson::StringBuffer sb;
    governance::JsonWriter w(sb);
    w.StartArray();
    for (const auto& b : *budgets) governance::WriteBudget(w, b, spent_of(b), now);
    w.EndArray();
    std::cout << sb.GetString() << "\n";
    return 0;
  }
  std::printf("%-22s %-8s %-22s %-9s %12s %12s %12s  %s\n", "NAME", "SCOPE", "SUBJECT", "WINDOW", "SPENT", "SOFT",
              "LIMIT", "RESETS");
  for (const auto& b : *budgets) {
    double spent = spent_of(b);
    std::string flag = b.limit_usd && spent >= *b.limit_usd ? " [limit reached]"
                       : b.soft_limit_usd && spent >= *b.soft_limit_usd ? " [soft limit exceeded]" : "";
    std::printf("%-22s %-8s %-22s %-9s %12s %12s %12s  %s%s\n", b.name.c_str(), b.scope.c_str(),
                b.subject.empty() ? "-" : b.subject.c_str(), governance::WindowName(b.window), Money(spent).c_str(),
                b.soft_limit_usd ? Money(*b.soft_limit_usd).c_str() : "-", b.limit_usd ? Money(*b.limit_usd).c_str() : "-",
                governance::FormatLocalTime(governance::WindowEnd(b.window, now)).c_str(), flag.c_str());
  }
  return 0;
}

int GovernanceCommands::BudgetsDelete() {
  auto store = governance::Store::Open(DbPath());
  if (!store.ok()) return Fail(store.status());
  Status st = (*store)->DeleteBudget(id_, "cli");
  if (!st.ok()) return Fail(st);
  std::cout << "deleted budget " << id_ << "\n";
  return 0;
}

int GovernanceCommands::Audit() {
  auto store = governance::Store::Open(DbPath());
  if (!store.ok()) return Fail(store.status());
  auto entries = (*store)->ListAudit(audit_limit_);
  if (!entries.ok()) return Fail(entries.status());
  for (const auto& e : *entries)
    std::printf("%s  %-9s %-16s %-24s %s\n", governance::FormatLocalTime(e.ts_ms).c_str(), e.actor.c_str(),
                e.action.c_str(), e.target.c_str(), e.detail.c_str());
  return 0;
}

int GovernanceCommands::Reconcile() {
  auto storage = ledger::OpenLedger(DbPath());
  if (!storage.ok()) return Fail(storage.status());
  auto store = governance::Store::Open(**storage);
  if (!store.ok()) return Fail(store.status());
  // The shared counters: --counters, else the config's counters section.
  config::CountersConfig cc;
  if (!config_.empty())
    if (auto c = config::LoadConfigFile(config_); c.ok()) cc = c->counters;
  if (!counters_url_.empty()) cc.url = counters_url_;
  std::unique_ptr<governance::CounterStore> shared;
  if (!cc.url.empty()) {
    cc.policy = "fail_closed";  // read what Redis holds, never a local share
    auto opened = governance::OpenCounterStore(cc, **storage);
    if (!opened.ok()) return Fail(opened.status());
    shared = std::move(*opened);
  }
  auto lines = governance::Reconcile(**store, *(*storage)->OpenReader(), repair_, shared.get());
  if (!lines.ok()) return Fail(lines.status());
  int bad = 0;
  std::printf("%-24s %-26s %14s %14s %9s %9s", "BUDGET", "WINDOW", "COUNTER_USD", "LEDGER_USD", "COUNTER_N",
              "LEDGER_N");
  if (shared) std::printf(" %14s %12s %6s %8s", "REDIS_USD", "RESERVED", "LIVE", "EXPIRED");
  std::printf("  STATE\n");
  for (const auto& l : *lines) {
    bad += l.agrees ? 0 : 1;
    std::printf("%-24s %-26s %14.6f %14.6f %9lld %9lld", l.budget_name.c_str(),
                governance::FormatLocalTime(l.window_start_ms).c_str(), l.counter_usd, l.ledger_usd,
                static_cast<long long>(l.counter_requests), static_cast<long long>(l.ledger_requests));
    if (l.shared && l.shared_ok)
      std::printf(" %14.6f %12.6f %6lld %8lld", l.shared_usd, l.reserved_usd, static_cast<long long>(l.live),
                  static_cast<long long>(l.expired));
    else if (l.shared)
      std::printf(" %14s %12s %6s %8s", "unreachable", "-", "-", "-");
    std::printf("  %s\n", l.agrees ? "ok" : (repair_ ? "REPAIRED" : "MISMATCH"));
  }
  std::printf("%zu windows checked, %d %s\n", lines->size(), bad, repair_ ? "repaired" : "mismatched");
  return bad > 0 && !repair_ ? 1 : 0;
}

}  // namespace tollgate::cli
