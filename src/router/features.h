// Hashed features of a prompt for the learned router (learned_router.h):
// word unigrams and bigrams, character 4-grams and a few dense features (length,
// digits, code markers). Computed on the request path: a 4 KB prompt takes tens
// of microseconds (docs/EVALUATION.md). Pure functions; thread-safe.
// Changing what is extracted changes every trained model: bump kFeatureVersion.
#pragma once

#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

namespace tollgate::router {

// Model files record these; a mismatch makes LearnedRouter::Load fail.
inline constexpr int kFeatureVersion = 1;
inline constexpr uint32_t kFeatureDim = 1u << 18;
// Indices [0, kDenseFeatures) hold the dense features; hashed ones use the rest.
inline constexpr uint32_t kDenseFeatures = 16;

struct Features {
  // Sorted by index, indices unique and < kFeatureDim. The hashed part has
  // unit L2 norm (sublinear term counts 1 + ln(count)); dense values are in ~[0, 1].
  std::vector<std::pair<uint32_t, float>> sparse;
};

// Deterministic: the same prompt always gives the same Features. Any bytes are
// accepted (non-ASCII bytes are treated as word characters).
Features ExtractFeatures(std::string_view prompt);

}  // namespace tollgate::router
