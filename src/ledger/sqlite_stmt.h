// The SQLite backend's statement wrapper: prepare, bind, step and read columns,
// finalized on scope exit. Backend-internal: only src/ledger/sqlite_*.cc use it.
// Not thread-safe (like the connection it runs on).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace tollgate::ledger {

class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) {
    rc_ = sqlite3_prepare_v2(db, sql, -1, &s_, nullptr);
  }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt() { sqlite3_finalize(s_); }
  bool ok() const { return rc_ == SQLITE_OK; }
  sqlite3_stmt* get() { return s_; }
  // IoError naming `what` and SQLite's message.
  Status Error(std::string_view what) const {
    return Status::IoError(std::string(what) + ": " + sqlite3_errmsg(db_));
  }

  Stmt& Text(int i, std::string_view v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& TextOrNull(int i, const std::string& v) {
    if (v.empty())
      sqlite3_bind_null(s_, i);
    else
      Text(i, v);
    return *this;
  }
  Stmt& Int(int i, int64_t v) {
    sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  Stmt& IntOrNull(int i, std::optional<int64_t> v) {
    if (v)
      sqlite3_bind_int64(s_, i, *v);
    else
      sqlite3_bind_null(s_, i);
    return *this;
  }
  Stmt& Real(int i, double v) {
    sqlite3_bind_double(s_, i, v);
    return *this;
  }
  Stmt& RealOrNull(int i, std::optional<double> v) {
    if (v)
      sqlite3_bind_double(s_, i, *v);
    else
      sqlite3_bind_null(s_, i);
    return *this;
  }

  int Step() { return sqlite3_step(s_); }
  // Steps a statement that returns no rows. IoError naming `what` on failure.
  Status Run(std::string_view what = "state db") {
    if (!ok() || Step() != SQLITE_DONE) return Error(what);
    return Status::Ok();
  }

  std::string ColText(int i) { return std::string(ColView(i)); }
  // Empty for NULL; valid until the next step.
  std::string_view ColView(int i) {
    const unsigned char* t = sqlite3_column_text(s_, i);
    return t ? std::string_view(reinterpret_cast<const char*>(t),
                                static_cast<size_t>(sqlite3_column_bytes(s_, i)))
             : std::string_view();
  }
  const char* ColCStr(int i) { return reinterpret_cast<const char*>(sqlite3_column_text(s_, i)); }
  int64_t ColInt(int i) { return sqlite3_column_int64(s_, i); }
  double ColReal(int i) { return sqlite3_column_double(s_, i); }
  bool IsNull(int i) { return sqlite3_column_type(s_, i) == SQLITE_NULL; }
  std::optional<double> ColRealOrNull(int i) {
    return IsNull(i) ? std::nullopt : std::optional<double>(ColReal(i));
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* s_ = nullptr;
  int rc_;
};

}  // namespace tollgate::ledger
