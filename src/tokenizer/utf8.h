// UTF-8 validation and repair for the tokenizer. Tokenizers see arbitrary bytes
// (request bodies, files), so invalid UTF-8 is repaired the way node and
// browsers decode it (WHATWG Encoding Standard: each maximal invalid
// subsequence becomes U+FFFD), which is what js-tiktoken then tokenizes.
// Pure functions, thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace tollgate::tokenizer {

// True if `text` is well-formed UTF-8 (no overlongs, surrogates or code
// points above U+10FFFF).
bool IsValidUtf8(std::string_view text);

// `text` with every maximal invalid subsequence replaced by U+FFFD (EF BF BD),
// exactly as the WHATWG UTF-8 decoder does. Valid input comes back unchanged.
std::string RepairUtf8(std::string_view text);

}  // namespace tollgate::tokenizer
