#include "tokenizer/pretokenizer.h"

#include <cstring>
#include <string>

#include "tokenizer/vocab_data.h"

// How the patterns map to code. Write U = [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}],
// W = [\p{Ll}\p{Lm}\p{Lo}\p{M}], P = [^\r\n\p{L}\p{N}], O = [^\s\p{L}\p{N}]
// and C = the contraction group ('s|'S|'t|...|'d|'D). o200k_base is
//   1 P?U*W+C?  2 P?U+W*C?  3 \p{N}{1,3}  4 ' '?O+[\r\n/]*
//   5 \s*[\r\n]+  6 \s+(?!\S)  7 \s+
// and cl100k_base is
//   0 C  1 P?\p{L}+  3 \p{N}{1,3}  4 ' '?O+[\r\n]*  5, 6, 7 as above.
// A JS regex tries alternatives in order at the current position and takes
// the first that matches, each with backtracking; every code point starts a
// match of some alternative, so pieces tile the text. The functions below
// compute, for each alternative, the end the backtracking engine would reach:
//  - P? is greedy: first with the prefix, then without. Without it the first
//    code point must belong to the next class; P and U/W share only \p{M}.
//  - U*W+ : U* takes the longest U run [q, r). If the code point at r is in
//    W, W+ runs on from there. Otherwise U* gives back code points until W+
//    can match one: the match ends after the last W code point inside the
//    run, or fails if there is none.
//  - \s*[\r\n]+ ends after the last \r or \n of the whitespace run.
//  - \s+(?!\S) takes the whole run at the end of text, otherwise the run
//    minus its last code point (if that leaves at least one).

