#include "dashboard/dashboard.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <sqlite3.h>

#include <algorithm>
#include <charconv>
#include <climits>
#include <cmath>
#include <map>
#include <thread>
#include <unordered_map>

#include "common/util.h"
#include "dashboard/rollup.h"
#include "dashboard/web_assets.h"
#include "governance/serialize.h"
#include "governance/store.h"
#include "governance/window.h"
#include "ledger/schema.h"
#include "report/report.h"

namespace tollgate::dashboard {
namespace {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;
constexpr int64_t kDayMs = 86400000;

// ---------------------------------------------------------------------------
// Small helpers: query strings, responses, auth.

using Params = std::map<std::string, std::string, std::less<>>;

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 &&
               HexValue(s[i + 2]) >= 0) {
      out += static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

Params ParseQuery(std::string_view q) {
  Params p;
  while (!q.empty()) {
    size_t amp = q.find('&');
    std::string_view part = q.substr(0, amp);
    size_t eq = part.find('=');
    if (!part.empty())
      p[PercentDecode(part.substr(0, eq))] =
          eq == std::string_view::npos ? "" : PercentDecode(part.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    q.remove_prefix(amp + 1);
  }
  return p;
}

std::string Param(const Params& p, std::string_view name) {
  auto it = p.find(name);
  return it == p.end() ? std::string() : it->second;
}

// A positive integer parameter clamped to [1, max]; `def` when absent.
Result<int64_t> IntParam(const Params& p, std::string_view name, int64_t def, int64_t max) {
  std::string v = Param(p, name);
  if (v.empty()) return def;
  int64_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9' || n > INT64_MAX / 100)
      return Status::InvalidArgument(std::string(name) + " must be a non-negative integer");
    n = n * 10 + (c - '0');
  }
  return std::min(n, max);
}

std::optional<std::string> Base64Decode(std::string_view in) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z')
      v = c - 'A';
    else if (c >= 'a' && c <= 'z')
      v = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      v = c - '0' + 52;
    else if (c == '+' || c == '-')
      v = 62;
    else if (c == '/' || c == '_')
      v = 63;
    else if (c == '=')
      break;
    else
      return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

Response Json(int status, const rapidjson::StringBuffer& sb) {
  Response r;
  r.status = status;
  r.body.assign(sb.GetString(), sb.GetSize());
  r.headers.emplace_back("cache-control", "no-store");
  r.headers.emplace_back("x-content-type-options", "nosniff");
  return r;
}

Response Error(int status, std::string_view code, std::string_view message) {
  rapidjson::StringBuffer sb;
  JsonWriter w(sb);
  w.StartObject();
  w.Key("error");
  w.StartObject();
  w.Key("code");
  w.String(code.data(), static_cast<rapidjson::SizeType>(code.size()));
  w.Key("message");
  const std::string valid = ToValidUtf8(message);  // messages echo paths and parameters
  w.String(valid.data(), static_cast<rapidjson::SizeType>(valid.size()));
  w.EndObject();
  w.EndObject();
  return Json(status, sb);
}

Response FromStatus(const Status& st) {
  switch (st.code()) {
    case StatusCode::kInvalidArgument:
      return Error(400, "invalid_request", st.message());
    case StatusCode::kNotFound:
      return Error(404, "not_found", st.message());
    default:
      return Error(500, "internal_error", st.message());
  }
}

void Str(JsonWriter& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

std::string_view ColumnText(sqlite3_stmt* s, int i) {
  const unsigned char* t = sqlite3_column_text(s, i);
  return t ? std::string_view(reinterpret_cast<const char*>(t),
                              static_cast<size_t>(sqlite3_column_bytes(s, i)))
           : std::string_view();
}

// Writes column `i` as its SQLite type (NULL stays null, never "" or 0).
void WriteColumn(JsonWriter& w, sqlite3_stmt* s, int i) {
  switch (sqlite3_column_type(s, i)) {
    case SQLITE_INTEGER:
      w.Int64(sqlite3_column_int64(s, i));
      break;
    case SQLITE_FLOAT: {
      double d = sqlite3_column_double(s, i);
      if (std::isfinite(d))
        w.Double(d);
      else
        w.Null();
      break;
    }
    case SQLITE_NULL:
      w.Null();
      break;
    default:
      Str(w, ColumnText(s, i));
      break;
  }
}

// A read-only ledger handle and its statements, closed on scope exit.
class ReadTxn {
 public:
  ~ReadTxn() {
    for (sqlite3_stmt* s : stmts_) sqlite3_finalize(s);
    if (db_) sqlite3_close(db_);
  }
  Status Open(const std::string& path) {
    TG_ASSIGN_OR_RETURN(db_, ledger::OpenReadOnly(path));
    return Status::Ok();
  }
  Result<sqlite3_stmt*> Prepare(const char* sql) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db_, sql, -1, &s, nullptr) != SQLITE_OK)
      return Status::IoError(std::string("dashboard: ") + sqlite3_errmsg(db_) +
                             " (is this a tollgate ledger?)");
    stmts_.push_back(s);
    return s;
  }
  Status Done(int rc) const {
    if (rc == SQLITE_DONE) return Status::Ok();
    return Status::IoError(std::string("dashboard: query failed: ") + sqlite3_errmsg(db_));
  }

