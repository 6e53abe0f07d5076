// Storage: where the ledger and the governance state live, chosen by a URL
// (config `ledger.url`). OpenLedger() is the one place a backend is picked;
// the composition root (src/cli) opens it and hands the writer, readers and
// state stores to the components, none of which opens a file of its own.
// Thread safety: OpenReader/OpenStateStore may be called from any thread; what
// they return follows its own header's rules. The returned objects do not
// depend on the Storage object's lifetime.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"
#include "ledger/ledger.h"
#include "ledger/reader.h"
#include "ledger/state_store.h"

namespace tollgate::ledger {

// The writer's tuning (ledger.batch_size, flush_interval_ms, max_queue_rows)
// and the PostgreSQL writer's spool file (ledger.spool_path; empty: no spool,
// so rows the database does not take in about 10 s count as failed).
struct StorageOptions {
  int64_t batch_size = 2048;
  int64_t flush_interval_ms = 100;
  int64_t max_queue_rows = 1000000;
  std::string spool_path;
};

class Storage {
 public:
  virtual ~Storage() = default;
  // The URL it was opened with.
  virtual const std::string& url() const = 0;
  // Creates (and migrates) the store if needed and starts the writer. One per
  // process. IoError when the store cannot be opened.
  virtual Result<std::unique_ptr<LedgerWriter>> OpenWriter() = 0;
  // A reader. Opening creates nothing: a missing ledger is NotFound when read.
  virtual std::unique_ptr<LedgerReader> OpenReader() const = 0;
  // A state store connection (creating and migrating the store if needed).
  virtual Result<std::unique_ptr<StateStore>> OpenStateStore() = 0;
};

// `url` is sqlite:///absolute/path.db, sqlite://relative/path.db, a plain
// file path (what ledger.path and --db always meant), or
// postgres://user@host:port/db (also postgresql://; any URI libpq's
// PQconnectdb takes, options included). InvalidArgument for any other scheme,
// naming the ones there are. Opens nothing yet: a server that cannot be
// reached is an IoError from the first OpenWriter/OpenStateStore or read.
Result<std::unique_ptr<Storage>> OpenLedger(std::string_view url,
                                            const StorageOptions& options = {});

// A store in this process's memory, empty: nothing persists. For tests and
// offline tools; every object opened from it shares its contents.
std::unique_ptr<Storage> NewMemoryStorage();

}  // namespace tollgate::ledger
