#include "http/server.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>

#include "common/log.h"

namespace tollgate::http {

using asio::redirect_error;
using asio::use_awaitable;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {
constexpr int64_t kWriteTimeoutMs = 60000;
}

template <class Fields>
void ClientStream::CaptureHead(int status, const Fields& fields) {
  captured_status_ = status;
  for (const auto& f : fields) captured_headers_.emplace_back(std::string(f.name_string()), std::string(f.value()));
}

void ClientStream::Tee(std::string_view data) {
  if (tee_ == nullptr || tee_overflow_) return;
  if (tee_->size() + data.size() > tee_limit_) {
    tee_overflow_ = true;
    return;
  }
  tee_->append(data);
}

asio::awaitable<Status> ClientStream::Write(bhttp::response<bhttp::string_body>& res) {
  started_ = true;
  if (stream_ == nullptr) {
    CaptureHead(res.result_int(), res.base());
    captured_body_ = res.body();
    co_return Status::Ok();
  }
  Tee(res.body());
  error_code ec;
  res.prepare_payload();
  deadline_->Arm(kWriteTimeoutMs);
  co_await bhttp::async_write(*stream_, res, redirect_error(use_awaitable, ec));
  deadline_->Disarm();
  if (ec) co_return Status::IoError("client write: " + ec.message());
  co_return Status::Ok();
}

asio::awaitable<Status> ClientStream::StartChunked(bhttp::response<bhttp::empty_body>& head) {
  started_ = true;
  if (stream_ == nullptr) {
    CaptureHead(head.result_int(), head.base());
    co_return Status::Ok();
  }
  error_code ec;
  head.chunked(true);
  bhttp::response_serializer<bhttp::empty_body> sr(head);
  deadline_->Arm(kWriteTimeoutMs);
  co_await bhttp::async_write_header(*stream_, sr, redirect_error(use_awaitable, ec));
  deadline_->Disarm();
  if (ec) co_return Status::IoError("client write: " + ec.message());
  co_return Status::Ok();
}

asio::awaitable<Status> ClientStream::WriteChunk(std::string_view data) {
  if (data.empty()) co_return Status::Ok();
  if (stream_ == nullptr) {
    captured_body_.append(data);
    co_return Status::Ok();
  }
  Tee(data);
  error_code ec;
  deadline_->Arm(kWriteTimeoutMs);
  co_await asio::async_write(*stream_, bhttp::make_chunk(asio::buffer(data.data(), data.size())),
                             redirect_error(use_awaitable, ec));
  deadline_->Disarm();
  if (ec) co_return Status::IoError("client write: " + ec.message());
  co_return Status::Ok();
}

asio::awaitable<Status> ClientStream::EndChunked() {
  if (stream_ == nullptr) co_return Status::Ok();
  error_code ec;
  deadline_->Arm(kWriteTimeoutMs);
  co_await asio::async_write(*stream_, bhttp::make_chunk_last(), redirect_error(use_awaitable, ec));
  deadline_->Disarm();
  if (ec) co_return Status::IoError("client write: " + ec.message());
  co_return Status::Ok();
}

Server::Server(ServerOptions options, Handler handler)
    : options_(std::move(options)), handler_(std::move(handler)) {
  for (int i = 0; i < options_.threads; ++i) {
    contexts_.push_back(std::make_unique<asio::io_context>(1));
    wheels_.push_back(std::make_unique<DeadlineWheel>(*contexts_.back()));
  }
  idle_.resize(static_cast<size_t>(options_.threads));
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
    if (ec) return Status::Unavailable("cannot listen on " + options_.host + ":" + std::to_string(port) + ": " + ec.message());
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
      for (beast::tcp_stream* s : idle_[static_cast<size_t>(i)]) s->socket().cancel(ec);
    });
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(grace_ms);
  while (active_sessions_.load() > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  for (auto& c : contexts_) c->stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
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
    asio::co_spawn(*contexts_[worker], Session(worker, std::move(sock)), asio::detached);
  }
}

asio::awaitable<void> Server::Session(int worker, tcp::socket socket) {
  active_sessions_.fetch_add(1);
  beast::tcp_stream stream(std::move(socket));
  Deadline deadline(*wheels_[static_cast<size_t>(worker)], stream.socket());
  beast::flat_buffer buffer;
  for (;;) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.body_limit(static_cast<uint64_t>(options_.max_body_bytes));
    parser.header_limit(64 * 1024);
    deadline.Arm(options_.idle_timeout_ms);
    error_code ec;
    if (stopping_.load()) break;
    auto& idle = idle_[static_cast<size_t>(worker)];
    idle.insert(&stream);
    co_await bhttp::async_read(stream, buffer, parser, redirect_error(use_awaitable, ec));
    idle.erase(&stream);
    deadline.Disarm();
    if (ec == asio::error::operation_aborted) break;  // idle too long, or the server is stopping
    if (ec == bhttp::error::end_of_stream || ec == asio::error::eof || ec == beast::error::timeout ||
        ec == asio::error::connection_reset)
      break;
    ClientStream out(stream, deadline);
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
    bool keep = co_await handler_(worker, req, PreError::kNone, out);
    if (!keep || !req.keep_alive() || stopping_.load()) break;
  }
  error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream.socket().close(ignored);
  active_sessions_.fetch_sub(1);
}

}  // namespace tollgate::http
