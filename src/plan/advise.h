// `plan --from-ledger` and the dashboard's Advise view: for the traffic the
// ledger recorded (traffic.h), per model, the fleet each candidate
// open-weights model × GPU needs to serve the observed peak at a target speed
// (ComputePlan, formulas.h), its monthly cost rented and owned, its $ per
// million output tokens at the observed utilization, the volume at which it
// breaks even with the API bill, and a one-sentence recommendation. Every
// input that is a range (GPU prices, purchase prices, the share of the
// roofline reached) gives a range. Pure computation; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "plan/catalog.h"
#include "plan/scenario.h"
#include "plan/traffic.h"

namespace tollgate::plan {

struct AdviseOptions {
  double tokens_per_s_per_user = 20;  // the target output speed of one generation
  // The share of the roofline bound a replica reaches: TensorRT-LLM's published
  // points are 40-80% of it (docs/plan.md, tests/unit/plan_test.cc).
  double efficiency_low = 0.4, efficiency_high = 0.8;
  double owned_lifetime_months = 36, pue = 1.3, usd_per_kwh = 0.10;
  int64_t max_replica_gpus = 8;  // one server
  // With a scenario, its model and GPU (and its prices, throughput, replica) are
  // the only candidate; the load comes from the ledger.
  std::optional<Scenario> scenario;
};

// [low, high]: the cheap end (low price, high efficiency) and the dear end.
struct Span {
  double low = 0, high = 0;
};

struct Candidate {
  std::string model, quantization, gpu;
  bool fits = false;
  std::string why_not;  // when it does not fit: the plan's error, or the replica size
  int64_t replica_gpus = 0;
  Span replicas, gpus;                      // at high and low efficiency
  Span tokens_per_s_per_replica;            // output tokens/s used per replica
  Span rented_usd_per_month;                // low price × fewest GPUs .. high price × most
  std::optional<Span> owned_usd_per_month;  // when the catalog has a purchase price
  Span utilization;                         // observed output tokens/s ÷ fleet capacity
  Span usd_per_mtok;                        // rented, at the observed utilization
  Span break_even_output_tokens_per_month;  // rented fleet cost ÷ the API's $ per output token
};

struct ModelAdvice {
  ModelTraffic traffic;
  int64_t input_tokens_per_request = 0, output_tokens_per_request = 0;
  double output_tokens_per_month = 0;
  double api_usd_per_month = 0;
  double api_usd_per_mtok_output =
      0;  // the bill per million output tokens, the input they carry included
  std::vector<Candidate> candidates;         // fitting ones first, cheapest first
  std::vector<std::string> recommendations;  // one sentence per candidate model
};

struct Advice {
  TrafficReport traffic;
  AdviseOptions options;
  std::vector<ModelAdvice> models;  // one per traffic model with generations
  std::vector<std::string> assumptions;
};

// The advice for every model of `traffic` with at least one generation.
// InvalidArgument when an option is out of range.
Result<Advice> Advise(const TrafficReport& traffic, const AdviseOptions& options,
                      const Catalog& catalog);

}  // namespace tollgate::plan

namespace tollgate::plan {

// The advice as a text table (the default), JSON, Markdown, and an SVG chart:
// monthly cost by output volume, the API's line against each recommended
// fleet's cost range, with today's volume marked (the first model's).
std::string RenderAdviceTable(const Advice& a);
std::string RenderAdviceJson(const Advice& a);
std::string RenderAdviceMarkdown(const Advice& a);
std::string RenderAdviceSvg(const Advice& a);

}  // namespace tollgate::plan
