#include "cache/minhash.h"

#include <algorithm>
#include <unordered_set>

namespace tollgate::cache {
namespace {

uint64_t SplitMix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

uint64_t Fnv1a(std::string_view s, uint64_t h = 0xCBF29CE484222325ull) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001B3ull;
  }
  return h;
}

// Hashes of the word unigrams and bigrams of the normalised text (a set).
std::vector<uint64_t> FeatureHashes(std::string_view text) {
  const std::string norm = NormalizeForMatch(text);
  std::vector<std::string_view> words;
  size_t pos = 0;
  while (pos < norm.size()) {
    size_t sp = norm.find(' ', pos);
    if (sp == std::string::npos) sp = norm.size();
    words.push_back(std::string_view(norm).substr(pos, sp - pos));
    pos = sp + 1;
  }
  std::vector<uint64_t> out;
  out.reserve(words.size() * 2);
  for (size_t i = 0; i < words.size(); ++i) {
    out.push_back(Fnv1a(words[i]));
    // A separator byte that normalised text never contains keeps bigrams apart from unigrams.
    if (i + 1 < words.size()) out.push_back(Fnv1a(words[i + 1], Fnv1a("\x01", Fnv1a(words[i]))));
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace

std::string NormalizeForMatch(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool space = false;
  for (unsigned char c : text) {
    const bool word =
        (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || c >= 0x80;
    if (!word) {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c));
  }
  return out;
}

MinHashIndex::MinHashIndex(int num_perm, uint64_t seed)
    : num_perm_(std::max(1, num_perm)),
      rows_(std::min(4, std::max(1, num_perm))),
      bands_(std::max(1, num_perm) / std::min(4, std::max(1, num_perm))) {
  uint64_t s = seed;
  perm_seeds_.reserve(num_perm_);
  for (int i = 0; i < num_perm_; ++i) perm_seeds_.push_back(s = SplitMix64(s));
}

std::vector<uint32_t> MinHashIndex::Signature(std::string_view text) const {
  const std::vector<uint64_t> features = FeatureHashes(text);
  if (features.empty()) return {};
  std::vector<uint32_t> sig(num_perm_, UINT32_MAX);
  for (int p = 0; p < num_perm_; ++p) {
    uint32_t m = UINT32_MAX;
    for (uint64_t f : features)
      m = std::min(m, static_cast<uint32_t>(SplitMix64(f ^ perm_seeds_[p]) >> 32));
    sig[p] = m;
  }
  return sig;
}

uint64_t MinHashIndex::BandHash(const std::vector<uint32_t>& sig, int band) const {
  uint64_t h = SplitMix64(static_cast<uint64_t>(band));
  for (int r = 0; r < rows_; ++r) h = SplitMix64(h ^ sig[band * rows_ + r]);
  return h;
}

double MinHashIndex::Agreement(const std::vector<uint32_t>& a,
                               const std::vector<uint32_t>& b) const {
  int same = 0;
  for (int i = 0; i < num_perm_; ++i) same += a[i] == b[i];
  return static_cast<double>(same) / num_perm_;
}

void MinHashIndex::RemoveLocked(Scope* s, uint64_t id) {
  auto it = s->signatures.find(id);
  if (it == s->signatures.end()) return;
  for (int b = 0; b < bands_; ++b) {
    auto bucket = s->bands[b].find(BandHash(it->second, b));
    if (bucket == s->bands[b].end()) continue;
    auto& ids = bucket->second;
    ids.erase(std::remove(ids.begin(), ids.end(), id), ids.end());
    if (ids.empty()) s->bands[b].erase(bucket);
  }
  s->signatures.erase(it);
}

void MinHashIndex::Add(std::string_view scope, uint64_t id, std::string_view text) {
  std::vector<uint32_t> sig = Signature(text);  // outside the lock: the expensive part
  WriterLock lock(&mu_);
  auto it = scopes_.find(scope);
  if (it == scopes_.end()) {
    if (sig.empty()) return;
    it = scopes_.emplace(std::string(scope), Scope{}).first;
    it->second.bands.resize(bands_);
  }
  Scope& s = it->second;
  RemoveLocked(&s, id);
  if (sig.empty()) return;
  for (int b = 0; b < bands_; ++b) s.bands[b][BandHash(sig, b)].push_back(id);
  s.signatures.emplace(id, std::move(sig));
}

std::optional<std::pair<uint64_t, double>> MinHashIndex::Find(std::string_view scope,
                                                              std::string_view text,
                                                              double threshold) const {
  const std::vector<uint32_t> sig = Signature(text);
  if (sig.empty()) return std::nullopt;
  ReaderLock lock(&mu_);
  auto it = scopes_.find(scope);
  if (it == scopes_.end()) return std::nullopt;
  const Scope& s = it->second;
  std::unordered_set<uint64_t> seen;
  std::optional<std::pair<uint64_t, double>> best;
  for (int b = 0; b < bands_; ++b) {
    auto bucket = s.bands[b].find(BandHash(sig, b));
    if (bucket == s.bands[b].end()) continue;
    for (uint64_t id : bucket->second) {
      if (!seen.insert(id).second) continue;
      const double sim = Agreement(sig, s.signatures.at(id));
      if (sim < threshold) continue;
      if (!best || sim > best->second || (sim == best->second && id < best->first))
        best.emplace(id, sim);
    }
  }
  return best;
}

void MinHashIndex::Remove(std::string_view scope, uint64_t id) {
  WriterLock lock(&mu_);
  auto it = scopes_.find(scope);
  if (it == scopes_.end()) return;
  RemoveLocked(&it->second, id);
  if (it->second.signatures.empty()) scopes_.erase(it);
}

size_t MinHashIndex::Size(std::string_view scope) const {
  ReaderLock lock(&mu_);
  auto it = scopes_.find(scope);
  return it == scopes_.end() ? 0 : it->second.signatures.size();
}

double MinHashIndex::Similarity(std::string_view a, std::string_view b) {
  static const MinHashIndex kDefault;
  const auto sa = kDefault.Signature(a), sb = kDefault.Signature(b);
  if (sa.empty() || sb.empty()) return sa.empty() && sb.empty() ? 1.0 : 0.0;
  return kDefault.Agreement(sa, sb);
}

}  // namespace tollgate::cache
