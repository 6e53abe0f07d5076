#include "governance/redis_counters.h"

#include <openssl/sha.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "common/log.h"
#include "common/util.h"

namespace tollgate::governance {
namespace {

// Every number crosses to Lua as text with 17 significant digits (a double
// round-trips), and back the same way: Redis would truncate a Lua number reply
// to an integer.
std::string Num(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}
double ToDouble(const redisReply* r) {
  if (r == nullptr) return 0;
  if (r->type == REDIS_REPLY_INTEGER) return static_cast<double>(r->integer);
  if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS)
    return std::strtod(r->str, nullptr);
  return 0;
}
bool IsArray(const redisReply* r, size_t at_least) {
  return r && r->type == REDIS_REPLY_ARRAY && r->elements >= at_least;
}

// The Redis clock in ms, inside a script (scripts replicate their effects, so
// TIME is allowed): every replica's reservations expire on the same clock.
#define TG_LUA_NOW                  \
  "local tm = redis.call('TIME')\n" \
  "local now = tonumber(tm[1]) * 1000 + math.floor(tonumber(tm[2]) / 1000)\n"
#define TG_LUA_FMT "local function fmt(x) return string.format('%.17g', x) end\n"

// Drops a window's expired reservations (KEYS b, r at index i).
#define TG_LUA_PURGE                                                         \
  "local function purge(b, r)\n"                                             \
  "  local gone = redis.call('ZRANGEBYSCORE', r, '-inf', now)\n"             \
  "  for _, m in ipairs(gone) do\n"                                          \
  "    if string.sub(m, 1, 1) ~= '~' then\n"                                 \
  "      local a = redis.call('HGET', b, 't' .. m)\n"                        \
  "      if a then\n"                                                        \
  "        redis.call('HINCRBYFLOAT', b, 'reserved', -tonumber(a))\n"        \
  "        redis.call('HDEL', b, 't' .. m)\n"                                \
  "        redis.call('HINCRBY', b, 'live', -1)\n"                           \
  "        redis.call('HINCRBY', b, 'expired', 1)\n"                         \
  "      end\n"                                                              \
  "    end\n"                                                                \
  "  end\n"                                                                  \
  "  if #gone > 0 then redis.call('ZREMRANGEBYSCORE', r, '-inf', now) end\n" \
  "end\n"                                                                    \
  "local function keep(k, at) if tonumber(at) > 0 then redis.call('PEXPIREAT', k, at) end end\n"

// One admission. KEYS: nr rate windows (one per subject), then b, r per budget
// slot. ARGV: nr, tokens, usd, amount, ticket, ttl_ms, then per subject: rpm,
// tpm, usd per minute (0: unlimited), then per slot: limit (< 0: none),
// expire_at_ms (0: never). All or nothing: the rates are charged and the
// amount reserved only if no subject and no slot refuses.
// Returns {failed subject (0: none), dimension, limit, remaining, remaining
// requests, remaining tokens (of the last subject checked; -1: no limit),
// failed slot (0: none), headroom (before this reservation), used per slot...}.
constexpr const char* kAdmitLua = TG_LUA_NOW TG_LUA_FMT TG_LUA_PURGE
    "local nr, tokens, usd, amount = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), "
    "tonumber(ARGV[4])\n"
    "local ticket, ttl = ARGV[5], tonumber(ARGV[6])\n"
    "local nb = (#KEYS - nr) / 2\n"
    "local rr, rt = -1, -1\n"
    "for i = 1, nr do\n"
    "  local v = redis.call('HMGET', KEYS[i], 'r', 't', 'u')\n"
    "  local req, tok, u = tonumber(v[1]) or 0, tonumber(v[2]) or 0, tonumber(v[3]) or 0\n"
    "  local a = 6 + 3 * (i - 1)\n"
    "  local rpm, tpm, upm = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])\n"
    "  local dim, lim, rem = nil, 0, 0\n"
    "  if rpm > 0 and req + 1 > rpm then dim, lim, rem = 'requests', rpm, rpm - req\n"
    "  elseif tpm > 0 and tok + tokens > tpm then dim, lim, rem = 'tokens', tpm, tpm - tok\n"
    "  elseif upm > 0 and u + usd > upm then dim, lim, rem = 'usd', upm, upm - u end\n"
    "  rr = rpm > 0 and math.max(rpm - req - (dim and 0 or 1), 0) or -1\n"
    "  rt = tpm > 0 and math.max(tpm - tok - (dim and 0 or tokens), 0) or -1\n"
    "  if dim then return {i, dim, fmt(lim), fmt(rem), fmt(rr), fmt(rt), 0, 'inf'} end\n"
    "end\n"
    "local base = 6 + 3 * nr\n"
    "local fail, headroom, used = 0, nil, {}\n"
    "for i = 1, nb do\n"
    "  local b, r = KEYS[nr + 2 * i - 1], KEYS[nr + 2 * i]\n"
    "  purge(b, r)\n"
    "  local v = redis.call('HMGET', b, 'spent', 'reserved')\n"
    "  local u = (tonumber(v[1]) or 0) + (tonumber(v[2]) or 0)\n"
    "  used[i] = fmt(u)\n"
    "  local lim = tonumber(ARGV[base + 2 * i - 1])\n"
    "  if lim >= 0 then\n"
    "    if headroom == nil or lim - u < headroom then headroom = lim - u end\n"
    "    if fail == 0 and u + amount > lim then fail = i end\n"
    "  end\n"
    "end\n"
    "local out = {0, '', '0', '0', fmt(rr), fmt(rt), fail, headroom and fmt(headroom) or 'inf'}\n"
    "for i = 1, nb do out[#out + 1] = used[i] end\n"
    "if fail > 0 then return out end\n"
    "for i = 1, nr do\n"
    "  redis.call('HINCRBY', KEYS[i], 'r', 1)\n"
    "  redis.call('HINCRBY', KEYS[i], 't', tokens)\n"
    "  redis.call('HINCRBYFLOAT', KEYS[i], 'u', ARGV[3])\n"
    "  redis.call('PEXPIRE', KEYS[i], 120000)\n"
    "end\n"
    "for i = 1, nb do\n"
    "  local b, r = KEYS[nr + 2 * i - 1], KEYS[nr + 2 * i]\n"
    "  redis.call('HINCRBYFLOAT', b, 'reserved', amount)\n"
    "  redis.call('HSET', b, 't' .. ticket, ARGV[4])\n"
    "  redis.call('ZADD', r, now + ttl, ticket)\n"
    "  -- the window's expiry, set when it comes back into use (not on every call)\n"
    "  if tonumber(redis.call('HINCRBY', b, 'live', 1)) == 1 then\n"
    "    keep(b, ARGV[base + 2 * i]) keep(r, ARGV[base + 2 * i])\n"
    "  end\n"
    "end\n"
    "return out\n";

// The end of a request. KEYS: nr rate windows, then b, r per budget slot.
// ARGV: nr, requests, tokens and usd deltas for the rate windows, ticket,
// actual cost, ttl_ms, then per slot: soft limit (< 0: none), expire_at_ms.
// A rate window that is gone (its minute is over) is left alone, and counts
// never go below zero. The settlement is applied once per ticket. Returns
// {slot, spent after, ...} for the slots whose spend crossed their soft limit.
constexpr const char* kFinishLua = TG_LUA_NOW TG_LUA_FMT TG_LUA_PURGE
    "local nr, ticket, actual, ttl = tonumber(ARGV[1]), ARGV[5], tonumber(ARGV[6]), "
    "tonumber(ARGV[7])\n"
    "local nb = (#KEYS - nr) / 2\n"
    "if nb > 0 and redis.call('ZSCORE', KEYS[nr + 2], '~' .. ticket) then return {} end\n"
    "for i = 1, nr do\n"
    "  if redis.call('EXISTS', KEYS[i]) == 1 then\n"
    "    local v = redis.call('HMGET', KEYS[i], 'r', 't', 'u')\n"
    "    redis.call('HSET', KEYS[i], 'r', math.max((tonumber(v[1]) or 0) + tonumber(ARGV[2]), 0),\n"
    "      't', math.max((tonumber(v[2]) or 0) + tonumber(ARGV[3]), 0),\n"
    "      'u', fmt(math.max((tonumber(v[3]) or 0) + tonumber(ARGV[4]), 0)))\n"
    "  end\n"
    "end\n"
    "local crossed = {}\n"
    "for i = 1, nb do\n"
    "  local b, r = KEYS[nr + 2 * i - 1], KEYS[nr + 2 * i]\n"
    "  purge(b, r)\n"
    "  local a = redis.call('HGET', b, 't' .. ticket)\n"
    "  if a then\n"
    "    redis.call('HDEL', b, 't' .. ticket)\n"
    "    redis.call('ZREM', r, ticket)\n"
    "    redis.call('HINCRBYFLOAT', b, 'reserved', -tonumber(a))\n"
    "    if tonumber(redis.call('HINCRBY', b, 'live', -1)) <= 0 then\n"
    "      redis.call('HSET', b, 'reserved', '0', 'live', '0')  -- no float dust once none is "
    "live\n"
    "    end\n"
    "  end\n"
    "  local after = tonumber(redis.call('HINCRBYFLOAT', b, 'spent', ARGV[6]))\n"
    "  local before = after - actual\n"
    "  if i == 1 then redis.call('ZADD', r, now + ttl, '~' .. ticket) end\n"
    "  if not a then keep(b, ARGV[7 + 2 * i]) keep(r, ARGV[7 + 2 * i]) end\n"
    "  local soft = tonumber(ARGV[6 + 2 * i])\n"
    "  if soft >= 0 and before < soft and after >= soft then\n"
    "    crossed[#crossed + 1] = i\n"
    "    crossed[#crossed + 1] = fmt(after)\n"
    "  end\n"
    "end\n"
    "return crossed\n";

enum ScriptId { kAdmit, kFinish };
constexpr const char* kScripts[] = {kAdmitLua, kFinishLua};

std::string Sha1Hex(const std::string& s) {
  unsigned char md[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(s.data()), s.size(), md);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : md) {
    out += hex[c >> 4];
    out += hex[c & 15];
  }
  return out;
}

