// Cosine k-NN over embedding vectors for the semantic cache: one hnswlib HNSW
// graph per scope (created on first Add), over L2-normalised vectors in an
// inner-product space, so 1 - distance is the cosine similarity. A graph
// starts small and doubles when full, up to max_elements_per_scope; removed
// ids are marked deleted and their slots reclaimed by compaction when full.
// The index lives in memory only (the gateway rebuilds it from the exact
// cache's stored embeddings). Thread-safe: a reader/writer lock; hnswlib
// exceptions are converted here.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/mutex.h"
#include "common/status.h"

namespace hnswlib {
template <typename T>
class HierarchicalNSW;
template <typename T>
class SpaceInterface;
}  // namespace hnswlib

namespace tollgate::cache {

class SemanticIndex {
 public:
  // REQUIRES: dim >= 1, max_elements_per_scope >= 1. Each scope's graph is
  // allocated with min(initial_capacity, max_elements_per_scope) slots.
  SemanticIndex(int dim, int64_t max_elements_per_scope = 100000, int64_t initial_capacity = 1024);
  ~SemanticIndex();

  // Adds (or replaces) `vec` under `id` in `scope`; the vector is
  // L2-normalised first. InvalidArgument on a wrong dimension or a zero or
  // non-finite vector; TooLarge when the scope holds max_elements_per_scope
  // live vectors; Internal if hnswlib fails (e.g. out of memory).
  Status Add(std::string_view scope, uint64_t id, std::vector<float> vec);
  // The nearest live vector in `scope` with cosine >= threshold, as (id,
  // cosine); nullopt if none, if the scope is empty, or on a wrong dimension.
  std::optional<std::pair<uint64_t, double>> Find(std::string_view scope,
                                                  const std::vector<float>& vec,
                                                  double threshold) const;
  // Marks `id` deleted in `scope`; absent ids are ignored.
  void Remove(std::string_view scope, uint64_t id);
  int dim() const;
  // Live vectors in `scope`, and its graph's current slot capacity.
  size_t Size(std::string_view scope) const;
  size_t CapacityForTest(std::string_view scope) const;

 private:
  struct Graph;
  Status GrowLocked(Graph* g);

  const int dim_;
  const int64_t max_elements_;
  const int64_t initial_capacity_;
  std::unique_ptr<hnswlib::SpaceInterface<float>>
      space_;  // 1 - dot; shared by every graph, immutable

  mutable SharedMutex mu_;
  std::map<std::string, std::unique_ptr<Graph>, std::less<>> graphs_ GUARDED_BY(mu_);
};

}  // namespace tollgate::cache
