#include "cache/exact_cache.h"

#include <pthread.h>
#include <sqlite3.h>

#include <chrono>
#include <cstring>

#include "common/log.h"

namespace tollgate::cache {
namespace {

constexpr int kFormatVersion = 1;        // PRAGMA user_version; docs/cache.md
constexpr int64_t kEntryOverhead = 160;  // list node, map slot, Entry fields

const char* const kSchema =
    "CREATE TABLE IF NOT EXISTS cache_entries ("
    " key TEXT PRIMARY KEY,"
    " scope TEXT NOT NULL DEFAULT '',"
    " api TEXT NOT NULL,"
    " model TEXT NOT NULL,"
    " body BLOB NOT NULL,"
    " input_tokens INTEGER NOT NULL DEFAULT 0,"
    " output_tokens INTEGER NOT NULL DEFAULT 0,"
    " cost_usd REAL NOT NULL DEFAULT 0,"
    " created_ms INTEGER NOT NULL,"
    " last_used_ms INTEGER NOT NULL,"
    " hits INTEGER NOT NULL DEFAULT 0,"
    " semantic_text TEXT,"
    " embedding BLOB);";

std::string ColumnText(sqlite3_stmt* st, int i) {
  const void* p = sqlite3_column_blob(st, i);
  const int n = sqlite3_column_bytes(st, i);
  return p ? std::string(static_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
}

}  // namespace

ExactCache::ExactCache(ExactCacheOptions opt) : opt_(std::move(opt)) {}

ExactCache::~ExactCache() { (void)Close(); }

int64_t ExactCache::ApproxBytes(const std::string& key, const Entry& e) {
  return kEntryOverhead +
         static_cast<int64_t>(key.size() + e.body.size() + e.api.size() + e.model.size() +
                              e.scope.size() + e.semantic_text.size() +
                              e.embedding.size() * sizeof(float));
}

Result<std::unique_ptr<ExactCache>> ExactCache::Open(const ExactCacheOptions& opt) {
  std::unique_ptr<ExactCache> c(new ExactCache(opt));
  if (opt.path.empty()) return c;
  TG_RETURN_IF_ERROR(c->OpenDb());
  TG_RETURN_IF_ERROR(c->Load());
  c->writer_ = std::thread([p = c.get()] {
    pthread_setname_np(pthread_self(), "tollgate-cache");
    p->WriterLoop();
  });
  return c;
}

Status ExactCache::OpenDb() {
  auto fail = [&](const std::string& what) {
    std::string m =
        "cache: " + what + " " + opt_.path + ": " + (db_ ? sqlite3_errmsg(db_) : "out of memory");
    if (db_) sqlite3_close(db_);
    db_ = nullptr;
    return Status::IoError(m);
  };
  if (sqlite3_open_v2(opt_.path.c_str(), &db_,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK)
    return fail("open");
  sqlite3_busy_timeout(db_, 2000);
  // The first statements read the header: a file that is not a database fails here.
  if (sqlite3_exec(db_, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", nullptr, nullptr,
                   nullptr) != SQLITE_OK)
    return fail("open");
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db_, "PRAGMA user_version", -1, &st, nullptr) != SQLITE_OK)
    return fail("read version of");
  int version = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
  sqlite3_finalize(st);
  if (version < 0) return fail("read version of");
  if (version > kFormatVersion) {
    sqlite3_close(db_);
    db_ = nullptr;
    return Status::IoError("cache: " + opt_.path + " has format version " +
                           std::to_string(version) + ", newer than this tollgate's " +
                           std::to_string(kFormatVersion) +
                           "; use a newer tollgate or another cache file");
  }
  if (sqlite3_exec(db_, kSchema, nullptr, nullptr, nullptr) != SQLITE_OK ||
      sqlite3_exec(db_, ("PRAGMA user_version=" + std::to_string(kFormatVersion)).c_str(), nullptr,
                   nullptr, nullptr) != SQLITE_OK)
    return fail("create schema in");
  const char* put =
      "INSERT OR REPLACE INTO cache_entries (key, scope, api, model, body, input_tokens, "
      "output_tokens, cost_usd,"
      " created_ms, last_used_ms, hits, semantic_text, embedding) VALUES "
      "(?,?,?,?,?,?,?,?,?,?,?,?,?)";
  if (sqlite3_prepare_v2(db_, put, -1, &put_, nullptr) != SQLITE_OK ||
      sqlite3_prepare_v2(db_, "UPDATE cache_entries SET hits = ?, last_used_ms = ? WHERE key = ?",
                         -1, &touch_, nullptr) != SQLITE_OK ||
      sqlite3_prepare_v2(db_, "DELETE FROM cache_entries WHERE key = ?", -1, &delete_, nullptr) !=
          SQLITE_OK) {
    for (sqlite3_stmt** s : {&put_, &touch_, &delete_}) {
      if (*s) sqlite3_finalize(*s);
      *s = nullptr;
    }
    return fail("prepare statements for");
  }
  return Status::Ok();
}

Status ExactCache::Load() {
  sqlite3_stmt* st = nullptr;
  const char* sql =
      "SELECT key, scope, api, model, body, input_tokens, output_tokens, cost_usd, created_ms, "
      "last_used_ms, hits,"
      " semantic_text, embedding FROM cache_entries ORDER BY last_used_ms ASC";
  if (sqlite3_prepare_v2(db_, sql, -1, &st, nullptr) != SQLITE_OK)
    return Status::IoError("cache: read " + opt_.path + ": " + sqlite3_errmsg(db_));
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  MutexLock lock(&mu_);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    auto e = std::make_shared<Entry>();
    std::string key = ColumnText(st, 0);
    e->scope = ColumnText(st, 1);
    e->api = ColumnText(st, 2);
    e->model = ColumnText(st, 3);
    e->body = ColumnText(st, 4);
    e->input_tokens = sqlite3_column_int64(st, 5);
    e->output_tokens = sqlite3_column_int64(st, 6);
    e->cost_usd = sqlite3_column_double(st, 7);
    e->created_ms = sqlite3_column_int64(st, 8);
    const int64_t last_used = sqlite3_column_int64(st, 9);
    e->hits = sqlite3_column_int64(st, 10);
    e->semantic_text = ColumnText(st, 11);
    const std::string emb = ColumnText(st, 12);
    if (emb.size() % sizeof(float) == 0) {
      e->embedding.resize(emb.size() / sizeof(float));
      if (!emb.empty()) std::memcpy(e->embedding.data(), emb.data(), emb.size());
    }
    if (opt_.ttl_s > 0 && now >= e->created_ms + opt_.ttl_s * 1000) {
      EnqueueLocked(Op{Op::kDelete, key});
      ++stats_.expired;
      continue;
    }
    const int64_t hits = e->hits;
    InsertLocked(key, std::move(e), hits, last_used, /*persist=*/false);
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE)
    return Status::IoError("cache: read " + opt_.path + ": " + sqlite3_errmsg(db_));
  return Status::Ok();
}