 private:
  sqlite3* db_ = nullptr;
  std::vector<sqlite3_stmt*> stmts_;
};

// A date range, inclusive UTC days, with the same defaults as `tollgate report`.
struct Range {
  std::string from, to;
  int64_t from_ms = 0, end_ms = 0;  // [from_ms, end_ms)
};

Result<Range> ParseRange(const Params& p) {
  Range r;
  r.to = Param(p, "to");
  if (r.to.empty()) r.to = FormatDateUtc(NowUnixMs());
  auto to_ms = ParseDateUtcMs(r.to);
  if (!to_ms) return Status::InvalidArgument("to must be a date YYYY-MM-DD (got '" + r.to + "')");
  r.from = Param(p, "from");
  if (r.from.empty()) r.from = FormatDateUtc(*to_ms - 29 * kDayMs);
  auto from_ms = ParseDateUtcMs(r.from);
  if (!from_ms)
    return Status::InvalidArgument("from must be a date YYYY-MM-DD (got '" + r.from + "')");
  if (*from_ms < 0)
    return Status::InvalidArgument("from must be 1970-01-01 or later (got '" + r.from + "')");
  if (*from_ms > *to_ms) return Status::InvalidArgument("from " + r.from + " is after to " + r.to);
  if (*to_ms - *from_ms > 3660 * kDayMs)
    return Status::InvalidArgument("the range is limited to ten years");
  r.from_ms = *from_ms;
  r.end_ms = *to_ms + kDayMs;
  return r;
}

void WriteRange(JsonWriter& w, const Range& r) {
  w.Key("from");
  Str(w, r.from);
  w.Key("to");
  Str(w, r.to);
}

// A group's (or the totals') sums, in the shape of `tollgate report --format json`.
void WriteAgg(JsonWriter& w, const Agg& a, const std::string* group) {
  w.StartObject();
  if (group) {
    w.Key("group");
    Str(w, *group);
  }
  w.Key("cost_usd");
  w.Double(a.cost_usd);
  w.Key("tokens");
  w.Int64(a.input_tokens + a.output_tokens);
  w.Key("input_tokens");
  w.Int64(a.input_tokens);
  w.Key("output_tokens");
  w.Int64(a.output_tokens);
  w.Key("requests");
  w.Int64(a.requests);
  w.Key("errors");
  w.Int64(a.errors);
  w.Key("unknown_cost_requests");
  w.Int64(a.unknown_cost);
  w.EndObject();
}

// The columns of a request shown in lists (top, live feed).
constexpr const char* kListColumns =
    "rowid, id, ts_start_ms, endpoint, requested_model, provider, api_key, user, project, status, "
    "error_class,"
    " input_tokens + cache_read_tokens + cache_write_5m_tokens + cache_write_1h_tokens + "
    "output_tokens +"
    " reasoning_tokens, cost_usd, latency_ms, streamed";

