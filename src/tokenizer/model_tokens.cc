#include "tokenizer/model_tokens.h"

#include <cctype>
#include <cmath>
#include <string>

namespace tollgate::tokenizer {
namespace {

// Lowercase, without a "provider/" prefix ("openai/gpt-4o", "groq/llama-...").
std::string Normalize(std::string_view model) {
  size_t slash = model.rfind('/');
  if (slash != std::string_view::npos) model.remove_prefix(slash + 1);
  std::string out(model);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// "o1", "o3-mini", "o4-mini-2025-04-16": 'o', digits, then end or '-'.
bool IsOSeries(std::string_view m) {
  if (m.size() < 2 || m[0] != 'o' || !std::isdigit(static_cast<unsigned char>(m[1]))) return false;
  size_t i = 1;
  while (i < m.size() && std::isdigit(static_cast<unsigned char>(m[i]))) ++i;
  return i == m.size() || m[i] == '-';
}

// Estimates for vendors whose tokenizers are not public: count with an OpenAI
// encoding, scale by a factor. The reasoning for each factor is in
// src/tokenizer/README.md; the first matching prefix wins.
struct Estimate {
  std::string_view prefix;
  std::string_view family;
  Encoding encoding;
  double factor;
};
constexpr Estimate kEstimates[] = {
    {"claude", "anthropic", Encoding::kO200kBase, 1.20},
    {"gemini", "google", Encoding::kO200kBase, 1.00},
    {"gemma", "google", Encoding::kO200kBase, 1.00},
    {"llama-3", "meta", Encoding::kCl100kBase, 1.00},
    {"llama3", "meta", Encoding::kCl100kBase, 1.00},
    {"llama", "meta", Encoding::kO200kBase, 1.00},
    {"mistral", "mistral", Encoding::kO200kBase, 1.10},
    {"ministral", "mistral", Encoding::kO200kBase, 1.10},
    {"magistral", "mistral", Encoding::kO200kBase, 1.10},
    {"codestral", "mistral", Encoding::kO200kBase, 1.10},
    {"devstral", "mistral", Encoding::kO200kBase, 1.10},
    {"pixtral", "mistral", Encoding::kO200kBase, 1.10},
    {"deepseek", "deepseek", Encoding::kO200kBase, 1.10},
    {"qwen", "qwen", Encoding::kO200kBase, 1.10},
    {"grok", "xai", Encoding::kO200kBase, 1.00},
    {"kimi", "moonshot", Encoding::kO200kBase, 1.00},
};
constexpr Estimate kOther = {"", "other", Encoding::kO200kBase, 1.00};

}  // namespace

std::optional<Encoding> EncodingForModel(std::string_view model) {
  std::string m = Normalize(model);
  for (std::string_view p :
       {"gpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "gpt-oss", "gpt-realtime", "gpt-audio",
        "chatgpt-4o", "codex-mini", "computer-use", "omni-moderation"}) {
    if (StartsWith(m, p)) return Encoding::kO200kBase;
  }
  if (IsOSeries(m)) return Encoding::kO200kBase;
  for (std::string_view p :
       {"gpt-4", "gpt-3.5", "gpt-35", "text-embedding-3-", "text-embedding-ada-002"}) {
    if (StartsWith(m, p)) return Encoding::kCl100kBase;
  }
  return std::nullopt;
}

CountingMethod CountingMethodForModel(std::string_view model) {
  if (auto e = EncodingForModel(model)) return CountingMethod{*e, 1.0, true, "openai"};
  std::string m = Normalize(model);
  for (const Estimate& e : kEstimates) {
    if (StartsWith(m, e.prefix)) return CountingMethod{e.encoding, e.factor, false, e.family};
  }
  return CountingMethod{kOther.encoding, kOther.factor, false, kOther.family};
}

int64_t ScaleCount(size_t count, const CountingMethod& method) {
  if (method.exact || method.factor == 1.0) return static_cast<int64_t>(count);
  return static_cast<int64_t>(std::ceil(static_cast<double>(count) * method.factor));
}

Result<size_t> ModelTokenCounter::ForEncoding(Encoding encoding) {
  auto& slot = counts_[static_cast<size_t>(encoding)];
  if (!slot) {
    auto tok = Tokenizer::Shared(encoding);
    if (!tok.ok()) return tok.status();
    size_t n = static_cast<size_t>(framing_);
    for (std::string_view part : parts_) n += (*tok)->Count(part);
    slot = n;
  }
  return *slot;
}

Result<ModelTokenCount> ModelTokenCounter::ForModel(std::string_view model) {
  CountingMethod method = CountingMethodForModel(model);
  auto count = ForEncoding(method.encoding);
  if (!count.ok()) return count.status();
  return ModelTokenCount{ScaleCount(*count, method), method};
}

}  // namespace tollgate::tokenizer
