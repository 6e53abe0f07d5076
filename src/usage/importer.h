// Usage import: reads coding-agent session logs (Claude Code and Codex CLI JSONL)
// and turns them into priced, de-duplicated entries, one per model call. The log
// formats and how their token counts map onto pricing::Usage: docs/usage-import.md.
// Bad input never fails an import: each malformed line becomes a Diagnostic naming
// file:line and is skipped. Functions here keep no global state and are safe to
// call from several threads on different data.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pricing/catalog.h"

namespace tollgate::usage {

enum class Agent { kClaudeCode, kCodex };

// "claude-code" or "codex": the name used in reports, ledger endpoints and tags.
std::string_view AgentName(Agent agent);

// One model call read from a log.
struct Entry {
  Agent agent = Agent::kClaudeCode;
  // "imp_" + 24 hex characters, derived only from what identifies the call in the
  // log (Claude: message.id + requestId; Codex: session id + cumulative totals),
  // so importing the same logs twice yields the same ids.
  std::string id;
  int64_t ts_ms = 0;        // the log line's timestamp, Unix ms
  std::string session;      // Claude Code sessionId, Codex session id
  std::string project;      // Claude Code project folder name, Codex working directory
  std::string model;        // empty when the log names none
  pricing::Usage usage;     // disjoint classes (see catalog.h)
  pricing::Cost cost;       // zero unless cost_known
  bool cost_known = false;  // false: no price for `model`; never counted as $0
};

// A line (or file, line 0) that was skipped, and why.
struct Diagnostic {
  std::string file;
  int64_t line = 0;
  std::string message;
  std::string ToString() const;  // "file:line: message"
};

// A log file found under a root.
struct SourceFile {
  Agent agent = Agent::kClaudeCode;
  std::string path;
  std::string project;  // Claude Code: the first folder under the projects root
  uint64_t bytes = 0;
};

// Default log roots, from the environment. Claude Code: each entry of
// $CLAUDE_CONFIG_DIR (comma-separated) if set, else ~/.config/claude and ~/.claude.
// Codex: $CODEX_HOME if set, else ~/.codex. Roots need not exist.
std::vector<std::string> DefaultClaudeRoots();
std::vector<std::string> DefaultCodexRoots();

// Finds every *.jsonl file below each root, recursively. A Claude Code root may be
// the config folder (its projects/ subfolder is searched) or the projects folder
// itself; a Codex root may be CODEX_HOME (its sessions/ is searched) or the
// sessions folder. A root that does not exist is skipped; one that cannot be read
// adds a Diagnostic. Files reachable from two roots are listed once. Sorted by path.
std::vector<SourceFile> DiscoverFiles(Agent agent, const std::vector<std::string>& roots,
                                      std::vector<Diagnostic>* diagnostics);

struct ImportOptions {
  // Keep entries with from_ms <= ts_ms < to_ms. De-duplication and Codex deltas
  // look at every line regardless, so a range never changes an entry's tokens.
  std::optional<int64_t> from_ms, to_ms;
  // Prices entries; nullptr leaves every cost unknown.
  const pricing::PriceCatalog* prices = nullptr;
  // Model names the catalog does not know, and the catalog name each is priced
  // at: tollgate's model aliases (ModelAliases), which an agent pointed at
  // tollgate logs instead of a provider's model id.
  std::map<std::string, std::string, std::less<>> model_aliases;
  // Called now and then with bytes read so far and the total of all files.
  std::function<void(uint64_t done, uint64_t total)> progress;
  // Diagnostics kept in ImportResult::diagnostics; the rest are only counted.
  size_t max_diagnostics = 1000;
};

struct ImportResult {
  std::vector<Entry> entries;           // sorted by ts_ms, then id
  std::vector<Diagnostic> diagnostics;  // at most max_diagnostics, in read order
  uint64_t diagnostics_total = 0;
  uint64_t files = 0, lines = 0, bytes = 0;
  uint64_t duplicates = 0;    // lines or events dropped as repeats
  uint64_t out_of_range = 0;  // entries dropped by from_ms / to_ms
  // Models with no price, and how many entries each has (sorted by model).
  std::vector<std::pair<std::string, uint64_t>> unpriced_models;
};

// Reads `files` line by line (never whole files into memory), parses, removes
// duplicates, and prices the entries. Unreadable files and malformed lines become
// diagnostics; this never fails.
ImportResult Import(const std::vector<SourceFile>& files, const ImportOptions& options);

// Parses an ISO-8601 timestamp ("2025-10-01T12:34:56.789Z", "+02:00" offsets, no
// zone = UTC) into Unix ms; nullopt if it is not one. Exposed for tests.
std::optional<int64_t> ParseTimestampMs(std::string_view text);

}  // namespace tollgate::usage
