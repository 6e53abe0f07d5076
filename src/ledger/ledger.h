// The ledger's write side: one row per request, written off the request path.
// LedgerWriter is deliberately narrow (Append / Flush / Close) so that another
// store (PostgreSQL for fleets of replicas) can stand behind it; the read side
// is `reader.h`, and `storage.h` opens both for a ledger URL.
// Thread safety: Append may be called from any thread concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "pricing/catalog.h"

namespace tollgate::ledger {

// The persisted record of one request. Schema and its versions: docs/ledger.md.
struct Row {
  std::string id;
  int64_t ts_start_ms = 0;
  int64_t ts_end_ms = 0;
  std::string endpoint;  // chat.completions | completions | embeddings
  std::string api_key;   // fingerprint, never the secret
  std::string user;
  std::string project;
  std::string tags;      // comma-joined
  std::string requested_model;
  std::string served_model;
  std::string provider;
  int status = 0;
  std::string error_class;  // empty on success
  pricing::Usage usage;
  pricing::Cost cost;
  bool cost_known = false;  // false: price unknown, cost_usd stored as NULL
  double latency_ms = 0;
  std::optional<double> ttft_ms;
  bool streamed = false;
  bool estimated = false;
  int retries = 0;
  int fallbacks = 0;
  std::string price_version;
  // Governance: the virtual key that was charged, its team, what was reserved
  // before forwarding, and the budget windows this request's cost counts toward.
  std::string key_id;
  std::string team;
  double reserved_usd = 0;
  struct BudgetCharge {
    std::string budget_id;
    int64_t window_start_ms = 0;
  };
  std::vector<BudgetCharge> charges;
  // Savings (schema v3): the model and cost without tollgate's cache and
  // routing; the lever that changed them (cache | semantic_cache | routing |
  // cascade | budget_hint | empty); the cache outcome (hit | semantic_hit |
  // miss | bypass | empty when off); the route taken and why.
  std::string baseline_model;
  std::optional<double> baseline_cost_usd;
  std::string cache;
  std::string route;
  std::string savings_lever;
  int64_t output_tokens_saved = 0;
  std::optional<double> quality;  // replay provider: the recorded score of the answer served
  // Agent sessions (schema v4): the coding-agent session the request belongs to
  // (Claude Code's metadata.user_id session_id); empty when the client names none.
  std::string session;
};

// The savings levers, as stored in requests.savings_lever (docs/ledger.md).
inline constexpr const char* kSavingsLevers[5] = {"cache", "semantic_cache", "routing", "cascade", "budget_hint"};

class LedgerWriter {
 public:
  virtual ~LedgerWriter() = default;
  // Queues a row; never waits on disk. Rows appended before Close() are
  // guaranteed to be written by Flush() or Close().
  virtual void Append(Row row) = 0;
  // Blocks until every row appended so far is durable: in the store, or (the
  // PostgreSQL writer while its database is unreachable) in its fsync'd spool
  // file. IoError when any row could not be written.
  virtual Status Flush() = 0;
  // Flushes and stops the writer. Idempotent.
  virtual Status Close() = 0;
  // Rows that could not be written (disk errors), for metrics and alerts.
  virtual uint64_t failed_rows() const = 0;
  // Rows held in a local spool file until the store can take them again (the
  // PostgreSQL writer during an outage); always 0 for the other backends.
  virtual uint64_t spooled_rows() const { return 0; }
};
// The name the gateway knows the writer by.
using Ledger = LedgerWriter;

struct SqliteOptions {
  std::string path;
  int64_t batch_size = 2048;
  int64_t flush_interval_ms = 100;
  int64_t max_queue_rows = 1000000;
};

// Opens (creating and migrating as needed) a SQLite ledger in WAL mode and
// starts its background writer thread. The SQLite backend's writer
// (sqlite_ledger.cc); the server gets it through OpenLedger(url) (storage.h).
Result<std::unique_ptr<LedgerWriter>> OpenSqliteLedger(const SqliteOptions& options);

// The schema version this build writes; see docs/ledger.md.
constexpr int kSchemaVersion = 4;

}  // namespace tollgate::ledger
