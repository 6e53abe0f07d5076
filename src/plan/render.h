// `tollgate plan`'s output: the plan as a text table (the default), JSON,
// Markdown, and an SVG chart (the sensitivity of the monthly result to model
// lifetime and GPU price when the scenario has a business section, otherwise
// the cost per million tokens against the API's price by utilization).
// Stateless; thread-safe.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "plan/plan.h"

namespace tollgate::plan {

std::string RenderTable(const Plan& p);
std::string RenderJson(const Plan& p);
std::string RenderMarkdown(const Plan& p);
std::string RenderSvg(const Plan& p);

// A line chart: series of (x, y) points on linear axes, a dashed zero line
// when the y range crosses zero, ticks and a legend. Self-contained SVG 1.1.
struct Series {
  std::string label;
  std::vector<std::pair<double, double>> points;
  bool dashed = false;
};
std::string LineChart(const std::string& title, const std::string& x_label, const std::string& y_label,
                      const std::vector<Series>& series);

// "$122.1M", "$4,070,400", "-$88.8M", "$46.55": how plan prints dollars
// (millions with one decimal from $10M, whole dollars from $1,000, cents below).
std::string Money(double usd);

}  // namespace tollgate::plan
