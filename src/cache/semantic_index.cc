#include "cache/semantic_index.h"

// hnswlib 0.6's SSE path prefetches one element past the end of a full
// neighbour list (hnswalg.h, searchBaseLayer), a heap read out of bounds that
// AddressSanitizer reports. Without it, distances come from CosineSpace below,
// which is vectorised by hand instead.
#define NO_MANUAL_VECTORIZATION
#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <unordered_set>

namespace tollgate::cache {
namespace {

constexpr size_t kM = 16;                // graph degree: hnswlib's default
constexpr size_t kEfConstruction = 200;  // build-time beam: hnswlib's default
constexpr size_t kEfSearch = 64;         // query-time beam; recall ~1 at cache sizes

// Inner-product distance (1 - dot) over float vectors, 4 lanes x 4
// accumulators with GCC/Clang vector extensions (portable across ISAs).
class CosineSpace final : public hnswlib::SpaceInterface<float> {
 public:
  explicit CosineSpace(size_t dim) : dim_(dim) {}
  size_t get_data_size() override { return dim_ * sizeof(float); }
  hnswlib::DISTFUNC<float> get_dist_func() override { return &Distance; }
  void* get_dist_func_param() override { return &dim_; }

 private:
  typedef float V4 __attribute__((vector_size(16)));
  static float Distance(const void* a, const void* b, const void* param) {
    const float* x = static_cast<const float*>(a);
    const float* y = static_cast<const float*>(b);
    const size_t n = *static_cast<const size_t*>(param);
    V4 acc[4] = {};
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
      for (int k = 0; k < 4; ++k) {
        V4 vx, vy;
        std::memcpy(&vx, x + i + 4 * k, sizeof vx);  // unaligned loads
        std::memcpy(&vy, y + i + 4 * k, sizeof vy);
        acc[k] += vx * vy;
      }
    }
    const V4 sum = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    float dot = (sum[0] + sum[1]) + (sum[2] + sum[3]);
    for (; i < n; ++i) dot += x[i] * y[i];
    return 1.0f - dot;
  }
  size_t dim_;
};

bool Normalize(std::vector<float>* v) {
  double sum = 0;
  for (float x : *v) {
    if (!std::isfinite(x)) return false;
    sum += static_cast<double>(x) * x;
  }
  if (sum <= 0) return false;
  const float inv = static_cast<float>(1.0 / std::sqrt(sum));
  for (float& x : *v) x *= inv;
  return true;
}

}  // namespace

struct SemanticIndex::Graph {
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> hnsw;
  std::unordered_set<uint64_t> live;  // ids not marked deleted
  size_t capacity = 0;                // slots, deleted ones included
  size_t used = 0;                    // slots taken, deleted ones included
};

SemanticIndex::SemanticIndex(int dim, int64_t max_elements_per_scope, int64_t initial_capacity)
    : dim_(dim),
      max_elements_(std::max<int64_t>(1, max_elements_per_scope)),
      initial_capacity_(std::clamp<int64_t>(initial_capacity, 1, max_elements_)),
      space_(std::make_unique<CosineSpace>(static_cast<size_t>(dim))) {}

SemanticIndex::~SemanticIndex() = default;

int SemanticIndex::dim() const { return dim_; }

// Makes room for one more slot: compacts when deleted slots can be reclaimed
// (hnswlib 0.6 never reuses them), else doubles up to the limit.
Status SemanticIndex::GrowLocked(Graph* g) {
  const size_t live = g->live.size();
  if (g->used > live && live < static_cast<size_t>(max_elements_)) {
    const size_t cap = std::max<size_t>(g->capacity, std::min<size_t>(2 * live + 1, max_elements_));
    auto fresh =
        std::make_unique<hnswlib::HierarchicalNSW<float>>(space_.get(), cap, kM, kEfConstruction);
    fresh->setEf(kEfSearch);
    for (uint64_t id : g->live) {
      std::vector<float> v = g->hnsw->getDataByLabel<float>(id);
      fresh->addPoint(v.data(), id);
    }
    g->hnsw = std::move(fresh);
    g->capacity = cap;
    g->used = live;
    return Status::Ok();
  }
  if (g->capacity >= static_cast<size_t>(max_elements_))
    return Status::TooLarge("semantic index: scope holds its maximum of " +
                            std::to_string(max_elements_) + " vectors");
  const size_t cap = std::min<size_t>(2 * g->capacity, max_elements_);
  g->hnsw->resizeIndex(cap);
  g->capacity = cap;
  return Status::Ok();
}

Status SemanticIndex::Add(std::string_view scope, uint64_t id, std::vector<float> vec) {
  if (static_cast<int>(vec.size()) != dim_)
    return Status::InvalidArgument("semantic index: vector has " + std::to_string(vec.size()) +
                                   " dimensions, the index " + std::to_string(dim_));
  if (!Normalize(&vec)) return Status::InvalidArgument("semantic index: zero or non-finite vector");
  WriterLock lock(&mu_);
  try {
    auto it = graphs_.find(scope);
    if (it == graphs_.end()) {
      auto g = std::make_unique<Graph>();
      g->capacity = static_cast<size_t>(initial_capacity_);
      g->hnsw = std::make_unique<hnswlib::HierarchicalNSW<float>>(space_.get(), g->capacity, kM,
                                                                  kEfConstruction);
      g->hnsw->setEf(kEfSearch);
      it = graphs_.emplace(std::string(scope), std::move(g)).first;
    }
    Graph& g = *it->second;
    // A known id (live or deleted) is updated in its own slot.
    const bool known = g.hnsw->label_lookup_.count(id) > 0;
    if (!known && g.used >= g.capacity) TG_RETURN_IF_ERROR(GrowLocked(&g));
    g.hnsw->addPoint(vec.data(), id);
    if (!known) ++g.used;
    g.live.insert(id);
    return Status::Ok();
  } catch (const std::exception& e) {
    return Status::Internal(std::string("semantic index: ") + e.what());
  }
}

std::optional<std::pair<uint64_t, double>> SemanticIndex::Find(std::string_view scope,
                                                               const std::vector<float>& vec,
                                                               double threshold) const {
  if (static_cast<int>(vec.size()) != dim_) return std::nullopt;
  std::vector<float> q = vec;
  if (!Normalize(&q)) return std::nullopt;
  ReaderLock lock(&mu_);
  auto it = graphs_.find(scope);
  if (it == graphs_.end() || it->second->live.empty()) return std::nullopt;
  try {
    auto res = it->second->hnsw->searchKnn(q.data(), 1);
    if (res.empty()) return std::nullopt;
    const double cos = 1.0 - static_cast<double>(res.top().first);
    if (cos < threshold) return std::nullopt;
    return std::make_pair(static_cast<uint64_t>(res.top().second), cos);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

void SemanticIndex::Remove(std::string_view scope, uint64_t id) {
  WriterLock lock(&mu_);
  auto it = graphs_.find(scope);
  if (it == graphs_.end() || it->second->live.erase(id) == 0) return;
  try {
    it->second->hnsw->markDelete(id);
  } catch (const std::exception&) {
    // Only "label not found" / "already deleted", which `live` rules out.
  }
}

size_t SemanticIndex::Size(std::string_view scope) const {
  ReaderLock lock(&mu_);
  auto it = graphs_.find(scope);
  return it == graphs_.end() ? 0 : it->second->live.size();
}

size_t SemanticIndex::CapacityForTest(std::string_view scope) const {
  ReaderLock lock(&mu_);
  auto it = graphs_.find(scope);
  return it == graphs_.end() ? 0 : it->second->capacity;
}

}  // namespace tollgate::cache
