#include "http/server.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cstdio>

#include "common/log.h"
#include "common/util.h"

namespace tollgate::http {

using asio::redirect_error;
using asio::use_awaitable;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {
constexpr int64_t kWriteTimeoutMs = 60000;

// A short answer sent when the gateway cannot serve the connection, then closed.
asio::awaitable<void> RefuseAndClose(tcp::socket& socket, Deadline& deadline, int status,
                                     std::string_view code, std::string_view message) {
  std::string body = R"({"error":{"message":")";
  body += message;  // fixed ASCII text, no escaping needed
  body += R"(","type":"invalid_request_error","param":null,"code":")";
  body += code;
  body += R"("}})";
  bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(status), 11};
  res.set(bhttp::field::content_type, "application/json");
  res.set(bhttp::field::connection, "close");
  res.body() = std::move(body);
  std::string scratch;
  ClientStream out(socket, deadline, scratch);
  (void)co_await out.Write(res);
}

}  // namespace

void ClientStream::Tee(std::string_view data) {
  if (tee_ == nullptr || tee_overflow_) return;
  if (tee_->size() + data.size() > tee_limit_) {
    tee_overflow_ = true;
    return;
  }
  tee_->append(data);
}

Status ClientStream::Sent(const error_code& ec) {
  if (ec) return Status::IoError("client write: " + ec.message());
  return Status::Ok();
}

asio::awaitable<Status> ClientStream::SendRest(Gather& g) {
  co_return Sent(co_await http::SendRest(*socket_, g, *deadline_, kWriteTimeoutMs));
}

asio::awaitable<Status> ClientStream::Write(bhttp::response<bhttp::string_body>& res) {
  const ResponseHead head = HeadOf(res.base());
  co_return co_await Write(head, res.body());
}

asio::awaitable<Status> ClientStream::Write(const ResponseHead& head, std::string_view body) {
  started_ = true;
  sent_status_ = static_cast<int>(head.status);
  if (socket_ == nullptr) {
    Capture(head);
    captured_body_ = body;
    co_return Status::Ok();
  }
  Tee(body);
  scratch_->clear();
  AppendResponseHead(*scratch_, head, body.size(), false);
  if (head_only_) body = {};
  Gather g{asio::buffer(*scratch_), asio::buffer(body.data(), body.size())};
  error_code ec;
  if (SendNow(*socket_, g, ec)) co_return Sent(ec);  // the usual case: no extra frame
  co_return co_await SendRest(g);
}

asio::awaitable<Status> ClientStream::StartChunked(bhttp::response<bhttp::empty_body>& res) {
  started_ = true;
  const ResponseHead head = HeadOf(res.base());
  sent_status_ = static_cast<int>(head.status);
  if (socket_ == nullptr) {
    Capture(head);
    co_return Status::Ok();
  }
  scratch_->clear();
  AppendResponseHead(*scratch_, head, 0, true);
  Gather g{asio::buffer(*scratch_)};
  error_code ec;
  if (SendNow(*socket_, g, ec)) co_return Sent(ec);
  co_return co_await SendRest(g);
}

asio::awaitable<Status> ClientStream::WriteChunk(std::string_view data) {
  if (data.empty() || head_only_) co_return Status::Ok();
  if (socket_ == nullptr) {
    captured_body_.append(data);
    co_return Status::Ok();
  }
  Tee(data);
  char size_line[20];
  const int len = std::snprintf(size_line, sizeof size_line, "%zx\r\n", data.size());
  Gather g{asio::buffer(size_line, static_cast<size_t>(len)),
           asio::buffer(data.data(), data.size()), asio::buffer("\r\n", 2)};
  error_code ec;
  if (SendNow(*socket_, g, ec)) co_return Sent(ec);
  co_return co_await SendRest(g);
}

asio::awaitable<Status> ClientStream::EndChunked() {
  if (socket_ == nullptr || head_only_) co_return Status::Ok();
  Gather g{asio::buffer("0\r\n\r\n", 5)};
  error_code ec;
  if (SendNow(*socket_, g, ec)) co_return Sent(ec);
  co_return co_await SendRest(g);
}

void ClientStream::Capture(const ResponseHead& head) {
  captured_status_ = static_cast<int>(head.status);
  std::string_view rest = head.fields();
  while (!rest.empty()) {
    const size_t eol = rest.find("\r\n");
    const std::string_view line = rest.substr(0, eol);
    rest = eol == std::string_view::npos ? std::string_view() : rest.substr(eol + 2);
    const size_t colon = line.find(": ");
    if (colon != std::string_view::npos)
      captured_headers_.emplace_back(std::string(line.substr(0, colon)),
                                     std::string(line.substr(colon + 2)));
  }
}

