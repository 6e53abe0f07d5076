// Latency of one learned-routing decision: ExtractFeatures and PredictSuccess
// on a 4 KB prompt (docs/EVALUATION.md). Google Benchmark; build and run as in
// bench/router/README.md. Uses the model file named by TOLLGATE_ROUTER_MODEL,
// else trains a small synthetic 11-model router so it runs without data.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <cstdio>
#include <string>

#include "router/features.h"
#include "router/learned_router.h"

namespace {

using tollgate::router::LearnedRouter;

std::string Prompt4k() {
  std::string p;
  for (int i = 0; p.size() < 4096; ++i)
    p += "Question " + std::to_string(i) +
         ": Which of these best explains why a metal spoon feels colder than a wooden one?\n"
         "A) metal conducts heat away faster\nB) wood is warmer\nC) metal is denser\nD) wood absorbs light\n";
  p.resize(4096);
  return p;
}

const LearnedRouter& Router() {
  static const LearnedRouter* router = [] {
    if (const char* path = std::getenv("TOLLGATE_ROUTER_MODEL")) {
      auto r = LearnedRouter::Load(path);
      if (!r.ok()) {
        std::fprintf(stderr, "%s\n", r.status().message().c_str());
        std::exit(2);
      }
      return new LearnedRouter(std::move(r).value());
    }
    tollgate::router::Dataset ds;
    for (int m = 0; m < 11; ++m) ds.models.push_back("m" + std::to_string(m));
    const std::string base = Prompt4k();
    for (int i = 0; i < 200; ++i) {
      tollgate::router::Sample s;
      s.prompt = base.substr(static_cast<size_t>(i) * 7 % 2048) + std::to_string(i);
      for (int m = 0; m < 11; ++m) s.outcomes.push_back({static_cast<double>((i + m) % 2), "", 0.001 * (m + 1)});
      ds.samples.push_back(std::move(s));
    }
    tollgate::router::TrainOptions opt;
    opt.epochs = 3;
    opt.calibration_folds = 1;
    auto r = tollgate::router::Train(ds, opt);
    return new LearnedRouter(std::move(r).value());
  }();
  return *router;
}

void BM_ExtractFeatures4k(benchmark::State& state) {
  const std::string p = Prompt4k();
  for (auto _ : state) benchmark::DoNotOptimize(tollgate::router::ExtractFeatures(p));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(p.size()));
}
BENCHMARK(BM_ExtractFeatures4k);

void BM_PredictSuccess4k(benchmark::State& state) {
  const std::string p = Prompt4k();
  const auto f = tollgate::router::ExtractFeatures(p);
  const LearnedRouter& r = Router();
  for (auto _ : state) benchmark::DoNotOptimize(r.PredictSuccess(f));
}
BENCHMARK(BM_PredictSuccess4k);

void BM_RouteDecision4k(benchmark::State& state) {
  const std::string p = Prompt4k();
  const LearnedRouter& r = Router();
  std::vector<std::pair<std::string, double>> cands;
  for (size_t m = 0; m < r.models().size(); ++m) cands.emplace_back(r.models()[m], r.mean_cost_usd()[m]);
  for (auto _ : state) benchmark::DoNotOptimize(r.Choose(p, cands, r.threshold()));
}
BENCHMARK(BM_RouteDecision4k);

}  // namespace

BENCHMARK_MAIN();
