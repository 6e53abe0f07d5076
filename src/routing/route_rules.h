// Route rules of a routed (virtual) model: the first rule whose every
// condition holds names the model that serves the request. Compiled once from
// config (regexes included); Match is const and thread-safe.
#pragma once

#include <rapidjson/document.h>

#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace tollgate::routing {

// What rules look at, extracted once per request.
struct RequestFeatures {
  int64_t prompt_tokens = 0;  // o200k count of the prompt text
  std::vector<std::string> tags;
  bool has_tools = false;
  bool has_images = false;
  std::string prompt_text;  // every message's text, newline-joined
};

// Extracts features from an OpenAI chat/completions or Anthropic messages
// body; `tags_csv` is the request's comma-joined tags.
RequestFeatures ExtractFeatures(std::string_view raw_body, const rapidjson::Value& body,
                                std::string_view tags_csv);

class RouteRules {
 public:
  explicit RouteRules(const std::vector<config::RouteRule>& rules);
  // The first matching rule, or nullptr.
  const config::RouteRule* Match(const RequestFeatures& f) const;
  // "rule:NAME" (or "rule:#N" for an unnamed rule) for the route header.
  static std::string Describe(const config::RouteRule& r, size_t index);
  size_t IndexOf(const config::RouteRule* r) const {
    return static_cast<size_t>(r - rules_.data());
  }

 private:
  std::vector<config::RouteRule> rules_;
  std::vector<std::optional<std::regex>> regex_;  // per rule
};

}  // namespace tollgate::routing
