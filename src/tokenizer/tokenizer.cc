#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <cstring>
#include <functional>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "tokenizer/utf8.h"
#include "tokenizer/vocab_data.h"

namespace tollgate::tokenizer {
namespace {

// Pieces up to kSmallPiece bytes merge with tiktoken's quadratic algorithm
// (fastest for short pieces), longer ones with a heap; scratch space is on
// the stack up to kStackPiece bytes.
constexpr size_t kSmallPiece = 32;
constexpr size_t kStackPiece = 256;

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

// The first min(n, 8) bytes of a key as a little-endian word, zero padded,
// without reading past p + n. REQUIRES: n >= 1.
inline uint64_t Head(const uint8_t* p, size_t n) {
  if (n >= 8) return Load64(p);
  if (n >= 4) return Load32(p) | Load32(p + n - 4) << ((n - 4) * 8);
  return uint64_t{p[0]} | uint64_t{p[n >> 1]} << ((n >> 1) * 8) |
         uint64_t{p[n - 1]} << ((n - 1) * 8);
}

// A wyhash-style hash; keys of up to 8 bytes (almost all lookups) cost two
// multiplies. REQUIRES: n >= 1 and head == Head(p, n).
inline uint64_t HashKey(uint64_t head, const uint8_t* p, size_t n) {
  constexpr uint64_t k0 = 0xa0761d6478bd642full;
  constexpr uint64_t k1 = 0xe7037ed1a0b428dbull;
  if (n <= 8) return Mix(head ^ k1, k0 ^ n);
  uint64_t seed = k0;
  size_t i = n;
  const uint8_t* q = p;
  while (i > 16) {
    seed = Mix(Load64(q) ^ k1, Load64(q + 8) ^ seed);
    q += 16;
    i -= 16;
  }
  const uint8_t* first = n >= 16 ? p + n - 16 : p;
  return Mix(k1 ^ n, Mix(Load64(first) ^ k1, Load64(p + n - 8) ^ seed));
}

// An index entry holds rank + 1 in its low kRankBits and hash bits above.
constexpr int kRankBits = 18;
constexpr uint32_t kRankMask = (uint32_t{1} << kRankBits) - 1;
inline uint32_t IndexTag(uint64_t hash) {
  return static_cast<uint32_t>(hash >> (64 - (32 - kRankBits))) << kRankBits;
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
  const auto* lengths = reinterpret_cast<const uint8_t*>(vocab->lengths.data());
  size_t count = vocab->lengths.size();
  if (count + 1 > kRankMask) return Status::Internal("tokenizer: vocabulary too large");
  t->tokens_.resize(count);
  size_t offset = 0;
  for (size_t r = 0; r < count; ++r) {
    size_t n = lengths[r];
    if (n == 0) return Status::Internal("tokenizer: empty token in vocabulary");
    if (offset + n > vocab->bytes.size()) break;
    t->tokens_[r] =
        Token{Head(t->bytes_ + offset, n), static_cast<uint32_t>(offset), static_cast<uint32_t>(n)};
    offset += n;
    t->max_token_length_ = std::max(t->max_token_length_, n);
  }
  if (offset != vocab->bytes.size()) {
    return Status::Internal("tokenizer: vocabulary lengths and bytes disagree");
  }

  // Load factor at most 1/2: probe sequences stay within a cache line or
  // two, and the index (2 MiB for o200k_base) mostly stays in cache.
  size_t capacity = 1;
  while (capacity < 2 * count) capacity <<= 1;
  t->index_.assign(capacity, 0);
  t->mask_ = capacity - 1;
  for (uint32_t r = 0; r < count; ++r) {
    const uint8_t* p = t->bytes_ + t->tokens_[r].offset;
    size_t n = t->tokens_[r].length;
    Probe probe = t->Prepare(p, n);
    if (t->Find(probe, p, n) != kNoRank) return Status::Internal("tokenizer: duplicate token");
    uint64_t i = probe.hash & t->mask_;
    while (t->index_[i] != 0) i = (i + 1) & t->mask_;
    t->index_[i] = IndexTag(probe.hash) | (r + 1);
  }
  for (int b = 0; b < 256; ++b) {
    uint8_t byte = static_cast<uint8_t>(b);
    t->byte_rank_[b] = t->Rank(&byte, 1);
    if (t->byte_rank_[b] == kNoRank) {
      return Status::Internal("tokenizer: vocabulary lacks a single-byte token");
    }
  }
  t->pair_rank_.resize(65536);
  for (int b = 0; b < 65536; ++b) {
    uint8_t pair[2] = {static_cast<uint8_t>(b), static_cast<uint8_t>(b >> 8)};
    t->pair_rank_[b] = t->Rank(pair, 2);
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

inline Tokenizer::Probe Tokenizer::Prepare(const uint8_t* p, size_t n) const {
  uint64_t head = Head(p, n);
  return Probe{head, HashKey(head, p, n)};
}

inline uint32_t Tokenizer::Find(const Probe& probe, const uint8_t* p, size_t n) const {
  if (n > max_token_length_) return kNoRank;
  uint32_t tag = IndexTag(probe.hash);
  for (uint64_t i = probe.hash & mask_;; i = (i + 1) & mask_) {
    uint32_t entry = index_[i];
    if (entry == 0) return kNoRank;
    if ((entry & ~kRankMask) != tag) continue;
    uint32_t rank = (entry & kRankMask) - 1;
    const Token& token = tokens_[rank];
    if (token.head == probe.head && token.length == n &&
        (n <= 8 || std::memcmp(bytes_ + token.offset + 8, p + 8, n - 8) == 0)) {
      return rank;
    }
  }
}

inline void Tokenizer::PrefetchKey(const Probe& probe) const {
  uint32_t tag = IndexTag(probe.hash);
  for (uint64_t i = probe.hash & mask_;; i = (i + 1) & mask_) {
    uint32_t entry = index_[i];
    if (entry == 0) return;
    if ((entry & ~kRankMask) == tag) {
      __builtin_prefetch(&tokens_[(entry & kRankMask) - 1]);
      return;
    }
  }
}

// tiktoken's merge: repeatedly merge the adjacent pair whose concatenation has
// the lowest rank, the leftmost on ties, until no pair is in the vocabulary.
// Pair ranks are kept as int32 (kNoPair when absent) padded to whole SSE2
// vectors, so finding the lowest takes a few vector compares.
template <typename Emit>
void Tokenizer::MergeSmall(const uint8_t* p, size_t n, Emit&& emit) const {
  constexpr int32_t kNoPair = INT32_MAX;
  auto as_pair = [](uint32_t rank) {  // kNoRank -> kNoPair; ranks are < 2^31
    return static_cast<int32_t>(std::min<uint32_t>(rank, kNoPair));
  };
  uint32_t start[kSmallPiece + 1];            // start[i]: first byte of part i; start[m] == n
  uint32_t token[kSmallPiece];                // token[i]: rank of part i
  alignas(16) int32_t pair[kSmallPiece + 4];  // pair[i]: parts i and i+1 merged
  size_t m = n;
  for (size_t i = 0; i < n; ++i) {
    start[i] = static_cast<uint32_t>(i);
    token[i] = byte_rank_[p[i]];
  }
  start[n] = static_cast<uint32_t>(n);
  for (size_t i = 0; i + 1 < n; ++i) pair[i] = as_pair(PairRank(p + i));
  // Vector reads go at most to pair[n + 1]; the shift reads pair[n].
  for (size_t i = n - 1; i < n + 3; ++i) pair[i] = kNoPair;
  // The first merges make parts of two bytes, and the lookups after them are
  // mostly of three-byte windows: start fetching those index lines now.
  for (size_t i = 0; i + 3 <= n; ++i) {
    __builtin_prefetch(&index_[Prepare(p + i, 3).hash & mask_]);
  }
  while (m > 1) {
    // The lowest pair rank, then its leftmost position.
    size_t bi = 0;
    int32_t best;
#if defined(__SSE2__)
    __m128i lo = _mm_set1_epi32(kNoPair);
    for (size_t i = 0; i + 1 < m; i += 4) {
      __m128i v = _mm_load_si128(reinterpret_cast<const __m128i*>(pair + i));
      __m128i lt = _mm_cmplt_epi32(v, lo);
      lo = _mm_or_si128(_mm_and_si128(lt, v), _mm_andnot_si128(lt, lo));
    }
    __m128i v = _mm_shuffle_epi32(lo, 0x4E);  // fold lanes: swap halves...
    __m128i lt = _mm_cmplt_epi32(v, lo);
    lo = _mm_or_si128(_mm_and_si128(lt, v), _mm_andnot_si128(lt, lo));
    v = _mm_shuffle_epi32(lo, 0xB1);  // ...then neighbours: every lane holds the minimum
    lt = _mm_cmplt_epi32(v, lo);
    lo = _mm_or_si128(_mm_and_si128(lt, v), _mm_andnot_si128(lt, lo));
    best = _mm_cvtsi128_si32(lo);
    if (best == kNoPair) break;
    for (size_t i = 0;; i += 4) {
      __m128i eq = _mm_cmpeq_epi32(_mm_load_si128(reinterpret_cast<const __m128i*>(pair + i)), lo);
      int mask = _mm_movemask_ps(_mm_castsi128_ps(eq));
      if (mask != 0) {
        bi = i + static_cast<size_t>(__builtin_ctz(static_cast<unsigned>(mask)));
        break;
      }
    }
#else
    best = kNoPair;
    for (size_t i = 0; i + 1 < m; ++i) {
      if (pair[i] < best) {
        best = pair[i];
        bi = i;
      }
    }
    if (best == kNoPair) break;
#endif
    token[bi] = static_cast<uint32_t>(best);
    // Drop part bi+1 (now inside part bi) and the pair that started at it;
    // pair[m-1] (kNoPair) shifts down with the rest.
    for (size_t i = bi + 1; i < m; ++i) {
      start[i] = start[i + 1];
      pair[i] = pair[i + 1];
    }
    for (size_t i = bi + 1; i + 1 < m; ++i) token[i] = token[i + 1];
    --m;
    if (bi + 1 < m)
      pair[bi] = as_pair(Rank(p + start[bi], start[bi + 2] - start[bi]));
    else
      pair[bi] = kNoPair;
    if (bi > 0) pair[bi - 1] = as_pair(Rank(p + start[bi - 1], start[bi + 1] - start[bi - 1]));
  }
  for (size_t i = 0; i < m; ++i) emit(token[i]);
}

// The same merge order in O(n log n), for longer pieces: a min-heap of
// (rank << 32 | start) finds the lowest-ranked, leftmost pair; parts form a
// linked list named by their first byte. A heap entry is stale once its part
// died or its pair rank changed (a part's pair only grows, so its rank never
// returns to an old value). Each merge pushes at most two entries, so the
// heap never holds more than 3n.
template <typename Emit>
void Tokenizer::MergeHeap(const uint8_t* p, size_t n, Emit&& emit) const {
  uint32_t stack_parts[4 * kStackPiece];
  uint64_t stack_heap[3 * kStackPiece];
  std::vector<uint32_t> heap_parts;
  std::vector<uint64_t> heap_heap;
  uint32_t* parts = stack_parts;
  uint64_t* heap = stack_heap;
  if (n > kStackPiece) {
    heap_parts.resize(4 * n);
    heap_heap.resize(3 * n);
    parts = heap_parts.data();
    heap = heap_heap.data();
  }
  uint32_t* next = parts;      // next[i]: start of the part after part i
  uint32_t* prev = parts + n;  // prev[i]: start of the part before part i
  uint32_t* token = prev + n;  // token[i]: rank of part i; kNoRank once merged away
  uint32_t* pair = token + n;  // pair[i]: rank of part i merged with the next
  size_t size = 0;
  for (size_t i = 0; i < n; ++i) {
    next[i] = static_cast<uint32_t>(i + 1);
    prev[i] = static_cast<uint32_t>(i - 1);
    token[i] = byte_rank_[p[i]];
    pair[i] = i + 1 < n ? PairRank(p + i) : kNoRank;
    if (pair[i] != kNoRank) heap[size++] = uint64_t{pair[i]} << 32 | i;
  }
  const std::greater<uint64_t> later;
  std::make_heap(heap, heap + size, later);
  auto push = [&](uint32_t rank, uint32_t i) {
    heap[size++] = uint64_t{rank} << 32 | i;
    std::push_heap(heap, heap + size, later);
  };
  while (size > 0) {
    std::pop_heap(heap, heap + size, later);
    uint64_t top = heap[--size];
    auto r = static_cast<uint32_t>(top >> 32);
    auto i = static_cast<uint32_t>(top);
    if (token[i] == kNoRank || pair[i] != r) continue;  // stale
    uint32_t j = next[i];
    token[i] = r;
    token[j] = kNoRank;
    next[i] = next[j];
    pair[i] = kNoRank;
    if (next[i] < n) {
      prev[next[i]] = i;
      pair[i] = Rank(p + i, next[next[i]] - i);
      if (pair[i] != kNoRank) push(pair[i], i);
    }
    if (i > 0) {
      uint32_t h = prev[i];
      pair[h] = Rank(p + h, next[i] - h);
      if (pair[h] != kNoRank) push(pair[h], h);
    }
  }
  for (size_t i = 0; i < n; i = next[i]) emit(token[i]);
}

template <typename Emit>
inline void Tokenizer::EncodePiece(const Probe& probe, const uint8_t* p, size_t n,
                                   Emit&& emit) const {
  if (n == 1) {
    emit(byte_rank_[p[0]]);
    return;
  }
  uint32_t whole = Find(probe, p, n);
  if (whole != kNoRank) {
    emit(whole);
  } else if (n <= kSmallPiece) {
    MergeSmall(p, n, emit);
  } else {
    MergeHeap(p, n, emit);
  }
}

// Pieces are encoded kLookahead behind the pre-tokenizer, so that the cache
// misses of their whole-piece lookups overlap: for text with a varied
// vocabulary most lookups miss. A piece's index line is prefetched when it is
// found, and halfway through the ring the key of its first candidate slot.
template <typename Emit>
void Tokenizer::EncodeValid(std::string_view text, Emit&& emit) const {
  constexpr size_t kLookahead = 16;  // a power of two
  struct Pending {
    const uint8_t* p;
    size_t n;
    Probe probe;
  };
  Pending ring[kLookahead];
  size_t head = 0;
  size_t tail = 0;
  pre_.Split(text, [&](const uint8_t* p, size_t n) {
    if (head - tail == kLookahead) {
      const Pending& q = ring[tail++ % kLookahead];
      EncodePiece(q.probe, q.p, q.n, emit);
    }
    if (head - tail >= kLookahead / 2)
      PrefetchKey(ring[(head - kLookahead / 2) % kLookahead].probe);
    // A piece longer than any token is never looked up: do not hash it.
    Probe probe = n <= max_token_length_ ? Prepare(p, n) : Probe{0, 0};
    __builtin_prefetch(&index_[probe.hash & mask_]);
    ring[head++ % kLookahead] = Pending{p, n, probe};
  });
  while (tail != head) {
    const Pending& q = ring[tail++ % kLookahead];
    EncodePiece(q.probe, q.p, q.n, emit);
  }
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
  ids.reserve(text.size() / 3 + 16);  // about 4 bytes a token in English, fewer elsewhere
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
    if (id < tokens_.size()) {
      out.append(reinterpret_cast<const char*>(bytes_ + tokens_[id].offset), tokens_[id].length);
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