void WriteListRow(JsonWriter& w, sqlite3_stmt* s) {
  static const char* const kNames[] = {
      "seq",     "id",     "ts_start_ms", "endpoint", "model",    "provider",   "api_key", "user",
      "project", "status", "error_class", "tokens",   "cost_usd", "latency_ms", "streamed"};
  w.StartObject();
  for (int i = 0; i < static_cast<int>(std::size(kNames)); ++i) {
    w.Key(kNames[i]);
    WriteColumn(w, s, i);
  }
  w.EndObject();
}

std::string CsvField(std::string_view v) {
  if (v.find_first_of(",\"\n\r") == std::string_view::npos) return std::string(v);
  std::string q = "\"";
  for (char c : v) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

std::string_view ContentType(std::string_view path) {
  auto ends = [&](std::string_view ext) {
    return path.size() >= ext.size() && path.substr(path.size() - ext.size()) == ext;
  };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".js")) return "text/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".svg")) return "image/svg+xml";
  if (ends(".png")) return "image/png";
  if (ends(".json") || ends(".map")) return "application/json";
  return "application/octet-stream";
}

// ---------------------------------------------------------------------------

class LedgerDashboard final : public Dashboard {
 public:
  LedgerDashboard(const config::Config& cfg, governance::Governor& governor)
      : db_path_(cfg.ledger.path),
        rollup_(cfg.ledger.path),
        protected_(cfg.auth.enabled || !cfg.auth.master_key.empty()),
        has_master_key_(!cfg.auth.master_key.empty()),
        cache_enabled_(cfg.cache.enabled),
        savings_configured_(cfg.cache.enabled || std::any_of(cfg.models.begin(), cfg.models.end(), [](const config::ModelConfig& m) {
                              return m.route.has_value() || m.budget_hint.has_value() || m.strategy != "fallback";
                            })),
        governor_(governor) {
    // Build the rollup now, so the first page view does not pay for reading
    // the whole ledger. Errors (no ledger yet) surface on the first request.
    warm_up_ = std::thread([this] { (void)rollup_.Refresh(); });
  }
  ~LedgerDashboard() override { warm_up_.join(); }

  std::optional<Response> Handle(std::string_view method, std::string_view path,
                                 std::string_view query, std::string_view authorization) override {
    const bool api = path.rfind("/api/", 0) == 0;
    const WebAsset* asset = nullptr;
    if (!api) {
      std::string_view rel = path.substr(1);
      if (rel.empty()) rel = "index.html";
      if (path.empty() || path[0] != '/' || !(rel == "index.html" || rel.rfind("assets/", 0) == 0))
        return std::nullopt;
      asset = FindWebAsset(rel);
    }
    if (protected_) {
      if (!has_master_key_)
        return Error(403, "dashboard_disabled",
                     "auth is enabled but auth.master_key is empty: set it to open the dashboard");
      if (!Authorized(authorization)) {
        Response r = Error(
            401, "invalid_api_key",
            "The dashboard needs the master key: 'Authorization: Bearer <auth.master_key>', or "
            "any user name with the master key as the password.");
        r.headers.emplace_back("www-authenticate",
                               "Basic realm=\"tollgate dashboard\", charset=\"UTF-8\"");
        return r;
      }
    }
    if (method != "GET")
      return Error(405, "method_not_allowed", "the dashboard is read-only: use GET");
    if (!api) {
      if (!asset) return Error(404, "not_found", "no dashboard asset " + std::string(path));
      Response r;
      r.content_type = std::string(ContentType(asset->path));
      r.body = std::string(asset->data);
      // Bundles carry a content hash in their names; index.html names them, so
      // it must be revalidated while they may be cached for good.
      r.headers.emplace_back("cache-control", asset->path == "index.html"
                                                  ? "no-cache"
                                                  : "public, max-age=31536000, immutable");
      r.headers.emplace_back("x-content-type-options", "nosniff");
      r.headers.emplace_back(
          "content-security-policy",
          "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
          "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'");
      r.headers.emplace_back("referrer-policy", "no-referrer");
      return r;
    }
    Params p = ParseQuery(query);
    std::string_view route = path.substr(5);
    if (route == "summary") return Summary(p);
    if (route == "daily") return Daily(p);
    if (route == "breakdown") return Breakdown(p);
    if (route == "budgets") return Budgets();
    if (route == "top") return Top(p);
    if (route == "request") return Request(p);
    if (route == "recent") return Recent(p);
    if (route == "latency") return Latency(p);
    if (route == "export.csv") return Export(p);
    return Error(404, "not_found", "no dashboard API route " + std::string(path));
  }

