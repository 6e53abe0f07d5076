#include "dashboard/rollup.h"

#include <sqlite3.h>

#include <algorithm>
#include <cmath>

#include "ledger/schema.h"

namespace tollgate::dashboard {
namespace {

constexpr int64_t kDayMs = 86400000;
// Latency histogram buckets are 1% wide: bucket b holds ms + 1 in [1.01^b, 1.01^(b+1)).
const double kLogStep = std::log(1.01);
constexpr size_t kMaxBucket = 2400;  // 1.01^2400 ms is far beyond any deadline

int64_t DayOf(int64_t ts_ms) { return ts_ms >= 0 ? ts_ms / kDayMs : (ts_ms - kDayMs + 1) / kDayMs; }

std::string_view Text(sqlite3_stmt* s, int i) {
  const unsigned char* t = sqlite3_column_text(s, i);
  return t ? std::string_view(reinterpret_cast<const char*>(t),
                              static_cast<size_t>(sqlite3_column_bytes(s, i)))
           : std::string_view();
}

}  // namespace

void Agg::Add(const Agg& o) {
  cost_usd += o.cost_usd;
  input_tokens += o.input_tokens;
  output_tokens += o.output_tokens;
  requests += o.requests;
  errors += o.errors;
  unknown_cost += o.unknown_cost;
}

bool ParseDim(std::string_view name, Dim* out) {
  static constexpr std::pair<std::string_view, Dim> kNames[] = {
      {"model", Dim::kModel}, {"provider", Dim::kProvider}, {"key", Dim::kKey},
      {"user", Dim::kUser},   {"project", Dim::kProject},   {"tag", Dim::kTag}};
  for (const auto& [n, d] : kNames)
    if (n == name) {
      *out = d;
      return true;
    }
  return false;
}

void LedgerRollup::Histogram::Add(double ms) {
  if (!(ms >= 0)) ms = 0;    // also catches NaN
  if (ms > 1e12) ms = 1e12;  // and infinity, which must not reach the cast
  size_t b = std::min(kMaxBucket, static_cast<size_t>(std::log(ms + 1) / kLogStep));
  if (buckets.size() <= b) buckets.resize(b + 1, 0);
  ++buckets[b];
  ++count;
}

double LedgerRollup::Histogram::Quantile(double q) const {
  if (count == 0) return 0;
  int64_t rank =
      std::max<int64_t>(1, static_cast<int64_t>(std::ceil(q * static_cast<double>(count))));
  int64_t seen = 0;
  for (size_t b = 0; b < buckets.size(); ++b) {
    seen += buckets[b];
    if (seen >= rank) return std::exp((static_cast<double>(b) + 0.5) * kLogStep) - 1;
  }
  return std::exp((static_cast<double>(buckets.size()) - 0.5) * kLogStep) - 1;
}

void LedgerRollup::Histogram::Merge(const Histogram& o) {
  if (buckets.size() < o.buckets.size()) buckets.resize(o.buckets.size(), 0);
  for (size_t b = 0; b < o.buckets.size(); ++b) buckets[b] += o.buckets[b];
  count += o.count;
}

uint32_t LedgerRollup::Intern(std::string_view s) {
  auto it = ids_.find(s);
  if (it != ids_.end()) return it->second;
  uint32_t id = static_cast<uint32_t>(names_.size());
  names_.emplace_back(s);
  ids_.emplace(std::string(s), id);
  return id;
}

void LedgerRollup::Reset() {
  last_rowid_ = 0;
  rows_seen_ = 0;
  days_.clear();
  names_.clear();
  ids_.clear();
}

int64_t LedgerRollup::rows_seen() const {
  std::lock_guard<std::mutex> lock(mu_);
  return rows_seen_;
}

Status LedgerRollup::Refresh() {
  std::lock_guard<std::mutex> lock(mu_);
  TG_ASSIGN_OR_RETURN(sqlite3 * db, ledger::OpenReadOnly(db_path_));
  // One read transaction, so the shrink check and the scan see the same rows.
  sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
  sqlite3_stmt* s = nullptr;
  auto fail = [&](const char* what) {
    Status st = Status::IoError(std::string("dashboard: ") + what + ": " + sqlite3_errmsg(db));
    sqlite3_finalize(s);
    sqlite3_close(db);
    return st;
  };
  if (sqlite3_prepare_v2(db, "SELECT COALESCE(MAX(rowid), 0) FROM requests", -1, &s, nullptr) !=
      SQLITE_OK)
    return fail("reading the ledger (is this a tollgate ledger?)");
  if (sqlite3_step(s) != SQLITE_ROW) return fail("reading the ledger");
  if (sqlite3_column_int64(s, 0) < last_rowid_) Reset();  // replaced or truncated: start over
  sqlite3_finalize(s);
  s = nullptr;
  if (sqlite3_prepare_v2(
          db,
          "SELECT rowid, ts_start_ms, requested_model, provider, api_key, user, project, tags,"
          " cost_usd,"
          " input_tokens + cache_read_tokens + cache_write_5m_tokens + cache_write_1h_tokens,"
          " output_tokens + reasoning_tokens, error_class IS NOT NULL, latency_ms, ttft_ms"
          " FROM requests WHERE rowid > ? ORDER BY rowid",
          -1, &s, nullptr) != SQLITE_OK)
    return fail("reading the ledger");
  sqlite3_bind_int64(s, 1, last_rowid_);
  const uint32_t none = Intern("(none)");
  auto id_of = [&](std::string_view v) { return v.empty() ? none : Intern(v); };
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    const int64_t rowid = sqlite3_column_int64(s, 0);
    const int64_t ts = sqlite3_column_int64(s, 1);
    Agg a;
    const bool priced = sqlite3_column_type(s, 8) != SQLITE_NULL;
    a.cost_usd = priced ? sqlite3_column_double(s, 8) : 0.0;
    a.unknown_cost = priced ? 0 : 1;
    a.input_tokens = sqlite3_column_int64(s, 9);
    a.output_tokens = sqlite3_column_int64(s, 10);
    a.requests = 1;
    a.errors = sqlite3_column_int(s, 11);
    Day& d = days_[DayOf(ts)];
    d.total.Add(a);
    const uint32_t provider = id_of(Text(s, 3));
    d.groups[static_cast<int>(Dim::kModel)][id_of(Text(s, 2))].Add(a);
    d.groups[static_cast<int>(Dim::kProvider)][provider].Add(a);
    d.groups[static_cast<int>(Dim::kKey)][id_of(Text(s, 4))].Add(a);
    d.groups[static_cast<int>(Dim::kUser)][id_of(Text(s, 5))].Add(a);
    d.groups[static_cast<int>(Dim::kProject)][id_of(Text(s, 6))].Add(a);
    // Tags are stored comma-joined; a request counts once under each (as in the report).
    std::string_view tags = Text(s, 7);
    auto& by_tag = d.groups[static_cast<int>(Dim::kTag)];
    if (tags.empty()) by_tag[none].Add(a);
    for (size_t pos = 0; pos < tags.size();) {
      size_t c = tags.find(',', pos);
      by_tag[Intern(
                 tags.substr(pos, c == std::string_view::npos ? std::string_view::npos : c - pos))]
          .Add(a);
      if (c == std::string_view::npos) break;
      pos = c + 1;
    }
    if (!a.errors && sqlite3_column_type(s, 12) != SQLITE_NULL) {
      d.latency[provider].Add(sqlite3_column_double(s, 12));
      if (sqlite3_column_type(s, 13) != SQLITE_NULL)
        d.ttft[provider].Add(sqlite3_column_double(s, 13));
    }
    if (priced) {
      TopEntry e{a.cost_usd, ts, rowid};
      auto min_first = [](const TopEntry& x, const TopEntry& y) { return x > y; };
      if (d.top.size() < kTopPerDay) {
        d.top.push_back(e);
        std::push_heap(d.top.begin(), d.top.end(), min_first);
      } else if (e > d.top.front()) {
        std::pop_heap(d.top.begin(), d.top.end(), min_first);
        d.top.back() = e;
        std::push_heap(d.top.begin(), d.top.end(), min_first);
      }
    }
    last_rowid_ = rowid;
    ++rows_seen_;
  }
  if (rc != SQLITE_DONE) return fail("reading the ledger");
  sqlite3_finalize(s);
  sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  return Status::Ok();
}