void ExactCache::EnqueueLocked(Op op) {
  if (!db_ || closed_) return;
  if (static_cast<int64_t>(queue_.size()) >= opt_.max_pending_writes) {
    ++stats_.dropped_writes;
    return;
  }
  queue_.push_back(std::move(op));
  ++enqueued_;
  if (queue_.size() >= 256) cv_.Signal();
}

void ExactCache::RemoveLocked(std::list<Node>::iterator it) {
  bytes_ -= it->bytes;
  index_.erase(std::string_view(it->key));
  lru_.erase(it);
}

void ExactCache::EvictLocked() {
  while (!lru_.empty() &&
         ((opt_.max_entries > 0 && static_cast<int64_t>(lru_.size()) > opt_.max_entries) ||
          (opt_.max_bytes > 0 && bytes_ > opt_.max_bytes))) {
    auto last = std::prev(lru_.end());
    EnqueueLocked(Op{Op::kDelete, last->key});
    RemoveLocked(last);
    ++stats_.evictions;
  }
}

void ExactCache::InsertLocked(const std::string& key, std::shared_ptr<const Entry> e, int64_t hits,
                              int64_t last_used_ms, bool persist) {
  if (auto it = index_.find(std::string_view(key)); it != index_.end()) RemoveLocked(it->second);
  const int64_t bytes = ApproxBytes(key, *e);
  if (opt_.max_bytes > 0 && bytes > opt_.max_bytes) {
    if (persist)
      EnqueueLocked(Op{Op::kDelete, key});  // a stale row of the same key must not come back
    return;
  }
  if (persist) EnqueueLocked(Op{Op::kPut, key, e, hits, last_used_ms});
  lru_.push_front(Node{key, std::move(e), hits, last_used_ms, bytes});
  index_.emplace(std::string_view(lru_.front().key), lru_.begin());
  bytes_ += bytes;
  EvictLocked();
}

