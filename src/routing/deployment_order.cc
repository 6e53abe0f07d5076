#include "routing/deployment_order.h"

#include <algorithm>
#include <numeric>

#include "config/closed_sets.h"

namespace tollgate::routing {

LatencyStats::LatencyStats(const std::vector<config::ModelConfig>& models) {
  for (const auto& m : models) {
    slots_.emplace(m.name, std::make_unique<Slot[]>(m.deployments.size()));
    sizes_.emplace(m.name, m.deployments.size());
  }
}

void LatencyStats::Record(const std::string& model, size_t d, double latency_ms) {
  auto it = slots_.find(model);
  if (it == slots_.end() || d >= sizes_.at(model)) return;
  std::atomic<double>& e = it->second[d].ewma;
  double old = e.load(std::memory_order_relaxed);
  double next;
  do {
    next = old < 0 ? latency_ms : 0.8 * old + 0.2 * latency_ms;
  } while (!e.compare_exchange_weak(old, next, std::memory_order_relaxed));
}

double LatencyStats::Mean(const std::string& model, size_t d) const {
  auto it = slots_.find(model);
  if (it == slots_.end() || d >= sizes_.at(model)) return -1;
  return it->second[d].ewma.load(std::memory_order_relaxed);
}

double BlendedPrice(const pricing::PriceCatalog& prices, const config::Deployment& d) {
  const pricing::ModelPrice* p = prices.Find(d.model);
  if (p == nullptr) return -1;
  return (3 * p->rates.input + p->rates.output) / 4 * 1e-6;
}

DeploymentPlan PlanDeployments(const config::ModelConfig& model, const LatencyStats& stats,
                               const pricing::PriceCatalog& prices, double random01) {
  DeploymentPlan plan;
  const size_t n = model.deployments.size();
  plan.order.resize(n);
  std::iota(plan.order.begin(), plan.order.end(), 0);
  // Config validated the spelling; anything else is taken as fallback.
  const config::RoutingStrategy strategy =
      config::ParseRoutingStrategy(model.strategy).value_or(config::RoutingStrategy::kFallback);
  if (n <= 1 || strategy == config::RoutingStrategy::kFallback) {
    plan.reason = strategy == config::RoutingStrategy::kFallback ? "" : model.strategy;
    return plan;
  }
  auto name = [&](size_t i) {
    return model.deployments[i].provider + "/" + model.deployments[i].model;
  };
  if (strategy == config::RoutingStrategy::kWeighted) {
    int64_t total = 0;
    for (const auto& d : model.deployments) total += d.weight;
    if (total > 0) {
      double x = random01 * static_cast<double>(total);
      size_t pick = 0;
      for (size_t i = 0; i < n; ++i) {
        x -= static_cast<double>(model.deployments[i].weight);
        if (x < 0) {
          pick = i;
          break;
        }
      }
      std::rotate(plan.order.begin(), plan.order.begin() + static_cast<long>(pick),
                  plan.order.begin() + static_cast<long>(pick) + 1);
      plan.reason = "weighted:" + name(pick);
    }
    return plan;
  }
  if (strategy == config::RoutingStrategy::kLeastLatency) {
    // Never-observed deployments go first so every one gets measured.
    std::stable_sort(plan.order.begin(), plan.order.end(), [&](size_t a, size_t b) {
      return stats.Mean(model.name, a) < stats.Mean(model.name, b);
    });
    double m = stats.Mean(model.name, plan.order[0]);
    plan.reason = "least_latency:" + name(plan.order[0]) +
                  (m < 0 ? "(unmeasured)" : "(" + std::to_string(static_cast<int64_t>(m)) + "ms)");
    return plan;
  }
  // cheapest: price ascending (unpriced last); deployments measured over the
  // latency objective move behind those within it.
  auto over = [&](size_t i) {
    if (model.latency_objective_ms <= 0) return false;
    double m = stats.Mean(model.name, i);
    return m >= 0 && m > static_cast<double>(model.latency_objective_ms);
  };
  auto price = [&](size_t i) {
    double p = BlendedPrice(prices, model.deployments[i]);
    return p < 0 ? 1e9 : p;
  };
  std::stable_sort(plan.order.begin(), plan.order.end(), [&](size_t a, size_t b) {
    if (over(a) != over(b)) return !over(a);
    return price(a) < price(b);
  });
  plan.reason = "cheapest:" + name(plan.order[0]);
  size_t skipped = 0;
  for (size_t i = 0; i < n; ++i) skipped += over(i) && price(i) < price(plan.order[0]) ? 1 : 0;
  if (skipped > 0)
    plan.reason += "(" + std::to_string(skipped) + " cheaper over " +
                   std::to_string(model.latency_objective_ms) + "ms)";
  return plan;
}

}  // namespace tollgate::routing