Agg LedgerRollup::Totals(int64_t from_day, int64_t to_day) const {
  std::lock_guard<std::mutex> lock(mu_);
  Agg t;
  for (auto it = days_.lower_bound(from_day); it != days_.end() && it->first <= to_day; ++it)
    t.Add(it->second.total);
  return t;
}

std::vector<GroupRow> LedgerRollup::Groups(Dim dim, int64_t from_day, int64_t to_day) const {
  std::unordered_map<uint32_t, Agg> merged;
  std::vector<GroupRow> rows;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = days_.lower_bound(from_day); it != days_.end() && it->first <= to_day; ++it)
      for (const auto& [id, a] : it->second.groups[static_cast<int>(dim)]) merged[id].Add(a);
    rows.reserve(merged.size());
    for (const auto& [id, a] : merged) rows.push_back({names_[id], a});
  }
  // The report's order: by name, then stably by cost, highest first.
  std::sort(rows.begin(), rows.end(),
            [](const GroupRow& a, const GroupRow& b) { return a.group < b.group; });
  std::stable_sort(rows.begin(), rows.end(), [](const GroupRow& a, const GroupRow& b) {
    return a.agg.cost_usd > b.agg.cost_usd;
  });
  return rows;
}

std::vector<LedgerRollup::ModelSeries> LedgerRollup::DailyByModel(int64_t from_day,
                                                                  int64_t to_day) const {
  const size_t n = static_cast<size_t>(to_day - from_day + 1);
  std::unordered_map<uint32_t, ModelSeries> by_id;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = days_.lower_bound(from_day); it != days_.end() && it->first <= to_day; ++it) {
      const size_t i = static_cast<size_t>(it->first - from_day);
      for (const auto& [id, a] : it->second.groups[static_cast<int>(Dim::kModel)]) {
        ModelSeries& m = by_id[id];
        if (m.daily_usd.empty()) {
          m.model = names_[id];
          m.daily_usd.assign(n, 0.0);
          m.daily_requests.assign(n, 0);
        }
        m.daily_usd[i] += a.cost_usd;
        m.daily_requests[i] += a.requests;
        m.total_usd += a.cost_usd;
      }
    }
  }
  std::vector<ModelSeries> out;
  out.reserve(by_id.size());
  for (auto& [id, m] : by_id) out.push_back(std::move(m));
  std::sort(out.begin(), out.end(), [](const ModelSeries& a, const ModelSeries& b) {
    return a.total_usd != b.total_usd ? a.total_usd > b.total_usd : a.model < b.model;
  });
  return out;
}

