#include "cli/plan_command.h"

#include <cstdio>
#include <fstream>
#include <iostream>

#include "plan/catalog.h"
#include "plan/plan.h"
#include "plan/render.h"

namespace tollgate::cli {

PlanCommand::PlanCommand(CLI::App& app) {
  cmd_ = app.add_subcommand("plan", "Capacity and cost of self-hosting a model on GPUs, from a scenario file");
  cmd_->add_option("scenario", scenario_, "Scenario YAML (see examples/plan/llama-405b.yaml)")->required();
  cmd_->add_option("--format", format_, "table|json|md")->check(CLI::IsMember({"table", "json", "md"}));
  cmd_->add_option("--svg", svg_, "Also write a chart to this SVG file (sensitivity, or cost by utilization)");
}

std::optional<int> PlanCommand::Run() {
  if (!cmd_->parsed()) return std::nullopt;
  auto scenario = plan::LoadScenarioFile(scenario_, plan::BuiltinCatalog());
  if (!scenario.ok()) {
    std::fprintf(stderr, "%s\n", scenario.status().message().c_str());
    return 2;
  }
  auto p = plan::ComputePlan(*scenario);
  if (!p.ok()) {
    std::fprintf(stderr, "%s\n", p.status().message().c_str());
    return 2;
  }
  if (format_ == "json") std::cout << plan::RenderJson(*p);
  else if (format_ == "md") std::cout << plan::RenderMarkdown(*p);
  else std::cout << plan::RenderTable(*p);
  if (!svg_.empty()) {
    std::ofstream f(svg_, std::ios::binary | std::ios::trunc);
    f << plan::RenderSvg(*p);
    if (!f.flush()) {
      std::fprintf(stderr, "error: cannot write %s\n", svg_.c_str());
      return 1;
    }
  }
  return 0;
}

}  // namespace tollgate::cli