std::optional<Entry> ExactCache::Lookup(const std::string& key, int64_t now_ms) {
  MutexLock lock(&mu_);
  auto it = index_.find(std::string_view(key));
  if (it == index_.end()) {
    ++stats_.misses;
    return std::nullopt;
  }
  auto node = it->second;
  if (opt_.ttl_s > 0 && now_ms >= node->entry->created_ms + opt_.ttl_s * 1000) {
    EnqueueLocked(Op{Op::kDelete, key});
    RemoveLocked(node);
    ++stats_.expired;
    ++stats_.misses;
    return std::nullopt;
  }
  ++stats_.hits;
  ++node->hits;
  node->last_used_ms = now_ms;
  lru_.splice(lru_.begin(), lru_, node);
  EnqueueLocked(Op{Op::kTouch, key, nullptr, node->hits, now_ms});
  Entry out = *node->entry;
  out.hits = node->hits;
  return out;
}

void ExactCache::Insert(const std::string& key, Entry e, int64_t now_ms) {
  e.created_ms = now_ms;
  e.hits = 0;
  auto shared = std::make_shared<const Entry>(std::move(e));
  MutexLock lock(&mu_);
  InsertLocked(key, std::move(shared), 0, now_ms, /*persist=*/true);
}

void ExactCache::Erase(const std::string& key) {
  MutexLock lock(&mu_);
  auto it = index_.find(std::string_view(key));
  if (it == index_.end()) return;
  EnqueueLocked(Op{Op::kDelete, key});
  RemoveLocked(it->second);
}

void ExactCache::Clear() {
  MutexLock lock(&mu_);
  index_.clear();
  lru_.clear();
  bytes_ = 0;
  processed_ +=
      queue_.size();  // pending writes are about to be deleted anyway; Flush must not wait for them
  queue_.clear();
  EnqueueLocked(Op{Op::kClear, {}});
}

void ExactCache::ForEach(
    const std::function<void(const std::string& key, const Entry&)>& fn) const {
  MutexLock lock(&mu_);
  for (auto it = lru_.rbegin(); it != lru_.rend(); ++it) {
    if (it->hits == it->entry->hits) {
      fn(it->key, *it->entry);
    } else {
      Entry copy = *it->entry;
      copy.hits = it->hits;
      fn(it->key, copy);
    }
  }
}

ExactCache::Stats ExactCache::stats() const {
  MutexLock lock(&mu_);
  Stats s = stats_;
  s.entries = static_cast<int64_t>(lru_.size());
  s.bytes = bytes_;
  return s;
}

Status ExactCache::Flush() {
  MutexLock lock(&mu_);
  if (!db_ || writer_exited_)
    return stats_.disk_errors ? Status::IoError("cache: disk writes failed") : Status::Ok();
  const uint64_t target = enqueued_;
  flush_requested_ = true;
  cv_.Signal();
  while (processed_ < target && !writer_exited_) done_cv_.Wait(&mu_);
  return stats_.disk_errors ? Status::IoError("cache: " + std::to_string(stats_.disk_errors) +
                                              " disk writes failed")
                            : Status::Ok();
}

