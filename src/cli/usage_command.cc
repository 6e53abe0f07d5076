#include "cli/usage_command.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>

#include "common/util.h"
#include "config/config.h"
#include "ledger/storage.h"
#include "pricing/catalog.h"
#include "usage/importer.h"
#include "usage/ledger_export.h"
#include "usage/usage_report.h"

namespace tollgate::cli {
namespace {

// Diagnostics printed before "... and N more"; the rest are only counted.
constexpr size_t kPrintedDiagnostics = 20;

// tollgate's model names that are not the provider's (an alias, a routed model),
// each with the model it is priced at: a plain model's first deployment; a
// routed one's route.baseline, else its default, followed through the aliases once.
// An agent that talked to tollgate logs these names, which the catalog may not know.
std::map<std::string, std::string, std::less<>> ModelAliases(const config::Config& cfg) {
  std::map<std::string, std::string, std::less<>> aliases;
  for (const auto& m : cfg.models)
    if (!m.deployments.empty() && m.deployments.front().model != m.name)
      aliases[m.name] = m.deployments.front().model;
  for (const auto& m : cfg.models) {
    if (!m.deployments.empty() || !m.route) continue;
    std::string target = !m.route->baseline.empty() ? m.route->baseline : m.route->default_model;
    if (auto it = aliases.find(target); it != aliases.end()) target = it->second;
    if (!target.empty() && target != m.name) aliases[m.name] = target;
  }
  return aliases;
}

int Fail(int code, const std::string& message) {
  std::fprintf(stderr, "error: %s\n", message.c_str());
  return code;
}

std::string HumanBytes(uint64_t b) {
  char buf[32];
  if (b >= (1ULL << 30))
    std::snprintf(buf, sizeof buf, "%.1f GiB", static_cast<double>(b) / (1ULL << 30));
  else if (b >= (1ULL << 20))
    std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(b) / (1ULL << 20));
  else
    std::snprintf(buf, sizeof buf, "%.1f KiB", static_cast<double>(b) / 1024);
  return buf;
}

// A one-line bar on stderr, redrawn at most ten times a second.
class ProgressBar {
 public:
  void Update(uint64_t done, uint64_t total) {
    if (total == 0) return;
    int64_t now = MonotonicUs();
    if (drawn_ && done < total && now - last_us_ < 100000) return;
    last_us_ = now;
    drawn_ = true;
    constexpr int kWidth = 30;
    int filled = static_cast<int>(static_cast<double>(done) / static_cast<double>(total) * kWidth);
    std::string bar(static_cast<size_t>(filled), '#');
    bar.resize(kWidth, '.');
    std::fprintf(stderr, "\rreading logs [%s] %3d%%  %s / %s", bar.c_str(),
                 static_cast<int>(100.0 * static_cast<double>(done) / static_cast<double>(total)),
                 HumanBytes(done).c_str(), HumanBytes(total).c_str());
    std::fflush(stderr);
  }
  // Erases the bar so that what follows starts on a clean line.
  void Clear() {
    if (drawn_) std::fprintf(stderr, "\r\033[K");
    drawn_ = false;
  }

 private:
  bool drawn_ = false;
  int64_t last_us_ = 0;
};

// Rows the ledger holds for agent usage; 0 if it does not exist yet.
int64_t CountAgentRows(const ledger::LedgerReader& reader) {
  auto by_endpoint = reader.TotalsByGroup(ledger::GroupKey::kEndpoint, {});
  if (!by_endpoint.ok()) return 0;
  int64_t n = 0;
  for (const auto& g : *by_endpoint)
    if (g.key.rfind("agent.", 0) == 0) n += g.requests;
  return n;
}

}  // namespace

