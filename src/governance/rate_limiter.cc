#include "governance/rate_limiter.h"

namespace tollgate::governance {

RateDecision RateLimiter::Admit(const std::string& subject, const RateLimits& limits, int64_t tokens, double usd,
                                int64_t now_ms) {
  RateDecision d;
  const int64_t minute = MinuteOf(now_ms);
  d.reset_s = static_cast<int>((60000 - now_ms % 60000 + 999) / 1000);
  MutexLock lock(&mu_);
  if (windows_.size() > 100000) {
    // Drop stale minutes so idle subjects do not accumulate forever.
    for (auto it = windows_.begin(); it != windows_.end();) it = it->second.minute < minute ? windows_.erase(it) : std::next(it);
  }
  Window& w = windows_[subject];
  if (w.minute != minute) w = Window{minute, 0, 0, 0};
  if (limits.rpm > 0 && w.requests + 1 > limits.rpm) {
    d.ok = false;
    d.dimension = "requests";
    d.limit = static_cast<double>(limits.rpm);
    d.remaining = static_cast<double>(limits.rpm - w.requests);
  } else if (limits.tpm > 0 && w.tokens + tokens > limits.tpm) {
    d.ok = false;
    d.dimension = "tokens";
    d.limit = static_cast<double>(limits.tpm);
    d.remaining = static_cast<double>(limits.tpm - w.tokens);
  } else if (limits.usd_per_minute > 0 && w.usd + usd > limits.usd_per_minute) {
    d.ok = false;
    d.dimension = "usd";
    d.limit = limits.usd_per_minute;
    d.remaining = limits.usd_per_minute - w.usd;
  }
  if (d.ok) {
    w.requests += 1;
    w.tokens += tokens;
    w.usd += usd;
  }
  if (limits.rpm > 0) d.remaining_requests = std::max<int64_t>(limits.rpm - w.requests, 0);
  if (limits.tpm > 0) d.remaining_tokens = std::max<int64_t>(limits.tpm - w.tokens, 0);
  return d;
}

void RateLimiter::Adjust(const std::string& subject, int64_t minute, int64_t requests_delta, int64_t tokens_delta,
                         double usd_delta) {
  MutexLock lock(&mu_);
  auto it = windows_.find(subject);
  if (it == windows_.end() || it->second.minute != minute) return;  // that minute is over
  it->second.requests = std::max<int64_t>(it->second.requests + requests_delta, 0);
  it->second.tokens = std::max<int64_t>(it->second.tokens + tokens_delta, 0);
  it->second.usd = std::max(it->second.usd + usd_delta, 0.0);
}

}  // namespace tollgate::governance
