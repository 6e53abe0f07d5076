// A pipelined Redis client on its own thread, for the Redis counter store
// (redis_counters.h). Callers submit commands from any thread and never wait:
// the client thread sends every queued command in one pipeline, reads the
// replies, and calls each command's completion on its own thread. While Redis
// cannot be reached, a command fails at once (its completion gets nullptr),
// except a durable one, which is kept in order and resent after the client
// reconnects (settlements must never be lost). The client reconnects with
// backoff, and runs `on_connect` on its thread after each connection (AUTH and
// SELECT from the URL are done before it).
// Thread safety: Submit, Health and the destructor may be called from any
// thread; completions run on the client thread and must not block on it.
#pragma once

#include <hiredis/hiredis.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/mutex.h"
#include "common/status.h"

namespace tollgate::governance {

// redis://[user][:password@]host[:port][/db]
struct RedisAddress {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string user, password;
  int db = 0;
};
// InvalidArgument naming what is wrong with `url`.
Result<RedisAddress> ParseRedisUrl(const std::string& url);

struct RedisCommand {
  std::vector<std::string> argv;  // argv[0] is the command
  // Called once, on the client thread: the reply (which may be an error
  // reply), or nullptr when Redis could not be reached.
  std::function<void(const redisReply*)> done;
  bool durable = false;  // kept and resent until Redis answers
  // A durable command to forget when Redis comes back empty (it lost its data,
  // and on_connect rebuilt what this command would have added).
  bool drop_if_reset = false;
};

class RedisClient {
 public:
  // What on_connect reports: false fails the connection (retried with backoff).
  // `reset` is set when Redis holds none of our data, so that durable commands
  // marked drop_if_reset are dropped.
  struct ConnectOutcome {
    bool ok = true;
    bool reset = false;
  };
  using OnConnect = std::function<ConnectOutcome(redisContext*)>;

  RedisClient(RedisAddress address, int64_t timeout_ms, OnConnect on_connect);
  // Stops the thread after one last attempt to send the durable commands;
  // commands still queued then complete with nullptr.
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  void Submit(RedisCommand cmd);
  // Waits (up to `timeout_ms`) until every command that is not durable has
  // completed. Durable commands may still be queued.
  void WaitIdle(int64_t timeout_ms);
  bool up() const { return up_.load(std::memory_order_relaxed); }
  uint64_t pending_durable() const { return pending_.load(std::memory_order_relaxed); }
  const RedisAddress& address() const { return address_; }

  // Sends one command on `c` and waits for its reply (for on_connect).
  // nullptr on I/O failure. The caller frees the reply.
  static redisReply* Call(redisContext* c, const std::vector<std::string>& argv);

 private:
  void Loop();
  bool Connect();
  // Sends `batch` in one pipeline; returns false when the connection broke
  // (the commands not answered are in `batch` again, in order).
  bool Send(std::deque<RedisCommand>& batch);
  void FailOrKeep(std::deque<RedisCommand>& batch);
  void Disconnect();

  const RedisAddress address_;
  const int64_t timeout_ms_;
  const OnConnect on_connect_;

  Mutex mu_;
  CondVar cv_;
  std::deque<RedisCommand> queue_ GUARDED_BY(mu_);
  bool stop_ GUARDED_BY(mu_) = false;

  // The client thread's own.
  redisContext* ctx_ = nullptr;
  std::deque<RedisCommand> durable_;  // waiting for a connection, oldest first
  int64_t backoff_ms_ = 0;
  int64_t next_attempt_us_ = 0;
  bool warned_ = false;

  std::atomic<bool> up_{false};
  std::atomic<uint64_t> pending_{0};
  std::atomic<int64_t> waiting_{0};  // submitted commands, not durable, not yet completed
  std::thread thread_;
};

}  // namespace tollgate::governance
