// A model-free near-duplicate matcher for the semantic cache: texts are
// normalised (ASCII lowercase, every run of characters other than letters and
// digits -> one space; non-ASCII bytes count as letters), cut into word
// unigrams and bigrams (bigrams keep word order significant: "dog bites man"
// != "man bites dog"), and summarised by a MinHash signature whose agreement
// estimates the Jaccard similarity of the two feature sets. Lookup uses LSH
// banding (bands of 4 rows), so candidates with Jaccard >= 0.6 are found with
// probability >= 0.98 (1 - (1 - s^4)^(num_perm/4)); below that recall drops.
// It matches rewordings of the same words, not paraphrases (docs/EVALUATION.md).
// Thread-safe: a reader/writer lock guards the index.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/mutex.h"

namespace tollgate::cache {

// The normalised form of `text` described above.
std::string NormalizeForMatch(std::string_view text);

class MinHashIndex {
 public:
  // REQUIRES: num_perm >= 1. Signatures of indexes with different
  // (num_perm, seed) are not comparable.
  explicit MinHashIndex(int num_perm = 128, uint64_t seed = 42);

  // Adds `text` under `id` in `scope`, replacing an earlier text of that id.
  // A text with no words is not indexed.
  void Add(std::string_view scope, uint64_t id, std::string_view text);
  // The best match in `scope` with estimated Jaccard >= threshold, as (id,
  // similarity); the lower id wins a tie; nullopt if none.
  std::optional<std::pair<uint64_t, double>> Find(std::string_view scope, std::string_view text,
                                                  double threshold) const;
  // Removes `id` from `scope`; absent ids are ignored.
  void Remove(std::string_view scope, uint64_t id);
  // Entries in `scope`.
  size_t Size(std::string_view scope) const;

  // The estimated Jaccard similarity of two texts under the default
  // parameters (128 permutations, seed 42); 1 for two texts with no words.
  static double Similarity(std::string_view a, std::string_view b);
  // The signature of `text` (empty if it has no words); for tests and eval.
  std::vector<uint32_t> Signature(std::string_view text) const;

 private:
  struct Scope {
    std::unordered_map<uint64_t, std::vector<uint32_t>> signatures;
    std::vector<std::unordered_map<uint64_t, std::vector<uint64_t>>> bands;  // band hash -> ids
  };
  uint64_t BandHash(const std::vector<uint32_t>& sig, int band) const;
  double Agreement(const std::vector<uint32_t>& a, const std::vector<uint32_t>& b) const;
  void RemoveLocked(Scope* s, uint64_t id);

  const int num_perm_;
  const int rows_;  // per band
  const int bands_;
  std::vector<uint64_t> perm_seeds_;  // one per permutation

  mutable SharedMutex mu_;
  std::map<std::string, Scope, std::less<>> scopes_ GUARDED_BY(mu_);
};

}  // namespace tollgate::cache
