// `tollgate tokens FILE|-`: counts the tokens of a text or a request body and
// prints what that input costs on each priced model (exact counts for OpenAI
// encodings, documented estimates for other vendors: src/tokenizer/README.md).
#pragma once

#include <CLI/CLI.hpp>

#include <optional>
#include <string>
#include <vector>

namespace tollgate::cli {

class TokensCommand {
 public:
  explicit TokensCommand(CLI::App& app);
  // Runs if parsed; nullopt otherwise.
  std::optional<int> Run();

 private:
  CLI::App* cmd_ = nullptr;
  std::string file_;
  std::vector<std::string> models_;
  std::string format_ = "table";
  bool text_ = false;
};

}  // namespace tollgate::cli
