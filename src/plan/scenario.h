// A `tollgate plan` scenario: the model, the GPU, the replica, the measured or
// estimated throughput, the load and, optionally, an API price to compare with
// and the business around it (revenue, training cost, model lifetime). Parsed
// from YAML (examples/plan/llama-405b.yaml shows every field) with every
// problem reported as "file:line:col: error: ... (fix: ...)", like the config.
// A parsed Scenario is plain, immutable data.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "plan/catalog.h"

namespace tollgate::plan {

// A 1-based position in the scenario file, for errors found after parsing.
struct Where {
  int line = 0, col = 0;
};

struct ModelSpec {
  std::string name;
  double parameters = 0;         // total, counted (not billions)
  double active_parameters = 0;  // read per token (MoE); = parameters for a dense model
  int layers = 0, kv_heads = 0, head_dim = 0;
  double bits_per_weight = 0;
  double kv_bits = 16;
  std::string compute = "bf16";  // the tensor-core precision it runs at (its quantization's)
  std::string quantization;      // the name, when given as one
};

struct OwnedGpu {
  double purchase_usd = 0, lifetime_months = 0, power_w = 0, pue = 1.3, usd_per_kwh = 0;
};

struct GpuChoice {
  std::string name;
  double memory_gb = 0, bandwidth_gbs = 0, dense_tflops = 0;
  std::optional<double> usd_per_hour;  // rented; the headline price
  double price_low = 0, price_high = 0;  // the range swept by the sensitivity table
  std::string price_source;
  std::optional<OwnedGpu> owned;
};

struct Api {
  std::string name;
  double usd_per_mtok_input = 0, usd_per_mtok_output = 0;
};

struct Business {
  double monthly_users = 0, paying_share = 0, usd_per_paying_user = 0;
  double training_usd = 0;
  std::vector<double> lifetimes_months;  // the headline lifetimes (at least one)
};

struct Scenario {
  std::string source;  // the file name, for errors
  std::string title;
  ModelSpec model;
  GpuChoice gpu;
  int64_t replica_gpus = 0;  // 0: the fewest that hold the model, rounded up to a power of two
  Where replica_where, model_where;
  double usable_memory_fraction = 0.9;
  std::optional<double> measured_tokens_per_s;  // output tokens/s of one replica
  double roofline_efficiency = 0.4;             // share of the roofline bound reached, when not measured
  int64_t input_tokens = 0, output_tokens = 0;  // per request
  double tokens_per_s_per_user = 0;
  int64_t active_users = 0;
  double utilization = 1;  // share of the fleet's capacity that serves tokens, for $/Mtok
  std::optional<Api> api;
  std::optional<Business> business;
  std::vector<double> sensitivity_lifetimes{6, 12, 18, 24, 36, 48};
  int sensitivity_price_steps = 5;
};

// A catalog model as a scenario's model, at its catalog quantization.
// REQUIRES: m.quantization is in `catalog` (ParseCatalog checks it).
ModelSpec ModelSpecFrom(const CatalogModel& m, const Catalog& catalog);
// A catalog GPU as a scenario's GPU: its specs at `compute` precision and its
// rental price range, with no headline price (the plan takes the range's high end).
GpuChoice GpuChoiceFrom(const GpuSpec& spec, const std::string& compute);

// Parses `yaml_text`; `source` names it in errors. GPU fields left out are
// taken from `catalog` when gpu.name is there.
Result<Scenario> ParseScenario(const std::string& yaml_text, const std::string& source, const Catalog& catalog);
// Reads and parses a file (NotFound if unreadable).
Result<Scenario> LoadScenarioFile(const std::string& path, const Catalog& catalog);

}  // namespace tollgate::plan
