// The replay provider: serves recorded answers from a routerbench-style
// dataset (prompt -> per-model answer, score and cost) as a chat completion,
// so a whole policy (routes, cascades, caches) can be evaluated offline through
// the real gateway. Built once at start-up; immutable and thread-safe after.
#pragma once

#include <rapidjson/document.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/status.h"
#include "router/routerbench.h"

namespace tollgate::providers {

struct ReplayAnswer {
  std::string text;
  double score = 0;     // the recorded quality of this answer (0..1)
  double cost_usd = 0;  // what the recorded call cost
};

class ReplayData {
 public:
  // Loads comma-separated CSV paths. Errors as router::LoadRouterBenchFiles.
  static Result<std::shared_ptr<const ReplayData>> Load(const std::string& comma_separated_paths);
  bool HasModel(std::string_view model) const { return data_.ModelIndex(model) >= 0; }
  // The recorded answer of `model` to `prompt` (compared with surrounding
  // whitespace trimmed), or nullopt if the dataset has no such prompt/model.
  std::optional<ReplayAnswer> Find(std::string_view prompt, std::string_view model) const;
  const router::Dataset& dataset() const { return data_; }

 private:
  router::Dataset data_;
  std::unordered_map<std::string, size_t> by_prompt_;  // trimmed prompt -> first sample
};

// The user prompt a replay lookup uses: the concatenated text of the request's
// user messages (chat or Anthropic messages), or the completions prompt.
std::string ReplayPromptOf(const rapidjson::Value& body);

// A chat.completion JSON body for `answer`.
std::string ReplayChatResponse(const std::string& id, const std::string& model,
                               const std::string& text, int64_t prompt_tokens,
                               int64_t completion_tokens);

}  // namespace tollgate::providers