UsageCommand::UsageCommand(CLI::App& app) {
  cmd_ = app.add_subcommand(
      "usage", "Import Claude Code and Codex CLI usage logs; report or add them to the ledger");
  cmd_->add_option("--source", source_, "Which agent's logs: claude|codex|all (default all)")
      ->check(CLI::IsMember({"claude", "codex", "all"}));
  cmd_->add_option(
      "--claude-dir", claude_dirs_,
      "Claude Code config or projects folder (repeatable; default $CLAUDE_CONFIG_DIR, or "
      "~/.config/claude and ~/.claude)");
  cmd_->add_option("--codex-dir", codex_dirs_,
                   "Codex home or sessions folder (repeatable; default $CODEX_HOME, or ~/.codex)");
  cmd_->add_option("--by", by_, "daily|weekly|monthly|session|blocks (5-hour blocks)")
      ->check(CLI::IsMember({"daily", "weekly", "monthly", "session", "blocks"}));
  cmd_->add_option("--from", from_, "First day, YYYY-MM-DD (UTC)");
  cmd_->add_option("--to", to_, "Last day, YYYY-MM-DD (UTC)");
  cmd_->add_option("--format", format_, "table|json")->check(CLI::IsMember({"table", "json"}));
  cmd_->add_flag("--into-ledger", into_ledger_,
                 "Write the usage into the ledger instead of printing a report");
  cmd_->add_option("--db", db_,
                   "Ledger for --into-ledger: a file path, sqlite:// or postgres:// URL (default: "
                   "ledger.url/path of "
                   "--config, or ./tollgate.db)");
  cmd_->add_option("-c,--config", config_, "Config whose pricing (and ledger.path) to use")
      ->check(CLI::ExistingFile);
  cmd_->add_flag("--no-progress", no_progress_, "Never draw the progress bar");
}

