#include "gateway/metrics.h"

#include <algorithm>

#include <sstream>

namespace tollgate::gateway {

namespace {

struct MetricInfo {
  const char* name;
  const char* type;
  const char* help;
};

constexpr MetricInfo kMetricInfo[] = {
#define TOLLGATE_METRIC_INFO(id, name, type, help) {name, type, help},
    TOLLGATE_METRICS(TOLLGATE_METRIC_NONE, TOLLGATE_METRIC_INFO)
#undef TOLLGATE_METRIC_INFO
};

}  // namespace

const char* MetricName(Metric m) { return kMetricInfo[static_cast<size_t>(m)].name; }

std::string MetricHeader(Metric m) {
  const MetricInfo& i = kMetricInfo[static_cast<size_t>(m)];
  return std::string("# HELP ") + i.name + " " + i.help + "\n# TYPE " + i.name + " " + i.type + "\n";
}

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
  // `get(os, s, prefix)` writes the series' samples; `prefix` is "<name>{<labels>".
  auto counter = [&](Metric id, auto get) {
    os << MetricHeader(id);
    for (size_t m = 0; m < models_.size(); ++m)
      for (size_t p = 0; p < providers_.size(); ++p) {
        const Series& s = series_[m * providers_.size() + p];
        if (s.requests_ok + s.requests_client_error + s.requests_server_error == 0) continue;
        get(os, s, MetricName(id) + ("{" + labels(m, p)));
      }
  };
  counter(Metric::kRequests, [](auto& o, const Series& s, const std::string& l) {
    o << l << ",outcome=\"ok\"} " << s.requests_ok << "\n";
    o << l << ",outcome=\"client_error\"} " << s.requests_client_error << "\n";
    o << l << ",outcome=\"server_error\"} " << s.requests_server_error << "\n";
  });
  counter(Metric::kTokens, [](auto& o, const Series& s, const std::string& l) {
    o << l << ",class=\"input\"} " << s.input_tokens << "\n";
    o << l << ",class=\"cache_read\"} " << s.cache_read_tokens << "\n";
    o << l << ",class=\"cache_write\"} " << s.cache_write_tokens << "\n";
    o << l << ",class=\"output\"} " << s.output_tokens << "\n";
    o << l << ",class=\"reasoning\"} " << s.reasoning_tokens << "\n";
  });
  counter(Metric::kCostUsd, [](auto& o, const Series& s, const std::string& l) {
    o << l << "} " << static_cast<double>(s.cost_micro_usd.load()) / 1e6 << "\n";
  });
  counter(Metric::kUnknownCostRequests, [](auto& o, const Series& s, const std::string& l) {
    o << l << "} " << s.unknown_cost << "\n";
  });
  counter(Metric::kUpstreamErrors, [](auto& o, const Series& s, const std::string& l) {
    o << l << "} " << s.upstream_errors << "\n";
  });
  auto histogram = [&](Metric id, const std::unique_ptr<Histogram[]>& hs) {
    const char* name = MetricName(id);
    os << MetricHeader(id);
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
  histogram(Metric::kRequestDuration, latency_);
  histogram(Metric::kTimeToFirstToken, ttft_);
  os << extra;
  return os.str();
}

}  // namespace tollgate::gateway