std::vector<ProviderLatency> LedgerRollup::Latency(int64_t from_day, int64_t to_day) const {
  std::map<std::string, std::pair<Histogram, Histogram>> merged;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = days_.lower_bound(from_day); it != days_.end() && it->first <= to_day; ++it) {
      for (const auto& [id, h] : it->second.latency) merged[names_[id]].first.Merge(h);
      for (const auto& [id, h] : it->second.ttft) merged[names_[id]].second.Merge(h);
    }
  }
  std::vector<ProviderLatency> out;
  for (const auto& [name, hs] : merged) {
    ProviderLatency p;
    p.provider = name;
    p.requests = hs.first.count;
    p.p50_ms = hs.first.Quantile(0.50);
    p.p95_ms = hs.first.Quantile(0.95);
    p.ttft_count = hs.second.count;
    p.ttft_p50_ms = hs.second.Quantile(0.50);
    p.ttft_p95_ms = hs.second.Quantile(0.95);
    out.push_back(std::move(p));
  }
  return out;
}

std::vector<int64_t> LedgerRollup::TopRowids(int64_t from_day, int64_t to_day, size_t limit) const {
  std::vector<TopEntry> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = days_.lower_bound(from_day); it != days_.end() && it->first <= to_day; ++it)
      all.insert(all.end(), it->second.top.begin(), it->second.top.end());
  }
  limit = std::min({limit, kTopPerDay, all.size()});
  std::partial_sort(all.begin(), all.begin() + static_cast<ptrdiff_t>(limit), all.end(),
                    [](const TopEntry& a, const TopEntry& b) { return a > b; });
  std::vector<int64_t> out;
  for (size_t i = 0; i < limit; ++i) out.push_back(all[i].rowid);
  return out;
}

}  // namespace tollgate::dashboard
