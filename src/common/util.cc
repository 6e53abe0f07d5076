#include "common/util.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <chrono>
#include <cstring>
#include <cstdio>
#include <ctime>
#include <random>

namespace tollgate {

int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t MonotonicUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string NewRequestId() {
  // 48 bits of wall-clock milliseconds, then 48 random bits: ids sort by time,
  // so the ledger's primary-key B-tree is appended to instead of written at a
  // random page per row (5x more rows/s, see docs/BENCHMARKS.md), and stay
  // unique across threads and replicas. A thread-local PRNG keeps this lock-free.
  thread_local std::mt19937_64 rng([] {
    uint64_t seed = 0;
    if (RAND_bytes(reinterpret_cast<unsigned char*>(&seed), sizeof seed) != 1) {
      seed = static_cast<uint64_t>(MonotonicUs());
    }
    return seed;
  }());
  static const char* kHex = "0123456789abcdef";
  char out[4 + 24];
  std::memcpy(out, "req_", 4);
  const uint64_t ms = static_cast<uint64_t>(NowUnixMs());
  const uint64_t r = rng();
  for (int i = 0; i < 12; ++i) out[4 + i] = kHex[(ms >> ((11 - i) * 4)) & 0xf];
  for (int i = 0; i < 12; ++i) out[16 + i] = kHex[(r >> (i * 4)) & 0xf];
  return std::string(out, sizeof out);
}

std::string Sha256Hex(std::string_view data) {
  // EVP_Digest allocates a context and looks the algorithm up on every call;
  // on the request path (key fingerprints, cache keys) each thread reuses one.
  struct Ctx {
    EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    ~Ctx() {
      EVP_MD_CTX_free(ctx);
      EVP_MD_free(md);
    }
  };
  thread_local Ctx t;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (t.md == nullptr || t.ctx == nullptr || EVP_DigestInit_ex(t.ctx, t.md, nullptr) != 1 ||
      EVP_DigestUpdate(t.ctx, data.data(), data.size()) != 1 || EVP_DigestFinal_ex(t.ctx, md, &len) != 1)
    EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 0xf]);
  }
  return out;
}

std::string FormatUsd(double usd) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.10f", usd);
  std::string s(buf);
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  if (s == "-0") s = "0";
  return s;
}

std::optional<int64_t> ParseDateUtcMs(std::string_view date) {
  int y = 0, m = 0, d = 0;
  std::string copy(date);
  char extra = 0;
  if (std::sscanf(copy.c_str(), "%4d-%2d-%2d%c", &y, &m, &d, &extra) != 3) return std::nullopt;
  if (m < 1 || m > 12 || d < 1 || d > 31 || y < 1970) return std::nullopt;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = m - 1;
  tm.tm_mday = d;
  time_t t = timegm(&tm);
  return static_cast<int64_t>(t) * 1000;
}

std::string FormatDateUtc(int64_t unix_ms) {
  time_t t = static_cast<time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
  return buf;
}

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

std::string ToValidUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t len = 0;
    uint32_t cp = 0;
    if (c < 0x80) len = 1, cp = c;
    else if (c >= 0xC2 && c <= 0xDF) len = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, cp = c & 0x07;
    bool ok = len > 0 && i + len <= s.size();
    for (size_t k = 1; ok && k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) ok = false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong 3- and 4-byte forms, UTF-16 surrogates, and past U+10FFFF.
    if (ok && ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
               (len == 4 && (cp < 0x10000 || cp > 0x10FFFF))))
      ok = false;
    if (ok) {
      out.append(s.data() + i, len);
      i += len;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

}  // namespace tollgate
