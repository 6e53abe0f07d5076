// `tollgate plan`: from a Scenario, the capacity (memory per replica, GPUs per
// replica, throughput and users per replica, replicas and GPUs for the load)
// and the cost of ownership ($/day, $/month, $ per million output tokens,
// break-even against an API, the monthly result with training amortized, and
// the sensitivity table over model lifetime × GPU price). Pure computation
// over formulas.h; the result is plain data for the renderers (render.h).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "plan/scenario.h"

namespace tollgate::plan {

struct Throughput {
  double memory_bound = 0, compute_bound = 0;  // output tokens/s of one replica
  int64_t roofline_batch = 0;                  // the batch the memory bound was taken at
  double roofline = 0;                         // min of the two
  double used = 0;                             // measured, or roofline × efficiency
  bool measured = false;
};

struct Lifetime {
  double months = 0, amortized_per_month = 0, result_per_month = 0;
};

struct BusinessResult {
  double revenue_per_month = 0, before_training_per_month = 0;
  double break_even_lifetime_months = -1;  // -1: serving alone loses money
  std::vector<Lifetime> lifetimes;
};

struct ApiComparison {
  double api_usd_per_mtok = 0;           // output tokens, with the input they carry
  double break_even_utilization = 0;     // above it self-hosting is cheaper
  double break_even_tokens_per_month = 0;  // the fleet's cost in API tokens
  double served_tokens_per_month = 0;    // what the fleet serves at the utilization
  double api_usd_per_month = 0;          // those tokens bought from the API
};

// One row of the sensitivity table: a GPU price and the monthly result at each lifetime.
struct SensitivityRow {
  double usd_per_gpu_hour = 0;
  double serving_per_month = 0;
  std::vector<double> result_per_month;  // one per Plan::sensitivity_lifetimes
  double break_even_lifetime_months = -1;
};

struct Plan {
  Scenario scenario;
  double weight_bytes = 0, kv_bytes_per_token = 0, kv_cache_bytes = 0, replica_memory_bytes = 0;
  int64_t context_tokens = 0;       // input + output: the longest a sequence gets
  int64_t min_gpus_for_memory = 0;  // from memory alone
  int64_t replica_gpus = 0;         // what the plan uses
  Throughput throughput;
  int64_t users_per_replica = 0, replicas = 0, gpus = 0, users_served = 0;
  double usd_per_gpu_hour = 0;      // the headline price (rented, else owned)
  std::string price_basis;          // "rented" or "owned"
  std::optional<double> owned_usd_per_gpu_hour;
  double usd_per_day = 0, usd_per_month = 0;
  double usd_per_month_low = 0, usd_per_month_high = 0;  // across the price range
  double usd_per_mtok = 0;          // at the scenario's utilization
  double usd_per_mtok_full = 0;     // at full load
  std::optional<ApiComparison> api;
  std::optional<BusinessResult> business;
  std::vector<double> sensitivity_lifetimes;
  std::vector<SensitivityRow> sensitivity;  // empty without a business section
};

// Computes the plan. InvalidArgument at the scenario's line when the model
// does not fit the replica (replica.gpus too small) or a replica cannot serve
// one user at the target speed.
Result<Plan> ComputePlan(const Scenario& s);

}  // namespace tollgate::plan
