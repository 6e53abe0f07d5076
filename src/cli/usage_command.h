// CLI for `tollgate usage`: imports Claude Code and Codex CLI session logs
// (src/usage/), prices them with the catalog, and prints daily, weekly, monthly,
// per-session or 5-hour-block reports, or with --into-ledger writes them into the
// ledger next to the gateway's traffic. Runs on the calling thread only.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

namespace tollgate::cli {

class UsageCommand {
 public:
  // Registers the `usage` subcommand on `app`.
  explicit UsageCommand(CLI::App& app);
  // Runs it if it was parsed; nullopt otherwise. Exit codes: 0 ok (malformed log
  // lines are reported, not fatal), 1 ledger or I/O failure, 2 bad arguments/config.
  std::optional<int> Run();

 private:
  CLI::App* cmd_ = nullptr;
  std::string source_ = "all", by_ = "daily", from_, to_, format_ = "table", db_, config_;
  std::vector<std::string> claude_dirs_, codex_dirs_;
  bool into_ledger_ = false, no_progress_ = false;
};

}  // namespace tollgate::cli
