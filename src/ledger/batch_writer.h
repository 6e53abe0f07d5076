// The queue and writer thread that every durable ledger backend shares: Append
// pushes a row onto a vector under a short mutex; one thread (`tollgate-ledger`)
// swaps the vector out when it holds batch_size rows, when flush_interval_ms has
// passed, or when Flush/Close asks, and hands it to the backend's WriteBatch.
// The backend (sqlite_ledger.cc, postgres_ledger.cc) only writes batches; it
// owns its connection, which only the writer thread touches once started.
// Thread safety: Append, Flush, Close and the counters may be called from any
// thread; WriteBatch and OnWriterTick run on the writer thread only.
#pragma once

#include <cstdint>
#include <thread>
#include <vector>

#include "common/mutex.h"
#include "ledger/ledger.h"

namespace tollgate::ledger {

class BatchedLedgerWriter : public LedgerWriter {
 public:
  // The writer's tuning (ledger.batch_size, flush_interval_ms, max_queue_rows).
  struct Tuning {
    int64_t batch_size = 2048;
    int64_t flush_interval_ms = 100;
    int64_t max_queue_rows = 1000000;
  };

  // REQUIRES: the backend's destructor calls Close(), since the writer thread
  // calls the backend's virtual methods until Close() joins it.
  ~BatchedLedgerWriter() override;

  // Queues a row; never waits on the store. Blocks only while max_queue_rows
  // rows are already waiting (the store has fallen far behind): rows are never
  // dropped.
  void Append(Row row) final;
  // Blocks until every row appended so far has been through WriteBatch: OK when
  // each batch was durable (what "durable" means is the backend's: see its
  // WriteBatch), IoError when any row so far could not be written.
  Status Flush() final;
  // Writes what is queued, stops the thread, then calls OnWriterStopped().
  // Idempotent; IoError when any row could not be written.
  Status Close() final;
  uint64_t failed_rows() const final;

 protected:
  explicit BatchedLedgerWriter(const Tuning& tuning) : tuning_(tuning) {}

  // Starts the writer thread. Call once, at the end of the backend's Open().
  void StartWriter();

  // Writer thread. Makes `rows` (never empty) durable, all or none: OK, or an
  // error after the backend's own retries, when every row of the batch counts
  // in failed_rows(). The backend logs its errors.
  virtual Status WriteBatch(const std::vector<Row>& rows) = 0;
  // Writer thread: called after each pass of the loop, at least every
  // flush_interval_ms, rows or not, until Close() (the PostgreSQL writer
  // retries its spool here).
  virtual void OnWriterTick() {}
  // Close(): called once the writer thread has exited, to release connections.
  virtual void OnWriterStopped() {}

 private:
  void WriterLoop();

  const Tuning tuning_;
  std::thread writer_;

  mutable Mutex mu_;
  CondVar cv_;        // wakes the writer
  CondVar done_cv_;   // wakes Flush()
  CondVar space_cv_;  // wakes producers under back-pressure
  std::vector<Row> queue_ GUARDED_BY(mu_);
  uint64_t appended_ GUARDED_BY(mu_) = 0;
  uint64_t written_ GUARDED_BY(mu_) = 0;
  uint64_t failed_ GUARDED_BY(mu_) = 0;
  bool flush_requested_ GUARDED_BY(mu_) = false;
  bool stopping_ GUARDED_BY(mu_) = false;
  bool closed_ GUARDED_BY(mu_) = false;
  bool writer_exited_ GUARDED_BY(mu_) = false;
};

}  // namespace tollgate::ledger
