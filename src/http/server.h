// HTTP/1.1 server: one event loop per worker thread, each with its own
// SO_REUSEPORT acceptor, so a connection lives on one thread from accept to
// close and per-worker state (upstream pools) needs no locks. Each connection
// is a C++20 coroutine. The server owns sockets; the Handler owns semantics.
#pragma once

// clang-format off
#include <utility>  // first: Boost 1.74's awaitable.hpp uses std::exchange without including it
// clang-format on

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "common/status.h"
#include "http/deadline.h"
#include "http/wire.h"

namespace tollgate::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using Request = bhttp::request<bhttp::string_body>;

// Writes one response to the client: either whole, or as a chunked stream.
// A default-constructed ClientStream writes nowhere and captures the response
// instead (sub-requests: cascade steps, judges). A tee copies the body bytes
// sent to a socket (the cache stores a streamed answer from it).
// Not thread-safe; used only by the connection's coroutine.
class ClientStream {
 public:
  // `socket` is in non-blocking mode; `deadline` (of the same socket) bounds
  // a write the kernel cannot take at once; `scratch` is reused for heads.
  ClientStream(asio::ip::tcp::socket& socket, Deadline& deadline, std::string& scratch)
      : socket_(&socket), deadline_(&deadline), scratch_(&scratch) {}
  ClientStream() = default;  // capture mode
  // Copies body bytes written from now on into *tee, up to `limit` bytes; past
  // that the copy stops and tee_overflowed() turns true. nullptr turns it off.
  void SetTee(std::string* tee, size_t limit) {
    tee_ = tee;
    tee_limit_ = limit;
    tee_overflow_ = false;
  }
  bool tee_overflowed() const { return tee_overflow_; }
  // The answer to a HEAD request: every head is sent as it would be for GET
  // (Content-Length included), but no body byte, chunk or final chunk, so a
  // keep-alive client reads the next response where it starts (RFC 9110 9.3.2).
  void SetHeadOnly(bool head_only) { head_only_ = head_only; }
  bool capturing() const { return socket_ == nullptr; }
  // The status of the head sent (0 before one was), for the access log.
  int sent_status() const { return sent_status_; }
  // Capture mode: what was "sent".
  int captured_status() const { return captured_status_; }
  const std::string& captured_body() const { return captured_body_; }
  const std::vector<std::pair<std::string, std::string>>& captured_headers() const {
    return captured_headers_;
  }
  // Sends a complete response. IoError if the client is gone.
  asio::awaitable<Status> Write(const ResponseHead& head, std::string_view body);
  // The same from a Beast message (answers off the hot path).
  asio::awaitable<Status> Write(bhttp::response<bhttp::string_body>& res);
  // Sends the header of a chunked response (Transfer-Encoding: chunked).
  asio::awaitable<Status> StartChunked(bhttp::response<bhttp::empty_body>& head);
  // Sends one chunk (no-op for empty data). IoError if the client is gone.
  asio::awaitable<Status> WriteChunk(std::string_view data);
  // Sends the terminating chunk.
  asio::awaitable<Status> EndChunked();
  bool started() const { return started_; }

 private:
  void Capture(const ResponseHead& head);
  void Tee(std::string_view data);
  // Every write tries SendNow in line; what the kernel did not take goes
  // through the reactor here. IoError if the client is gone.
  asio::awaitable<Status> SendRest(Gather& g);
  static Status Sent(const error_code& ec);

  asio::ip::tcp::socket* socket_ = nullptr;
  Deadline* deadline_ = nullptr;
  std::string* scratch_ = nullptr;
  bool started_ = false;
  std::string* tee_ = nullptr;
  size_t tee_limit_ = 0;
  bool tee_overflow_ = false;
  bool head_only_ = false;
  int sent_status_ = 0;
  int captured_status_ = 0;
  std::string captured_body_;
  std::vector<std::pair<std::string, std::string>> captured_headers_;
};

enum class PreError { kNone, kBodyTooLarge };

// Handles one request on worker `worker`. Returns whether the connection may
// be kept alive. Must not throw.
using Handler =
    std::function<asio::awaitable<bool>(int worker, Request& req, PreError pre, ClientStream& out)>;

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  int threads = 2;
  int64_t max_body_bytes = 10 << 20;
  int64_t idle_timeout_ms = 120000;
  // Open client connections at once; a connection past it gets a 503 and is
  // closed, so the process keeps file descriptors to serve the ones it has.
  int64_t max_connections = 4096;
};

class Server {
 public:
  Server(ServerOptions options, Handler handler);
  ~Server();
  // Binds and listens on every worker. InvalidArgument/Unavailable on failure.
  Status Listen();
  // The bound port (after Listen).
  uint16_t port() const { return port_; }
  // Event loop of worker `i`, for per-worker state created before Run().
  asio::io_context& worker_context(int i) { return *contexts_[i]; }
  // Socket deadlines of worker `i` (its upstream pool uses them too).
  DeadlineWheel& worker_deadlines(int i) { return *wheels_[i]; }
  int workers() const { return static_cast<int>(contexts_.size()); }
  // Runs the workers on their threads and returns immediately.
  void Start();
  // Stops accepting and closes idle connections; waits up to `grace_ms` for
  // in-flight requests; then cuts the rest (cutting() turns true and every
  // socket with an armed deadline is cancelled, so a relay waiting on its
  // upstream ends and records its row) and waits for them to finish, at most
  // kCutWaitMs more; then stops the loops and joins the threads.
  void Stop(int grace_ms);
  // After Stop() and after the per-worker state on the loops (upstream pools)
  // is gone: destroys the loops, and with them any request coroutine still
  // suspended there, so its destructors (the gateway's Call records its row)
  // run now, while the ledger is still open, not when the Server is destroyed.
  void DestroyLoops();
  // True once Stop() has given up waiting and is cutting in-flight requests.
  // Any thread.
  bool cutting() const { return cutting_.load(std::memory_order_relaxed); }
  // Client connections open now (all workers). Any thread.
  int active_connections() const { return active_sessions_.load(std::memory_order_relaxed); }
  static constexpr int kCutWaitMs = 3000;

 private:
  asio::awaitable<void> AcceptLoop(int worker);
  asio::awaitable<void> Session(int worker, asio::ip::tcp::socket socket);
  // Answers a connection over max_connections with a 503 and closes it.
  asio::awaitable<void> Refuse(int worker, asio::ip::tcp::socket socket);

  ServerOptions options_;
  Handler handler_;
  uint16_t port_ = 0;
  // Declared before the contexts so they outlive the coroutine frames (and
  // their Deadlines) that the contexts destroy.
  std::vector<std::unique_ptr<DeadlineWheel>> wheels_;  // index = worker
  std::vector<std::unique_ptr<asio::io_context>> contexts_;
  std::vector<std::unique_ptr<asio::ip::tcp::acceptor>> acceptors_;
  std::vector<std::thread> threads_;
  std::atomic<int> active_sessions_{0};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> cutting_{false};
  // Per worker: its open sessions, each saying whether it waits for its next
  // request. Touched only on that worker's thread, so Stop() can close the
  // idle ones at once instead of waiting.
  struct SessionSlot {
    asio::ip::tcp::socket* socket;
    bool idle;
  };
  std::vector<std::unordered_set<SessionSlot*>> sessions_;
};

}  // namespace tollgate::http
