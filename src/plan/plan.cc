#include "plan/plan.h"

#include <algorithm>
#include <cstdio>

#include "common/text.h"
#include "config/yaml_errors.h"
#include "plan/formulas.h"

namespace tollgate::plan {
namespace {

constexpr double kSecondsPerMonth = 3600 * kHoursPerDay * kDaysPerMonth;

int64_t NextPowerOfTwo(int64_t n) {
  int64_t p = 1;
  while (p < n) p *= 2;
  return p;
}

std::string Gb(double bytes) { return FormatNumber("%.1f GB", bytes / 1e9); }

// The roofline of a replica of `gpus`: the memory bound at the largest batch
// that fits in memory and still gives each user the target speed, and the
// compute bound over the input and output tokens of a request.
Throughput Roofline(const Scenario& s, int64_t gpus, double weight_bytes, double active_weight_bytes,
                    double kv_per_token) {
  const double g = static_cast<double>(gpus);
  const double bandwidth = g * s.gpu.bandwidth_gbs * 1e9;
  const double usable = g * s.gpu.memory_gb * 1e9 * s.usable_memory_fraction;
  const double average_context = static_cast<double>(s.input_tokens) + static_cast<double>(s.output_tokens) / 2;
  Throughput t;
  t.roofline_batch = MaxBatchForMemory(usable, weight_bytes, kv_per_token, s.input_tokens + s.output_tokens);
  // One step must take at most 1 / (tokens/s per user): bandwidth / bytes per step >= that speed.
  const double speed_cap = (bandwidth / s.tokens_per_s_per_user - active_weight_bytes) / (kv_per_token * average_context);
  t.roofline_batch = std::min<int64_t>(t.roofline_batch, speed_cap > 0 ? static_cast<int64_t>(speed_cap) : 0);
  if (t.roofline_batch > 0)
    t.memory_bound =
        MemoryBoundTokensPerSecond(t.roofline_batch, bandwidth, active_weight_bytes, kv_per_token, average_context);
  t.compute_bound =
      ComputeBoundTokensPerSecond(g * s.gpu.dense_tflops * 1e12, s.model.active_parameters, s.input_tokens,
                                  s.output_tokens);
  t.roofline = std::min(t.memory_bound, t.compute_bound);
  t.measured = s.measured_tokens_per_s.has_value();
  t.used = t.measured ? *s.measured_tokens_per_s : t.roofline * s.roofline_efficiency;
  return t;
}

}  // namespace

Result<Plan> ComputePlan(const Scenario& s) {
  const config::YamlErrors errors(s.source);
  Plan p;
  p.scenario = s;
  p.weight_bytes = WeightBytes(s.model.parameters, s.model.bits_per_weight);
  const double active_weight_bytes = WeightBytes(s.model.active_parameters, s.model.bits_per_weight);
  p.kv_bytes_per_token = KvBytesPerToken(s.model.layers, s.model.kv_heads, s.model.head_dim, s.model.kv_bits);
  p.context_tokens = s.input_tokens + s.output_tokens;
  const double gpu_bytes = s.gpu.memory_gb * 1e9;

  // Replica size: given, or the fewest GPUs (a power of two, as tensor
  // parallelism wants) that hold the weights and the KV cache of the users
  // they serve and serve at least one user; more GPUs serve more users, so
  // grow until it fits.
  int64_t gpus = s.replica_gpus > 0 ? s.replica_gpus
                                    : NextPowerOfTwo(GpusForMemory(p.weight_bytes, gpu_bytes, s.usable_memory_fraction));
  for (int round = 0;; ++round) {
    p.throughput = Roofline(s, gpus, p.weight_bytes, active_weight_bytes, p.kv_bytes_per_token);
    p.users_per_replica = UsersPerReplica(p.throughput.used, s.tokens_per_s_per_user);
    // An estimate serves at most the batch its memory bound was taken at; a
    // measurement is checked against memory below.
    if (!p.throughput.measured) p.users_per_replica = std::min(p.users_per_replica, p.throughput.roofline_batch);
    p.kv_cache_bytes = p.kv_bytes_per_token * static_cast<double>(p.users_per_replica * p.context_tokens);
    p.replica_memory_bytes = ReplicaMemoryBytes(p.weight_bytes, p.kv_bytes_per_token, p.users_per_replica,
                                                p.context_tokens);
    p.min_gpus_for_memory = GpusForMemory(p.replica_memory_bytes, gpu_bytes, s.usable_memory_fraction);
    if (s.replica_gpus > 0 || round == 16) break;
    if (p.users_per_replica > 0 && p.min_gpus_for_memory <= gpus) break;
    // Too slow for one user (no room left for a batch) or too small: grow.
    gpus = std::max(NextPowerOfTwo(p.min_gpus_for_memory), p.users_per_replica > 0 ? gpus : gpus * 2);
  }
  p.replica_gpus = gpus;
  const Where at = s.replica_gpus > 0 ? s.replica_where : s.model_where;
  if (p.users_per_replica == 0) {
    char msg[256];
    std::snprintf(msg, sizeof msg, "a replica of %lld x %s serves %.1f output tokens/s, less than one user's %.1f",
                  static_cast<long long>(gpus), s.gpu.name.c_str(), p.throughput.used, s.tokens_per_s_per_user);
    return errors.ErrorAt(at.line, at.col, msg,
                          "lower load.tokens_per_s_per_user, add GPUs to the replica or use a faster GPU");
  }
  if (p.min_gpus_for_memory > gpus) {
    char msg[512];
    std::snprintf(msg, sizeof msg,
                  "%s does not fit %lld x %s: it needs %s (%s of weights at %g bits + %s of KV cache for %lld users x "
                  "%lld tokens), and %lld GPUs hold %s usable",
                  s.model.name.empty() ? "the model" : s.model.name.c_str(), static_cast<long long>(gpus),
                  s.gpu.name.c_str(), Gb(p.replica_memory_bytes).c_str(), Gb(p.weight_bytes).c_str(),
                  s.model.bits_per_weight, Gb(p.kv_cache_bytes).c_str(), static_cast<long long>(p.users_per_replica),
                  static_cast<long long>(p.context_tokens), static_cast<long long>(gpus),
                  Gb(static_cast<double>(gpus) * gpu_bytes * s.usable_memory_fraction).c_str());
    return errors.ErrorAt(at.line, at.col, msg,
                          "set replica.gpus to at least " + std::to_string(p.min_gpus_for_memory) +
                              ", or use fewer bits per weight (model.quantization), or a GPU with more memory");
  }

  p.replicas = ReplicasFor(s.active_users, p.users_per_replica);
  p.gpus = p.replicas * gpus;
  p.users_served = p.replicas * p.users_per_replica;

  if (s.gpu.owned)
    p.owned_usd_per_gpu_hour = OwnedUsdPerGpuHour(s.gpu.owned->purchase_usd, s.gpu.owned->lifetime_months,
                                                  s.gpu.owned->power_w, s.gpu.owned->pue, s.gpu.owned->usd_per_kwh);
  if (s.gpu.usd_per_hour) {
    p.usd_per_gpu_hour = *s.gpu.usd_per_hour;
    p.price_basis = "rented";
  } else if (p.owned_usd_per_gpu_hour) {
    p.usd_per_gpu_hour = *p.owned_usd_per_gpu_hour;
    p.price_basis = "owned";
  } else {
    p.usd_per_gpu_hour = s.gpu.price_high;
    p.price_basis = "rented, the high end of the catalog range";
  }
  p.usd_per_day = UsdPerDay(p.gpus, p.usd_per_gpu_hour);
  p.usd_per_month = UsdPerMonth(p.gpus, p.usd_per_gpu_hour);
  p.usd_per_month_low = UsdPerMonth(p.gpus, s.gpu.price_low);
  p.usd_per_month_high = UsdPerMonth(p.gpus, s.gpu.price_high);
  const double replica_usd_per_hour = static_cast<double>(gpus) * p.usd_per_gpu_hour;
  p.usd_per_mtok = UsdPerMillionTokens(replica_usd_per_hour, p.throughput.used, s.utilization);
  p.usd_per_mtok_full = UsdPerMillionTokens(replica_usd_per_hour, p.throughput.used, 1);

  if (s.api) {
    ApiComparison a;
    a.api_usd_per_mtok = ApiUsdPerMillionOutputTokens(s.api->usd_per_mtok_input, s.api->usd_per_mtok_output,
                                                      s.input_tokens, s.output_tokens);
    if (a.api_usd_per_mtok > 0) {
      a.break_even_utilization = BreakEvenUtilization(p.usd_per_mtok_full, a.api_usd_per_mtok);
      a.break_even_tokens_per_month = BreakEvenTokensPerMonth(p.usd_per_month, a.api_usd_per_mtok);
    }
    a.served_tokens_per_month =
        static_cast<double>(p.replicas) * p.throughput.used * kSecondsPerMonth * s.utilization;
    a.api_usd_per_month = a.served_tokens_per_month * a.api_usd_per_mtok / 1e6;
    p.api = a;
  }

  if (s.business) {
    const Business& b = *s.business;
    BusinessResult r;
    r.revenue_per_month = RevenuePerMonth(b.monthly_users, b.paying_share, b.usd_per_paying_user);
    r.before_training_per_month = r.revenue_per_month - p.usd_per_month;
    r.break_even_lifetime_months = BreakEvenLifetimeMonths(b.training_usd, r.revenue_per_month, p.usd_per_month);
    for (double months : b.lifetimes_months) {
      const double amortized = AmortizedPerMonth(b.training_usd, months);
      r.lifetimes.push_back({months, amortized, r.before_training_per_month - amortized});
    }
    p.business = r;
    p.sensitivity_lifetimes = s.sensitivity_lifetimes;
    const int steps = s.gpu.price_high > s.gpu.price_low ? std::max(2, s.sensitivity_price_steps) : 1;
    for (int i = 0; i < steps; ++i) {
      SensitivityRow row;
      row.usd_per_gpu_hour =
          steps == 1 ? s.gpu.price_low : s.gpu.price_low + (s.gpu.price_high - s.gpu.price_low) * i / (steps - 1);
      const double serving = UsdPerMonth(p.gpus, row.usd_per_gpu_hour);
      row.serving_per_month = serving;
      for (double months : p.sensitivity_lifetimes)
        row.result_per_month.push_back(r.revenue_per_month - serving - AmortizedPerMonth(b.training_usd, months));
      row.break_even_lifetime_months = BreakEvenLifetimeMonths(b.training_usd, r.revenue_per_month, serving);
      p.sensitivity.push_back(std::move(row));
    }
  }
  return p;
}

}  // namespace tollgate::plan
