// Prometheus metrics for GET /metrics. Label sets are fixed at start-up (the
// configured models and providers, plus one "other" slot), so cardinality is
// bounded whatever clients send. Every counter is a relaxed atomic: recording
// from the request path takes no lock and allocates nothing.
#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "config/config.h"
#include "ledger/ledger.h"

// Every metric GET /metrics exports, declared once with its name and help
// text (Envoy's ALL_*_STATS): COUNTER(field, name, help) is one of the
// gateway's own counters, a GatewayStats field exported as one sample by
// Gateway::RenderMetrics; METRIC(id, name, type, help) is a metric whose
// samples carry labels, written by the code that holds its values
// (Metrics::Render, Gateway::RenderMetrics) under MetricHeader(id).
#define TOLLGATE_METRICS(COUNTER, METRIC)                                                                   \
  COUNTER(requests, "tollgate_http_requests_total", "HTTP requests received on every path.")                \
  COUNTER(bad_client_input, "tollgate_bad_client_input_total", "Requests refused for malformed input.")     \
  COUNTER(upstream_errors, "tollgate_upstream_attempt_failures_total",                                      \
          "Upstream attempts that failed (connect, timeout, 429, 5xx, a broken body), retries included.")   \
  COUNTER(unknown_price, "tollgate_unknown_price_total", "Requests whose model has no known price.")        \
  COUNTER(client_disconnects, "tollgate_client_disconnects_total", "Streams the client abandoned.")         \
  COUNTER(streams_broken, "tollgate_streams_broken_total", "Streams the upstream broke.")                   \
  COUNTER(cache_misses, "tollgate_cache_misses_total", "Cacheable requests not found in the cache.")        \
  COUNTER(embedding_errors, "tollgate_embedding_errors_total", "Semantic-cache embedding calls that failed.") \
  COUNTER(cascade_escalations, "tollgate_cascade_escalations_total", "Cascade steps whose answer failed a check.") \
  COUNTER(abandoned, "tollgate_requests_abandoned_total",                                                   \
          "Requests that ended without an answer, recorded as abandoned by their Call.")                    \
  METRIC(kRequests, "tollgate_requests_total", "counter", "Requests by model, provider and outcome.")       \
  METRIC(kTokens, "tollgate_tokens_total", "counter", "Tokens by class.")                                   \
  METRIC(kCostUsd, "tollgate_cost_usd_total", "counter", "Spend in USD (priced requests).")                 \
  METRIC(kUnknownCostRequests, "tollgate_unknown_cost_requests_total", "counter",                           \
         "Requests whose model has no known price.")                                                        \
  METRIC(kUpstreamErrors, "tollgate_upstream_errors_total", "counter", "Requests that ended in an upstream error.") \
  METRIC(kRequestDuration, "tollgate_request_duration_seconds", "histogram", "Total request latency.")      \
  METRIC(kTimeToFirstToken, "tollgate_time_to_first_token_seconds", "histogram", "Time to first streamed byte.") \
  METRIC(kBudgetRemaining, "tollgate_budget_remaining_usd", "gauge", "Hard limit minus spend in the current window.") \
  METRIC(kBudgetSpent, "tollgate_budget_spent_usd", "gauge", "Spend in the budget's current window.")       \
  METRIC(kCacheHits, "tollgate_cache_hits_total", "counter", "Responses served from tollgate's cache, by match kind.") \
  METRIC(kCacheEntries, "tollgate_cache_entries", "gauge", "Entries in the exact cache.")                   \
  METRIC(kCacheBytes, "tollgate_cache_bytes", "gauge", "Bytes held by the exact cache.")                    \
  METRIC(kCacheEvictions, "tollgate_cache_evictions_total", "counter", "Entries evicted by the LRU bound.") \
  METRIC(kLedgerFailedRows, "tollgate_ledger_failed_rows_total", "counter", "Ledger rows that could not be written.") \
  METRIC(kLedgerSpooledRows, "tollgate_ledger_spooled_rows", "gauge",                                       \
         "Ledger rows waiting in the local spool file for the database to come back.") \
  METRIC(kCountersUp, "tollgate_counters_up", "gauge",                                                       \
         "1 when the budget and rate-limit counters can be reached (always 1 in process; Redis: reachable now).") \
  METRIC(kCountersPending, "tollgate_counters_pending_updates", "gauge",                                     \
         "Settlements waiting for Redis to come back (none are dropped).")                                    \
  METRIC(kCountersLocal, "tollgate_counters_local_admissions_total", "counter",                             \
         "Budget reservations admitted against this replica's share while Redis was unreachable (fail_open).") \
  METRIC(kCountersRefused, "tollgate_counters_unavailable_total", "counter",                               \
         "Governed requests refused with 503 because Redis was unreachable (fail_closed).")

#define TOLLGATE_METRIC_NONE(...)
// The gateway's own counters alone: X(field, name, help).
#define TOLLGATE_GATEWAY_COUNTERS(X) TOLLGATE_METRICS(X, TOLLGATE_METRIC_NONE)

namespace tollgate::gateway {

// The labelled metrics of TOLLGATE_METRICS.
enum class Metric {
#define TOLLGATE_METRIC_ID(id, name, type, help) id,
  TOLLGATE_METRICS(TOLLGATE_METRIC_NONE, TOLLGATE_METRIC_ID)
#undef TOLLGATE_METRIC_ID
};

// The metric's name, as its samples are written.
const char* MetricName(Metric m);
// Its exposition header: "# HELP <name> <help>\n# TYPE <name> <type>\n".
std::string MetricHeader(Metric m);

class Metrics {
 public:
  explicit Metrics(const config::Config& cfg);
  // Records one finished request (its ledger row).
  void Record(const ledger::Row& row);
  // Renders the Prometheus text exposition; `extra` is appended verbatim.
  std::string Render(const std::string& extra) const;

  static constexpr std::array<double, 12> kLatencyBucketsMs = {5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000};

 private:
  struct Histogram {
    std::array<std::atomic<uint64_t>, kLatencyBucketsMs.size() + 1> buckets{};
    std::atomic<uint64_t> count{0};
    std::atomic<uint64_t> sum_us{0};
    void Observe(double ms);
  };
  struct Series {  // one (model, provider) pair
    std::atomic<uint64_t> requests_ok{0}, requests_client_error{0}, requests_server_error{0};
    std::atomic<uint64_t> input_tokens{0}, cache_read_tokens{0}, cache_write_tokens{0}, output_tokens{0},
        reasoning_tokens{0};
    std::atomic<uint64_t> cost_micro_usd{0};  // millionths of a dollar
    std::atomic<uint64_t> unknown_cost{0};
    std::atomic<uint64_t> upstream_errors{0};
  };
  size_t ModelIndex(const std::string& m) const;
  size_t ProviderIndex(const std::string& p) const;

  std::vector<std::string> models_, providers_;  // last entry: "other"
  std::unordered_map<std::string, size_t> model_index_, provider_index_;
  std::unique_ptr<Series[]> series_;            // models_ x providers_
  std::unique_ptr<Histogram[]> latency_, ttft_;  // per provider
};

}  // namespace tollgate::gateway
