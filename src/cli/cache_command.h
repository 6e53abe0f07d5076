// `tollgate cache ...`: the response cache's offline tools.
//   cache eval-paraphrase  measures the semantic matchers (MinHash, and cosine
//                          over embeddings through SemanticIndex) on paraphrase
//                          pairs: hit and false-hit rates per threshold
//                          (docs/EVALUATION.md, "Semantic cache").
//   cache stats / clear    inspect or empty a cache file (docs/cache.md).
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

namespace tollgate::cli {

class CacheCommand {
 public:
  explicit CacheCommand(CLI::App& app);
  // Runs if parsed; nullopt otherwise. Returns the process exit code.
  std::optional<int> Run();

 private:
  int RunEval();
  int RunStats();
  int RunClear();

  CLI::App* cmd_ = nullptr;
  CLI::App* eval_ = nullptr;
  CLI::App* stats_ = nullptr;
  CLI::App* clear_ = nullptr;
  std::string data_;
  std::string embeddings_url_;
  std::string embeddings_model_;
  std::string embeddings_key_env_ = "TOLLGATE_EMBEDDINGS_API_KEY";
  std::string markdown_;
  std::string db_;
};

}  // namespace tollgate::cli