std::optional<int> UsageCommand::Run() {
  if (!cmd_->parsed()) return std::nullopt;

  std::optional<int64_t> from_ms, to_ms;
  if (!from_.empty() && !(from_ms = ParseDateUtcMs(from_)))
    return Fail(2, "--from must be a date YYYY-MM-DD (got '" + from_ + "')");
  if (!to_.empty()) {
    to_ms = ParseDateUtcMs(to_);
    if (!to_ms) return Fail(2, "--to must be a date YYYY-MM-DD (got '" + to_ + "')");
    *to_ms += 86400000;  // --to is inclusive
  }
  if (from_ms && to_ms && *from_ms >= *to_ms)
    return Fail(2, "--from " + from_ + " is after --to " + to_);

  config::PricingConfig pricing_cfg;
  std::map<std::string, std::string, std::less<>> aliases;
  std::string db_path = db_;
  if (!config_.empty()) {
    // Only pricing (and the ledger, and model aliases when there are models)
    // is read: a file with only a pricing: section is fine.
    config::ParseOptions only_pricing;
    only_pricing.require_routes = false;
    auto c = config::LoadConfigFile(config_, only_pricing);
    if (!c.ok()) {
      std::fprintf(stderr, "%s\n", c.status().message().c_str());
      return 2;
    }
    pricing_cfg = c->pricing;
    aliases = ModelAliases(*c);
    if (db_path.empty()) db_path = c->ledger.url;
  }
  if (db_path.empty()) db_path = "./tollgate.db";

  // With only one agent's folders given (and no explicit --source), read only
  // that agent: `--claude-dir X` should not also pick up ~/.codex.
  bool source_given = cmd_->count("--source") > 0;
  bool read_claude = source_ == "claude" || source_ == "all";
  bool read_codex = source_ == "codex" || source_ == "all";
  if (!source_given && claude_dirs_.empty() != codex_dirs_.empty()) {
    read_claude = !claude_dirs_.empty();
    read_codex = !codex_dirs_.empty();
  }
  for (const auto* dirs : {&claude_dirs_, &codex_dirs_})
    for (const auto& d : *dirs) {
      std::error_code ec;
      if (!std::filesystem::is_directory(d, ec))
        return Fail(2, (dirs == &claude_dirs_ ? "--claude-dir " : "--codex-dir ") + d +
                           ": no such directory");
    }

  std::vector<usage::Diagnostic> discovery;
  std::vector<usage::SourceFile> files;
  std::vector<std::string> searched;
  auto discover = [&](usage::Agent agent, const std::vector<std::string>& given,
                      std::vector<std::string> defaults) {
    const auto& roots = given.empty() ? defaults : given;
    searched.insert(searched.end(), roots.begin(), roots.end());
    auto found = usage::DiscoverFiles(agent, roots, &discovery);
    files.insert(files.end(), found.begin(), found.end());
  };
  if (read_claude) discover(usage::Agent::kClaudeCode, claude_dirs_, usage::DefaultClaudeRoots());
  if (read_codex) discover(usage::Agent::kCodex, codex_dirs_, usage::DefaultCodexRoots());
  for (const auto& d : discovery) std::fprintf(stderr, "warning: %s\n", d.ToString().c_str());
  if (files.empty()) {
    std::string where;
    for (const auto& s : searched) where += (where.empty() ? "" : ", ") + s;
    std::fprintf(stderr, "no agent logs (*.jsonl) found under: %s\n",
                 where.empty() ? "(no folders)" : where.c_str());
  }

  auto catalog = pricing::PriceCatalog::Build(pricing_cfg, FormatDateUtc(NowUnixMs()));
  if (!catalog.ok()) return Fail(2, "pricing: " + catalog.status().message());

  usage::ImportOptions opts;
  opts.from_ms = from_ms;
  opts.to_ms = to_ms;
  opts.prices = catalog->get();
  opts.model_aliases = std::move(aliases);
  ProgressBar bar;
  if (!no_progress_ && isatty(STDERR_FILENO))
    opts.progress = [&bar](uint64_t done, uint64_t total) { bar.Update(done, total); };
  usage::ImportResult result = usage::Import(files, opts);
  bar.Clear();

  for (size_t i = 0; i < result.diagnostics.size() && i < kPrintedDiagnostics; ++i)
    std::fprintf(stderr, "warning: %s\n", result.diagnostics[i].ToString().c_str());
  if (result.diagnostics_total > kPrintedDiagnostics)
    std::fprintf(stderr, "warning: ... and %llu more\n",
                 static_cast<unsigned long long>(result.diagnostics_total - kPrintedDiagnostics));
  std::fprintf(stderr,
               "read %llu files (%s, %llu lines): %zu model calls, %llu repeats dropped, %llu "
               "lines reported\n",
               static_cast<unsigned long long>(result.files), HumanBytes(result.bytes).c_str(),
               static_cast<unsigned long long>(result.lines), result.entries.size(),
               static_cast<unsigned long long>(result.duplicates),
               static_cast<unsigned long long>(result.diagnostics_total));

  if (into_ledger_) {
    auto storage = ledger::OpenLedger(db_path);
    if (!storage.ok()) return Fail(2, storage.status().message());
    const std::unique_ptr<ledger::LedgerReader> reader = (*storage)->OpenReader();
    int64_t before = CountAgentRows(*reader);
    auto ledger = (*storage)->OpenWriter();
    if (!ledger.ok()) return Fail(1, ledger.status().message());
    Status written = usage::WriteToLedger(result.entries, (*catalog)->version(), **ledger);
    Status closed = (*ledger)->Close();
    if (!written.ok()) return Fail(1, written.message());
    if (!closed.ok()) return Fail(1, closed.message());
    int64_t added = CountAgentRows(*reader) - before;
    int64_t unknown = 0;
    for (const auto& e : result.entries) unknown += e.cost_known ? 0 : 1;
    if (format_ == "json") {
      rapidjson::StringBuffer sb;
      rapidjson::Writer<rapidjson::StringBuffer> w(sb);
      w.StartObject();
      w.Key("ledger");
      w.String(db_path.c_str());
      w.Key("entries");
      w.Uint64(result.entries.size());
      w.Key("new_rows");
      w.Int64(added);
      w.Key("already_present");
      w.Int64(static_cast<int64_t>(result.entries.size()) - added);
      w.Key("unknown_cost_entries");
      w.Int64(unknown);
      w.EndObject();
      std::cout << sb.GetString() << "\n";
    } else {
      std::printf("%s: %lld new rows, %lld already present (of %zu model calls)\n", db_path.c_str(),
                  static_cast<long long>(added),
                  static_cast<long long>(result.entries.size()) - added, result.entries.size());
      if (unknown > 0)
        std::printf("%lld calls have no known price; their cost_usd is NULL\n",
                    static_cast<long long>(unknown));
    }
    return 0;
  }

  usage::Report rep = usage::BuildReport(result, *usage::ParseGroupBy(by_), NowUnixMs());
  rep.from = from_;
  rep.to = to_;
  std::cout << (format_ == "json" ? usage::RenderJson(rep) : usage::RenderTable(rep));
  return 0;
}

}  // namespace tollgate::cli