namespace tollgate::tokenizer::internal {
namespace {

constexpr size_t kFail = static_cast<size_t>(-1);

constexpr std::string_view kO200kPattern =
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+"
    "('s|'S|'t|'T|'re|'rE|'Re|'RE|'ve|'vE|'Ve|'VE|'m|'M|'ll|'lL|'Ll|'LL|'d|'D)?"
    "|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*"
    "('s|'S|'t|'T|'re|'rE|'Re|'RE|'ve|'vE|'Ve|'VE|'m|'M|'ll|'lL|'Ll|'LL|'d|'D)?"
    "|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

constexpr std::string_view kCl100kPattern =
    "('s|'S|'t|'T|'re|'rE|'Re|'RE|'ve|'vE|'Ve|'VE|'m|'M|'ll|'lL|'Ll|'LL|'d|'D)"
    "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
    "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

inline bool IsPrefix(uint8_t cls) {
  return (cls & (kClassLetter | kClassNumber | kClassNewline)) == 0;
}
inline bool IsOther(uint8_t cls) {
  return (cls & (kClassSpace | kClassLetter | kClassNumber)) == 0;
}

// End of the contraction C at `p`, or `p` when there is none. The group's
// alternatives all start with an ASCII apostrophe and differ in the next
// letter, so the first that fits is the only one.
inline size_t Contraction(const uint8_t* s, size_t n, size_t p) {
  if (p + 1 >= n || s[p] != '\'') return p;
  uint8_t c = s[p + 1] | 0x20;  // ASCII lower case; only letters are compared
  if (c == 's' || c == 't' || c == 'm' || c == 'd') return p + 2;
  if (p + 2 < n) {
    uint8_t c2 = s[p + 2] | 0x20;
    if ((c == 'r' && c2 == 'e') || (c == 'v' && c2 == 'e') || (c == 'l' && c2 == 'l')) {
      return p + 3;
    }
  }
  return p;
}

}  // namespace

std::string_view PatternSource(Pattern pattern) {
  return pattern == Pattern::kO200k ? kO200kPattern : kCl100kPattern;
}

Result<PreTokenizer> PreTokenizer::Create(Pattern pattern) {
  const UnicodeClassData& data = GetUnicodeClassData();
  if (data.stage1.size() != 0x1100 * 2 || data.stage2.empty() || data.stage2.size() % 256 != 0) {
    return Status::Internal("tokenizer: malformed Unicode class table (rebuild)");
  }
  PreTokenizer t;
  t.pattern_ = pattern;
  t.stage1_.resize(0x1100);
  size_t blocks = data.stage2.size() / 256;
  for (size_t i = 0; i < 0x1100; ++i) {
    uint16_t block = static_cast<uint16_t>(static_cast<uint8_t>(data.stage1[2 * i]) |
                                           static_cast<uint8_t>(data.stage1[2 * i + 1]) << 8);
    if (block >= blocks) return Status::Internal("tokenizer: bad Unicode class block number");
    t.stage1_[i] = block;
  }
  t.stage2_ = reinterpret_cast<const uint8_t*>(data.stage2.data());
  for (uint32_t c = 0; c < 128; ++c) {
    t.ascii_[c] = t.stage2_[t.stage1_[0] * 256 + c];
    if (c == '\r' || c == '\n') t.ascii_[c] |= kClassNewline;
  }
  // The generated table must agree with what this matcher assumes.
  if (t.ascii_['a'] != (kClassLetter | kClassLower) ||
      t.ascii_['A'] != (kClassLetter | kClassUpper) || t.ascii_['7'] != kClassNumber ||
      t.ascii_[' '] != kClassSpace || t.ascii_['\n'] != (kClassSpace | kClassNewline) ||
      t.ascii_['!'] != 0) {
    return Status::Internal("tokenizer: Unicode class table disagrees with the pre-tokenizer");
  }
  return t;
}

inline PreTokenizer::Char PreTokenizer::At(const uint8_t* s, size_t i) const {
  uint8_t b = s[i];
  if (b < 0x80) return {ascii_[b], 1};
  uint32_t cp;
  uint8_t len;
  if (b < 0xE0) {
    cp = (b & 0x1Fu) << 6 | (s[i + 1] & 0x3Fu);
    len = 2;
  } else if (b < 0xF0) {
    cp = (b & 0x0Fu) << 12 | (s[i + 1] & 0x3Fu) << 6 | (s[i + 2] & 0x3Fu);
    len = 3;
  } else {
    cp =
        (b & 0x07u) << 18 | (s[i + 1] & 0x3Fu) << 12 | (s[i + 2] & 0x3Fu) << 6 | (s[i + 3] & 0x3Fu);
    len = 4;
  }
  return {stage2_[stage1_[cp >> 8] * 256u + (cp & 0xFF)], len};
}

// U*W+ from q; kFail when it cannot match.
size_t PreTokenizer::Word1(const uint8_t* s, size_t n, size_t q) const {
  size_t r = q;
  size_t after_last_w = kFail;
  while (r < n) {
    Char c = At(s, r);
    if (!(c.cls & kClassUpper)) {
      if (c.cls & kClassLower) {  // W+ matches right after the U run
        r += c.len;
        while (r < n) {
          Char d = At(s, r);
          if (!(d.cls & kClassLower)) break;
          r += d.len;
        }
        return r;
      }
      break;
    }
    r += c.len;
    if (c.cls & kClassLower) after_last_w = r;
  }
  return after_last_w;  // U* backtracks to the last W inside the run
}

// U+W* from q; kFail when it cannot match.
size_t PreTokenizer::Word2(const uint8_t* s, size_t n, size_t q) const {
  size_t r = q;
  while (r < n) {
    Char c = At(s, r);
    if (!(c.cls & kClassUpper)) break;
    r += c.len;
  }
  if (r == q) return kFail;
  while (r < n) {
    Char c = At(s, r);
    if (!(c.cls & kClassLower)) break;
    r += c.len;
  }
  return r;
}

// \p{N}{1,3} at p. REQUIRES: the code point at p is in \p{N}.
size_t PreTokenizer::Numbers(const uint8_t* s, size_t n, size_t p) const {
  size_t r = p;
  for (int k = 0; k < 3 && r < n; ++k) {
    Char c = At(s, r);
    if (!(c.cls & kClassNumber)) break;
    r += c.len;
  }
  return r;
}

// ' '?O+ at p without the tail; kFail when it cannot match.
size_t PreTokenizer::Others(const uint8_t* s, size_t n, size_t p) const {
  size_t r = p;
  if (s[r] == ' ') ++r;
  size_t start = r;
  while (r < n) {
    Char c = At(s, r);
    if (!IsOther(c.cls)) break;
    r += c.len;
  }
  return r == start ? kFail : r;
}

// Alternatives 5-7. REQUIRES: the code point at p is in \s.
size_t PreTokenizer::Whitespace(const uint8_t* s, size_t n, size_t p) const {
  size_t r = p;
  size_t last_start = p;
  size_t after_last_newline = kFail;
  while (r < n) {
    Char c = At(s, r);
    if (!(c.cls & kClassSpace)) break;
    last_start = r;
    r += c.len;
    if (c.cls & kClassNewline) after_last_newline = r;
  }
  if (r == p) return p + At(s, p).len;  // unreachable with a consistent class table
  if (after_last_newline != kFail) return after_last_newline;  // \s*[\r\n]+
  if (r == n) return r;                                        // \s+(?!\S) at the end
  if (last_start > p) return last_start;                       // \s+(?!\S), one given back
  return r;                                                    // \s+
}

size_t PreTokenizer::NextO200k(const uint8_t* s, size_t n, size_t p) const {
  Char c0 = At(s, p);
  if (c0.cls & kClassLetter) {  // no prefix: a letter is not in P
    size_t e = Word1(s, n, p);
    if (e == kFail) e = Word2(s, n, p);  // cannot fail: c0 is in U or W
    return Contraction(s, n, e);
  }
  if (c0.cls & kClassNumber) return Numbers(s, n, p);
  if (IsPrefix(c0.cls)) {
    size_t q = p + c0.len;
    bool mark = (c0.cls & kClassUpper) != 0;  // only \p{M} is in both P and U/W
    size_t e = Word1(s, n, q);
    if (e == kFail && mark) e = Word1(s, n, p);
    if (e == kFail) e = Word2(s, n, q);
    if (e == kFail && mark) e = Word2(s, n, p);
    if (e != kFail) return Contraction(s, n, e);
    e = Others(s, n, p);
    if (e != kFail) {
      while (e < n && (s[e] == '\r' || s[e] == '\n' || s[e] == '/')) ++e;
      return e;
    }
  }
  return Whitespace(s, n, p);
}

size_t PreTokenizer::NextCl100k(const uint8_t* s, size_t n, size_t p) const {
  if (s[p] == '\'') {
    size_t e = Contraction(s, n, p);
    if (e != p) return e;
  }
  Char c0 = At(s, p);
  if (c0.cls & kClassLetter) {
    size_t r = p + c0.len;
    while (r < n) {
      Char c = At(s, r);
      if (!(c.cls & kClassLetter)) break;
      r += c.len;
    }
    return r;
  }
  if (c0.cls & kClassNumber) return Numbers(s, n, p);
  if (IsPrefix(c0.cls)) {
    size_t q = p + c0.len;
    size_t r = q;
    while (r < n) {
      Char c = At(s, r);
      if (!(c.cls & kClassLetter)) break;
      r += c.len;
    }
    if (r > q) return r;
    size_t e = Others(s, n, p);
    if (e != kFail) {
      while (e < n && (s[e] == '\r' || s[e] == '\n')) ++e;
      return e;
    }
  }
  return Whitespace(s, n, p);
}

}  // namespace tollgate::tokenizer::internal
