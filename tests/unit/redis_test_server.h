// A real Redis server for the unit tests (no mocks): `redis-server` from
// Debian's package, on a free loopback port, without persistence, in a
// temporary folder. Each test owns one (it starts in milliseconds), so a test
// may kill it, pause it or restart it without touching another test.
#pragma once

#include <sys/types.h>

#include <string>

#include "common/status.h"

namespace tollgate::testing {

class RedisTestServer {
 public:
  RedisTestServer() = default;
  ~RedisTestServer();
  RedisTestServer(const RedisTestServer&) = delete;
  RedisTestServer& operator=(const RedisTestServer&) = delete;

  // Starts the server (on the same port as before, after Kill). NotFound when
  // redis-server is not installed (scripts/install-deps.sh installs it).
  Status Start();
  // SIGKILL: the server and everything it held are gone.
  void Kill();
  // SIGSTOP / SIGCONT: the server hangs (connections stay open, nothing answers).
  void Pause();
  void Resume();
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }

 private:
  std::string dir_;
  int port_ = 0;
  pid_t pid_ = 0;
};

}  // namespace tollgate::testing

// In a test: `TG_REDIS_SERVER(redis);` declares a started RedisTestServer,
// skips the test when Redis is not installed, and fails it when it cannot start.
#define TG_REDIS_SERVER(var)                                                                      \
  ::tollgate::testing::RedisTestServer var;                                                       \
  if (auto var##_st = var.Start(); !var##_st.ok()) {                                              \
    if (var##_st.code() == ::tollgate::StatusCode::kNotFound) GTEST_SKIP() << var##_st.message(); \
    FAIL() << var##_st.message();                                                                 \
  }
