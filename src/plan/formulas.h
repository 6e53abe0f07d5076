// The arithmetic of `tollgate plan`: memory, roofline throughput, fleet size and
// dollars, one small pure function per formula so that each is tested alone
// (tests/unit/plan_test.cc). Units are in the names: bytes, seconds, USD, GB is
// 1e9 bytes, a month is 30 days. No state; thread-safe.
#pragma once

#include <cstdint>

namespace tollgate::plan {

inline constexpr double kHoursPerDay = 24;
inline constexpr double kDaysPerMonth = 30;

// Bytes of the weights: parameters × bits per weight / 8.
double WeightBytes(double parameters, double bits_per_weight);

// Bytes of KV cache one token keeps: K and V for every layer and KV head.
double KvBytesPerToken(int layers, int kv_heads, int head_dim, double kv_bits);

// Memory one replica needs: the weights plus the KV cache of `batch`
// sequences of `context_tokens` each (the longest a sequence gets: its input
// and its whole output).
double ReplicaMemoryBytes(double weight_bytes, double kv_bytes_per_token, int64_t batch, int64_t context_tokens);

// The fewest GPUs whose usable memory (memory × usable_fraction) holds `bytes`.
// REQUIRES: gpu_memory_bytes > 0, usable_fraction > 0.
int64_t GpusForMemory(double bytes, double gpu_memory_bytes, double usable_fraction);

// Decode bound by memory bandwidth: each step reads the active weights and
// the KV cache of the batch and gives every sequence one token, so
// tokens/s = batch × bandwidth / (active weight bytes + batch × KV bytes of
// the average context).
double MemoryBoundTokensPerSecond(int64_t batch, double bandwidth_bytes_per_s, double active_weight_bytes,
                                  double kv_bytes_per_token, double average_context_tokens);

// Output tokens/s bound by compute: a request costs 2 × active parameters
// FLOPs per token, input and output, so output tokens/s =
// FLOPS / (2 × active parameters × (input + output) / output).
double ComputeBoundTokensPerSecond(double flops, double active_parameters, int64_t input_tokens,
                                   int64_t output_tokens);

// The largest batch whose KV cache (at `context_tokens` each) fits beside the
// weights in `usable_bytes`; 0 when the weights alone do not fit.
int64_t MaxBatchForMemory(double usable_bytes, double weight_bytes, double kv_bytes_per_token,
                          int64_t context_tokens);

// Active users one replica serves at `tokens_per_s_per_user` each: whole users only.
int64_t UsersPerReplica(double replica_tokens_per_s, double tokens_per_s_per_user);

// Replicas needed for `active_users` (rounded up). REQUIRES: users_per_replica > 0.
int64_t ReplicasFor(int64_t active_users, int64_t users_per_replica);

// Dollars of `gpus` at `usd_per_gpu_hour` for a day and for a 30-day month.
double UsdPerDay(int64_t gpus, double usd_per_gpu_hour);
double UsdPerMonth(int64_t gpus, double usd_per_gpu_hour);

// The hourly cost of an owned GPU: its price spread over its lifetime, plus
// its power at the facility's PUE and the price of a kWh.
double OwnedUsdPerGpuHour(double purchase_usd, double lifetime_months, double power_w, double pue,
                          double usd_per_kwh);

// USD per million output tokens of a replica that costs `replica_usd_per_hour`
// and serves `tokens_per_s` at full load, used `utilization` of the time.
// REQUIRES: tokens_per_s > 0, utilization > 0.
double UsdPerMillionTokens(double replica_usd_per_hour, double tokens_per_s, double utilization);

// An API's price per million output tokens once the input each output token
// carries is counted: output + input × input_tokens / output_tokens.
double ApiUsdPerMillionOutputTokens(double usd_per_mtok_input, double usd_per_mtok_output, int64_t input_tokens,
                                    int64_t output_tokens);

// The utilization at which self-hosting costs what the API costs per token
// (above it self-hosting is cheaper): cost at full load / API price.
double BreakEvenUtilization(double usd_per_mtok_at_full_load, double api_usd_per_mtok);

// The monthly output tokens at which a fleet costing `fleet_usd_per_month`
// costs what the API would: fleet cost / API price per token.
double BreakEvenTokensPerMonth(double fleet_usd_per_month, double api_usd_per_mtok);

// Monthly revenue: users × paying share × price per paying user.
double RevenuePerMonth(double monthly_users, double paying_share, double usd_per_paying_user);

// Training cost spread over the model's lifetime in months.
double AmortizedPerMonth(double training_usd, double lifetime_months);

// The lifetime (months) at which revenue covers serving and training:
// training / (revenue − serving); negative when serving alone loses money.
double BreakEvenLifetimeMonths(double training_usd, double revenue_per_month, double serving_per_month);

}  // namespace tollgate::plan
