// BPE tokenizer for OpenAI's o200k_base and cl100k_base encodings, with token
// ids identical to js-tiktoken's encode(text, [], []) (special-token text is
// ordinary text). Vocabularies are compiled in at build time from the pinned
// js-tiktoken npm package (see README.md). A Tokenizer is immutable after
// Load(), so every method is const and safe to call from any number of
// threads at once; Shared() instances live until the process exits.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "tokenizer/pretokenizer.h"

namespace tollgate::tokenizer {

enum class Encoding { kO200kBase, kCl100kBase };

// "o200k_base" or "cl100k_base".
std::string_view EncodingName(Encoding encoding);
// The encoding named `name`, or nullopt.
std::optional<Encoding> ParseEncoding(std::string_view name);

class Tokenizer {
 public:
  // Builds a tokenizer from the compiled-in vocabulary (~10 ms, ~6 MiB).
  // Errors: Internal if the compiled-in data is malformed or was generated
  // for a different pre-tokenization pattern (a build problem).
  static Result<std::unique_ptr<Tokenizer>> Load(Encoding encoding);

  // A process-wide instance, built on first use and never destroyed, for
  // callers that do not want to own one. Same errors as Load().
  static Result<const Tokenizer*> Shared(Encoding encoding);

  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // Number of tokens in `text`; equals Encode(text).size() but allocates
  // nothing for typical input. Invalid UTF-8 is first repaired to U+FFFD as
  // node would decode it (utf8.h). Never fails.
  size_t Count(std::string_view text) const;

  // The token ids of `text`, as js-tiktoken's encode(text, [], []).
  std::vector<uint32_t> Encode(std::string_view text) const;

  // The bytes of `ids` concatenated (special-token ids give their text).
  // Errors: InvalidArgument naming the first id not in the vocabulary.
  Result<std::string> Decode(std::span<const uint32_t> ids) const;

  Encoding encoding() const { return encoding_; }
  // Number of ordinary (mergeable) tokens: ids 0..vocab_size()-1.
  size_t vocab_size() const { return tokens_.size(); }
  // Longest ordinary token, in bytes.
  size_t max_token_length() const { return max_token_length_; }
  // The special tokens of the encoding as (text, id); Encode() never emits them.
  const std::vector<std::pair<std::string, uint32_t>>& special_tokens() const { return specials_; }

 private:
  static constexpr uint32_t kNoRank = 0xFFFFFFFFu;

  Tokenizer() = default;

  // A key prepared for lookup: hashing is split from probing so that a
  // lookup can be prefetched long before it is made.
  struct Probe {
    uint64_t head;  // the first 8 key bytes, zero padded
    uint64_t hash;
  };
  Probe Prepare(const uint8_t* p, size_t n) const;
  // Rank of the byte string, or kNoRank. REQUIRES: probe == Prepare(p, n).
  uint32_t Find(const Probe& probe, const uint8_t* p, size_t n) const;
  // Starts loading the key Find(probe, ...) will most likely compare.
  void PrefetchKey(const Probe& probe) const;
  uint32_t Rank(const uint8_t* p, size_t n) const { return Find(Prepare(p, n), p, n); }
  // Rank of the two bytes at p, or kNoRank.
  uint32_t PairRank(const uint8_t* p) const { return pair_rank_[p[0] | p[1] << 8]; }

  // Calls emit(rank) for each token of one pre-tokenized piece.
  template <typename Emit>
  void EncodePiece(const Probe& probe, const uint8_t* p, size_t n, Emit&& emit) const;
  template <typename Emit>
  void MergeSmall(const uint8_t* p, size_t n, Emit&& emit) const;
  template <typename Emit>
  void MergeHeap(const uint8_t* p, size_t n, Emit&& emit) const;
  template <typename Emit>
  void EncodeValid(std::string_view text, Emit&& emit) const;

  // Token bytes -> rank: open addressing with linear probing over 32-bit
  // entries (rank + 1 in the low 18 bits, 14 hash bits above; 0 is empty),
  // kept small (2 MiB for o200k_base) so that it mostly stays in cache: a
  // miss, common while merging, usually reads only the index. A hit then
  // checks the key in tokens_, which is in rank order, so the frequent low
  // ranks share cache lines. Lookups are slowed by cache misses far more than
  // by instructions, hence the prefetching in tokenizer.cc.
  struct Token {
    uint64_t head;    // the first 8 bytes, zero padded: most tokens fit whole
    uint32_t offset;  // in bytes_
    uint32_t length;
  };

  Encoding encoding_ = Encoding::kO200kBase;
  internal::PreTokenizer pre_;
  const uint8_t* bytes_ = nullptr;  // compiled-in token bytes, rank order
  std::vector<Token> tokens_;       // rank -> bytes
  std::vector<uint32_t> index_;
  uint64_t mask_ = 0;
  size_t max_token_length_ = 0;
  uint32_t byte_rank_[256] = {};
  std::vector<uint32_t> pair_rank_;  // two-byte strings, indexed p[0] | p[1] << 8
  std::vector<std::pair<std::string, uint32_t>> specials_;
};

}  // namespace tollgate::tokenizer
