// `tollgate plan SCENARIO.yaml`: capacity and total cost of ownership of
// serving an open-weights model on GPUs (src/plan/), printed as a table, JSON
// or Markdown, with an SVG chart written to a file. A bad scenario exits 2
// with "file:line:col: error: ... (fix: ...)".
// `tollgate plan --from-ledger`: the same question from the traffic the ledger
// recorded (read through ledger::LedgerReader, any backend): per model, the
// fleet each candidate model × GPU needs for the observed peak, its cost
// rented and owned, and the break-even against the API bill.
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
  int RunFromLedger();
  // Writes `svg` to svg_ when asked; 1 when it cannot be written.
  int WriteSvg(const std::string& svg) const;

  CLI::App* cmd_ = nullptr;
  std::string scenario_;
  std::string format_ = "table";
  std::string svg_;
  bool from_ledger_ = false;
  std::string db_, config_, from_, to_, by_ = "served";
  double speed_ = 20;
};

}  // namespace tollgate::cli
