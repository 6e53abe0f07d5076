// A real PostgreSQL server for the unit tests (no mocks): started once per test
// binary on first use, with initdb and pg_ctl from Debian's postgresql package
// in a temporary folder, on a free loopback port with its unix socket in the
// same folder, run as the `postgres` user when the tests run as root (the
// server refuses root). Stopped and deleted when the binary exits. Each test
// takes a database of its own, so tests never see each other's rows.
#pragma once

#include <string>

#include "common/status.h"

namespace tollgate::testing {

// The URL of a new, empty database: postgres://postgres@127.0.0.1:PORT/tg_N.
// NotFound when PostgreSQL is not installed (tests skip; scripts/install-deps.sh
// installs it), IoError when it is but the server could not be started.
Result<std::string> NewPostgresDatabase();

// The first value of `sql`'s result, run on a connection of its own, or
// "error: " and the server's message.
std::string QueryPostgres(const std::string& url, const std::string& sql);

// The server's log, for failure messages.
std::string PostgresServerLog();

// Stops the server (fast shutdown: open connections are closed), to test what
// clients do while it is down, and starts it again with the same data folder
// and port. Every database survives. A test that stops it starts it again.
Status StopPostgresServer();
Status StartPostgresServer();

}  // namespace tollgate::testing

// In a test: `TG_POSTGRES_URL(url);` declares `url` (a fresh database), skips
// the test when PostgreSQL is not installed, and fails it when it cannot start.
#define TG_POSTGRES_URL(var)                                                           \
  auto var##_db = ::tollgate::testing::NewPostgresDatabase();                          \
  if (!var##_db.ok() && var##_db.status().code() == ::tollgate::StatusCode::kNotFound) \
    GTEST_SKIP() << var##_db.status().message();                                       \
  ASSERT_TRUE(var##_db.ok()) << var##_db.status().message();                           \
  const std::string var = *var##_db