// When a window's keys may go: a week after the window ends (never for lifetime budgets).
std::string ExpireAt(const BudgetSlot& s) {
  constexpr int64_t kWeekMs = 7LL * 24 * 3600 * 1000;
  if (s.window_end_ms <= 0 || s.window_end_ms >= std::numeric_limits<int64_t>::max() - kWeekMs)
    return "0";
  return std::to_string(s.window_end_ms + kWeekMs);
}

}  // namespace

Result<std::unique_ptr<RedisCounterStore>> RedisCounterStore::Open(RedisCounterOptions options) {
  TG_ASSIGN_OR_RETURN(RedisAddress address, ParseRedisUrl(options.url));
  std::unique_ptr<RedisCounterStore> s(new RedisCounterStore(std::move(options)));
  s->client_ =
      std::make_unique<RedisClient>(std::move(address), s->opt_.timeout_ms,
                                    [p = s.get()](redisContext* c) { return p->OnConnect(c); });
  return s;
}

RedisCounterStore::RedisCounterStore(RedisCounterOptions options) : opt_(std::move(options)) {
  for (const char* script : kScripts) shas_.push_back(Sha1Hex(script));
}

RedisCounterStore::~RedisCounterStore() { client_.reset(); }

RedisClient::ConnectOutcome RedisCounterStore::OnConnect(redisContext* c) {
  RedisClient::ConnectOutcome out;
  // Load the scripts (a restarted Redis has none).
  for (size_t i = 0; i < std::size(kScripts); ++i) {
    redisReply* r = RedisClient::Call(c, {"SCRIPT", "LOAD", kScripts[i]});
    const bool ok = r && r->type == REDIS_REPLY_STRING && std::string(r->str, r->len) == shas_[i];
    if (r) freeReplyObject(r);
    if (!ok) return {false, false};
  }
  // Our counters are there unless Redis is new or restarted empty; then seed
  // them from the ledger, setting only what is absent (never adding). The
  // epoch names one seeding: a replica that finds another epoch than the one it
  // last saw knows another replica has re-seeded from the ledger meanwhile, so
  // its queued settlements are in that ledger already (reset as well).
  const std::string epoch = opt_.key_prefix + "epoch";
  auto get_epoch = [&](std::string* value) {
    redisReply* r = RedisClient::Call(c, {"GET", epoch});
    if (r == nullptr) return false;
    *value = r->type == REDIS_REPLY_STRING ? std::string(r->str, r->len) : std::string();
    freeReplyObject(r);
    return true;
  };
  std::string now_epoch;
  if (!get_epoch(&now_epoch)) return {false, false};
  if (!now_epoch.empty()) {
    out.reset = !seen_epoch_.empty() && now_epoch != seen_epoch_;
    seen_epoch_ = now_epoch;
    return out;
  }
  if (opt_.reseed) {
    auto rows = opt_.reseed();
    if (!rows.ok()) {
      log::Warn("counters: cannot read the ledger's spend to seed Redis: " + rows.status().ToString());
      return {false, false};
    }
    for (const SpendRow& row : *rows) {
      redisReply* r = RedisClient::Call(
          c, {"HSETNX", BudgetKey(row.budget_id, row.window_start_ms), "spent", Num(row.spent_usd)});
      if (r == nullptr) return {false, false};
      freeReplyObject(r);
    }
    log::Info("counters: seeded " + std::to_string(rows->size()) + " budget windows in Redis from the ledger");
  }
  // Replicas seeding at once agree on one epoch: the first SET wins.
  redisReply* r = RedisClient::Call(c, {"SET", epoch, NewRequestId(), "NX"});
  if (r == nullptr) return {false, false};
  freeReplyObject(r);
  if (!get_epoch(&seen_epoch_)) return {false, false};
  out.reset = true;
  return out;
}

