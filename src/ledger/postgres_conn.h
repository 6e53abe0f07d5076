// libpq helpers of the PostgreSQL backend (the role sqlite_stmt.h plays for
// SQLite): owned connections and results, statements with text parameters,
// reading a result's text cells, and libpq's errors as Status.
// Backend-internal: only src/ledger/postgres_*.cc include this (and the
// PostgreSQL tests). A connection is not thread-safe: one thread at a time.
#pragma once
#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace tollgate::ledger::pg {

struct ConnCloser {
  void operator()(PGconn* c) const { PQfinish(c); }
};
using Conn = std::unique_ptr<PGconn, ConnCloser>;
struct ResultClearer {
  void operator()(PGresult* r) const { PQclear(r); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultClearer>;

// The URL with any password replaced by "***", for messages and logs.
std::string RedactUrl(std::string_view url);

// Connects to `url` (a postgres:// or postgresql:// URI, or any string
// PQconnectdb takes), with notices silenced and floats sent in full precision.
// IoError naming the (redacted) URL when the server cannot be reached.
Result<Conn> Connect(const std::string& url);
// Connect's session settings, again after a PQreset.
Status SetUpSession(PGconn* c);

// Text parameters for Exec ($1, $2, ...); a nullopt is SQL NULL.
class Params {
 public:
  Params& Text(std::string_view v) { return Add(std::string(v)); }
  Params& TextOrNull(std::string_view v) { return v.empty() ? Null() : Text(v); }
  Params& Int(int64_t v) { return Add(std::to_string(v)); }
  Params& IntOrNull(std::optional<int64_t> v) { return v ? Int(*v) : Null(); }
  Params& Real(double v);
  Params& RealOrNull(std::optional<double> v) { return v ? Real(*v) : Null(); }
  Params& Null() {
    values_.emplace_back(std::nullopt);
    return *this;
  }
  const std::vector<std::optional<std::string>>& values() const { return values_; }

 private:
  Params& Add(std::string v) {
    values_.emplace_back(std::move(v));
    return *this;
  }
  std::vector<std::optional<std::string>> values_;
};

// Runs one statement. A result that is not COMMAND_OK or TUPLES_OK is an
// error: NotFound when the table or database does not exist (undefined_table,
// invalid_catalog_name: no ledger there yet), IoError otherwise, with the
// server's message prefixed by `what`.
Result<ResultPtr> Exec(PGconn* c, std::string_view what, const std::string& sql,
                       const Params& params = {});
// Exec for statements whose result is not read.
Status Run(PGconn* c, std::string_view what, const std::string& sql, const Params& params = {});

// A COPY ... FROM STDIN fed in pieces, so the server parses and inserts while
// the caller encodes the next rows. Start, any number of Put, then End, which
// reports every error (a failed Put included).
class CopyStream {
 public:
  explicit CopyStream(PGconn* c) : c_(c) {}
  CopyStream(const CopyStream&) = delete;
  CopyStream& operator=(const CopyStream&) = delete;
  ~CopyStream() {
    if (started_) (void)End();
  }
  Status Start(const std::string& copy_sql);
  void Put(std::string_view data);  // COPY text-format lines
  Status End();

 private:
  PGconn* const c_;
  bool started_ = false;
  bool sent_ = true;
};

// Sends `data` (COPY text format) to `copy_sql` (a COPY ... FROM STDIN).
Status CopyIn(PGconn* c, const std::string& copy_sql, std::string_view data);

// A string literal quoted for this connection ('...'), for statements that
// cannot take parameters (DECLARE CURSOR).
std::string Literal(PGconn* c, std::string_view v);
// An identifier quoted for SQL ("user" is a reserved word in PostgreSQL).
std::string Quote(std::string_view name);

// A cell of a text-format result. NULL reads as 0 / "" / nullopt.
inline bool IsNull(const PGresult* r, int row, int col) { return PQgetisnull(r, row, col) != 0; }
int64_t GetInt(const PGresult* r, int row, int col);
double GetReal(const PGresult* r, int row, int col);
inline std::optional<double> GetRealOrNull(const PGresult* r, int row, int col) {
  return IsNull(r, row, col) ? std::nullopt : std::optional<double>(GetReal(r, row, col));
}
inline std::string_view GetView(const PGresult* r, int row, int col) {
  return std::string_view(PQgetvalue(r, row, col), static_cast<size_t>(PQgetlength(r, row, col)));
}
inline std::string GetText(const PGresult* r, int row, int col) {
  return std::string(GetView(r, row, col));
}

// Appends `v` to a COPY text-format line: backslash escapes for \, tab,
// newline and carriage return; invalid UTF-8 and NUL bytes (which PostgreSQL
// refuses, and one bad row would fail its whole batch) become U+FFFD.
void AppendCopyText(std::string* out, std::string_view v);
void AppendCopyInt(std::string* out, int64_t v);
void AppendCopyReal(std::string* out, double v);
inline void AppendCopyNull(std::string* out) { out->append("\\N"); }

}  // namespace tollgate::ledger::pg
