#include "plan/traffic.h"

#include <algorithm>

namespace tollgate::plan {
namespace {

constexpr int64_t kHourMs = 3600000;
constexpr int64_t kDayMs = 24 * kHourMs;

int HourOfDay(int64_t ms) {
  const int64_t in_day = ((ms % kDayMs) + kDayMs) % kDayMs;
  return static_cast<int>(in_day / kHourMs);
}

}  // namespace

TrafficSweep::TrafficSweep(int64_t from_ms, int64_t end_ms)
    : from_ms_(from_ms), end_ms_(end_ms), cursor_(from_ms) {
  t_.days = static_cast<double>(end_ms - from_ms) / kDayMs;
}

void TrafficSweep::AdvanceTo(int64_t to_ms) {
  to_ms = std::min(to_ms, end_ms_);
  while (cursor_ < to_ms) {
    const int64_t hour_end = (cursor_ / kHourMs + 1) * kHourMs;
    const int64_t next = std::min(to_ms, hour_end);
    std::vector<double>& at = ms_at_level_[static_cast<size_t>(HourOfDay(cursor_))];
    if (at.size() <= static_cast<size_t>(level_)) at.resize(static_cast<size_t>(level_) + 1, 0);
    at[static_cast<size_t>(level_)] += static_cast<double>(next - cursor_);
    cursor_ = next;
  }
}

void TrafficSweep::Add(const ledger::UsageRow& row) {
  ++t_.requests;
  t_.input_tokens += row.usage.PromptTotal();
  t_.cached_input_tokens += row.usage.cache_read;
  t_.output_tokens += row.usage.OutputTotal();
  if (row.cost_usd)
    t_.api_usd += *row.cost_usd;
  else
    ++t_.unknown_cost;
  // Only a generation occupies a GPU: an embedding, an error with no output or
  // a row without a latency does not.
  if (row.usage.OutputTotal() <= 0 || !row.latency_ms) return;
  ++t_.generations;
  const int64_t start = std::max(row.ts_start_ms, from_ms_);
  const int64_t end = row.ts_start_ms + static_cast<int64_t>(std::max(0.0, *row.latency_ms));
  // The generations that ended by this start (an end equal to it does not overlap).
  while (!open_ends_.empty() && open_ends_.top() <= start) {
    AdvanceTo(open_ends_.top());
    open_ends_.pop();
    --level_;
  }
  AdvanceTo(start);
  ++level_;
  open_ends_.push(end);
  busy_ms_ += static_cast<double>(std::min(end, end_ms_) - start);
  if (level_ > t_.peak_concurrency) {
    t_.peak_concurrency = level_;
    t_.peak_at_ms = start;
  }
}

ModelTraffic TrafficSweep::Finish(std::string model) {
  while (!open_ends_.empty()) {
    AdvanceTo(open_ends_.top());
    open_ends_.pop();
    --level_;
  }
  AdvanceTo(end_ms_);
  t_.model = std::move(model);
  t_.mean_concurrency = end_ms_ > from_ms_ ? busy_ms_ / static_cast<double>(end_ms_ - from_ms_) : 0;
  for (size_t h = 0; h < 24; ++h)
    t_.p95_concurrency_by_hour[h] = TimeWeightedPercentile(ms_at_level_[h], 0.95);
  return t_;
}

int64_t TimeWeightedPercentile(const std::vector<double>& ms_at_level, double q) {
  double total = 0;
  for (double ms : ms_at_level) total += ms;
  if (total <= 0) return 0;
  double below = 0;
  for (size_t level = 0; level < ms_at_level.size(); ++level) {
    below += ms_at_level[level];
    if (below >= q * total) return static_cast<int64_t>(level);
  }
  return static_cast<int64_t>(ms_at_level.size()) - 1;
}

Result<TrafficReport> ReadTraffic(const ledger::LedgerReader& reader, int64_t from_ms,
                                  int64_t end_ms, bool by_requested) {
  TrafficReport rep;
  rep.from_ms = from_ms;
  rep.end_ms = end_ms;
  rep.by_requested = by_requested;
  TrafficSweep all(from_ms, end_ms);
  std::map<std::string, TrafficSweep, std::less<>> by_model;
  TG_RETURN_IF_ERROR(reader.ScanRange({from_ms, end_ms}, [&](const ledger::UsageRow& row) {
    all.Add(row);
    const std::string_view model = by_requested ? row.requested_model : row.served_model;
    auto it = by_model.find(model);
    if (it == by_model.end())
      it = by_model.emplace(std::string(model), TrafficSweep(from_ms, end_ms)).first;
    it->second.Add(row);
  }));
  rep.all = all.Finish("");
  for (auto& [model, sweep] : by_model) rep.models.push_back(sweep.Finish(model));
  std::stable_sort(rep.models.begin(), rep.models.end(),
                   [](const ModelTraffic& a, const ModelTraffic& b) {
                     return a.output_tokens > b.output_tokens;
                   });
  return rep;
}

}  // namespace tollgate::plan
