// Raw tokenizer data compiled into the binary. The definitions live in a file
// generated at build time (scripts/gen_tokenizer_vocab.mjs, wired by
// cmake/tokenizer_vocab.cmake) from the pinned js-tiktoken npm package; the
// vocabularies are never checked in. Everything here is immutable static data,
// safe to read from any thread. Only tokenizer.cc and pretokenizer.cc use it.
#pragma once

#include <string_view>

namespace tollgate::tokenizer::internal {

// One BPE vocabulary, ranks dense from 0 to lengths.size() - 1.
struct VocabData {
  std::string_view name;      // "o200k_base"
  std::string_view pattern;   // js-tiktoken's pat_str, kept to check it at load
  std::string_view specials;  // "<text>\t<rank>\n" per special token
  std::string_view lengths;   // byte length of each rank's token, one byte per rank
  std::string_view bytes;     // every token's bytes, concatenated in rank order
};

// Per-code-point class bits (kClass* in pretokenizer.h) in a two-stage table:
// class(cp) = stage2[stage1[cp >> 8] * 256 + (cp & 0xff)], with stage1 holding
// 0x1100 little-endian uint16 block numbers.
struct UnicodeClassData {
  std::string_view stage1;
  std::string_view stage2;
  std::string_view unicode_version;  // of the node that generated the table
  std::string_view js_tiktoken_version;
};

// The vocabulary named `name`, or nullptr.
const VocabData* FindVocabData(std::string_view name);
const UnicodeClassData& GetUnicodeClassData();

}  // namespace tollgate::tokenizer::internal
