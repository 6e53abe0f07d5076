#include "router/features.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <string>

namespace tollgate::router {
namespace {

constexpr uint32_t kFnvOffset = 2166136261u;
constexpr uint32_t kFnvPrime = 16777619u;

inline uint32_t Fnv(uint32_t h, std::string_view s) {
  for (unsigned char c : s) h = (h ^ c) * kFnvPrime;
  return h;
}
inline uint32_t Mix(uint32_t h, uint32_t v) {
  h ^= v + 0x9e3779b9u + (h << 6) + (h >> 2);
  return h;
}
inline uint32_t Bucket(uint32_t h) {
  // Final avalanche so nearby hashes spread over the table.
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  return kDenseFeatures + h % (kFeatureDim - kDenseFeatures);
}
inline bool IsWordByte(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c >= 0x80 || c == '_';
}

}  // namespace

Features ExtractFeatures(std::string_view prompt) {
  std::string text(prompt);
  size_t digits = 0, upper = 0, newlines = 0, questions = 0, punct = 0;
  for (char& ch : text) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c >= 'A' && c <= 'Z') {
      ++upper;
      ch = static_cast<char>(c + 32);
    } else if (c >= '0' && c <= '9') {
      ++digits;
    } else if (c == '\n') {
      ++newlines;
    } else if (c == '?') {
      ++questions;
    } else if (c < 0x80 && std::ispunct(c)) {
      ++punct;
    }
  }
  std::vector<uint32_t> keys;
  keys.reserve(text.size() * 2 + 16);
  // Word unigrams and bigrams.
  constexpr uint32_t kWordSeed = kFnvOffset, kBigramSeed = 0x2545F491u, kCharSeed = 0x9E3779B1u;
  uint32_t prev = 0;
  bool have_prev = false;
  size_t words = 0;
  for (size_t i = 0; i < text.size();) {
    if (!IsWordByte(static_cast<unsigned char>(text[i]))) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < text.size() && IsWordByte(static_cast<unsigned char>(text[j]))) ++j;
    const uint32_t w = Fnv(kWordSeed, std::string_view(text).substr(i, j - i));
    keys.push_back(Bucket(w));
    if (have_prev) keys.push_back(Bucket(Mix(Mix(kBigramSeed, prev), w)));
    prev = w;
    have_prev = true;
    ++words;
    i = j;
  }
  // Character 4-grams over the lowercased bytes, whitespace runs collapsed to one space.
  uint32_t window = 0;
  int filled = 0;
  char last = 0;
  for (char ch : text) {
    char c = (ch == '\n' || ch == '\t' || ch == '\r') ? ' ' : ch;
    if (c == ' ' && last == ' ') continue;
    last = c;
    window = (window << 8) | static_cast<unsigned char>(c);
    if (++filled >= 4) keys.push_back(Bucket(Mix(kCharSeed, window)));
  }
  std::sort(keys.begin(), keys.end());
  Features f;
  f.sparse.reserve(kDenseFeatures + keys.size());
  // Dense features first (indices below kDenseFeatures, so the result stays sorted).
  const double n = static_cast<double>(std::max<size_t>(text.size(), 1));
  auto has = [&](std::string_view needle) { return text.find(needle) != std::string::npos ? 1.0f : 0.0f; };
  const float dense[kDenseFeatures] = {
      static_cast<float>(std::log1p(static_cast<double>(text.size())) / 10.0),
      static_cast<float>(std::log1p(static_cast<double>(words)) / 8.0),
      static_cast<float>(digits / n),
      static_cast<float>(upper / n),
      static_cast<float>(punct / n),
      static_cast<float>(std::log1p(static_cast<double>(newlines)) / 5.0),
      static_cast<float>(std::log1p(static_cast<double>(questions)) / 3.0),
      has("def "),
      has("```"),
      std::max(has("write a python function"), has("write a function")),
      has("answer:"),
      has("import "),
      std::max(has("return "), has("returns ")),
      has("\na)"),
      0.0f,
      0.0f,
  };
  for (uint32_t d = 0; d < kDenseFeatures; ++d)
    if (dense[d] != 0.0f) f.sparse.emplace_back(d, dense[d]);
  const size_t first_hashed = f.sparse.size();
  double norm2 = 0;
  for (size_t i = 0; i < keys.size();) {
    size_t j = i;
    while (j < keys.size() && keys[j] == keys[i]) ++j;
    const float v = 1.0f + std::log(static_cast<float>(j - i));
    f.sparse.emplace_back(keys[i], v);
    norm2 += static_cast<double>(v) * v;
    i = j;
  }
  if (norm2 > 0) {
    const float inv = static_cast<float>(1.0 / std::sqrt(norm2));
    for (size_t i = first_hashed; i < f.sparse.size(); ++i) f.sparse[i].second *= inv;
  }
  return f;
}

}  // namespace tollgate::router
