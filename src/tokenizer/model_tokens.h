// Which tokenizer counts a model's tokens: the exact encoding for OpenAI
// models, and a documented estimate (an OpenAI encoding's count times a
// per-family factor, src/tokenizer/README.md) for vendors whose tokenizers are
// not public. The tables are immutable; the free functions are thread-safe.
// A ModelTokenCounter caches counts for one text and is for one thread.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "tokenizer/tokenizer.h"

namespace tollgate::tokenizer {

// The encoding OpenAI uses for `model` (case-insensitive; a "provider/" prefix
// and date suffixes are ignored): o200k_base for gpt-4o, gpt-4.1, gpt-4.5,
// gpt-5*, gpt-oss, gpt-realtime and the o-series; cl100k_base for gpt-4,
// gpt-4-turbo, gpt-3.5 and the text-embedding-3 / ada-002 models; nullopt for
// anything else (other vendors, older OpenAI models).
std::optional<Encoding> EncodingForModel(std::string_view model);

// How to count `model`'s tokens.
struct CountingMethod {
  Encoding encoding = Encoding::kO200kBase;  // count with this encoding...
  double factor = 1.0;                       // ...and scale by this
  bool exact = false;                        // the model's own tokenizer
  std::string_view family;                   // "openai", "anthropic", ..., "other"
};
// Never fails: models with no known tokenizer get the "other" estimate.
CountingMethod CountingMethodForModel(std::string_view model);

// `count` tokens of method.encoding scaled to the model: ceil(count * factor),
// and exactly `count` when method.exact.
int64_t ScaleCount(size_t count, const CountingMethod& method);

// A model's token count for one text.
struct ModelTokenCount {
  int64_t tokens = 0;
  CountingMethod method;
};

// Counts one text (or the parts of a request, see request_text.h) for many
// models, tokenizing it at most once per encoding with the Shared()
// tokenizers. The text must outlive the counter.
class ModelTokenCounter {
 public:
  explicit ModelTokenCounter(std::string_view text) : parts_{text} {}
  // Each part is tokenized on its own; `framing_tokens` is added to every
  // count before scaling (message framing, see request_text.h).
  ModelTokenCounter(std::vector<std::string_view> parts, int64_t framing_tokens)
      : parts_(std::move(parts)), framing_(framing_tokens) {}

  // Errors: those of Tokenizer::Shared() (a build problem).
  Result<ModelTokenCount> ForModel(std::string_view model);
  // The unscaled count in `encoding`. Same errors.
  Result<size_t> ForEncoding(Encoding encoding);

 private:
  std::vector<std::string_view> parts_;
  int64_t framing_ = 0;
  std::array<std::optional<size_t>, 2> counts_;  // by Encoding
};

}  // namespace tollgate::tokenizer
