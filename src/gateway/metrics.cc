#include "gateway/metrics.h"

#include <algorithm>

#include <sstream>

namespace tollgate::gateway {

Metrics::Metrics(const config::Config& cfg) {
  for (const auto& m : cfg.models) {
    model_index_[m.name] = models_.size();
    models_.push_back(m.name);
  }
  model_index_["other"] = models_.size();
  models_.push_back("other");
  for (const auto& p : cfg.providers) {
    provider_index_[p.name] = providers_.size();
    providers_.push_back(p.name);
  }
  provider_index_["none"] = providers_.size();
  providers_.push_back("none");
  series_ = std::make_unique<Series[]>(models_.size() * providers_.size());
  latency_ = std::make_unique<Histogram[]>(providers_.size());
  ttft_ = std::make_unique<Histogram[]>(providers_.size());
}

size_t Metrics::ModelIndex(const std::string& m) const {
  auto it = model_index_.find(m);
  return it == model_index_.end() ? models_.size() - 1 : it->second;
}

size_t Metrics::ProviderIndex(const std::string& p) const {
  auto it = provider_index_.find(p);
  return it == provider_index_.end() ? providers_.size() - 1 : it->second;
}

void Metrics::Histogram::Observe(double ms) {
  size_t i = 0;
  while (i < kLatencyBucketsMs.size() && ms > kLatencyBucketsMs[i]) ++i;
  buckets[i].fetch_add(1, std::memory_order_relaxed);
  count.fetch_add(1, std::memory_order_relaxed);
  sum_us.fetch_add(static_cast<uint64_t>(ms * 1000.0), std::memory_order_relaxed);
}

void Metrics::Record(const ledger::Row& row) {
  const size_t p = ProviderIndex(row.provider);
  Series& s = series_[ModelIndex(row.requested_model) * providers_.size() + p];
  constexpr auto r = std::memory_order_relaxed;
  if (row.status >= 500 || row.status == 499 || row.error_class == "stream_broken") s.requests_server_error.fetch_add(1, r);
  else if (row.status >= 400) s.requests_client_error.fetch_add(1, r);
  else s.requests_ok.fetch_add(1, r);
  if (row.error_class.rfind("upstream_", 0) == 0 || row.error_class == "stream_broken") s.upstream_errors.fetch_add(1, r);
  s.input_tokens.fetch_add(static_cast<uint64_t>(row.usage.input), r);
  s.cache_read_tokens.fetch_add(static_cast<uint64_t>(row.usage.cache_read), r);
  s.cache_write_tokens.fetch_add(static_cast<uint64_t>(row.usage.cache_write_5m + row.usage.cache_write_1h), r);
  s.output_tokens.fetch_add(static_cast<uint64_t>(row.usage.output), r);
  s.reasoning_tokens.fetch_add(static_cast<uint64_t>(row.usage.reasoning), r);
  // Costs are never negative (usage counts are validated), but a counter must not wrap if one were.
  if (row.cost_known) s.cost_micro_usd.fetch_add(static_cast<uint64_t>(std::max(0.0, row.cost.Total()) * 1e6 + 0.5), r);
  else s.unknown_cost.fetch_add(1, r);
  latency_[p].Observe(row.latency_ms);
  if (row.ttft_ms) ttft_[p].Observe(*row.ttft_ms);
}

std::string Metrics::Render(const std::string& extra) const {
  std::ostringstream os;
  auto labels = [&](size_t m, size_t p) {
    return "model=\"" + models_[m] + "\",provider=\"" + providers_[p] + "\"";
  };
  auto counter = [&](const char* name, const char* help, auto get) {
    os << "# HELP " << name << " " << help << "\n# TYPE " << name << " counter\n";
    for (size_t m = 0; m < models_.size(); ++m)
      for (size_t p = 0; p < providers_.size(); ++p) {
        const Series& s = series_[m * providers_.size() + p];
        if (s.requests_ok + s.requests_client_error + s.requests_server_error == 0) continue;
        get(os, s, labels(m, p));
      }
  };
  counter("tollgate_requests_total", "Requests by model, provider and outcome.", [](auto& o, const Series& s, const std::string& l) {
    o << "tollgate_requests_total{" << l << ",outcome=\"ok\"} " << s.requests_ok << "\n";
    o << "tollgate_requests_total{" << l << ",outcome=\"client_error\"} " << s.requests_client_error << "\n";
    o << "tollgate_requests_total{" << l << ",outcome=\"server_error\"} " << s.requests_server_error << "\n";
  });
  counter("tollgate_tokens_total", "Tokens by class.", [](auto& o, const Series& s, const std::string& l) {
    o << "tollgate_tokens_total{" << l << ",class=\"input\"} " << s.input_tokens << "\n";
    o << "tollgate_tokens_total{" << l << ",class=\"cache_read\"} " << s.cache_read_tokens << "\n";
    o << "tollgate_tokens_total{" << l << ",class=\"cache_write\"} " << s.cache_write_tokens << "\n";
    o << "tollgate_tokens_total{" << l << ",class=\"output\"} " << s.output_tokens << "\n";
    o << "tollgate_tokens_total{" << l << ",class=\"reasoning\"} " << s.reasoning_tokens << "\n";
  });
  counter("tollgate_cost_usd_total", "Spend in USD (priced requests).", [](auto& o, const Series& s, const std::string& l) {
    o << "tollgate_cost_usd_total{" << l << "} " << static_cast<double>(s.cost_micro_usd.load()) / 1e6 << "\n";
  });
  counter("tollgate_unknown_cost_requests_total", "Requests whose model has no known price.",
          [](auto& o, const Series& s, const std::string& l) {
            o << "tollgate_unknown_cost_requests_total{" << l << "} " << s.unknown_cost << "\n";
          });
  counter("tollgate_upstream_errors_total", "Requests that ended in an upstream error.",
          [](auto& o, const Series& s, const std::string& l) {
            o << "tollgate_upstream_errors_total{" << l << "} " << s.upstream_errors << "\n";
          });
  auto histogram = [&](const char* name, const char* help, const std::unique_ptr<Histogram[]>& hs) {
    os << "# HELP " << name << " " << help << "\n# TYPE " << name << " histogram\n";
    for (size_t p = 0; p < providers_.size(); ++p) {
      const Histogram& h = hs[p];
      if (h.count == 0) continue;
      uint64_t cum = 0;
      for (size_t i = 0; i < kLatencyBucketsMs.size(); ++i) {
        cum += h.buckets[i];
        os << name << "_bucket{provider=\"" << providers_[p] << "\",le=\"" << kLatencyBucketsMs[i] / 1000.0 << "\"} " << cum << "\n";
      }
      os << name << "_bucket{provider=\"" << providers_[p] << "\",le=\"+Inf\"} " << h.count << "\n";
      os << name << "_sum{provider=\"" << providers_[p] << "\"} " << static_cast<double>(h.sum_us.load()) / 1e6 << "\n";
      os << name << "_count{provider=\"" << providers_[p] << "\"} " << h.count << "\n";
    }
  };
  histogram("tollgate_request_duration_seconds", "Total request latency.", latency_);
  histogram("tollgate_time_to_first_token_seconds", "Time to first streamed byte.", ttft_);
  os << extra;
  return os.str();
}

}  // namespace tollgate::gateway
