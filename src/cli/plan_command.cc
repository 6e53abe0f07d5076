#include "cli/plan_command.h"

#include <cstdio>
#include <fstream>
#include <iostream>

#include "common/util.h"
#include "config/config.h"
#include "ledger/storage.h"
#include "plan/advise.h"
#include "plan/catalog.h"
#include "plan/plan.h"
#include "plan/render.h"

namespace tollgate::cli {

PlanCommand::PlanCommand(CLI::App& app) {
  cmd_ = app.add_subcommand(
      "plan",
      "Capacity and cost of self-hosting a model on GPUs, from a scenario file or the ledger");
  cmd_->add_option("scenario", scenario_, "Scenario YAML (see examples/plan/llama-405b.yaml)");
  cmd_->add_flag(
      "--from-ledger", from_ledger_,
      "Size fleets for the traffic the ledger recorded, per model, against its API bill");
  cmd_->add_option("--scenario", scenario_,
                   "With --from-ledger: this scenario's model and GPU as the only candidate "
                   "(default: data/gpus.json's)");
  cmd_->add_option("--db", db_,
                   "Ledger: a file path, sqlite:// or postgres:// URL (default: ledger.url/path of "
                   "--config, or ./tollgate.db)");
  cmd_->add_option("-c,--config", config_, "Config whose ledger to read")->check(CLI::ExistingFile);
  cmd_->add_option("--from", from_, "First day, YYYY-MM-DD (UTC, default 30 days before --to)");
  cmd_->add_option("--to", to_, "Last day, YYYY-MM-DD (UTC, default today)");
  cmd_->add_option("--by", by_,
                   "served|requested: group by the model that served or the one asked for")
      ->check(CLI::IsMember({"served", "requested"}));
  cmd_->add_option("--speed", speed_, "Target output tokens/s of one generation (default 20)")
      ->check(CLI::PositiveNumber);
  cmd_->add_option("--format", format_, "table|json|md")
      ->check(CLI::IsMember({"table", "json", "md"}));
  cmd_->add_option("--svg", svg_,
                   "Also write a chart to this SVG file (sensitivity, or cost by utilization; with "
                   "--from-ledger: "
                   "monthly cost by volume)");
}

int PlanCommand::WriteSvg(const std::string& svg) const {
  if (svg_.empty()) return 0;
  std::ofstream f(svg_, std::ios::binary | std::ios::trunc);
  f << svg;
  if (!f.flush()) {
    std::fprintf(stderr, "error: cannot write %s\n", svg_.c_str());
    return 1;
  }
  return 0;
}

std::optional<int> PlanCommand::Run() {
  if (!cmd_->parsed()) return std::nullopt;
  if (from_ledger_) return RunFromLedger();
  if (scenario_.empty()) {
    std::fprintf(stderr, "error: give a scenario file, or --from-ledger\n");
    return 2;
  }
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
  if (format_ == "json")
    std::cout << plan::RenderJson(*p);
  else if (format_ == "md")
    std::cout << plan::RenderMarkdown(*p);
  else
    std::cout << plan::RenderTable(*p);
  return WriteSvg(plan::RenderSvg(*p));
}

int PlanCommand::RunFromLedger() {
  auto fail = [](const Status& st) {
    std::fprintf(stderr, "%s%s\n",
                 st.code() == StatusCode::kInvalidArgument ? "" : "error: ", st.message().c_str());
    return st.code() == StatusCode::kInvalidArgument || st.code() == StatusCode::kNotFound ? 2 : 1;
  };
  plan::AdviseOptions options;
  options.tokens_per_s_per_user = speed_;
  if (!scenario_.empty()) {
    auto scenario = plan::LoadScenarioFile(scenario_, plan::BuiltinCatalog());
    if (!scenario.ok()) return fail(scenario.status());
    options.scenario = std::move(*scenario);
  }
  std::string url = db_;
  if (url.empty() && !config_.empty()) {
    auto c = config::LoadConfigFile(config_);
    if (!c.ok()) return fail(c.status());
    url = c->ledger.url;
  }
  if (url.empty()) url = "./tollgate.db";
  const std::string to = to_.empty() ? FormatDateUtc(NowUnixMs()) : to_;
  const auto to_ms = ParseDateUtcMs(to);
  if (!to_ms)
    return fail(
        Status::InvalidArgument("error: --to must be a date YYYY-MM-DD (got '" + to + "')"));
  const std::string from = from_.empty() ? FormatDateUtc(*to_ms - 29LL * 86400000) : from_;
  const auto from_ms = ParseDateUtcMs(from);
  if (!from_ms)
    return fail(
        Status::InvalidArgument("error: --from must be a date YYYY-MM-DD (got '" + from + "')"));
  if (*from_ms > *to_ms)
    return fail(Status::InvalidArgument("error: --from " + from + " is after --to " + to));

  auto storage = ledger::OpenLedger(url);
  if (!storage.ok()) return fail(storage.status());
  auto traffic =
      plan::ReadTraffic(*(*storage)->OpenReader(), *from_ms, *to_ms + 86400000, by_ == "requested");
  if (!traffic.ok()) return fail(traffic.status());
  auto advice = plan::Advise(*traffic, options, plan::BuiltinCatalog());
  if (!advice.ok()) return fail(advice.status());
  if (format_ == "json")
    std::cout << plan::RenderAdviceJson(*advice);
  else if (format_ == "md")
    std::cout << plan::RenderAdviceMarkdown(*advice);
  else
    std::cout << plan::RenderAdviceTable(*advice);
  return WriteSvg(plan::RenderAdviceSvg(*advice));
}

}  // namespace tollgate::cli
