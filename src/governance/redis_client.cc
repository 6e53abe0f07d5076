#include "governance/redis_client.h"

#include <sys/time.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>

#include "common/log.h"
#include "common/util.h"

namespace tollgate::governance {
namespace {

constexpr size_t kPipelineMax = 1024;  // commands per round trip
constexpr int64_t kBackoffFirstMs = 100, kBackoffMaxMs = 2000;

timeval ToTimeval(int64_t ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms % 1000) * 1000);
  return tv;
}

bool IsError(const redisReply* r) { return r == nullptr || r->type == REDIS_REPLY_ERROR; }

}  // namespace

Result<RedisAddress> ParseRedisUrl(const std::string& url) {
  constexpr std::string_view kScheme = "redis://";
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("counters.url '" + url + "': " + why +
                                   " (expected redis://[:password@]host[:port][/db])");
  };
  if (url.rfind(kScheme, 0) != 0) return bad("not a redis:// URL");
  std::string rest = url.substr(kScheme.size());
  RedisAddress a;
  if (auto at = rest.rfind('@'); at != std::string::npos) {
    std::string cred = rest.substr(0, at);
    rest = rest.substr(at + 1);
    auto colon = cred.find(':');
    if (colon == std::string::npos) {
      a.password = cred;  // redis://secret@host, as redis-cli reads it
    } else {
      a.user = cred.substr(0, colon);
      a.password = cred.substr(colon + 1);
    }
  }
  if (auto slash = rest.find('/'); slash != std::string::npos) {
    const std::string db = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
    if (!db.empty()) {
      char* end = nullptr;
      long v = std::strtol(db.c_str(), &end, 10);
      if (*end != '\0' || v < 0 || v > 1000)
        return bad("the database '" + db + "' is not a number");
      a.db = static_cast<int>(v);
    }
  }
  if (auto colon = rest.rfind(':'); colon != std::string::npos) {
    const std::string port = rest.substr(colon + 1);
    char* end = nullptr;
    long v = std::strtol(port.c_str(), &end, 10);
    if (port.empty() || *end != '\0' || v < 1 || v > 65535)
      return bad("the port '" + port + "' is not a port");
    a.port = static_cast<int>(v);
    rest = rest.substr(0, colon);
  }
  if (!rest.empty()) a.host = rest;
  return a;
}

RedisClient::RedisClient(RedisAddress address, int64_t timeout_ms, OnConnect on_connect)
    : address_(std::move(address)), timeout_ms_(timeout_ms), on_connect_(std::move(on_connect)) {
  thread_ = std::thread([this] { Loop(); });
}

RedisClient::~RedisClient() {
  {
    MutexLock lock(&mu_);
    stop_ = true;
    cv_.Signal();
  }
  thread_.join();
  Disconnect();
}

void RedisClient::Submit(RedisCommand cmd) {
  if (!cmd.durable) {
    waiting_.fetch_add(1, std::memory_order_relaxed);
    cmd.done = [this, done = std::move(cmd.done)](const redisReply* r) {
      done(r);
      waiting_.fetch_sub(1, std::memory_order_release);
    };
  }
  MutexLock lock(&mu_);
  queue_.push_back(std::move(cmd));
  cv_.Signal();
}