Server::Server(ServerOptions options, Handler handler)
    : options_(std::move(options)), handler_(std::move(handler)) {
  for (int i = 0; i < options_.threads; ++i) {
    // One thread runs each context and only it touches the context's sockets
    // (Stop() posts), so the reactor needs no per-socket locking.
    contexts_.push_back(std::make_unique<asio::io_context>(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO));
    wheels_.push_back(std::make_unique<DeadlineWheel>(*contexts_.back()));
  }
  sessions_.resize(static_cast<size_t>(options_.threads));
}

Server::~Server() { Stop(0); }

Status Server::Listen() {
  error_code ec;
  auto addr = asio::ip::make_address(options_.host, ec);
  if (ec) return Status::InvalidArgument("invalid listen address '" + options_.host + "'");
  uint16_t port = options_.port;
  for (int i = 0; i < workers(); ++i) {
    auto acc = std::make_unique<tcp::acceptor>(*contexts_[i]);
    tcp::endpoint ep(addr, port);
    acc->open(ep.protocol(), ec);
    if (!ec) acc->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) {
      int one = 1;
      if (::setsockopt(acc->native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
        return Status::Unavailable("SO_REUSEPORT failed");
    }
    if (!ec) acc->bind(ep, ec);
    if (!ec) acc->listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
      return Status::Unavailable("cannot listen on " + options_.host + ":" + std::to_string(port) +
                                 ": " + ec.message());
    if (i == 0) port = acc->local_endpoint().port();
    acceptors_.push_back(std::move(acc));
  }
  port_ = port;
  return Status::Ok();
}

void Server::Start() {
  for (int i = 0; i < workers(); ++i) {
    asio::co_spawn(*contexts_[i], AcceptLoop(i), asio::detached);
    wheels_[i]->Start();
    threads_.emplace_back([this, i] {
      for (;;) {
        try {
          contexts_[i]->run();
          return;
        } catch (const std::exception& e) {
          // A handler threw: a bug, but one request must not take the process down.
          log::Error(std::string("worker caught exception: ") + e.what());
        }
      }
    });
  }
}

void Server::Stop(int grace_ms) {
  if (threads_.empty()) return;
  stopping_.store(true);
  for (int i = 0; i < workers(); ++i) {
    asio::post(*contexts_[i], [this, i] {
      error_code ec;
      acceptors_[i]->close(ec);
      // Idle keep-alive connections have no request to drain: close them now.
      for (SessionSlot* s : sessions_[static_cast<size_t>(i)])
        if (s->idle) s->socket->cancel(ec);
    });
  }
  auto wait_for_sessions = [this](int ms) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (active_sessions_.load() > 0 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  };
  wait_for_sessions(grace_ms);
  if (active_sessions_.load() > 0) {
    // Still in flight (long streams): cut them, so each ends through its own
    // code path and records what it delivered, instead of vanishing with the loop.
    log::Info(std::to_string(active_sessions_.load()) + " requests still in flight after " +
              std::to_string(grace_ms) + " ms: cutting them");
    cutting_.store(true);
    for (int i = 0; i < workers(); ++i) {
      asio::post(*contexts_[i], [this, i] {
        wheels_[static_cast<size_t>(i)]->ExpireAll();
        error_code ec;
        for (SessionSlot* s : sessions_[static_cast<size_t>(i)])
          if (s->idle) s->socket->cancel(ec);
      });
    }
    wait_for_sessions(kCutWaitMs);
  }
  for (auto& c : contexts_) c->stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

void Server::DestroyLoops() {
  Stop(0);
  acceptors_.clear();
  contexts_.clear();  // destroys suspended coroutine frames; wheels_ outlive them
}

asio::awaitable<void> Server::AcceptLoop(int worker) {
  auto& acc = *acceptors_[worker];
  for (;;) {
    error_code ec;
    tcp::socket sock = co_await acc.async_accept(redirect_error(use_awaitable, ec));
    if (ec == asio::error::operation_aborted || !acc.is_open()) co_return;
    if (ec) {
      // EMFILE and friends: back off briefly instead of spinning.
      log::Warn("accept failed: " + ec.message());
      asio::steady_timer t(*contexts_[worker], std::chrono::milliseconds(50));
      co_await t.async_wait(redirect_error(use_awaitable, ec));
      continue;
    }
    sock.set_option(tcp::no_delay(true), ec);
    if (active_sessions_.load(std::memory_order_relaxed) >= options_.max_connections) {
      // Over server.max_connections: a clear refusal now (never a hang), and
      // the descriptor back at once, so the connections already open keep working.
      asio::co_spawn(*contexts_[worker], Refuse(worker, std::move(sock)), asio::detached);
      continue;
    }
    asio::co_spawn(*contexts_[worker], Session(worker, std::move(sock)), asio::detached);
  }
}

asio::awaitable<void> Server::Refuse(int worker, tcp::socket socket) {
  error_code ec;
  socket.non_blocking(true, ec);
  Deadline deadline(*wheels_[static_cast<size_t>(worker)], socket);
  co_await RefuseAndClose(socket, deadline, 503, "too_many_connections",
                          "the gateway is serving its maximum number of connections "
                          "(server.max_connections); retry shortly");
  socket.shutdown(tcp::socket::shutdown_send, ec);
  socket.close(ec);
}

asio::awaitable<void> Server::Session(int worker, tcp::socket socket) {
  active_sessions_.fetch_add(1);
  error_code ec;
  socket.non_blocking(true, ec);  // writes try the kernel first (http/wire.h)
  Deadline deadline(*wheels_[static_cast<size_t>(worker)], socket);
  SessionSlot slot{&socket, false};
  auto& sessions = sessions_[static_cast<size_t>(worker)];
  sessions.insert(&slot);
  beast::flat_buffer buffer;
  std::string scratch;  // response heads
  for (;;) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.body_limit(static_cast<uint64_t>(options_.max_body_bytes));
    parser.header_limit(64 * 1024);
    parser.eager(true);
    if (stopping_.load()) break;
    deadline.Arm(options_.idle_timeout_ms);
    slot.idle = true;
    ec = co_await ReadMessage(socket, buffer, parser, true);
    slot.idle = false;
    if (!ec && parser.is_header_done()) {
      if (const char* problem = RequestFramingProblem(parser.get().base())) {
        // Answer and close: the bytes after this head cannot be trusted to frame anything.
        deadline.Disarm();
        co_await RefuseAndClose(socket, deadline, 400, "bad_http", problem);
        break;
      }
    }
    if (!ec && !parser.is_done()) {
      // curl and others send "Expect: 100-continue" with larger bodies and
      // wait (curl: 1 s) for a go-ahead before sending the body.
      auto expect = parser.get().find(bhttp::field::expect);
      if (expect != parser.get().end() && beast::iequals(expect->value(), "100-continue")) {
        Gather g{asio::buffer("HTTP/1.1 100 Continue\r\n\r\n", 25)};
        if (!SendNow(socket, g, ec)) ec = co_await SendRest(socket, g, deadline, kWriteTimeoutMs);
      }
      if (!ec) {
        deadline.Arm(options_.idle_timeout_ms);
        ec = co_await ReadMessage(socket, buffer, parser, false);
      }
    }
    deadline.Disarm();
    if (ec == asio::error::operation_aborted) break;  // idle too long, or the server is stopping
    if (ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
        ec == asio::error::connection_reset)
      break;
    ClientStream out(socket, deadline, scratch);
    if (ec == bhttp::error::body_limit) {
      Request& req = parser.get();
      (void)co_await handler_(worker, req, PreError::kBodyTooLarge, out);
      break;  // the unread body makes the connection unusable
    }
    if (ec) {
      // Unparseable HTTP: answer 400 once and close; nothing reached the gateway.
      bhttp::response<bhttp::string_body> res{bhttp::status::bad_request, 11};
      res.set(bhttp::field::content_type, "application/json");
      res.set(bhttp::field::connection, "close");
      res.body() = R"({"error":{"message":"malformed HTTP request: )" + ec.message() +
                   R"(","type":"invalid_request_error","param":null,"code":"bad_http"}})";
      (void)co_await out.Write(res);
      break;
    }
    Request& req = parser.get();
    out.SetHeadOnly(req.method() == bhttp::verb::head);
    bool keep = co_await handler_(worker, req, PreError::kNone, out);
    if (!keep || !req.keep_alive() || stopping_.load()) break;
  }
  sessions.erase(&slot);
  error_code ignored;
  socket.shutdown(tcp::socket::shutdown_send, ignored);
  socket.close(ignored);
  active_sessions_.fetch_sub(1);
}

}  // namespace tollgate::http
