#include "dashboard/rollup.h"

#include <algorithm>
#include <cmath>


namespace tollgate::dashboard {
namespace {

constexpr int64_t kDayMs = 86400000;
// Latency histogram buckets are 1% wide: bucket b holds ms + 1 in [1.01^b, 1.01^(b+1)).
const double kLogStep = std::log(1.01);
constexpr size_t kMaxBucket = 2400;  // 1.01^2400 ms is far beyond any deadline

int64_t DayOf(int64_t ts_ms) { return ts_ms >= 0 ? ts_ms / kDayMs : (ts_ms - kDayMs + 1) / kDayMs; }

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

LedgerRollup::LedgerRollup(const ledger::LedgerReader& ledger) : ledger_(ledger) {
  MutexLock lock(&mu_);
  Reset();
}

void LedgerRollup::Reset() {
  last_seq_ = 0;
  rows_seen_ = 0;
  days_.clear();
  names_.clear();
  ids_.clear();
  Intern("(none)");  // kNone
}

int64_t LedgerRollup::rows_seen() const {
  MutexLock lock(&mu_);
  return rows_seen_;
}

Status LedgerRollup::Refresh() {
  MutexLock lock(&mu_);
  // One snapshot: a ledger that shrank (was replaced) restarts the rollup.
  // The visitors run inside ScanAfter, under this lock.
  return ledger_.ScanAfter(
      last_seq_,
      [this] {
        mu_.AssertHeld();
        Reset();
      },
      [this](const ledger::SummaryRow& row) {
        mu_.AssertHeld();
        Fold(row);
      });
}

void LedgerRollup::Fold(const ledger::SummaryRow& row) {
  const uint32_t none = kNone;
  auto id_of = [&](std::string_view v) {
    mu_.AssertHeld();  // runs in Fold, which holds it
    return v.empty() ? none : Intern(v);
  };
  Agg a;
  const bool priced = row.cost_usd.has_value();
  a.cost_usd = row.cost_usd.value_or(0.0);
  a.unknown_cost = priced ? 0 : 1;
  a.input_tokens = row.input_tokens;
  a.output_tokens = row.output_tokens;
  a.requests = 1;
  a.errors = row.failed ? 1 : 0;
  Day& d = days_[DayOf(row.ts_start_ms)];
  d.total.Add(a);
  const uint32_t provider = id_of(row.provider);
  d.groups[static_cast<int>(Dim::kModel)][id_of(row.requested_model)].Add(a);
  d.groups[static_cast<int>(Dim::kProvider)][provider].Add(a);
  d.groups[static_cast<int>(Dim::kKey)][id_of(row.api_key)].Add(a);
  d.groups[static_cast<int>(Dim::kUser)][id_of(row.user)].Add(a);
  d.groups[static_cast<int>(Dim::kProject)][id_of(row.project)].Add(a);
  // Tags are stored comma-joined; a request counts once under each (as in the report).
  std::string_view tags = row.tags;
  auto& by_tag = d.groups[static_cast<int>(Dim::kTag)];
  if (tags.empty()) by_tag[none].Add(a);
  for (size_t pos = 0; pos < tags.size();) {
    size_t c = tags.find(',', pos);
    by_tag[Intern(tags.substr(pos, c == std::string_view::npos ? std::string_view::npos : c - pos))].Add(a);
    if (c == std::string_view::npos) break;
    pos = c + 1;
  }
  if (!a.errors && row.latency_ms) {
    d.latency[provider].Add(*row.latency_ms);
    if (row.ttft_ms) d.ttft[provider].Add(*row.ttft_ms);
  }
  if (priced) {
    TopEntry e{a.cost_usd, row.ts_start_ms, row.seq};
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
  last_seq_ = row.seq;
  ++rows_seen_;
}

Agg LedgerRollup::Totals(int64_t from_day, int64_t to_day) const {
  MutexLock lock(&mu_);
  Agg t;
  for (auto it = days_.lower_bound(from_day); it != days_.end() && it->first <= to_day; ++it)
    t.Add(it->second.total);
  return t;
}

std::vector<GroupRow> LedgerRollup::Groups(Dim dim, int64_t from_day, int64_t to_day) const {
  std::unordered_map<uint32_t, Agg> merged;
  std::vector<GroupRow> rows;
  {
    MutexLock lock(&mu_);
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
    MutexLock lock(&mu_);
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
    MutexLock lock(&mu_);
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

std::vector<int64_t> LedgerRollup::TopSeqs(int64_t from_day, int64_t to_day, size_t limit) const {
  std::vector<TopEntry> all;
  {
    MutexLock lock(&mu_);
    for (auto it = days_.lower_bound(from_day); it != days_.end() && it->first <= to_day; ++it)
      all.insert(all.end(), it->second.top.begin(), it->second.top.end());
  }
  limit = std::min({limit, kTopPerDay, all.size()});
  std::partial_sort(all.begin(), all.begin() + static_cast<ptrdiff_t>(limit), all.end(),
                    [](const TopEntry& a, const TopEntry& b) { return a > b; });
  std::vector<int64_t> out;
  for (size_t i = 0; i < limit; ++i) out.push_back(all[i].seq);
  return out;
}

}  // namespace tollgate::dashboard
