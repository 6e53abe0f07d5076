#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <queue>

#include "tokenizer/utf8.h"
#include "tokenizer/vocab_data.h"

namespace tollgate::tokenizer {
namespace {

// Pieces up to this many bytes merge in stack arrays with the quadratic
// algorithm (fastest for short pieces); longer ones use a heap.
constexpr size_t kSmallPiece = 128;

inline uint64_t Load64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
inline uint64_t Load32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline uint64_t Mix(uint64_t a, uint64_t b) {
  __uint128_t m = static_cast<__uint128_t>(a) * b;
  return static_cast<uint64_t>(m) ^ static_cast<uint64_t>(m >> 64);
}

// A wyhash-style hash: short keys (almost all lookups) cost two multiplies.
inline uint64_t HashBytes(const uint8_t* p, size_t n) {
  constexpr uint64_t k0 = 0xa0761d6478bd642full;
  constexpr uint64_t k1 = 0xe7037ed1a0b428dbull;
  uint64_t a;
  uint64_t b;
  uint64_t seed = k0;
  if (n <= 16) {
    if (n >= 4) {
      size_t off = (n >> 3) << 2;
      a = Load32(p) << 32 | Load32(p + off);
      b = Load32(p + n - 4) << 32 | Load32(p + n - 4 - off);
    } else {
      a = uint64_t{p[0]} << 16 | uint64_t{p[n >> 1]} << 8 | p[n - 1];  // n >= 1
      b = 0;
    }
  } else {
    size_t i = n;
    const uint8_t* q = p;
    while (i > 16) {
      seed = Mix(Load64(q) ^ k1, Load64(q + 8) ^ seed);
      q += 16;
      i -= 16;
    }
    a = Load64(p + n - 16);
    b = Load64(p + n - 8);
  }
  return Mix(k1 ^ n, Mix(a ^ k1, b ^ seed));
}

inline uint32_t Tag(uint64_t hash, size_t n) {
  return static_cast<uint32_t>(hash >> 40) << 8 | static_cast<uint32_t>(n);
}

}  // namespace

std::string_view EncodingName(Encoding encoding) {
  return encoding == Encoding::kO200kBase ? "o200k_base" : "cl100k_base";
}

std::optional<Encoding> ParseEncoding(std::string_view name) {
  if (name == "o200k_base") return Encoding::kO200kBase;
  if (name == "cl100k_base") return Encoding::kCl100kBase;
  return std::nullopt;
}

Result<std::unique_ptr<Tokenizer>> Tokenizer::Load(Encoding encoding) {
  std::string_view name = EncodingName(encoding);
  const internal::VocabData* vocab = internal::FindVocabData(name);
  if (vocab == nullptr) {
    return Status::Internal("tokenizer: no compiled-in vocabulary for " + std::string(name));
  }
  internal::Pattern pattern =
      encoding == Encoding::kO200kBase ? internal::Pattern::kO200k : internal::Pattern::kCl100k;
  if (vocab->pattern != internal::PatternSource(pattern)) {
    return Status::Internal("tokenizer: the " + std::string(name) +
                            " vocabulary was generated for a different pre-tokenization pattern");
  }
  auto pre = internal::PreTokenizer::Create(pattern);
  if (!pre.ok()) return pre.status();

  std::unique_ptr<Tokenizer> t(new Tokenizer());
  t->encoding_ = encoding;
  t->pre_ = std::move(pre).value();
  t->bytes_ = reinterpret_cast<const uint8_t*>(vocab->bytes.data());
  t->lengths_ = reinterpret_cast<const uint8_t*>(vocab->lengths.data());
  size_t count = vocab->lengths.size();
  t->offsets_.resize(count);
  size_t offset = 0;
  for (size_t r = 0; r < count; ++r) {
    t->offsets_[r] = static_cast<uint32_t>(offset);
    if (t->lengths_[r] == 0) return Status::Internal("tokenizer: empty token in vocabulary");
    offset += t->lengths_[r];
    t->max_token_length_ = std::max<size_t>(t->max_token_length_, t->lengths_[r]);
  }
  if (offset != vocab->bytes.size()) {
    return Status::Internal("tokenizer: vocabulary lengths and bytes disagree");
  }

  // Load factor below one half keeps probe sequences short.
  size_t capacity = 1;
  while (capacity < count * 2) capacity <<= 1;
  t->slots_.assign(capacity, Slot{0, 0});
  t->mask_ = capacity - 1;
  for (uint32_t r = 0; r < count; ++r) {
    const uint8_t* p = t->bytes_ + t->offsets_[r];
    size_t n = t->lengths_[r];
    if (t->Rank(p, n) != kNoRank) return Status::Internal("tokenizer: duplicate token");
    uint64_t h = HashBytes(p, n);
    uint64_t i = h & t->mask_;
    while (t->slots_[i].tag != 0) i = (i + 1) & t->mask_;
    t->slots_[i] = Slot{Tag(h, n), r};
  }
  for (int b = 0; b < 256; ++b) {
    uint8_t byte = static_cast<uint8_t>(b);
    t->byte_rank_[b] = t->Rank(&byte, 1);
    if (t->byte_rank_[b] == kNoRank) {
      return Status::Internal("tokenizer: vocabulary lacks a single-byte token");
    }
  }

  // "<text>\t<rank>\n" lines.
  std::string_view specials = vocab->specials;
  while (!specials.empty()) {
    size_t eol = specials.find('\n');
    std::string_view line = specials.substr(0, eol);
    specials = eol == std::string_view::npos ? std::string_view() : specials.substr(eol + 1);
    size_t tab = line.find('\t');
    if (tab == std::string_view::npos) return Status::Internal("tokenizer: bad special token");
    uint32_t id = 0;
    for (char c : line.substr(tab + 1)) id = id * 10 + static_cast<uint32_t>(c - '0');
    t->specials_.emplace_back(std::string(line.substr(0, tab)), id);
  }
  return t;
}

Result<const Tokenizer*> Tokenizer::Shared(Encoding encoding) {
  // Leaked on purpose: shared instances must outlive every thread that may
  // still be counting during shutdown.
  auto get = [](const Result<std::unique_ptr<Tokenizer>>& r) -> Result<const Tokenizer*> {
    if (!r.ok()) return r.status();
    return static_cast<const Tokenizer*>(r.value().get());
  };
  if (encoding == Encoding::kO200kBase) {
    static const auto* o200k = new Result<std::unique_ptr<Tokenizer>>(Load(encoding));
    return get(*o200k);
  }
  static const auto* cl100k = new Result<std::unique_ptr<Tokenizer>>(Load(encoding));
  return get(*cl100k);
}

inline uint32_t Tokenizer::Rank(const uint8_t* p, size_t n) const {
  if (n > max_token_length_) return kNoRank;
  uint64_t h = HashBytes(p, n);
  uint32_t tag = Tag(h, n);
  for (uint64_t i = h & mask_;; i = (i + 1) & mask_) {
    const Slot& slot = slots_[i];
    if (slot.tag == tag && std::memcmp(bytes_ + offsets_[slot.rank], p, n) == 0) return slot.rank;
    if (slot.tag == 0) return kNoRank;
  }
}

// tiktoken's merge: repeatedly merge the adjacent pair whose concatenation has
// the lowest rank, the leftmost on ties, until no pair is in the vocabulary.
template <typename Emit>
void Tokenizer::MergeSmall(const uint8_t* p, size_t n, Emit&& emit) const {
  uint32_t start[kSmallPiece + 1];  // start[i]: first byte of part i; start[m] == n
  uint32_t token[kSmallPiece];      // token[i]: rank of part i
  uint32_t pair[kSmallPiece];       // pair[i]: rank of parts i and i+1 merged
  size_t m = n;
  for (size_t i = 0; i < n; ++i) {
    start[i] = static_cast<uint32_t>(i);
    token[i] = byte_rank_[p[i]];
  }
  start[n] = static_cast<uint32_t>(n);
  for (size_t i = 0; i + 1 < n; ++i) pair[i] = Rank(p + i, 2);
  while (m > 1) {
    uint32_t best = kNoRank;
    size_t bi = 0;
    for (size_t i = 0; i + 1 < m; ++i) {
      if (pair[i] < best) {
        best = pair[i];
        bi = i;
      }
    }
    if (best == kNoRank) break;
    token[bi] = best;
    // Drop part bi+1 (now inside part bi) and the pair that started at it.
    std::memmove(start + bi + 1, start + bi + 2, (m - bi - 1) * sizeof(uint32_t));
    std::memmove(token + bi + 1, token + bi + 2, (m - bi - 2) * sizeof(uint32_t));
    if (m >= bi + 3) std::memmove(pair + bi + 1, pair + bi + 2, (m - bi - 3) * sizeof(uint32_t));
    --m;
    if (bi + 1 < m) pair[bi] = Rank(p + start[bi], start[bi + 2] - start[bi]);
    if (bi > 0) pair[bi - 1] = Rank(p + start[bi - 1], start[bi + 1] - start[bi - 1]);
  }
  for (size_t i = 0; i < m; ++i) emit(token[i]);
}

// The same merge order in O(n log n): a min-heap of (rank, start) finds the
// lowest-ranked, leftmost pair; parts form a linked list named by their first
// byte. A heap entry is stale once its part died or its pair rank changed
// (a part's pair only grows, so its rank never returns to an old value).
template <typename Emit>
void Tokenizer::MergeLarge(const uint8_t* p, size_t n, Emit&& emit) const {
  std::vector<uint32_t> next(n), prev(n), token(n), pair(n, kNoRank);
  std::vector<uint64_t> heap_storage;
  heap_storage.reserve(n);
  std::priority_queue<uint64_t, std::vector<uint64_t>, std::greater<>> heap(
      std::greater<>(), std::move(heap_storage));
  for (size_t i = 0; i < n; ++i) {
    next[i] = static_cast<uint32_t>(i + 1);
    prev[i] = static_cast<uint32_t>(i - 1);
    token[i] = byte_rank_[p[i]];
  }
  for (size_t i = 0; i + 1 < n; ++i) {
    pair[i] = Rank(p + i, 2);
    if (pair[i] != kNoRank) heap.push(uint64_t{pair[i]} << 32 | i);
  }
  while (!heap.empty()) {
    uint64_t top = heap.top();
    heap.pop();
    auto r = static_cast<uint32_t>(top >> 32);
    auto i = static_cast<uint32_t>(top);
    if (token[i] == kNoRank || pair[i] != r) continue;  // stale
    uint32_t j = next[i];
    token[i] = r;
    token[j] = kNoRank;
    next[i] = next[j];
    if (next[i] < n) prev[next[i]] = i;
    pair[i] = kNoRank;
    if (next[i] < n) {
      pair[i] = Rank(p + i, next[next[i]] - i);
      if (pair[i] != kNoRank) heap.push(uint64_t{pair[i]} << 32 | i);
    }
    if (i > 0) {
      uint32_t h = prev[i];
      pair[h] = Rank(p + h, next[i] - h);
      if (pair[h] != kNoRank) heap.push(uint64_t{pair[h]} << 32 | h);
    }
  }
  for (size_t i = 0; i < n; i = next[i]) emit(token[i]);
}

template <typename Emit>
inline void Tokenizer::EncodePiece(const uint8_t* p, size_t n, Emit&& emit) const {
  if (n == 1) {
    emit(byte_rank_[p[0]]);
    return;
  }
  uint32_t whole = Rank(p, n);
  if (whole != kNoRank) {
    emit(whole);
  } else if (n <= kSmallPiece) {
    MergeSmall(p, n, emit);
  } else {
    MergeLarge(p, n, emit);
  }
}

template <typename Emit>
void Tokenizer::EncodeValid(std::string_view text, Emit&& emit) const {
  pre_.Split(text, [&](const uint8_t* p, size_t n) { EncodePiece(p, n, emit); });
}

size_t Tokenizer::Count(std::string_view text) const {
  size_t count = 0;
  auto emit = [&count](uint32_t) { ++count; };
  if (IsValidUtf8(text)) {
    EncodeValid(text, emit);
  } else {
    EncodeValid(RepairUtf8(text), emit);
  }
  return count;
}

std::vector<uint32_t> Tokenizer::Encode(std::string_view text) const {
  std::vector<uint32_t> ids;
  ids.reserve(text.size() / 4 + 16);
  auto emit = [&ids](uint32_t id) { ids.push_back(id); };
  if (IsValidUtf8(text)) {
    EncodeValid(text, emit);
  } else {
    EncodeValid(RepairUtf8(text), emit);
  }
  return ids;
}

Result<std::string> Tokenizer::Decode(std::span<const uint32_t> ids) const {
  std::string out;
  for (uint32_t id : ids) {
    if (id < offsets_.size()) {
      out.append(reinterpret_cast<const char*>(bytes_ + offsets_[id]), lengths_[id]);
      continue;
    }
    auto it = std::find_if(specials_.begin(), specials_.end(),
                           [id](const auto& s) { return s.second == id; });
    if (it == specials_.end()) {
      return Status::InvalidArgument("token id " + std::to_string(id) + " is not in " +
                                     std::string(EncodingName(encoding_)));
    }
    out.append(it->first);
  }
  return out;
}

}  // namespace tollgate::tokenizer
