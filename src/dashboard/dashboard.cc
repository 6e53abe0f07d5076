#include "dashboard/dashboard.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <charconv>
#include <climits>
#include <cmath>
#include <map>
#include <thread>
#include <unordered_map>

#include "common/json.h"
#include "common/status_http.h"
#include "common/text.h"
#include "common/util.h"
#include "config/closed_sets.h"
#include "dashboard/rollup.h"
#include "dashboard/web_assets.h"
#include "governance/serialize.h"
#include "governance/store.h"
#include "governance/window.h"
#include "plan/advise.h"
#include "plan/catalog.h"
#include "report/report.h"

namespace tollgate::dashboard {
namespace {

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
  const HttpError e = HttpErrorFor(st);
  return Error(e.status, e.code, st.message());
}

// Writes a stored value as its stored type (NULL stays null, never "" or 0).
void WriteValue(JsonWriter& w, const ledger::Value& v) {
  switch (v.kind) {
    case ledger::Value::Kind::kInteger:
      w.Int64(v.integer);
      break;
    case ledger::Value::Kind::kReal:
      if (std::isfinite(v.real))
        w.Double(v.real);
      else
        w.Null();
      break;
    case ledger::Value::Kind::kNull:
      w.Null();
      break;
    case ledger::Value::Kind::kText:
      WriteString(w, v.text);
      break;
  }
}

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
  WriteString(w, r.from);
  w.Key("to");
  WriteString(w, r.to);
}

// A group's (or the totals') sums, in the shape of `tollgate report --format json`.
void WriteAgg(JsonWriter& w, const Agg& a, const std::string* group) {
  report::ReportRow row;
  if (group) row.group = *group;
  row.cost_usd = a.cost_usd;
  row.tokens = a.input_tokens + a.output_tokens;
  row.input_tokens = a.input_tokens;
  row.output_tokens = a.output_tokens;
  row.requests = a.requests;
  row.errors = a.errors;
  row.unknown_cost = a.unknown_cost;
  report::WriteRowJson(w, row, group != nullptr);
}

