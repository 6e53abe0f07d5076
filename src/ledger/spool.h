// The PostgreSQL writer's spool: the batches it could not write while the
// database was unreachable, in a local append-only file (ledger.spool_path),
// each fsync'd before Flush() reports it durable, and replayed in order once the
// database is back. Replay is exactly-once because the writer skips request ids
// the database holds already (postgres_ledger.cc), so a batch replayed twice (a
// crash between its commit and the spool's truncation) adds nothing.
// The file format is in docs/ledger.md ("The spool file").
// Thread safety: none; the writer thread owns it. One process per file: Open
// locks it (flock), so two replicas cannot share one spool.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "ledger/ledger.h"

namespace tollgate::ledger {

class LedgerSpool {
 public:
  // Opens `path`, creating it empty if missing, locks it, and reads what an
  // earlier process left there: its whole batches count in rows() and are
  // replayed by the first Replay(). A torn or corrupt tail (a batch whose write
  // never completed) is logged, appended to `path`.corrupt for inspection and
  // cut off, so the batches before it still replay and new ones follow them.
  // IoError when the file cannot be opened or read, or another process holds it.
  static Result<std::unique_ptr<LedgerSpool>> Open(const std::string& path);
  ~LedgerSpool();
  LedgerSpool(const LedgerSpool&) = delete;
  LedgerSpool& operator=(const LedgerSpool&) = delete;

  // Appends `rows` as one batch and fsyncs the file. IoError when it cannot be
  // written in full (a torn batch is cut off by the next Open).
  Status Append(const std::vector<Row>& rows);

  // Hands each batch not yet replayed to `write`, in the order they were
  // appended. A batch `write` returns OK for is done; the first error stops the
  // replay and is returned (the next call resumes at that batch). Once every
  // batch is done, the file is truncated to empty. An unreadable batch (the
  // file changed under us) is an IoError that keeps the file as it is.
  Status Replay(const std::function<Status(const std::vector<Row>&)>& write);

  // Rows in the batches not yet replayed.
  uint64_t rows() const { return rows_; }
  const std::string& path() const { return path_; }

 private:
  LedgerSpool(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  Status Scan();
  // The batch at `offset`: its rows and the offset after it. False at the end
  // of the valid data or at a torn or corrupt record.
  bool ReadBatch(uint64_t offset, std::vector<Row>* rows, uint64_t* next) const;

  const std::string path_;
  const int fd_;
  uint64_t end_ = 0;       // bytes of whole batches in the file
  uint64_t replayed_ = 0;  // offset of the first batch not yet replayed
  uint64_t rows_ = 0;      // rows in [replayed_, end_)
};

}  // namespace tollgate::ledger
