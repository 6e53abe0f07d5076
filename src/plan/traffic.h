// What `plan --from-ledger` and the dashboard's Advise view learn from the
// ledger before sizing a fleet: per model, requests and tokens per day, the
// peak number of concurrent generations (a sweep over each request's
// [start, start + latency] interval), the time-weighted p95 concurrency per
// hour of day (UTC), the API spend and the share of input served from a
// prompt cache. The ledger is read only through ledger::LedgerReader.
// TrafficSweep is single-threaded; the results are plain data.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <queue>
#include <string>
#include <vector>

#include "common/status.h"
#include "ledger/reader.h"

namespace tollgate::plan {

struct ModelTraffic {
  std::string model;  // the served (or requested) model; "" for all traffic together
  int64_t requests = 0, generations = 0;  // generations: rows with output tokens and a latency
  int64_t input_tokens = 0;               // uncached + cache reads + cache writes
  int64_t cached_input_tokens = 0;        // cache reads
  int64_t output_tokens = 0;              // output + reasoning
  double api_usd = 0;                     // unknown prices count 0
  int64_t unknown_cost = 0;               // rows whose price was unknown
  int64_t peak_concurrency = 0, peak_at_ms = 0;
  double mean_concurrency = 0;                        // generation-seconds per second of the range
  std::array<int64_t, 24> p95_concurrency_by_hour{};  // time-weighted, UTC hour of day
  double days = 0;                                    // the range's length

  double PerDay(double v) const { return days > 0 ? v / days : 0; }
  double CachedShare() const {
    return input_tokens > 0
               ? static_cast<double>(cached_input_tokens) / static_cast<double>(input_tokens)
               : 0;
  }
};

// The concurrency of one stream of requests, fed oldest first. Time before
// the first request and after the last counts at concurrency 0.
class TrafficSweep {
 public:
  // REQUIRES: from_ms < end_ms.
  TrafficSweep(int64_t from_ms, int64_t end_ms);
  // One row. REQUIRES: rows come in ts_start_ms order (LedgerReader::ScanRange's).
  void Add(const ledger::UsageRow& row);
  // The totals, peak, mean and p95 per hour; call once, after the last Add.
  ModelTraffic Finish(std::string model);

 private:
  // Counts [cursor_, to_ms) at the current level, split by hour of day.
  void AdvanceTo(int64_t to_ms);

  int64_t from_ms_, end_ms_, cursor_;
  int64_t level_ = 0;
  double busy_ms_ = 0;
  ModelTraffic t_;
  std::priority_queue<int64_t, std::vector<int64_t>, std::greater<>> open_ends_;
  std::array<std::vector<double>, 24> ms_at_level_;  // [hour][level] -> milliseconds
};

// The time-weighted percentile `q` (0..1) of levels given the time at each level.
int64_t TimeWeightedPercentile(const std::vector<double>& ms_at_level, double q);

struct TrafficReport {
  int64_t from_ms = 0, end_ms = 0;
  bool by_requested = false;         // grouped by requested model, else served
  ModelTraffic all;                  // every row together
  std::vector<ModelTraffic> models;  // by model, most output tokens first
};

// Reads the rows that started in [from_ms, end_ms) through `reader`, grouped
// by served model (or requested model). REQUIRES: from_ms < end_ms.
Result<TrafficReport> ReadTraffic(const ledger::LedgerReader& reader, int64_t from_ms,
                                  int64_t end_ms, bool by_requested);

}  // namespace tollgate::plan