// A request as lists show it (top, live feed): some of its columns, and its
// tokens summed over the six disjoint classes.
void WriteListRow(JsonWriter& w, const ledger::Record& r) {
  static const std::pair<const char*, const char*> kShown[] = {
      {"id", "id"},         {"ts_start_ms", "ts_start_ms"}, {"endpoint", "endpoint"}, {"model", "requested_model"},
      {"provider", "provider"}, {"api_key", "api_key"},     {"user", "user"},         {"project", "project"},
      {"status", "status"}, {"error_class", "error_class"}};
  static const char* const kTokenColumns[] = {"input_tokens",  "cache_read_tokens", "cache_write_5m_tokens",
                                              "cache_write_1h_tokens", "output_tokens", "reasoning_tokens"};
  auto column = [&](const char* name) {
    const ledger::Value* v = r.Find(name);
    WriteValue(w, v ? *v : ledger::Value::Null());
  };
  w.StartObject();
  w.Key("seq");
  w.Int64(r.seq);
  for (const auto& [key, name] : kShown) {
    w.Key(key);
    column(name);
  }
  w.Key("tokens");
  int64_t tokens = 0;
  bool known = true;
  for (const char* name : kTokenColumns) {
    const ledger::Value* v = r.Find(name);
    if (!v || v->kind != ledger::Value::Kind::kInteger) known = false;
    else tokens += v->integer;
  }
  if (known) w.Int64(tokens);
  else w.Null();
  for (const char* name : {"cost_usd", "latency_ms", "streamed"}) {
    w.Key(name);
    column(name);
  }
  w.EndObject();
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
  LedgerDashboard(const config::Config& cfg, governance::Governor& governor,
                  std::unique_ptr<const ledger::LedgerReader> ledger)
      : ledger_(std::move(ledger)),
        rollup_(*ledger_),
        protected_(cfg.auth.enabled || !cfg.auth.master_key.empty()),
        has_master_key_(!cfg.auth.master_key.empty()),
        cache_enabled_(cfg.cache.enabled),
        savings_configured_(cfg.cache.enabled || std::any_of(cfg.models.begin(), cfg.models.end(), [](const config::ModelConfig& m) {
                              return m.route.has_value() || m.budget_hint.has_value() || config::ParseRoutingStrategy(m.strategy) != config::RoutingStrategy::kFallback;
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
    if (route == "advise") return Advise(p);
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
    o.by = by;
    o.from = r.from;
    o.to = r.to;
    return report::BuildReport(*ledger_, o);
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
    // Cache and savings from the rows the savings engine touched (none when unreadable).
    auto savings = ledger_->Savings({range->from_ms, range->end_ms});
    const ledger::SavingsTotals sv = savings.ok() ? *savings : ledger::SavingsTotals{};
    const int64_t lookups = sv.cache_lookups, hits = sv.cache_hits, touched = sv.requests;
    const double saved = sv.saved_usd, baseline = sv.baseline_usd;
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
    for (int64_t d = from_day; d <= to_day; ++d) WriteString(w, FormatDateUtc(d * kDayMs));
    w.EndArray();
    w.Key("models");
    w.StartArray();
    for (const auto& m : series) {
      w.StartObject();
      w.Key("model");
      WriteString(w, m.model);
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
    WriteString(w, by);
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
    auto store = governor_.OpenStore();
    if (!store.ok()) return FromStatus(store.status());
    auto budgets = (*store)->ListBudgets();
    if (!budgets.ok()) return FromStatus(budgets.status());
    const int64_t now = NowUnixMs();
    rapidjson::StringBuffer sb;
    JsonWriter w(sb);
    w.StartObject();
    w.Key("now");
    WriteString(w, governance::FormatLocalTime(now));
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
    const auto seqs = rollup_.TopSeqs(range->from_ms / kDayMs, range->end_ms / kDayMs - 1,
                                      static_cast<size_t>(*limit));
    rapidjson::StringBuffer sb;
    JsonWriter w(sb);
    w.StartObject();
    WriteRange(w, *range);
    w.Key("rows");
    w.StartArray();
    // Rows come back in seq order: buffer each, then write them in rank order.
    std::unordered_map<int64_t, std::string> by_seq;
    st = ledger_->RecordsWithSeqs(seqs, [&](const ledger::Record& r) {
      rapidjson::StringBuffer one;
      JsonWriter ow(one);
      WriteListRow(ow, r);
      by_seq.emplace(r.seq, std::string(one.GetString(), one.GetSize()));
    });
    if (!st.ok()) return FromStatus(st);
    for (int64_t seq : seqs) {
      auto it = by_seq.find(seq);
      if (it != by_seq.end()) w.RawValue(it->second.data(), it->second.size(), rapidjson::kObjectType);
    }
    w.EndArray();
    w.EndObject();
    return Json(200, sb);
  }

  // One request's full ledger row (every column) and the budgets it was charged to.
  Response Request(const Params& p) const {
    std::string id = Param(p, "id");
    if (id.empty()) return Error(400, "invalid_request", "id is required");
    rapidjson::StringBuffer sb;
    JsonWriter w(sb);
    bool found = false;
    Status st = ledger_->RecordWithId(id, [&](const ledger::Record& r) {
      found = true;
      w.StartObject();
      w.Key("row");
      w.StartObject();
      for (size_t i = 0; i < r.names.size(); ++i) {
        WriteString(w, r.names[i]);
        WriteValue(w, r.values[i]);
      }
      w.EndObject();
    });
    if (!st.ok()) return FromStatus(st);
    if (!found) return Error(404, "not_found", "no request " + id + " in the ledger");
    w.Key("budget_charges");
    w.StartArray();
    // A v1 ledger has no charges: none to show.
    auto charges = ledger_->ChargesOf(id);
    for (const auto& c : charges.ok() ? *charges : std::vector<ledger::RequestCharge>{}) {
      w.StartObject();
      w.Key("budget_id");
      WriteString(w, c.budget_id);
      w.Key("name");
      if (c.budget_name) WriteString(w, *c.budget_name);
      else w.Null();
      w.Key("window_start_ms");
      w.Int64(c.window_start_ms);
      w.EndObject();
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
    rapidjson::StringBuffer sb;
    JsonWriter w(sb);
    w.StartObject();
    w.Key("rows");
    w.StartArray();
    int64_t cursor = *after;
    Status st = ledger_->RecordsAfter(*after, *limit, [&](const ledger::Record& r) {
      cursor = std::max<int64_t>(cursor, r.seq);
      WriteListRow(w, r);
    });
    if (!st.ok()) return FromStatus(st);
    w.EndArray();
    w.Key("cursor");
    w.Int64(cursor);
    w.EndObject();
    return Json(200, sb);
  }

  // p50 / p95 latency (arrival to last byte) and time to first token per
  // provider, over successful requests, from the rollup's histograms (each
  // figure within 0.5% of the exact nearest-rank percentile).
  // The Advise view: `tollgate plan --from-ledger --format json` for the range
  // (by=served|requested, speed=output tokens/s per generation). It scans the
  // range's rows through the reader, so it runs only when the view asks.
  Response Advise(const Params& p) const {
    auto range = ParseRange(p);
    if (!range.ok()) return FromStatus(range.status());
    const std::string by = Param(p, "by");
    if (!by.empty() && by != "served" && by != "requested")
      return FromStatus(Status::InvalidArgument("by must be served or requested (got '" + by + "')"));
    auto speed = IntParam(p, "speed", 20, 1000);
    if (!speed.ok()) return FromStatus(speed.status());
    plan::AdviseOptions o;
    o.tokens_per_s_per_user = static_cast<double>(*speed);
    auto traffic = plan::ReadTraffic(*ledger_, range->from_ms, range->end_ms, by == "requested");
    if (!traffic.ok()) return FromStatus(traffic.status());
    auto advice = plan::Advise(*traffic, o, plan::BuiltinCatalog());
    if (!advice.ok()) return FromStatus(advice.status());
    Response r;
    r.body = plan::RenderAdviceJson(*advice);
    return r;
  }

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
      WriteString(w, x.provider);
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
    auto columns = ledger_->Columns();
    if (!columns.ok()) return FromStatus(columns.status());
    for (size_t i = 0; i < columns->size(); ++i) r.body += (i ? "," : "") + (*columns)[i];
    r.body += "\n";
    int64_t rows = 0;
    Status st = ledger_->RecordsInRange({range->from_ms, range->end_ms}, *limit + 1, [&](const ledger::Record& rec) {
      if (++rows > *limit) return;  // one past the limit: the export is cut
      for (size_t i = 0; i < rec.values.size(); ++i) {
        if (i) r.body += ',';
        const ledger::Value& v = rec.values[i];
        switch (v.kind) {
          case ledger::Value::Kind::kNull:
            break;
          case ledger::Value::Kind::kInteger:
            r.body += std::to_string(v.integer);
            break;
          case ledger::Value::Kind::kReal: {
            // Shortest text that reads back as the same double.
            char buf[32];
            auto res = std::to_chars(buf, buf + sizeof buf, v.real);
            r.body.append(buf, res.ptr);
            break;
          }
          case ledger::Value::Kind::kText:
            r.body += CsvField(v.text);
            break;
        }
      }
      r.body += '\n';
    });
    if (!st.ok()) return FromStatus(st);
    if (rows > *limit) r.headers.emplace_back("x-tollgate-truncated", "true");
    r.headers.emplace_back("content-disposition", "attachment; filename=\"tollgate-requests-" +
                                                      range->from + "-to-" + range->to + ".csv\"");
    return r;
  }

  const std::unique_ptr<const ledger::LedgerReader> ledger_;
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
                                                     governance::Governor& governor,
                                                     std::unique_ptr<const ledger::LedgerReader> ledger) {
  if (!FindWebAsset("index.html"))
    return Status::Internal("dashboard: index.html is not embedded (the web build did not run)");
  return std::unique_ptr<Dashboard>(new LedgerDashboard(cfg, governor, std::move(ledger)));
}

}  // namespace tollgate::dashboard
