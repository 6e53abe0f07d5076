// Budget-aware prompting (TALE-EP style): adds a token-budget hint to the
// system prompt and/or clamps max_tokens, and measures the output tokens it
// saves against a control group of requests left unchanged (a share drawn at
// random). BudgetHints is shared by every worker; its state is mutex-guarded.
#pragma once

#include <rapidjson/document.h>

#include <string>
#include <unordered_map>

#include "common/mutex.h"
#include "config/config.h"
#include "providers/adapter.h"

namespace tollgate::routing {

struct HintDecision {
  bool control = false;  // left unchanged, to measure the baseline
  bool hinted = false;
  bool clamped = false;
};

// Applies `cfg` to `body` (an OpenAI chat/completions or Anthropic messages
// request) unless `random01` < cfg.control_share. Other APIs are left alone.
HintDecision ApplyBudgetHint(const config::BudgetHintConfig& cfg, providers::Api api,
                             rapidjson::Document& body, double random01);

class BudgetHints {
 public:
  // A control request's output tokens for `model`.
  void RecordControl(const std::string& model, int64_t output_tokens);
  // Output tokens saved by a treated request: the control mean minus its
  // output, floored at 0; 0 until a control request was seen.
  int64_t Saved(const std::string& model, int64_t output_tokens) const;

 private:
  struct Mean {
    double sum = 0;
    int64_t n = 0;
  };
  mutable Mutex mu_;
  std::unordered_map<std::string, Mean> control_ GUARDED_BY(mu_);
};

}  // namespace tollgate::routing
