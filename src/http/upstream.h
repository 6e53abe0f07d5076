// Upstream HTTP(S) client: keep-alive connection pools (one per worker thread,
// so no locking), TLS with certificate verification and SNI, and connect,
// first-byte and idle deadlines. An UpstreamCall is one request/response
// exchange whose body can be read whole or piece by piece (for SSE).
#pragma once

// clang-format off
#include <utility>  // first: Boost 1.74's awaitable.hpp uses std::exchange without including it
// clang-format on

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "common/status.h"
#include "http/deadline.h"
#include "http/wire.h"

namespace tollgate::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

struct Url {
  bool tls = false;
  std::string host;
  std::string port;
  std::string path;  // without trailing slash, e.g. "/v1"
};
// Parses http(s)://host[:port][/path]. InvalidArgument on anything else.
Result<Url> ParseUrl(std::string_view url);

// Where and how to reach one upstream. Built once per provider; immutable.
struct Endpoint {
  std::string pool_key;  // connections are reused only within one key
  Url url;
  std::shared_ptr<asio::ssl::context>
      tls;  // shared by all workers (SSL_CTX is thread-safe once set up)
  int64_t connect_timeout_ms = 5000;
  int64_t first_byte_timeout_ms = 120000;
  int64_t idle_timeout_ms = 60000;
  size_t max_idle = 128;
};

// Builds a TLS client context verifying peers against the system store plus `ca_file`.
Result<std::shared_ptr<asio::ssl::context>> MakeTlsContext(const std::string& ca_file);

struct UpstreamConnection;

// Idle keep-alive connections of one worker. Not thread-safe by design: each
// worker thread owns one pool.
class UpstreamPool {
 public:
  // `wheel` times out this worker's upstream sockets; both must outlive the pool.
  UpstreamPool(asio::io_context& ioc, DeadlineWheel& wheel);
  ~UpstreamPool();
  asio::io_context& context() { return ioc_; }
  DeadlineWheel& wheel() { return wheel_; }
  // Takes an idle connection for `ep`, or nullptr if there is none.
  std::unique_ptr<UpstreamConnection> TakeIdle(const Endpoint& ep);
  // Returns a connection whose last exchange completed cleanly.
  void PutIdle(const Endpoint& ep, std::unique_ptr<UpstreamConnection> conn);

 private:
  asio::io_context& ioc_;
  DeadlineWheel& wheel_;
  std::unordered_map<std::string, std::deque<std::unique_ptr<UpstreamConnection>>> idle_;
};

enum class FailureKind { kNone, kConnect, kTimeout, kIo };

// One exchange. Usage: Start(), inspect head(), then ReadAll() or ReadSome()
// until it returns 0, then Finish() to give the connection back to the pool.
class UpstreamCall {
 public:
  UpstreamCall(UpstreamPool& pool, const Endpoint& ep);
  ~UpstreamCall();
  // Connects (or reuses a pooled connection) and sends the request, then waits
  // for the response header. Unavailable (connect/TLS failure), Timeout, or
  // IoError; failure_kind() tells which.
  // Host is added to `head` (which must not have one); `body` is sent as is (Content-Length framed)
  // and must stay valid until Start returns.
  asio::awaitable<Status> Start(const RequestHead& head, std::string_view body);
  asio::awaitable<Status> Start(bhttp::request_header<>& head, std::string_view body);
  asio::awaitable<Status> Start(bhttp::request<bhttp::string_body>& req) {
    return Start(req.base(), req.body());
  }
  const bhttp::response_parser<bhttp::buffer_body>::value_type& head() const;
  int status() const;
  // Reads up to `cap` body bytes into `buf`; 0 means the body is complete.
  // Timeout after idle_timeout_ms of silence; IoError if the stream breaks.
  asio::awaitable<Result<size_t>> ReadSome(char* buf, size_t cap);
  // Reads the rest of the body, at most `limit` bytes (TooLarge beyond).
  asio::awaitable<Result<std::string>> ReadAll(size_t limit);
  // Returns the connection to the pool if the exchange completed and both sides allow keep-alive.
  void Finish();
  FailureKind failure_kind() const { return failure_; }

 private:
  asio::awaitable<Status> Connect();
  asio::awaitable<error_code> SendTls(std::string_view body);  // head + body in one record
  UpstreamPool& pool_;
  const Endpoint& ep_;
  std::unique_ptr<UpstreamConnection> conn_;
  std::unique_ptr<bhttp::response_parser<bhttp::buffer_body>> parser_;
  FailureKind failure_ = FailureKind::kNone;
  Status pending_error_;  // an error seen after bytes that were already returned
  bool done_ = false;
};

}  // namespace tollgate::http
