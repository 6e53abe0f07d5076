// Per-minute rate limits (requests, tokens, dollars) per key and per model, in
// fixed one-minute windows, in this process's memory: the rate half of the
// in-process LocalCounterStore (counters.h), through which the Governor uses
// it. Admit() charges the estimate up front; Adjust() corrects tokens and
// dollars once the actual usage is known.
// Thread-safe: one mutex around a small hash map.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

#include "common/mutex.h"

namespace tollgate::governance {

struct RateLimits {
  int64_t rpm = 0, tpm = 0;   // 0 = unlimited
  double usd_per_minute = 0;  // 0 = unlimited
  bool any() const { return rpm > 0 || tpm > 0 || usd_per_minute > 0; }
};

struct RateDecision {
  bool ok = true;
  std::string dimension;  // "requests", "tokens" or "usd" when refused
  double limit = 0, remaining = 0;
  int reset_s = 0;        // seconds until the window resets
  // Remaining requests/tokens after this admission, for x-ratelimit-* headers.
  int64_t remaining_requests = -1, remaining_tokens = -1;
};

class RateLimiter {
 public:
  // Checks and, if allowed, counts one request of `tokens` and `usd` against
  // `subject`'s current minute.
  RateDecision Admit(const std::string& subject, const RateLimits& limits, int64_t tokens, double usd, int64_t now_ms);
  // Adds (possibly negative) corrections to the minute the request was admitted in.
  void Adjust(const std::string& subject, int64_t minute, int64_t requests_delta, int64_t tokens_delta, double usd_delta);
  static int64_t MinuteOf(int64_t now_ms) { return now_ms / 60000; }

 private:
  struct Window {
    int64_t minute = -1;
    int64_t requests = 0, tokens = 0;
    double usd = 0;
  };
  Mutex mu_;
  std::unordered_map<std::string, Window> windows_ GUARDED_BY(mu_);
};

}  // namespace tollgate::governance