 private:
  bool Authorized(std::string_view authorization) const {
    std::string_view a = Trim(authorization);
    size_t sp = a.find(' ');
    if (sp == std::string_view::npos) return false;
    std::string scheme = ToLower(a.substr(0, sp));
    std::string_view cred = Trim(a.substr(sp + 1));
    if (scheme == "bearer") return governor_.IsMasterKey(cred);
    if (scheme == "basic") {
      auto decoded = Base64Decode(cred);
      if (!decoded) return false;
      size_t colon = decoded->find(':');
      if (colon == std::string::npos) return false;
      return governor_.IsMasterKey(std::string_view(*decoded).substr(colon + 1));
    }
    return false;
  }

  Result<report::Report> RunReport(const Range& r, const std::string& by) const {
    report::ReportOptions o;
    o.db_path = db_path_;
    o.by = by;
    o.from = r.from;
    o.to = r.to;
    return report::BuildReport(o);
  }

  // Refreshes the rollup with the rows written since the last call.
  Status Fresh() const { return rollup_.Refresh(); }

  // Totals over the range: the same sums as `tollgate report` (the rollup adds
  // them per day, so the last bits of a sum may differ), plus the panels that
  // have no data source yet (cache, savings), stated as such.
  Response Summary(const Params& p) const {
    auto range = ParseRange(p);
    if (!range.ok()) return FromStatus(range.status());
    Status st = Fresh();
    if (!st.ok()) return FromStatus(st);
    const Agg totals = rollup_.Totals(range->from_ms / kDayMs, range->end_ms / kDayMs - 1);
    rapidjson::StringBuffer sb;
    JsonWriter w(sb);
    w.StartObject();
    WriteRange(w, *range);
    w.Key("totals");
    WriteAgg(w, totals, nullptr);
    // Cache and savings from the rows the savings engine touched (a partial index keeps this cheap).
    int64_t lookups = 0, hits = 0, touched = 0;
    double saved = 0, baseline = 0;
    if (auto db = ledger::OpenReadOnly(db_path_); db.ok()) {
      sqlite3_stmt* q = nullptr;
      const char* sql =
          "SELECT COALESCE(SUM(cache IN ('hit', 'semantic_hit')), 0), COALESCE(SUM(cache IN ('hit', 'semantic_hit', 'miss')), 0),"
          " COALESCE(SUM(COALESCE(baseline_cost_usd, cost_usd, 0) - COALESCE(cost_usd, 0)), 0),"
          " COALESCE(SUM(COALESCE(baseline_cost_usd, cost_usd, 0)), 0), COUNT(*)"
          " FROM requests WHERE (cache IS NOT NULL OR savings_lever IS NOT NULL) AND ts_start_ms >= ? AND ts_start_ms < ?";
      if (sqlite3_prepare_v2(*db, sql, -1, &q, nullptr) == SQLITE_OK) {
        sqlite3_bind_int64(q, 1, range->from_ms);
        sqlite3_bind_int64(q, 2, range->end_ms);
        if (sqlite3_step(q) == SQLITE_ROW) {
          hits = sqlite3_column_int64(q, 0);
          lookups = sqlite3_column_int64(q, 1);
          saved = sqlite3_column_double(q, 2);
          baseline = sqlite3_column_double(q, 3);
          touched = sqlite3_column_int64(q, 4);
        }
      }
      sqlite3_finalize(q);
      sqlite3_close(*db);
    }
    w.Key("cache");
    w.StartObject();
    w.Key("enabled");
    w.Bool(cache_enabled_);
    w.Key("lookups");
    w.Int64(lookups);
    w.Key("hits");
    w.Int64(hits);
    w.Key("hit_rate");
    if (lookups > 0) w.Double(static_cast<double>(hits) / static_cast<double>(lookups));
    else w.Null();
    w.EndObject();
    w.Key("savings");
    w.StartObject();
    w.Key("configured");
    w.Bool(savings_configured_);
    w.Key("saved_usd");
    if (savings_configured_ || touched > 0) w.Double(saved);
    else w.Null();
    w.Key("message");
    std::string msg = !savings_configured_ && touched == 0 ? "no savings levers configured (cache, routes, cascades)"
                      : touched == 0 ? "no request used a savings lever in this range"
                      : "vs $" + FormatUsd(baseline) + " without tollgate, over " + std::to_string(touched) + " requests";
    w.String(msg.c_str());
    w.EndObject();
    w.EndObject();
    return Json(200, sb);
  }

