// `tollgate router train|eval`: trains the learned router on RouterBench
// outcome files and evaluates it, with cascades and baselines, on held-out
// files (docs/EVALUATION.md). Offline tools; the gateway only loads the model.
#pragma once

#include <CLI/CLI.hpp>

#include <optional>
#include <string>
#include <vector>

namespace tollgate::cli {

class RouterCommand {
 public:
  explicit RouterCommand(CLI::App& app);
  // Runs if `router train` or `router eval` was parsed; nullopt otherwise.
  // Exit codes: 0 ok, 1 runtime failure (I/O), 2 bad input or usage.
  std::optional<int> Run();

 private:
  int Train();
  int Eval();

  CLI::App* cmd_ = nullptr;
  CLI::App* train_ = nullptr;
  CLI::App* eval_ = nullptr;
  std::vector<std::string> datasets_;
  std::string out_;
  double strong_share_ = 0.5;
  std::string strong_model_;
  int epochs_ = 30;
  uint64_t seed_ = 1;
  std::string model_;
  std::string svg_dir_;
  std::string markdown_;
};

}  // namespace tollgate::cli
