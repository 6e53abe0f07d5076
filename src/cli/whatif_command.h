// `tollgate whatif`: what another policy would have done.
//   --dataset: replays a routerbench-style dataset through the real gateway
//     (in-process, on loopback, with a temporary ledger) under the policy
//     config, whose models are served by the replay provider, and compares
//     cost and quality with always sending every prompt to a baseline model.
//   --ledger: re-prices an existing ledger's requests under the policy's
//     routes and deployments (what each request would have been sent to, at
//     the same token counts); quality is unknown there.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

namespace tollgate::cli {

class WhatifCommand {
 public:
  explicit WhatifCommand(CLI::App& app);
  std::optional<int> Run();

 private:
  int RunDataset();
  int RunLedger();

  CLI::App* cmd_ = nullptr;
  std::string config_;
  std::vector<std::string> datasets_;
  std::string ledger_;
  std::string model_;
  std::string baseline_;
  std::string from_, to_;
  int64_t limit_ = 0;
  bool json_ = false;
};

}  // namespace tollgate::cli
