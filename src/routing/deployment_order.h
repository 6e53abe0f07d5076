// The order a model's deployments are tried in, per the model's strategy:
// fallback (config order), weighted (one drawn by weight first), least_latency
// (lowest observed latency first) or cheapest (lowest price first, deployments
// over the latency objective last). Whatever is not first stays as fallbacks.
// LatencyStats is shared by every worker: lock-free atomics per deployment.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "config/config.h"
#include "pricing/catalog.h"

namespace tollgate::routing {

// Exponentially weighted mean latency of each deployment of each model.
class LatencyStats {
 public:
  explicit LatencyStats(const std::vector<config::ModelConfig>& models);
  // Records one successful call's latency (ms) on deployment `d` of `model`.
  void Record(const std::string& model, size_t d, double latency_ms);
  // The EWMA in ms, or a negative value if never observed.
  double Mean(const std::string& model, size_t d) const;

 private:
  struct Slot {
    std::atomic<double> ewma{-1};
  };
  std::unordered_map<std::string, std::unique_ptr<Slot[]>>
      slots_;  // immutable map after construction
  std::unordered_map<std::string, size_t> sizes_;
};

struct DeploymentPlan {
  std::vector<size_t> order;  // indexes into model.deployments
  std::string reason;         // for x-tollgate-route, e.g. "cheapest:dep=gpt-4o-mini"
};

// Blended USD per token of a deployment (input and output at 3:1), or a
// negative value if unpriced.
double BlendedPrice(const pricing::PriceCatalog& prices, const config::Deployment& d);

// `random01` is a uniform draw in [0, 1) (the caller's generator).
DeploymentPlan PlanDeployments(const config::ModelConfig& model, const LatencyStats& stats,
                               const pricing::PriceCatalog& prices, double random01);

}  // namespace tollgate::routing
