#include "ledger/postgres_conn.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>

namespace tollgate::ledger::pg {
namespace {

void IgnoreNotice(void*, const char*) {}  // "relation already exists, skipping" and the like

std::string ServerMessage(PGconn* c, const PGresult* r) {
  const char* m = r ? PQresultErrorMessage(r) : nullptr;
  std::string s = (m && *m) ? m : PQerrorMessage(c);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s.empty() ? "unknown error" : s;
}

}  // namespace

std::string RedactUrl(std::string_view url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return std::string(url);
  const size_t auth_start = scheme + 3;
  const size_t at = url.find('@', auth_start);
  const size_t slash = url.find('/', auth_start);
  if (at == std::string_view::npos || (slash != std::string_view::npos && slash < at))
    return std::string(url);
  const size_t colon = url.find(':', auth_start);
  if (colon == std::string_view::npos || colon > at) return std::string(url);
  return std::string(url.substr(0, colon + 1)) + "***" + std::string(url.substr(at));
}

Result<Conn> Connect(const std::string& url) {
  // A host that drops packets must not stall the writer thread for the OS's
  // TCP timeout: 5 s unless the URL sets its own connect_timeout (it wins, being later).
  const char* keywords[] = {"connect_timeout", "dbname", nullptr};
  const char* values[] = {"5", url.c_str(), nullptr};
  Conn c(PQconnectdbParams(keywords, values, /*expand_dbname=*/1));
  if (!c) return Status::IoError("ledger: cannot connect to " + RedactUrl(url) + ": out of memory");
  if (PQstatus(c.get()) != CONNECTION_OK)
    return Status::IoError("ledger: cannot connect to " + RedactUrl(url) + ": " +
                           ServerMessage(c.get(), nullptr));
  TG_RETURN_IF_ERROR(SetUpSession(c.get()));
  return c;
}

Status SetUpSession(PGconn* c) {
  PQsetNoticeProcessor(c, IgnoreNotice, nullptr);
  // Shortest exact float text both ways (PostgreSQL >= 12), UTF-8 text, and
  // timestamps computed in UTC whatever the server's default.
  return Run(c, "ledger: session setup",
             "SET extra_float_digits = 3; SET client_encoding = 'UTF8'; SET TimeZone = 'UTC'");
}

Params& Params::Real(double v) {
  std::string s;
  AppendCopyReal(&s, v);
  return Add(std::move(s));
}

Result<ResultPtr> Exec(PGconn* c, std::string_view what, const std::string& sql,
                       const Params& params) {
  std::vector<const char*> values;
  values.reserve(params.values().size());
  for (const auto& v : params.values()) values.push_back(v ? v->c_str() : nullptr);
  ResultPtr r(params.values().empty()
                  ? PQexec(c, sql.c_str())
                  : PQexecParams(c, sql.c_str(), static_cast<int>(values.size()), nullptr,
                                 values.data(), nullptr, nullptr, 0));
  const ExecStatusType st = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return r;
  const char* state = r ? PQresultErrorField(r.get(), PG_DIAG_SQLSTATE) : nullptr;
  std::string m = std::string(what) + ": " + ServerMessage(c, r.get());
  if (state && (std::strcmp(state, "42P01") == 0 || std::strcmp(state, "3D000") == 0))
    return Status::NotFound(m);
  return Status::IoError(m);
}

Status Run(PGconn* c, std::string_view what, const std::string& sql, const Params& params) {
  auto r = Exec(c, what, sql, params);
  return r.ok() ? Status::Ok() : r.status();
}

Status CopyStream::Start(const std::string& copy_sql) {
  ResultPtr start(PQexec(c_, copy_sql.c_str()));
  if (!start || PQresultStatus(start.get()) != PGRES_COPY_IN)
    return Status::IoError("ledger: " + copy_sql.substr(0, 40) +
                           "...: " + ServerMessage(c_, start.get()));
  started_ = true;
  return Status::Ok();
}

void CopyStream::Put(std::string_view data) {
  // libpq buffers what it is given; send in pieces so a batch never doubles in memory.
  constexpr size_t kChunk = 1 << 20;
  for (size_t off = 0; off < data.size() && sent_; off += kChunk) {
    const size_t n = std::min(kChunk, data.size() - off);
    sent_ = PQputCopyData(c_, data.data() + off, static_cast<int>(n)) == 1;
  }
}

Status CopyStream::End() {
  if (!started_) return Status::IoError("ledger: COPY was not started");
  started_ = false;
  if (PQputCopyEnd(c_, sent_ ? nullptr : "client error") != 1) sent_ = false;
  Status st = Status::Ok();
  while (PGresult* r = PQgetResult(c_)) {
    ResultPtr owned(r);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && st.ok())
      st = Status::IoError("ledger: COPY failed: " + ServerMessage(c_, r));
  }
  if (st.ok() && !sent_) st = Status::IoError("ledger: COPY failed: " + ServerMessage(c_, nullptr));
  return st;
}

