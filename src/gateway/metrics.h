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

namespace tollgate::gateway {

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