void RedisClient::WaitIdle(int64_t timeout_ms) {
  const int64_t deadline = MonotonicUs() + timeout_ms * 1000;
  while (waiting_.load(std::memory_order_acquire) > 0 && MonotonicUs() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

redisReply* RedisClient::Call(redisContext* c, const std::vector<std::string>& argv) {
  std::vector<const char*> args;
  std::vector<size_t> lens;
  for (const auto& a : argv) {
    args.push_back(a.data());
    lens.push_back(a.size());
  }
  return static_cast<redisReply*>(
      redisCommandArgv(c, static_cast<int>(args.size()), args.data(), lens.data()));
}

bool RedisClient::Connect() {
  const timeval tv = ToTimeval(timeout_ms_);
  redisContext* c = redisConnectWithTimeout(address_.host.c_str(), address_.port, tv);
  std::string err;
  if (c == nullptr)
    err = "out of memory";
  else if (c->err)
    err = c->errstr;
  auto setup = [&](const std::vector<std::string>& argv, const char* what) {
    if (!err.empty()) return;
    redisReply* r = Call(c, argv);
    if (IsError(r))
      err = std::string(what) + ": " + (r ? std::string(r->str, r->len) : std::string(c->errstr));
    if (r) freeReplyObject(r);
  };
  if (err.empty()) {
    redisSetTimeout(c, tv);
    redisEnableKeepAlive(c);
  }
  if (!address_.password.empty()) {
    std::vector<std::string> auth{"AUTH"};
    if (!address_.user.empty()) auth.push_back(address_.user);
    auth.push_back(address_.password);
    setup(auth, "AUTH");
  }
  if (address_.db != 0) setup({"SELECT", std::to_string(address_.db)}, "SELECT");
  ConnectOutcome outcome;
  if (err.empty()) {
    outcome = on_connect_(c);
    if (!outcome.ok) err = c->err ? c->errstr : "preparing the connection failed";
  }
  if (!err.empty()) {
    if (c) redisFree(c);
    backoff_ms_ = std::min(kBackoffMaxMs, backoff_ms_ == 0 ? kBackoffFirstMs : backoff_ms_ * 2);
    next_attempt_us_ = MonotonicUs() + backoff_ms_ * 1000;
    if (!warned_) {
      log::Warn("counters: Redis at " + address_.host + ":" + std::to_string(address_.port) +
                " is unreachable (" + err +
                "); retrying, and counters.policy decides governed requests meanwhile");
      warned_ = true;
    }
    return false;
  }
  if (outcome.reset) {
    size_t dropped = 0;
    std::deque<RedisCommand> kept;
    for (auto& cmd : durable_) {
      if (cmd.drop_if_reset) {
        cmd.done(nullptr);
        ++dropped;
      } else {
        kept.push_back(std::move(cmd));
      }
    }
    durable_.swap(kept);
    if (dropped)
      log::Warn(
          "counters: Redis came back without tollgate's counters; reseeded them from the ledger "
          "and dropped " +
          std::to_string(dropped) + " queued settlements the ledger already holds");
  }
  if (warned_)
    log::Info("counters: Redis at " + address_.host + ":" + std::to_string(address_.port) +
              " is back; sending " + std::to_string(durable_.size()) + " queued updates");
  warned_ = false;
  backoff_ms_ = 0;
  ctx_ = c;
  up_.store(true, std::memory_order_relaxed);
  return true;
}

void RedisClient::Disconnect() {
  if (ctx_) redisFree(ctx_);
  ctx_ = nullptr;
  up_.store(false, std::memory_order_relaxed);
}

void RedisClient::FailOrKeep(std::deque<RedisCommand>& batch) {
  for (auto& cmd : batch) {
    if (cmd.durable)
      durable_.push_back(std::move(cmd));
    else
      cmd.done(nullptr);
  }
  batch.clear();
  pending_.store(durable_.size(), std::memory_order_relaxed);
}

bool RedisClient::Send(std::deque<RedisCommand>& batch) {
  std::vector<const char*> args;
  std::vector<size_t> lens;
  for (const auto& cmd : batch) {
    args.clear();
    lens.clear();
    for (const auto& a : cmd.argv) {
      args.push_back(a.data());
      lens.push_back(a.size());
    }
    redisAppendCommandArgv(ctx_, static_cast<int>(args.size()), args.data(), lens.data());
  }
  while (!batch.empty()) {
    void* r = nullptr;
    if (redisGetReply(ctx_, &r) != REDIS_OK) return false;
    RedisCommand cmd = std::move(batch.front());
    batch.pop_front();
    cmd.done(static_cast<redisReply*>(r));
    freeReplyObject(r);
  }
  return true;
}

void RedisClient::Loop() {
  Connect();
  for (;;) {
    std::deque<RedisCommand> batch;
    bool stopping = false;
    {
      MutexLock lock(&mu_);
      while (!stop_ && queue_.empty()) {
        if (durable_.empty()) {
          cv_.Wait(&mu_);
        } else if (ctx_) {
          break;  // connected, with durable commands to send
        } else {
          const auto due =
              std::chrono::steady_clock::now() +
              std::chrono::microseconds(std::max<int64_t>(next_attempt_us_ - MonotonicUs(), 0));
          if (!cv_.WaitUntil(&mu_, due)) break;  // time to reconnect
        }
      }
      stopping = stop_;
      batch.swap(queue_);
    }
    if (!ctx_ && (stopping || MonotonicUs() >= next_attempt_us_)) Connect();
    // Durable commands first (they are older), then the new ones, in order.
    std::deque<RedisCommand> send;
    send.swap(durable_);
    for (auto& cmd : batch) send.push_back(std::move(cmd));
    if (!ctx_) {
      FailOrKeep(send);
    }
    while (ctx_ && !send.empty()) {
      std::deque<RedisCommand> chunk;
      while (!send.empty() && chunk.size() < kPipelineMax) {
        chunk.push_back(std::move(send.front()));
        send.pop_front();
      }
      if (!Send(chunk)) {
        log::Warn("counters: lost the connection to Redis (" + std::string(ctx_->errstr) + ")");
        Disconnect();
        next_attempt_us_ = MonotonicUs();  // reconnect at once; backoff starts if that fails
        warned_ = true;
        FailOrKeep(chunk);
        FailOrKeep(send);
      }
    }
    pending_.store(durable_.size(), std::memory_order_relaxed);
    if (stopping) {
      if (!durable_.empty())
        log::Warn("counters: " + std::to_string(durable_.size()) +
                  " counter updates could not reach Redis before shutdown; `tollgate reconcile` "
                  "shows the "
                  "difference and `--repair` rewrites it from the ledger");
      std::deque<RedisCommand> late;
      {
        MutexLock lock(&mu_);
        late.swap(queue_);
      }
      for (auto& cmd : durable_) cmd.done(nullptr);
      for (auto& cmd : late) cmd.done(nullptr);  // outside the lock: a completion may Submit
      durable_.clear();
      return;
    }
  }
}

}  // namespace tollgate::governance
