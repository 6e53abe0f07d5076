#include "ledger/batch_writer.h"

#include <pthread.h>

#include <chrono>
#include <string>

namespace tollgate::ledger {

BatchedLedgerWriter::~BatchedLedgerWriter() = default;

void BatchedLedgerWriter::StartWriter() {
  writer_ = std::thread([this] {
    pthread_setname_np(pthread_self(),
                       "tollgate-ledger");  // visible in top/perf; the bench pins it apart
    WriterLoop();
  });
}

void BatchedLedgerWriter::Append(Row row) {
  MutexLock lock(&mu_);
  // Back-pressure only if the store has fallen far behind; rows are never dropped.
  while (static_cast<int64_t>(queue_.size()) >= tuning_.max_queue_rows && !stopping_)
    space_cv_.Wait(&mu_);
  queue_.push_back(std::move(row));
  ++appended_;
  if (static_cast<int64_t>(queue_.size()) >= tuning_.batch_size) cv_.Signal();
}

Status BatchedLedgerWriter::Flush() {
  MutexLock lock(&mu_);
  const uint64_t target = appended_;
  flush_requested_ = true;
  cv_.Signal();
  while (written_ + failed_ < target && !writer_exited_) done_cv_.Wait(&mu_);
  return failed_ > 0
             ? Status::IoError("ledger: " + std::to_string(failed_) + " rows failed to write")
             : Status::Ok();
}

Status BatchedLedgerWriter::Close() {
  {
    MutexLock lock(&mu_);
    if (closed_) return Status::Ok();
    closed_ = true;
    stopping_ = true;
  }
  cv_.Signal();
  space_cv_.SignalAll();
  if (writer_.joinable()) writer_.join();
  OnWriterStopped();
  MutexLock lock(&mu_);
  return failed_ > 0 ? Status::IoError("ledger: rows failed to write") : Status::Ok();
}

uint64_t BatchedLedgerWriter::failed_rows() const {
  MutexLock lock(&mu_);
  return failed_;
}

void BatchedLedgerWriter::WriterLoop() {
  std::vector<Row> batch;
  for (;;) {
    bool stop = false;
    {
      MutexLock lock(&mu_);
      const auto deadline =
          std::chrono::steady_clock::now() + std::chrono::milliseconds(tuning_.flush_interval_ms);
      while (!stopping_ && !flush_requested_ &&
             static_cast<int64_t>(queue_.size()) < tuning_.batch_size) {
        if (!cv_.WaitUntil(&mu_, deadline)) break;
      }
      flush_requested_ = false;
      batch.swap(queue_);
      stop = stopping_;
    }
    space_cv_.SignalAll();
    if (!batch.empty()) {
      const bool ok = WriteBatch(batch).ok();
      MutexLock lock(&mu_);
      (ok ? written_ : failed_) += batch.size();
    }
    batch.clear();
    done_cv_.SignalAll();
    if (!stop) OnWriterTick();  // shutdown waits on no retry
    if (stop) {
      MutexLock lock(&mu_);
      if (queue_.empty()) {
        writer_exited_ = true;
        done_cv_.SignalAll();
        return;
      }
    }
  }
}

}  // namespace tollgate::ledger
