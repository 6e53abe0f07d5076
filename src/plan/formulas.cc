#include "plan/formulas.h"

#include <cmath>

namespace tollgate::plan {

double WeightBytes(double parameters, double bits_per_weight) { return parameters * bits_per_weight / 8; }

double KvBytesPerToken(int layers, int kv_heads, int head_dim, double kv_bits) {
  return 2.0 * layers * kv_heads * head_dim * kv_bits / 8;
}

double ReplicaMemoryBytes(double weight_bytes, double kv_bytes_per_token, int64_t batch, int64_t context_tokens) {
  return weight_bytes + kv_bytes_per_token * static_cast<double>(batch) * static_cast<double>(context_tokens);
}

int64_t GpusForMemory(double bytes, double gpu_memory_bytes, double usable_fraction) {
  return static_cast<int64_t>(std::ceil(bytes / (gpu_memory_bytes * usable_fraction)));
}

double MemoryBoundTokensPerSecond(int64_t batch, double bandwidth_bytes_per_s, double active_weight_bytes,
                                  double kv_bytes_per_token, double average_context_tokens) {
  const double b = static_cast<double>(batch);
  const double bytes_per_step = active_weight_bytes + b * kv_bytes_per_token * average_context_tokens;
  return b * bandwidth_bytes_per_s / bytes_per_step;
}

double ComputeBoundTokensPerSecond(double flops, double active_parameters, int64_t input_tokens,
                                   int64_t output_tokens) {
  const double flops_per_output_token =
      2 * active_parameters * static_cast<double>(input_tokens + output_tokens) / static_cast<double>(output_tokens);
  return flops / flops_per_output_token;
}

int64_t MaxBatchForMemory(double usable_bytes, double weight_bytes, double kv_bytes_per_token,
                          int64_t context_tokens) {
  const double free = usable_bytes - weight_bytes;
  if (free <= 0) return 0;
  return static_cast<int64_t>(std::floor(free / (kv_bytes_per_token * static_cast<double>(context_tokens))));
}

int64_t UsersPerReplica(double replica_tokens_per_s, double tokens_per_s_per_user) {
  return static_cast<int64_t>(std::floor(replica_tokens_per_s / tokens_per_s_per_user));
}

int64_t ReplicasFor(int64_t active_users, int64_t users_per_replica) {
  return (active_users + users_per_replica - 1) / users_per_replica;
}

double UsdPerDay(int64_t gpus, double usd_per_gpu_hour) {
  return static_cast<double>(gpus) * usd_per_gpu_hour * kHoursPerDay;
}

double UsdPerMonth(int64_t gpus, double usd_per_gpu_hour) { return UsdPerDay(gpus, usd_per_gpu_hour) * kDaysPerMonth; }

double OwnedUsdPerGpuHour(double purchase_usd, double lifetime_months, double power_w, double pue,
                          double usd_per_kwh) {
  const double hours = lifetime_months * kDaysPerMonth * kHoursPerDay;
  return purchase_usd / hours + power_w / 1000 * pue * usd_per_kwh;
}

double UsdPerMillionTokens(double replica_usd_per_hour, double tokens_per_s, double utilization) {
  return replica_usd_per_hour / (tokens_per_s * 3600 * utilization) * 1e6;
}

double ApiUsdPerMillionOutputTokens(double usd_per_mtok_input, double usd_per_mtok_output, int64_t input_tokens,
                                    int64_t output_tokens) {
  return usd_per_mtok_output +
         usd_per_mtok_input * static_cast<double>(input_tokens) / static_cast<double>(output_tokens);
}

double BreakEvenUtilization(double usd_per_mtok_at_full_load, double api_usd_per_mtok) {
  return usd_per_mtok_at_full_load / api_usd_per_mtok;
}

double BreakEvenTokensPerMonth(double fleet_usd_per_month, double api_usd_per_mtok) {
  return fleet_usd_per_month / api_usd_per_mtok * 1e6;
}

double RevenuePerMonth(double monthly_users, double paying_share, double usd_per_paying_user) {
  return monthly_users * paying_share * usd_per_paying_user;
}

double AmortizedPerMonth(double training_usd, double lifetime_months) { return training_usd / lifetime_months; }

double BreakEvenLifetimeMonths(double training_usd, double revenue_per_month, double serving_per_month) {
  const double margin = revenue_per_month - serving_per_month;
  if (margin <= 0) return -1;
  return training_usd / margin;
}

}  // namespace tollgate::plan
