// `tollgate plan SCENARIO.yaml`: capacity and total cost of ownership of
// serving an open-weights model on GPUs (src/plan/), printed as a table, JSON
// or Markdown, with an SVG chart written to a file. A bad scenario exits 2
// with "file:line:col: error: ... (fix: ...)".
#pragma once

#include <CLI/CLI.hpp>

#include <optional>
#include <string>

namespace tollgate::cli {

class PlanCommand {
 public:
  explicit PlanCommand(CLI::App& app);
  // Runs if parsed; nullopt otherwise.
  std::optional<int> Run();

 private:
  CLI::App* cmd_ = nullptr;
  std::string scenario_;
  std::string format_ = "table";
  std::string svg_;
};

}  // namespace tollgate::cli