Status CopyIn(PGconn* c, const std::string& copy_sql, std::string_view data) {
  CopyStream copy(c);
  TG_RETURN_IF_ERROR(copy.Start(copy_sql));
  copy.Put(data);
  return copy.End();
}

std::string Literal(PGconn* c, std::string_view v) {
  char* q = PQescapeLiteral(c, v.data(), v.size());
  if (!q) return "NULL";  // only on an encoding error or out of memory: matches nothing
  std::string s(q);
  PQfreemem(q);
  return s;
}

std::string Quote(std::string_view name) { return "\"" + std::string(name) + "\""; }

int64_t GetInt(const PGresult* r, int row, int col) {
  if (IsNull(r, row, col)) return 0;
  // SUM(bigint) is numeric: an integer's text, possibly with a fraction part.
  return std::strtoll(PQgetvalue(r, row, col), nullptr, 10);
}

double GetReal(const PGresult* r, int row, int col) {
  if (IsNull(r, row, col)) return 0;
  return std::strtod(PQgetvalue(r, row, col), nullptr);
}

// Bytes that COPY's text format takes as they are: ASCII but NUL and the four
// that are escaped.
constexpr std::array<bool, 256> kPlainByte = [] {
  std::array<bool, 256> t{};
  for (int b = 1; b < 0x80; ++b) t[b] = b != '\\' && b != '\t' && b != '\n' && b != '\r';
  return t;
}();

void AppendCopyText(std::string* out, std::string_view v) {
  const auto* p = reinterpret_cast<const unsigned char*>(v.data());
  const size_t n = v.size();
  size_t i = 0;
  while (i < n) {
    const size_t run = i;  // the common case: a run of plain bytes, appended at once
    while (i < n && kPlainByte[p[i]]) ++i;
    out->append(v.data() + run, i - run);
    if (i == n) break;
    const unsigned char b = p[i];
    if (b < 0x80) {
      switch (b) {
        case '\\':
          out->append("\\\\");
          break;
        case '\t':
          out->append("\\t");
          break;
        case '\n':
          out->append("\\n");
          break;
        case '\r':
          out->append("\\r");
          break;
        default:
          out->append("\xEF\xBF\xBD");
          break;  // NUL
      }
      ++i;
      continue;
    }
    // A UTF-8 sequence: its length from the lead byte, then the continuation
    // bytes, with overlong forms and surrogates refused as PostgreSQL does.
    size_t len = 0;
    if (b >= 0xC2 && b <= 0xDF)
      len = 2;
    else if (b >= 0xE0 && b <= 0xEF)
      len = 3;
    else if (b >= 0xF0 && b <= 0xF4)
      len = 4;
    bool ok = len > 0 && i + len <= n;
    for (size_t k = 1; ok && k < len; ++k) ok = (p[i + k] & 0xC0) == 0x80;
    if (ok && len == 3) {
      const unsigned char b1 = p[i + 1];
      ok = !(b == 0xE0 && b1 < 0xA0) && !(b == 0xED && b1 >= 0xA0);
    }
    if (ok && len == 4) {
      const unsigned char b1 = p[i + 1];
      ok = !(b == 0xF0 && b1 < 0x90) && !(b == 0xF4 && b1 >= 0x90);
    }
    if (ok) {
      out->append(v.data() + i, len);
      i += len;
    } else {
      out->append("\xEF\xBF\xBD");
      ++i;
    }
  }
}

void AppendCopyInt(std::string* out, int64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, end);
}

void AppendCopyReal(std::string* out, double v) {
  if (std::isnan(v)) {
    out->append("NaN");
  } else if (std::isinf(v)) {
    out->append(v > 0 ? "Infinity" : "-Infinity");
  } else {
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);  // shortest exact form
    out->append(buf, end);
  }
}

}  // namespace tollgate::ledger::pg
