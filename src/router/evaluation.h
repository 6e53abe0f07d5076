// Offline cost-quality evaluation of routing policies on RouterBench test data
// (docs/EVALUATION.md): the learned router's threshold sweep, check-based
// cascades replayed over the recorded answers, and baselines (single models,
// random mix, oracle), with the area under each cost-quality curve, SVG plots
// and a markdown report. Used by `tollgate router eval`; not on the request path.
#pragma once

#include <string>
#include <vector>

#include "router/checks.h"
#include "router/learned_router.h"
#include "router/routerbench.h"

namespace tollgate::router {

struct OperatingPoint {
  double cost_usd = 0;      // mean dollars per prompt
  double quality = 0;       // mean score
  double strong_share = 0;  // share of prompts that called the strong model
  std::string label;
};

struct MethodResult {
  std::string name;
  bool curve = false;  // a sweep (drawn as a line) rather than one operating point
  bool baseline = false;
  std::vector<OperatingPoint> points;
  double auc = 0;  // see AreaUnderCurve
  // Smallest strong-model share among points reaching 95% of the strong
  // model's quality; < 0 if no point does.
  double strong_share_for_95 = -1;
};

struct GroupReport {
  std::string eval_name;
  size_t samples = 0;
  std::string strong_model, cheapest_model, cascade_cheap, cascade_first;
  double strong_cost = 0, strong_quality = 0, cheap_cost = 0, cheap_quality = 0;
  std::vector<std::string> cascade_checks;
  std::vector<MethodResult> methods;
  std::vector<std::string> findings;  // generated sentences comparing methods to baselines
};

struct LatencyReport {
  size_t prompts = 0;
  double mean_prompt_bytes = 0;
  double p50_us = 0, p99_us = 0, mean_us = 0;  // ExtractFeatures + PredictSuccess per test prompt, thread CPU time
  double us_4kb = 0;                           // the same for a 4096-byte prompt (mean of many runs)
};

// Checks each cascade step must pass before its answer is accepted, by
// RouterBench eval_name: "arc-challenge" wants a lone option letter and no
// refusal; "mbpp" wants 40..8000 chars, a `def` and no refusal; anything else
// no refusal and >= 1 char.
std::vector<std::pair<std::string, CheckSpec>> DefaultCascadeChecks(const std::string& eval_name);

// Area under the cost-quality curve of `points`: cost normalised to
// x = (cost - cheap_cost) / (strong_cost - cheap_cost), x < 0 read as 0 and
// points with x > 1 dropped; the always-cheapest point (0, cheap_quality) is
// added (any policy can fall back to it); quality at budget x is the upper
// concave envelope (two operating points can be mixed at random), held flat
// after its best point; integrated over x in [0, 1] by trapezoids.
double AreaUnderCurve(const std::vector<OperatingPoint>& points, double cheap_cost, double cheap_quality,
                      double strong_cost);

// Evaluates every policy on `test`, one report per eval_name in order of first appearance.
std::vector<GroupReport> EvaluateRouting(const LearnedRouter& router, const Dataset& test);

LatencyReport MeasureLatency(const LearnedRouter& router, const Dataset& test);

// One SVG (cost on a log axis vs quality) for a group.
std::string RenderSvg(const GroupReport& g);
// Markdown tables and findings for all groups; `svg_rel_dir` ("" for none) is
// where the SVGs are, relative to the markdown file.
std::string RenderMarkdown(const std::vector<GroupReport>& groups, const LatencyReport& lat,
                           const LearnedRouter& router, const std::string& svg_rel_dir);

}  // namespace tollgate::router