  // Spend per UTC day per requested model; every day of the range is present.
  Response Daily(const Params& p) const {
    auto range = ParseRange(p);
    if (!range.ok()) return FromStatus(range.status());
    Status st = Fresh();
    if (!st.ok()) return FromStatus(st);
    const int64_t from_day = range->from_ms / kDayMs, to_day = range->end_ms / kDayMs - 1;
    auto series = rollup_.DailyByModel(from_day, to_day);
    rapidjson::StringBuffer sb;
    JsonWriter w(sb);
    w.StartObject();
    WriteRange(w, *range);
    w.Key("days");
    w.StartArray();
    for (int64_t d = from_day; d <= to_day; ++d) Str(w, FormatDateUtc(d * kDayMs));
    w.EndArray();
    w.Key("models");
    w.StartArray();
    for (const auto& m : series) {
      w.StartObject();
      w.Key("model");
      Str(w, m.model);
      w.Key("cost_usd");
      w.Double(m.total_usd);
      w.Key("daily_cost_usd");
      w.StartArray();
      for (double c : m.daily_usd) w.Double(c);
      w.EndArray();
      w.Key("daily_requests");
      w.StartArray();
      for (int64_t n : m.daily_requests) w.Int64(n);
      w.EndArray();
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    return Json(200, sb);
  }

  // One dimension of `tollgate report`: the same groups, sums and order.
  Response Breakdown(const Params& p) const {
    auto range = ParseRange(p);
    if (!range.ok()) return FromStatus(range.status());
    std::string by = Param(p, "by");
    if (by.empty()) by = "model";
    Dim dim;
    if (!ParseDim(by, &dim))
      return Error(400, "invalid_request",
                   "by must be one of key, user, project, model, provider, tag (got '" + by + "')");
    auto limit = IntParam(p, "limit", 100, 100000);
    if (!limit.ok()) return FromStatus(limit.status());
    Status st = Fresh();
    if (!st.ok()) return FromStatus(st);
    const int64_t from_day = range->from_ms / kDayMs, to_day = range->end_ms / kDayMs - 1;
    const Agg totals = rollup_.Totals(from_day, to_day);
    const auto rows = rollup_.Groups(dim, from_day, to_day);
    rapidjson::StringBuffer sb;
    JsonWriter w(sb);
    w.StartObject();
    WriteRange(w, *range);
    w.Key("by");
    Str(w, by);
    w.Key("totals");
    WriteAgg(w, totals, nullptr);
    w.Key("group_count");
    w.Int64(static_cast<int64_t>(rows.size()));
    w.Key("rows");
    w.StartArray();
    for (size_t i = 0; i < rows.size() && i < static_cast<size_t>(*limit); ++i)
      WriteAgg(w, rows[i].agg, &rows[i].group);
    w.EndArray();
    w.EndObject();
    return Json(200, sb);
  }

  // Every budget with its spend in the current window (the governor's live
  // counters, the same figures the request path enforces) and its reset time.
  Response Budgets() const {
    auto store = governance::Store::Open(governor_.db_path());
    if (!store.ok()) return FromStatus(store.status());
    auto budgets = (*store)->ListBudgets();
    if (!budgets.ok()) return FromStatus(budgets.status());
    const int64_t now = NowUnixMs();
    rapidjson::StringBuffer sb;
    JsonWriter w(sb);
    w.StartObject();
    w.Key("now");
    Str(w, governance::FormatLocalTime(now));
    w.Key("data");
    w.StartArray();
    for (const auto& b : *budgets)
      governance::WriteBudget(
          w, b, governor_.counters().Spent(b.id, governance::WindowStart(b.window, now)), now);
    w.EndArray();
    w.EndObject();
    return Json(200, sb);
  }

  // The most expensive priced requests of the range, most expensive first
  // (ties: the later first). The rollup keeps each day's most expensive
  // rowids; their list columns are read back by rowid.
  Response Top(const Params& p) const {
    auto range = ParseRange(p);
    if (!range.ok()) return FromStatus(range.status());
    auto limit = IntParam(p, "limit", 20, static_cast<int64_t>(LedgerRollup::kTopPerDay));
    if (!limit.ok()) return FromStatus(limit.status());
    Status st = Fresh();
    if (!st.ok()) return FromStatus(st);
    const auto rowids = rollup_.TopRowids(range->from_ms / kDayMs, range->end_ms / kDayMs - 1,
                                          static_cast<size_t>(*limit));
    rapidjson::StringBuffer sb;
    JsonWriter w(sb);
    w.StartObject();
    WriteRange(w, *range);
    w.Key("rows");
    w.StartArray();
    if (!rowids.empty()) {
      ReadTxn txn;
      st = txn.Open(db_path_);
      if (!st.ok()) return FromStatus(st);
      std::string sql = std::string("SELECT ") + kListColumns + " FROM requests WHERE rowid IN (";
      for (size_t i = 0; i < rowids.size(); ++i) sql += i ? ",?" : "?";
      sql += ")";
      auto s = txn.Prepare(sql.c_str());
      if (!s.ok()) return FromStatus(s.status());
      for (size_t i = 0; i < rowids.size(); ++i)
        sqlite3_bind_int64(*s, static_cast<int>(i + 1), rowids[i]);
      // Rows come back in rowid order: buffer each, then write them in rank order.
      std::unordered_map<int64_t, std::string> by_rowid;
      int rc;
      while ((rc = sqlite3_step(*s)) == SQLITE_ROW) {
        rapidjson::StringBuffer one;
        JsonWriter ow(one);
        WriteListRow(ow, *s);
        by_rowid.emplace(sqlite3_column_int64(*s, 0), std::string(one.GetString(), one.GetSize()));
      }
      st = txn.Done(rc);
      if (!st.ok()) return FromStatus(st);
      for (int64_t id : rowids) {
        auto it = by_rowid.find(id);
        if (it != by_rowid.end())
          w.RawValue(it->second.data(), it->second.size(), rapidjson::kObjectType);
      }
    }
    w.EndArray();
    w.EndObject();
    return Json(200, sb);
  }

  // One request's full ledger row (every column) and the budgets it was charged to.
  Response Request(const Params& p) const {
    std::string id = Param(p, "id");
    if (id.empty()) return Error(400, "invalid_request", "id is required");
    ReadTxn txn;
    Status st = txn.Open(db_path_);
    if (!st.ok()) return FromStatus(st);
    auto s = txn.Prepare("SELECT * FROM requests WHERE id = ?");
    if (!s.ok()) return FromStatus(s.status());
    sqlite3_bind_text(*s, 1, id.data(), static_cast<int>(id.size()), SQLITE_TRANSIENT);
    int rc = sqlite3_step(*s);
    if (rc == SQLITE_DONE) return Error(404, "not_found", "no request " + id + " in the ledger");
    if (rc != SQLITE_ROW) return FromStatus(txn.Done(rc));
    rapidjson::StringBuffer sb;
    JsonWriter w(sb);
    w.StartObject();
    w.Key("row");
    w.StartObject();
    for (int i = 0; i < sqlite3_column_count(*s); ++i) {
      w.Key(sqlite3_column_name(*s, i));
      WriteColumn(w, *s, i);
    }
    w.EndObject();
    w.Key("budget_charges");
    w.StartArray();
    auto c = txn.Prepare(
        "SELECT c.budget_id, b.name, c.window_start_ms FROM budget_charges c"
        " LEFT JOIN budgets b ON b.id = c.budget_id WHERE c.request_id = ?");
    if (c.ok()) {  // absent in a v1 ledger: no charges to show
      sqlite3_bind_text(*c, 1, id.data(), static_cast<int>(id.size()), SQLITE_TRANSIENT);
      while (sqlite3_step(*c) == SQLITE_ROW) {
        w.StartObject();
        w.Key("budget_id");
        WriteColumn(w, *c, 0);
        w.Key("name");
        WriteColumn(w, *c, 1);
        w.Key("window_start_ms");
        WriteColumn(w, *c, 2);
        w.EndObject();
      }
    }
    w.EndArray();
    w.EndObject();
    return Json(200, sb);
  }

  // The live feed: rows written after cursor `after` (the ledger's rowid,
  // which grows with each write, unlike ts_start_ms which is taken at arrival),
  // newest first. Without `after`, the latest `limit` rows.
  Response Recent(const Params& p) const {
    auto limit = IntParam(p, "limit", 50, 500);
    if (!limit.ok()) return FromStatus(limit.status());
    auto after = IntParam(p, "after", 0, INT64_MAX);
    if (!after.ok()) return FromStatus(after.status());
    ReadTxn txn;
    Status st = txn.Open(db_path_);
    if (!st.ok()) return FromStatus(st);
    std::string sql = std::string("SELECT ") + kListColumns +
                      " FROM requests WHERE rowid > ? ORDER BY rowid DESC LIMIT ?";
    auto s = txn.Prepare(sql.c_str());
    if (!s.ok()) return FromStatus(s.status());
    sqlite3_bind_int64(*s, 1, *after);
    sqlite3_bind_int64(*s, 2, *limit);
    rapidjson::StringBuffer sb;
    JsonWriter w(sb);
    w.StartObject();
    w.Key("rows");
    w.StartArray();
    int64_t cursor = *after;
    int rc;
    while ((rc = sqlite3_step(*s)) == SQLITE_ROW) {
      cursor = std::max<int64_t>(cursor, sqlite3_column_int64(*s, 0));
      WriteListRow(w, *s);
    }
    w.EndArray();
    w.Key("cursor");
    w.Int64(cursor);
    w.EndObject();
    st = txn.Done(rc);
    if (!st.ok()) return FromStatus(st);
    return Json(200, sb);
  }

  // p50 / p95 latency (arrival to last byte) and time to first token per
  // provider, over successful requests, from the rollup's histograms (each
  // figure within 0.5% of the exact nearest-rank percentile).
  Response Latency(const Params& p) const {
    auto range = ParseRange(p);
    if (!range.ok()) return FromStatus(range.status());
    Status st = Fresh();
    if (!st.ok()) return FromStatus(st);
    const auto providers = rollup_.Latency(range->from_ms / kDayMs, range->end_ms / kDayMs - 1);
    rapidjson::StringBuffer sb;
    JsonWriter w(sb);
    w.StartObject();
    WriteRange(w, *range);
    w.Key("providers");
    w.StartArray();
    for (const auto& x : providers) {
      if (x.requests == 0) continue;
      w.StartObject();
      w.Key("provider");
      Str(w, x.provider);
      w.Key("requests");
      w.Int64(x.requests);
      w.Key("p50_ms");
      w.Double(x.p50_ms);
      w.Key("p95_ms");
      w.Double(x.p95_ms);
      w.Key("ttft_p50_ms");
      if (x.ttft_count == 0)
        w.Null();
      else
        w.Double(x.ttft_p50_ms);
      w.Key("ttft_p95_ms");
      if (x.ttft_count == 0)
        w.Null();
      else
        w.Double(x.ttft_p95_ms);
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    return Json(200, sb);
  }

  // CSV download. With `by`: the report for that grouping, byte for byte what
  // `tollgate report --format csv` prints. Without: the range's ledger rows,
  // oldest first, every column, at most `limit` (x-tollgate-truncated says so).
  Response Export(const Params& p) const {
    auto range = ParseRange(p);
    if (!range.ok()) return FromStatus(range.status());
    Response r;
    r.content_type = "text/csv; charset=utf-8";
    r.headers.emplace_back("cache-control", "no-store");
    std::string by = Param(p, "by");
    if (!by.empty()) {
      auto rep = RunReport(*range, by);
      if (!rep.ok()) return FromStatus(rep.status());
      r.body = report::RenderCsv(*rep);
      r.headers.emplace_back("content-disposition", "attachment; filename=\"tollgate-" + by + "-" +
                                                        range->from + "-to-" + range->to +
                                                        ".csv\"");
      return r;
    }
    auto limit = IntParam(p, "limit", 100000, 1000000);
    if (!limit.ok()) return FromStatus(limit.status());
    ReadTxn txn;
    Status st = txn.Open(db_path_);
    if (!st.ok()) return FromStatus(st);
    auto s = txn.Prepare(
        "SELECT * FROM requests WHERE ts_start_ms >= ? AND ts_start_ms < ? ORDER BY ts_start_ms "
        "LIMIT ?");
    if (!s.ok()) return FromStatus(s.status());
    sqlite3_bind_int64(*s, 1, range->from_ms);
    sqlite3_bind_int64(*s, 2, range->end_ms);
    sqlite3_bind_int64(*s, 3, *limit + 1);
    const int n = sqlite3_column_count(*s);
    for (int i = 0; i < n; ++i) r.body += (i ? "," : "") + std::string(sqlite3_column_name(*s, i));
    r.body += "\n";
    int64_t rows = 0;
    int rc;
    while ((rc = sqlite3_step(*s)) == SQLITE_ROW) {
      if (++rows > *limit) {
        r.headers.emplace_back("x-tollgate-truncated", "true");
        rc = SQLITE_DONE;
        break;
      }
      for (int i = 0; i < n; ++i) {
        if (i) r.body += ',';
        switch (sqlite3_column_type(*s, i)) {
          case SQLITE_NULL:
            break;
          case SQLITE_INTEGER:
            r.body += std::to_string(sqlite3_column_int64(*s, i));
            break;
          case SQLITE_FLOAT: {
            // Shortest text that reads back as the same double.
            char buf[32];
            auto res = std::to_chars(buf, buf + sizeof buf, sqlite3_column_double(*s, i));
            r.body.append(buf, res.ptr);
            break;
          }
          default:
            r.body += CsvField(ColumnText(*s, i));
            break;
        }
      }
      r.body += '\n';
    }
    st = txn.Done(rc);
    if (!st.ok()) return FromStatus(st);
    r.headers.emplace_back("content-disposition", "attachment; filename=\"tollgate-requests-" +
                                                      range->from + "-to-" + range->to + ".csv\"");
    return r;
  }

  const std::string db_path_;
  mutable LedgerRollup rollup_;
  const bool protected_;
  const bool has_master_key_;
  const bool cache_enabled_;
  const bool savings_configured_;
  governance::Governor& governor_;
  std::thread warm_up_;
};

}  // namespace

Result<std::unique_ptr<Dashboard>> Dashboard::Create(const config::Config& cfg,
                                                     governance::Governor& governor) {
  if (!FindWebAsset("index.html"))
    return Status::Internal("dashboard: index.html is not embedded (the web build did not run)");
  return std::unique_ptr<Dashboard>(new LedgerDashboard(cfg, governor));
}

}  // namespace tollgate::dashboard
