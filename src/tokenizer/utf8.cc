#include "tokenizer/utf8.h"

#include <cstdint>
#include <cstring>

namespace tollgate::tokenizer {
namespace {

// Valid second-byte range for a lead byte (Unicode Table 3-7); the other
// continuation bytes are always 80..BF.
struct LeadInfo {
  int needed;  // continuation bytes; -1: not a lead byte
  uint8_t lower, upper;
};

LeadInfo Lead(uint8_t b) {
  if (b >= 0xC2 && b <= 0xDF) return {1, 0x80, 0xBF};
  if (b == 0xE0) return {2, 0xA0, 0xBF};
  if (b == 0xED) return {2, 0x80, 0x9F};
  if (b >= 0xE1 && b <= 0xEF) return {2, 0x80, 0xBF};
  if (b == 0xF0) return {3, 0x90, 0xBF};
  if (b == 0xF4) return {3, 0x80, 0x8F};
  if (b >= 0xF1 && b <= 0xF3) return {3, 0x80, 0xBF};
  return {-1, 0, 0};
}

// Length of the valid sequence at s[i], or 0 when it is invalid; in that case
// *consumed is the length of the maximal invalid subsequence (at least 1).
size_t SequenceAt(const uint8_t* s, size_t n, size_t i, size_t* consumed) {
  LeadInfo lead = Lead(s[i]);
  if (lead.needed < 0) {
    *consumed = 1;
    return 0;
  }
  size_t j = i + 1;
  for (int k = 0; k < lead.needed; ++k, ++j) {
    uint8_t lo = k == 0 ? lead.lower : 0x80;
    uint8_t hi = k == 0 ? lead.upper : 0xBF;
    if (j >= n || s[j] < lo || s[j] > hi) {
      *consumed = j - i;  // the lead and the continuation bytes that fit
      return 0;
    }
  }
  *consumed = j - i;
  return j - i;
}

}  // namespace

bool IsValidUtf8(std::string_view text) {
  const auto* s = reinterpret_cast<const uint8_t*>(text.data());
  size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    // ASCII fast path, eight bytes at a time.
    if (i + 8 <= n) {
      uint64_t word;
      std::memcpy(&word, s + i, 8);
      if ((word & 0x8080808080808080ull) == 0) {
        i += 8;
        continue;
      }
    }
    if (s[i] < 0x80) {
      ++i;
      continue;
    }
    size_t consumed;
    if (SequenceAt(s, n, i, &consumed) == 0) return false;
    i += consumed;
  }
  return true;
}

std::string RepairUtf8(std::string_view text) {
  const auto* s = reinterpret_cast<const uint8_t*>(text.data());
  size_t n = text.size();
  std::string out;
  out.reserve(n + n / 8);
  size_t i = 0;
  while (i < n) {
    if (s[i] < 0x80) {
      out.push_back(static_cast<char>(s[i++]));
      continue;
    }
    size_t consumed;
    if (SequenceAt(s, n, i, &consumed) == 0) {
      out.append("\xEF\xBF\xBD");
    } else {
      out.append(text.substr(i, consumed));
    }
    i += consumed;
  }
  return out;
}

}  // namespace tollgate::tokenizer