Status ExactCache::Close() {
  {
    MutexLock lock(&mu_);
    if (closed_) return Status::Ok();
    stopping_ = true;
  }
  cv_.Signal();
  if (writer_.joinable()) writer_.join();
  MutexLock lock(&mu_);
  closed_ = true;
  for (sqlite3_stmt** s : {&put_, &touch_, &delete_}) {
    if (*s) sqlite3_finalize(*s);
    *s = nullptr;
  }
  if (db_) sqlite3_close(db_);
  db_ = nullptr;
  return stats_.disk_errors ? Status::IoError("cache: " + std::to_string(stats_.disk_errors) +
                                              " disk writes failed")
                            : Status::Ok();
}

void ExactCache::WriterLoop() {
  std::vector<Op> batch;
  for (;;) {
    bool stop, exited;
    {
      MutexLock lock(&mu_);
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
      while (!stopping_ && !flush_requested_ && queue_.size() < 256) {
        if (!cv_.WaitUntil(&mu_, deadline)) break;
      }
      flush_requested_ = false;
      batch.swap(queue_);
      stop = stopping_;
    }
    const bool ok = batch.empty() || WriteBatch(batch);
    {
      MutexLock lock(&mu_);
      processed_ += batch.size();
      if (!ok) stats_.disk_errors += static_cast<int64_t>(batch.size());
      if (stop && queue_.empty()) writer_exited_ = true;
      exited = writer_exited_;
    }
    batch.clear();
    done_cv_.SignalAll();
    if (exited) return;
  }
}

bool ExactCache::WriteBatch(const std::vector<Op>& ops) {
  for (int attempt = 0; attempt < 10; ++attempt) {
    if (sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    bool ok = true;
    for (const Op& op : ops) {
      sqlite3_stmt* st = nullptr;
      const int klen = static_cast<int>(op.key.size());
      switch (op.kind) {
        case Op::kPut: {
          const Entry& e = *op.entry;
          st = put_;
          sqlite3_bind_text(st, 1, op.key.data(), klen, SQLITE_STATIC);
          sqlite3_bind_text(st, 2, e.scope.data(), static_cast<int>(e.scope.size()), SQLITE_STATIC);
          sqlite3_bind_text(st, 3, e.api.data(), static_cast<int>(e.api.size()), SQLITE_STATIC);
          sqlite3_bind_text(st, 4, e.model.data(), static_cast<int>(e.model.size()), SQLITE_STATIC);
          sqlite3_bind_blob(st, 5, e.body.data(), static_cast<int>(e.body.size()), SQLITE_STATIC);
          sqlite3_bind_int64(st, 6, e.input_tokens);
          sqlite3_bind_int64(st, 7, e.output_tokens);
          sqlite3_bind_double(st, 8, e.cost_usd);
          sqlite3_bind_int64(st, 9, e.created_ms);
          sqlite3_bind_int64(st, 10, op.last_used_ms);
          sqlite3_bind_int64(st, 11, op.hits);
          if (e.semantic_text.empty())
            sqlite3_bind_null(st, 12);
          else
            sqlite3_bind_text(st, 12, e.semantic_text.data(),
                              static_cast<int>(e.semantic_text.size()), SQLITE_STATIC);
          if (e.embedding.empty())
            sqlite3_bind_null(st, 13);
          else
            sqlite3_bind_blob(st, 13, e.embedding.data(),
                              static_cast<int>(e.embedding.size() * sizeof(float)), SQLITE_STATIC);
          break;
        }
        case Op::kTouch:
          st = touch_;
          sqlite3_bind_int64(st, 1, op.hits);
          sqlite3_bind_int64(st, 2, op.last_used_ms);
          sqlite3_bind_text(st, 3, op.key.data(), klen, SQLITE_STATIC);
          break;
        case Op::kDelete:
          st = delete_;
          sqlite3_bind_text(st, 1, op.key.data(), klen, SQLITE_STATIC);
          break;
        case Op::kClear:
          ok = sqlite3_exec(db_, "DELETE FROM cache_entries", nullptr, nullptr, nullptr) ==
               SQLITE_OK;
          break;
      }
      if (st) {
        ok = sqlite3_step(st) == SQLITE_DONE;
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
      }
      if (!ok) break;
    }
    if (ok && sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK) return true;
    log::Error(std::string("cache: write failed: ") + sqlite3_errmsg(db_));
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

}  // namespace tollgate::cache