std::string RedisCounterStore::BudgetKey(const std::string& budget_id,
                                         int64_t window_start_ms) const {
  return opt_.key_prefix + "b:" + budget_id + ":" + std::to_string(window_start_ms);
}
std::string RedisCounterStore::ReservationsKey(const std::string& budget_id,
                                               int64_t window_start_ms) const {
  return opt_.key_prefix + "r:" + budget_id + ":" + std::to_string(window_start_ms);
}
std::string RedisCounterStore::RateKey(const std::string& subject, int64_t minute) const {
  return opt_.key_prefix + "q:" + subject + ":" + std::to_string(minute);
}

std::vector<std::string> RedisCounterStore::Script(int which, const std::vector<std::string>& keys,
                                                   const std::vector<std::string>& args) const {
  std::vector<std::string> argv{"EVALSHA", shas_[static_cast<size_t>(which)],
                                std::to_string(keys.size())};
  argv.insert(argv.end(), keys.begin(), keys.end());
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

void RedisCounterStore::Seed(const std::string& budget_id, int64_t window_start_ms, double spent) {
  RedisCommand cmd;
  cmd.argv = {"HSETNX", BudgetKey(budget_id, window_start_ms), "spent", Num(spent)};
  cmd.done = [](const redisReply*) {};
  cmd.durable = true;
  client_->Submit(std::move(cmd));
}

void RedisCounterStore::Repair(const std::string& budget_id, int64_t window_start_ms,
                               double spent) {
  (void)WaitFor<bool>([&](Completion<bool> done) {
    RedisCommand cmd;
    cmd.argv = {"HSET", BudgetKey(budget_id, window_start_ms), "spent", Num(spent)};
    cmd.done = [done = std::move(done)](const redisReply* r) { done(r != nullptr); };
    cmd.durable = true;
    client_->Submit(std::move(cmd));
  });
}

std::vector<BudgetSlot> RedisCounterStore::LocalShare(const std::vector<BudgetSlot>& slots) {
  std::vector<BudgetSlot> share = slots;
  const auto n = static_cast<double>(opt_.replicas);
  MutexLock lock(&mu_);
  for (BudgetSlot& s : share) {
    if (s.limit_usd < 0) continue;
    auto it = last_used_.find(BudgetKey(s.budget_id, s.window_start_ms));
    const double used = it == last_used_.end() ? 0 : it->second;
    s.limit_usd = std::max(0.0, s.limit_usd - used) / n;
  }
  return share;
}

void RedisCounterStore::AdmitLocally(const std::vector<RateSubject>& subjects, int64_t tokens,
                                     double usd, int64_t now_ms,
                                     const std::vector<BudgetSlot>& slots, double amount,
                                     Completion<AdmitOutcome> done) {
  if (opt_.policy == config::CountersPolicy::kFailClosed) {
    AdmitOutcome o;
    o.unavailable = true;
    o.rates.ok = o.budget.ok = false;
    o.rates.unavailable = o.budget.unavailable = true;
    refused_.fetch_add(1, std::memory_order_relaxed);
    return done(o);
  }
  // This replica's share of every limit; a rate limit never rounds down to
  // "unlimited" (0).
  std::vector<RateSubject> share = subjects;
  const int64_t n = opt_.replicas;
  for (RateSubject& s : share) {
    if (s.limits.rpm > 0) s.limits.rpm = std::max<int64_t>(1, s.limits.rpm / n);
    if (s.limits.tpm > 0) s.limits.tpm = std::max<int64_t>(1, s.limits.tpm / n);
    if (s.limits.usd_per_minute > 0) s.limits.usd_per_minute /= static_cast<double>(n);
  }
  const bool reserves = !slots.empty();
  local_.Admit(share, tokens, usd, now_ms, LocalShare(slots), amount,
               [this, reserves, done = std::move(done)](AdmitOutcome o) {
                 if (o.rates.ok && o.budget.ok && reserves) {
                   o.budget.ticket = "L" + NewRequestId();  // settled locally, then sent to Redis
                   local_admissions_.fetch_add(1, std::memory_order_relaxed);
                 }
                 done(o);
               });
}

void RedisCounterStore::Admit(const std::vector<RateSubject>& subjects, int64_t tokens, double usd,
                              int64_t now_ms, const std::vector<BudgetSlot>& slots, double amount,
                              Completion<AdmitOutcome> done) {
  const int64_t minute = RateLimiter::MinuteOf(now_ms);
  std::string ticket = NewRequestId();
  std::vector<std::string> keys, args{std::to_string(subjects.size()),
                                      std::to_string(tokens),
                                      Num(usd),
                                      Num(amount),
                                      ticket,
                                      std::to_string(opt_.reservation_ttl_ms)};
  for (const RateSubject& s : subjects) {
    keys.push_back(RateKey(s.name, minute));
    args.push_back(std::to_string(s.limits.rpm));
    args.push_back(std::to_string(s.limits.tpm));
    args.push_back(Num(s.limits.usd_per_minute));
  }
  for (const BudgetSlot& s : slots) {
    keys.push_back(BudgetKey(s.budget_id, s.window_start_ms));
    keys.push_back(ReservationsKey(s.budget_id, s.window_start_ms));
    args.push_back(Num(s.limit_usd));
    args.push_back(ExpireAt(s));
  }
  RedisCommand cmd;
  cmd.argv = Script(kAdmit, keys, args);
  cmd.done = [this, subjects, tokens, usd, now_ms, slots, amount, ticket = std::move(ticket),
              done = std::move(done)](const redisReply* reply) mutable {
    const bool rate_refused = IsArray(reply, 8) && reply->element[0]->integer > 0;
    if (!rate_refused && !IsArray(reply, 8 + slots.size())) {
      if (reply && reply->type == REDIS_REPLY_ERROR)
        log::Warn("counters: Redis refused the admission script: " +
                  std::string(reply->str, reply->len));
      return AdmitLocally(subjects, tokens, usd, now_ms, slots, amount, std::move(done));
    }
    AdmitOutcome o;
    RateDecision& d = o.rates.decision;
    d.reset_s = static_cast<int>((60000 - now_ms % 60000 + 999) / 1000);
    d.remaining_requests = static_cast<int64_t>(ToDouble(reply->element[4]));
    d.remaining_tokens = static_cast<int64_t>(ToDouble(reply->element[5]));
    if (rate_refused) {
      o.rates.ok = d.ok = false;
      o.rates.failed_subject = static_cast<size_t>(reply->element[0]->integer) - 1;
      d.dimension.assign(reply->element[1]->str, reply->element[1]->len);
      d.limit = ToDouble(reply->element[2]);
      d.remaining = ToDouble(reply->element[3]);
      return done(o);
    }
    const auto failed = static_cast<size_t>(reply->element[6]->integer);
    ReserveResult& r = o.budget;
    r.headroom = std::string(reply->element[7]->str, reply->element[7]->len) == "inf"
                     ? std::numeric_limits<double>::infinity()
                     : ToDouble(reply->element[7]);
    {
      MutexLock lock(&mu_);
      for (size_t i = 0; i < slots.size(); ++i)
        last_used_[BudgetKey(slots[i].budget_id, slots[i].window_start_ms)] =
            ToDouble(reply->element[8 + i]) + (failed == 0 ? amount : 0);
    }
    if (failed > 0) {
      r.ok = false;
      r.failed_slot = failed - 1;
      r.spent = ToDouble(reply->element[8 + r.failed_slot]);
    } else if (!slots.empty()) {
      r.ticket = std::move(ticket);
    }
    done(o);
  };
  client_->Submit(std::move(cmd));
}

void RedisCounterStore::Reserve(const std::vector<BudgetSlot>& slots, double amount,
                                Completion<ReserveResult> done) {
  Admit({}, 0, 0, NowUnixMs(), slots, amount, [done = std::move(done)](AdmitOutcome o) {
    o.budget.unavailable = o.unavailable;
    done(o.budget);
  });
}

void RedisCounterStore::AdmitRates(const std::vector<RateSubject>& subjects, int64_t tokens,
                                   double usd, int64_t now_ms, Completion<RateOutcome> done) {
  Admit(subjects, tokens, usd, now_ms, {}, 0, [done = std::move(done)](AdmitOutcome o) {
    o.rates.unavailable = o.unavailable;
    done(o.rates);
  });
}

void RedisCounterStore::SendFinish(const std::vector<std::string>& subjects, int64_t minute,
                                   int64_t requests_delta, int64_t tokens_delta, double usd_delta,
                                   const std::vector<BudgetSlot>& slots, const std::string& ticket,
                                   double reserved, double actual,
                                   Completion<std::vector<SoftLimitCrossing>> done) {
  // The fail_open windows and reservations of this replica, when it has some.
  local_.AdjustRates(subjects, minute, requests_delta, tokens_delta, usd_delta);
  if (!ticket.empty() && ticket[0] == 'L') local_.Settle(slots, reserved, actual);
  std::vector<std::string> keys, args{std::to_string(subjects.size()),
                                      std::to_string(requests_delta),
                                      std::to_string(tokens_delta),
                                      Num(usd_delta),
                                      ticket.empty() ? "S" + NewRequestId() : ticket,
                                      Num(actual),
                                      std::to_string(opt_.reservation_ttl_ms)};
  for (const auto& s : subjects) keys.push_back(RateKey(s, minute));
  for (const BudgetSlot& s : slots) {
    keys.push_back(BudgetKey(s.budget_id, s.window_start_ms));
    keys.push_back(ReservationsKey(s.budget_id, s.window_start_ms));
    args.push_back(Num(s.soft_limit_usd));
    args.push_back(ExpireAt(s));
  }
  RedisCommand cmd;
  cmd.argv = Script(kFinish, keys, args);
  // A settlement waits for Redis, however long; a rate correction alone is
  // best effort (its minute ends soon anyway).
  cmd.durable = !slots.empty();
  cmd.drop_if_reset = true;
  cmd.done = [slots, done = std::move(done)](const redisReply* reply) {
    std::vector<SoftLimitCrossing> crossed;
    if (reply && reply->type == REDIS_REPLY_ARRAY)
      for (size_t i = 0; i + 1 < reply->elements; i += 2) {
        const auto slot = static_cast<size_t>(reply->element[i]->integer) - 1;
        if (slot < slots.size()) crossed.push_back({slots[slot], ToDouble(reply->element[i + 1])});
      }
    done(std::move(crossed));
  };
  client_->Submit(std::move(cmd));
}

void RedisCounterStore::Finish(const std::vector<std::string>& rate_subjects, int64_t minute,
                               int64_t tokens_delta, double usd_delta,
                               const std::vector<BudgetSlot>& slots, const std::string& ticket,
                               double reserved, double actual,
                               Completion<std::vector<SoftLimitCrossing>> done) {
  SendFinish(rate_subjects, minute, 0, tokens_delta, usd_delta, slots, ticket, reserved, actual,
             std::move(done));
}

void RedisCounterStore::Settle(const std::vector<BudgetSlot>& slots, const std::string& ticket,
                               double reserved, double actual,
                               Completion<std::vector<SoftLimitCrossing>> done) {
  SendFinish({}, 0, 0, 0, 0, slots, ticket, reserved, actual, std::move(done));
}

void RedisCounterStore::AdjustRates(const std::vector<std::string>& subjects, int64_t minute,
                                    int64_t requests_delta, int64_t tokens_delta,
                                    double usd_delta) {
  SendFinish(subjects, minute, requests_delta, tokens_delta, usd_delta, {}, "", 0, 0,
             [](std::vector<SoftLimitCrossing>) {});
}

void RedisCounterStore::Spent(const std::string& budget_id, int64_t window_start_ms,
                              Completion<double> done) {
  Window(budget_id, window_start_ms, [done = std::move(done)](WindowState w) {
    done(w.ok ? w.spent : std::numeric_limits<double>::quiet_NaN());
  });
}

void RedisCounterStore::Window(const std::string& budget_id, int64_t window_start_ms,
                               Completion<WindowState> done) {
  RedisCommand cmd;
  cmd.argv = {"HMGET",  BudgetKey(budget_id, window_start_ms), "spent", "reserved", "live",
              "expired"};
  cmd.done = [done = std::move(done)](const redisReply* r) {
    WindowState w;
    if (!IsArray(r, 4)) {
      w.ok = false;
      return done(w);
    }
    w.spent = ToDouble(r->element[0]);
    w.reserved = ToDouble(r->element[1]);
    w.reservations = static_cast<int64_t>(ToDouble(r->element[2]));
    w.expired = static_cast<int64_t>(ToDouble(r->element[3]));
    done(w);
  };
  client_->Submit(std::move(cmd));
}

Result<std::unique_ptr<CounterStore>> OpenCounterStore(const config::CountersConfig& cfg,
                                                       ledger::Storage& storage) {
  if (cfg.url.empty()) return std::unique_ptr<CounterStore>(std::make_unique<LocalCounterStore>());
  RedisCounterOptions o;
  o.url = cfg.url;
  o.policy = config::ParseCountersPolicy(cfg.policy).value_or(config::CountersPolicy::kFailClosed);
  o.replicas = cfg.replicas;
  o.timeout_ms = cfg.timeout_ms;
  o.reservation_ttl_ms = cfg.reservation_ttl_ms;
  o.key_prefix = cfg.key_prefix;
  o.reseed = [&storage]() -> Result<std::vector<SpendRow>> {
    TG_ASSIGN_OR_RETURN(std::unique_ptr<Store> store, Store::Open(storage));
    return store->ListSpend();
  };
  TG_ASSIGN_OR_RETURN(std::unique_ptr<RedisCounterStore> s, RedisCounterStore::Open(std::move(o)));
  return std::unique_ptr<CounterStore>(std::move(s));
}

CounterHealth RedisCounterStore::Health() const {
  CounterHealth h;
  h.shared = true;
  h.up = client_->up();
  h.pending = client_->pending_durable();
  h.local_admissions = local_admissions_.load(std::memory_order_relaxed);
  h.refused_unavailable = refused_.load(std::memory_order_relaxed);
  return h;
}

}  // namespace tollgate::governance
