// The exact-match response cache: whole responses by CacheKey (cache_key.h),
// in memory with LRU eviction by count and bytes and a TTL, persisted
// write-behind to SQLite (WAL) by one writer thread, like the ledger. The
// on-disk format is docs/cache.md. All public methods are thread-safe; one
// mutex guards the in-memory table and is never held across disk I/O.
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/mutex.h"
#include "common/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace tollgate::cache {

struct Entry {
  std::string body;   // the whole (non-streamed) response JSON in the shape of `api`
  std::string api;    // as in CacheKey
  std::string model;  // served model
  int64_t input_tokens = 0,
          output_tokens = 0;  // what the original call used (for savings accounting)
  double cost_usd = 0;        // what the original call cost
  int64_t created_ms = 0;     // set by Insert to its now_ms
  int64_t hits = 0;           // lookups served; reset by Insert
  // For rebuilding the semantic indexes at start-up (ForEach); empty if unused.
  std::string scope;             // the semantic scope the entry was indexed under
  std::string semantic_text;     // text given to MinHashIndex
  std::vector<float> embedding;  // vector given to SemanticIndex
};

struct ExactCacheOptions {
  std::string path;               // SQLite file; "" = memory only
  int64_t ttl_s = 3600;           // <= 0: entries never expire
  int64_t max_entries = 10000;    // <= 0: no count limit
  int64_t max_bytes = 256 << 20;  // <= 0: no byte limit (see ApproxBytes)
  // Disk writes waiting for the writer thread beyond which new ones are
  // dropped (and counted) rather than blocking a request: it is only a cache.
  int64_t max_pending_writes = 100000;
};

class ExactCache {
 public:
  // Creates or loads the cache. Loading drops expired entries and applies the
  // limits. IoError if the file cannot be opened, is not a database, or was
  // written by a newer format version.
  static Result<std::unique_ptr<ExactCache>> Open(const ExactCacheOptions& opt);
  ~ExactCache();  // Close(), ignoring its status
  ExactCache(const ExactCache&) = delete;
  ExactCache& operator=(const ExactCache&) = delete;

  // The entry under `key`, nullopt when absent or expired (an expired entry
  // is dropped). A hit moves the entry to the LRU front and counts in its hits
  // (the returned copy includes this hit).
  std::optional<Entry> Lookup(const std::string& key, int64_t now_ms);
  // Inserts or replaces `key` (created_ms = now_ms, hits = 0), then evicts
  // least recently used entries beyond max_entries / max_bytes. An entry larger
  // than max_bytes on its own is not stored. Never blocks on disk.
  void Insert(const std::string& key, Entry e, int64_t now_ms);
  // Removes `key` if present.
  void Erase(const std::string& key);
  // Removes every entry (memory and, write-behind, disk).
  void Clear();
  // Calls fn for every entry, least recently used first, under the cache's
  // lock: fn must not call back into this cache.
  void ForEach(const std::function<void(const std::string& key, const Entry&)>& fn) const;

  // Waits until every write queued so far reached the disk. IoError if any
  // write failed since Open.
  Status Flush();
  // Flushes and closes the file; later changes stay in memory only. Idempotent.
  Status Close();

  struct Stats {
    int64_t entries, bytes, hits, misses, evictions;
    int64_t expired = 0;         // entries dropped by the TTL
    int64_t dropped_writes = 0;  // disk writes dropped because the queue was full
    int64_t disk_errors = 0;     // disk writes that failed
  };
  Stats stats() const;

  // Memory an entry is charged against max_bytes: its strings, its vector
  // and a fixed per-entry overhead.
  static int64_t ApproxBytes(const std::string& key, const Entry& e);

 private:
  struct Node {
    std::string key;
    std::shared_ptr<const Entry>
        entry;  // shared with queued disk writes, so a write never copies a body
    int64_t hits = 0;
    int64_t last_used_ms = 0;
    int64_t bytes = 0;
  };
  struct Op {
    enum Kind { kPut, kTouch, kDelete, kClear } kind;
    std::string key;
    std::shared_ptr<const Entry> entry;  // kPut
    int64_t hits = 0, last_used_ms = 0;  // kPut, kTouch
  };

  explicit ExactCache(ExactCacheOptions opt);
  Status OpenDb();
  Status Load();
  void WriterLoop();
  bool WriteBatch(const std::vector<Op>& ops);

  // REQUIRES: mu_ held.
  void EnqueueLocked(Op op) REQUIRES(mu_);
  void RemoveLocked(std::list<Node>::iterator it) REQUIRES(mu_);
  void EvictLocked() REQUIRES(mu_);
  void InsertLocked(const std::string& key, std::shared_ptr<const Entry> e, int64_t hits,
                    int64_t last_used_ms, bool persist) REQUIRES(mu_);

  const ExactCacheOptions opt_;

  mutable Mutex mu_;
  std::list<Node> lru_ GUARDED_BY(mu_);  // front = most recently used
  std::unordered_map<std::string_view, std::list<Node>::iterator> index_
      GUARDED_BY(mu_);                         // views into Node::key
  int64_t bytes_ GUARDED_BY(mu_) = 0;
  Stats stats_ GUARDED_BY(mu_){0, 0, 0, 0, 0};  // entries/bytes filled in by stats()

  // Write-behind state, also under mu_.
  CondVar cv_;       // wakes the writer
  CondVar done_cv_;  // wakes Flush()
  std::vector<Op> queue_ GUARDED_BY(mu_);
  uint64_t enqueued_ GUARDED_BY(mu_) = 0;
  uint64_t processed_ GUARDED_BY(mu_) = 0;
  bool flush_requested_ GUARDED_BY(mu_) = false;
  bool stopping_ GUARDED_BY(mu_) = false;
  bool closed_ GUARDED_BY(mu_) = false;
  bool writer_exited_ GUARDED_BY(mu_) = false;

  sqlite3* db_ = nullptr;  // owned by the writer thread after Open()
  sqlite3_stmt* put_ = nullptr;
  sqlite3_stmt* touch_ = nullptr;
  sqlite3_stmt* delete_ = nullptr;
  std::thread writer_;
};

}  // namespace tollgate::cache
