// LedgerRollup: the dashboard's in-memory aggregate of the ledger, per UTC day,
// so that every view over a million-row ledger answers in milliseconds. It
// reads the ledger through a ledger::LedgerReader, incrementally: rows are
// append-only, so each Refresh() reads only the rows whose seq is past the
// last one seen (all rows the first time). Thread-safe: one mutex guards the
// aggregates; Refresh and every query take it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/mutex.h"
#include "common/status.h"
#include "ledger/reader.h"

namespace tollgate::dashboard {

// Sums over a set of requests, with the same definitions as `tollgate report`
// (src/report/report.cc): tokens split into input (uncached + cache reads +
// cache writes) and output (output + reasoning); an unknown price adds 0 to
// cost_usd and 1 to unknown_cost.
struct Agg {
  double cost_usd = 0;
  int64_t input_tokens = 0, output_tokens = 0, requests = 0, errors = 0, unknown_cost = 0;
  void Add(const Agg& o);
};

// The report's grouping dimensions the dashboard shows.
enum class Dim { kModel, kProvider, kKey, kUser, kProject, kTag };
constexpr int kDimCount = 6;
// "model", "provider", "key", "user", "project", "tag" -> Dim; false if unknown.
bool ParseDim(std::string_view name, Dim* out);

struct GroupRow {
  std::string group;  // "(none)" for a NULL or empty value, as in the report
  Agg agg;
};

struct ProviderLatency {
  std::string provider;
  int64_t requests = 0;
  double p50_ms = 0, p95_ms = 0;
  int64_t ttft_count = 0;
  double ttft_p50_ms = 0, ttft_p95_ms = 0;
};

class LedgerRollup {
 public:
  // `ledger` must outlive the rollup.
  explicit LedgerRollup(const ledger::LedgerReader& ledger);

  // Folds in the rows appended since the last call. NotFound if the ledger is
  // missing, IoError if it cannot be read. If the table shrank (the file was
  // replaced), starts over.
  Status Refresh();

  // Queries over the UTC days [from_day, to_day] (days since the epoch).
  Agg Totals(int64_t from_day, int64_t to_day) const;
  // Groups sorted by cost, highest first (ties by name), as the report sorts them.
  std::vector<GroupRow> Groups(Dim dim, int64_t from_day, int64_t to_day) const;
  // Per requested model: the cost and request count of each day of the range.
  struct ModelSeries {
    std::string model;
    double total_usd = 0;
    std::vector<double> daily_usd;
    std::vector<int64_t> daily_requests;
  };
  std::vector<ModelSeries> DailyByModel(int64_t from_day, int64_t to_day) const;
  // p50/p95 of latency_ms and ttft_ms per provider over successful requests
  // (error_class NULL), from histograms with 1% wide buckets: each figure is
  // within 0.5% of the exact nearest-rank percentile. Sorted by provider.
  std::vector<ProviderLatency> Latency(int64_t from_day, int64_t to_day) const;
  // Seqs of the `limit` most expensive priced requests (limit <= kTopPerDay),
  // most expensive first; ties: the later request first.
  std::vector<int64_t> TopSeqs(int64_t from_day, int64_t to_day, size_t limit) const;

  static constexpr size_t kTopPerDay = 500;
  int64_t rows_seen() const;

 private:
  struct Histogram {
    std::vector<uint32_t> buckets;
    int64_t count = 0;
    void Add(double ms);
    // The nearest-rank q-quantile (0 < q <= 1), as its bucket's midpoint.
    double Quantile(double q) const;
    void Merge(const Histogram& o);
  };
  struct TopEntry {
    double cost;
    int64_t ts;
    int64_t seq;
    bool operator>(const TopEntry& o) const {
      if (cost != o.cost) return cost > o.cost;
      if (ts != o.ts) return ts > o.ts;
      return seq > o.seq;
    }
  };
  struct Day {
    Agg total;
    std::unordered_map<uint32_t, Agg> groups[kDimCount];    // by interned name
    std::unordered_map<uint32_t, Histogram> latency, ttft;  // by interned provider
    std::vector<TopEntry> top;                              // min-heap by operator>
  };
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  static constexpr uint32_t kNone = 0;   // the interned "(none)", always first
  uint32_t Intern(std::string_view s) REQUIRES(mu_);
  void Reset() REQUIRES(mu_);
  void Fold(const ledger::SummaryRow& row) REQUIRES(mu_);

  const ledger::LedgerReader& ledger_;
  mutable Mutex mu_;
  int64_t last_seq_ GUARDED_BY(mu_) = 0;
  int64_t rows_seen_ GUARDED_BY(mu_) = 0;
  std::map<int64_t, Day> days_ GUARDED_BY(mu_);
  std::vector<std::string> names_ GUARDED_BY(mu_);
  std::unordered_map<std::string, uint32_t, StringHash, std::equal_to<>> ids_ GUARDED_BY(mu_);
};

}  // namespace tollgate::dashboard
