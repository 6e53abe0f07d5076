// The access log (server.access_log): one JSON line per request answered, with
// method, path (never the query, which may carry a key), status, model,
// provider, tokens, cost, latency, key id, request and session ids; never a
// secret or a prompt. Workers queue a line under a short mutex; one thread
// writes the queue out, so the request path never waits on the file.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/mutex.h"
#include "common/status.h"
#include "ledger/ledger.h"

namespace tollgate::gateway {

// What one request's line says. Filled by Gateway::Handle, and from the ledger
// row for an API request (the Call copies it when it ends).
struct AccessEntry {
  int64_t start_us = 0;
  std::string method, path;
  int status = 0;
  bool api = false;  // the fields below come from the request's ledger row
  ledger::Row row;
};

// One line of JSON, without the newline. Pure; any thread.
std::string FormatAccessLine(const AccessEntry& e, int64_t now_unix_ms, int64_t now_us);

class AccessLog {
 public:
  // "-" or "stderr": standard error; anything else a file opened for append
  // (created if missing). IoError when the file cannot be opened.
  static Result<std::unique_ptr<AccessLog>> Open(const std::string& target);
  ~AccessLog();  // writes what is queued, then stops the thread
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  // Queues one line. Any thread; never does I/O.
  void Append(std::string line);
  // Writes every line queued so far. Any thread but the writer's.
  void Flush();

 private:
  AccessLog(std::FILE* file, bool owned);
  void Run();

  std::FILE* const file_;
  const bool owned_;
  Mutex mu_;
  CondVar wake_;
  CondVar written_;
  std::vector<std::string> queue_ GUARDED_BY(mu_);
  uint64_t queued_ GUARDED_BY(mu_) = 0;         // lines ever queued
  uint64_t written_count_ GUARDED_BY(mu_) = 0;  // lines ever written
  bool stop_ GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace tollgate::gateway
