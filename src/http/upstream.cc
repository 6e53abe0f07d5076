#include "http/upstream.h"

#include <openssl/ssl.h>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <limits>

namespace tollgate::http {

using asio::redirect_error;
using asio::use_awaitable;
using tcp = asio::ip::tcp;
using boost::system::error_code;

struct UpstreamConnection {
  std::unique_ptr<tcp::socket> plain;  // non-blocking mode (http/wire.h)
  std::unique_ptr<asio::ssl::stream<tcp::socket>> tls;
  std::unique_ptr<Deadline> deadline;  // declared after the streams: unregistered first
  beast::flat_buffer buffer;
  std::string head;  // the request head being sent
  tcp::socket& lowest() { return plain ? *plain : tls->next_layer(); }
  // Timed out: the wheel cancelled the socket after the armed deadline.
  bool timed_out(const error_code& ec) const { return ec && deadline->fired(); }
};

Result<Url> ParseUrl(std::string_view url) {
  Url u;
  std::string_view rest;
  if (url.rfind("https://", 0) == 0) {
    u.tls = true;
    rest = url.substr(8);
  } else if (url.rfind("http://", 0) == 0) {
    rest = url.substr(7);
  } else {
    return Status::InvalidArgument("URL must start with http:// or https://: " + std::string(url));
  }
  size_t slash = rest.find('/');
  std::string_view hostport = rest.substr(0, slash);
  u.path = slash == std::string_view::npos ? "" : std::string(rest.substr(slash));
  while (!u.path.empty() && u.path.back() == '/') u.path.pop_back();
  if (!hostport.empty() && hostport.front() == '[') {  // [v6]:port
    size_t close = hostport.find(']');
    if (close == std::string_view::npos)
      return Status::InvalidArgument("bad IPv6 host in " + std::string(url));
    u.host = std::string(hostport.substr(1, close - 1));
    if (close + 1 < hostport.size() && hostport[close + 1] == ':')
      u.port = std::string(hostport.substr(close + 2));
  } else {
    size_t colon = hostport.rfind(':');
    u.host = std::string(hostport.substr(0, colon));
    if (colon != std::string_view::npos) u.port = std::string(hostport.substr(colon + 1));
  }
  if (u.host.empty()) return Status::InvalidArgument("URL has no host: " + std::string(url));
  if (u.port.empty()) u.port = u.tls ? "443" : "80";
  return u;
}

Result<std::shared_ptr<asio::ssl::context>> MakeTlsContext(const std::string& ca_file) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  error_code ec;
  ctx->set_default_verify_paths(ec);
  if (!ca_file.empty()) {
    ctx->load_verify_file(ca_file, ec);
    if (ec) return Status::InvalidArgument("cannot load CA file " + ca_file + ": " + ec.message());
  }
  ctx->set_verify_mode(asio::ssl::verify_peer);
  return ctx;
}

UpstreamPool::UpstreamPool(asio::io_context& ioc, DeadlineWheel& wheel)
    : ioc_(ioc), wheel_(wheel) {}
UpstreamPool::~UpstreamPool() = default;

std::unique_ptr<UpstreamConnection> UpstreamPool::TakeIdle(const Endpoint& ep) {
  auto it = idle_.find(ep.pool_key);
  if (it == idle_.end() || it->second.empty()) return nullptr;
  auto conn = std::move(it->second.back());  // most recently used: least likely to be closed
  it->second.pop_back();
  return conn;
}

void UpstreamPool::PutIdle(const Endpoint& ep, std::unique_ptr<UpstreamConnection> conn) {
  auto& q = idle_[ep.pool_key];
  if (q.size() >= ep.max_idle) q.pop_front();
  q.push_back(std::move(conn));
}

UpstreamCall::UpstreamCall(UpstreamPool& pool, const Endpoint& ep) : pool_(pool), ep_(ep) {}
UpstreamCall::~UpstreamCall() = default;

asio::awaitable<Status> UpstreamCall::Connect() {
  error_code ec;
  tcp::resolver resolver(pool_.context());
  auto results = co_await resolver.async_resolve(ep_.url.host, ep_.url.port,
                                                 redirect_error(use_awaitable, ec));
  if (ec) {
    failure_ = FailureKind::kConnect;
    co_return Status::Unavailable("cannot resolve " + ep_.url.host + ": " + ec.message());
  }
  conn_ = std::make_unique<UpstreamConnection>();
  if (ep_.url.tls) {
    conn_->tls = std::make_unique<asio::ssl::stream<tcp::socket>>(pool_.context(), *ep_.tls);
  } else {
    conn_->plain = std::make_unique<tcp::socket>(pool_.context());
  }
  auto& low = conn_->lowest();
  conn_->deadline = std::make_unique<Deadline>(pool_.wheel(), low);
  conn_->deadline->Arm(ep_.connect_timeout_ms);
  co_await asio::async_connect(low, results, redirect_error(use_awaitable, ec));
  if (ec) {
    failure_ = conn_->timed_out(ec) ? FailureKind::kTimeout : FailureKind::kConnect;
    conn_.reset();
    co_return Status::Unavailable("cannot connect to " + ep_.url.host + ":" + ep_.url.port + ": " +
                                  ec.message());
  }
  low.set_option(tcp::no_delay(true), ec);
  low.non_blocking(true, ec);
  if (conn_->tls) {
    // SNI and hostname verification.
    if (!SSL_set_tlsext_host_name(conn_->tls->native_handle(), ep_.url.host.c_str())) {
      failure_ = FailureKind::kConnect;
      co_return Status::Unavailable("TLS: cannot set SNI host name");
    }
    conn_->tls->set_verify_callback(asio::ssl::host_name_verification(ep_.url.host));
    co_await conn_->tls->async_handshake(asio::ssl::stream_base::client,
                                         redirect_error(use_awaitable, ec));
    if (ec) {
      failure_ = conn_->timed_out(ec) ? FailureKind::kTimeout : FailureKind::kConnect;
      conn_.reset();
      co_return Status::Unavailable("TLS handshake with " + ep_.url.host +
                                    " failed: " + ec.message());
    }
  }
  co_return Status::Ok();
}

asio::awaitable<error_code> UpstreamCall::SendTls(std::string_view body) {
  // One TLS record for a small request rather than one per piece.
  std::string& head = conn_->head;
  head.append(body);
  error_code ec;
  co_await asio::async_write(*conn_->tls, asio::buffer(head), redirect_error(use_awaitable, ec));
  co_return ec;
}

asio::awaitable<Status> UpstreamCall::Start(bhttp::request_header<>& req, std::string_view body) {
  const RequestHead head = HeadOf(req);
  co_return co_await Start(head, body);
}

asio::awaitable<Status> UpstreamCall::Start(const RequestHead& req, std::string_view body) {
  // A pooled connection may have been closed by the server while idle. That
  // shows up as a write error or an EOF before any response byte, and is
  // retried once on a fresh connection without counting as a retry.
  for (int fresh_try = 0; fresh_try < 2; ++fresh_try) {
    bool reused = false;
    if (fresh_try == 0) {
      conn_ = pool_.TakeIdle(ep_);
      reused = conn_ != nullptr;
    }
    if (!conn_) {
      Status st = co_await Connect();
      if (!st.ok()) co_return st;
    }
    conn_->head.clear();
    AppendRequestHead(conn_->head, req, ep_.url.host, body.size());
    error_code ec;
    if (conn_->plain) {
      Gather g{asio::buffer(conn_->head), asio::buffer(body.data(), body.size())};
      if (!SendNow(*conn_->plain, g, ec))
        ec = co_await SendRest(*conn_->plain, g, *conn_->deadline, ep_.first_byte_timeout_ms);
    } else {
      ec = co_await SendTls(body);
    }
    // The request is out; the answer must start in time.
    conn_->deadline->Arm(ep_.first_byte_timeout_ms);
    if (!ec) {
      parser_ = std::make_unique<bhttp::response_parser<bhttp::buffer_body>>();
      // Not boost::none: Beast 1.74 compares Content-Length against an empty
      // optional as "over the limit" and fails every sized response.
      parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
      conn_->buffer.clear();  // nothing from an earlier exchange belongs to this one
      if (conn_->plain)
        ec = co_await ReadMessage(*conn_->plain, conn_->buffer, *parser_, true);
      else
        ec = co_await ReadMessage(*conn_->tls, conn_->buffer, *parser_, true);
    }
    if (!ec) co_return Status::Ok();
    const bool timed_out = conn_->timed_out(ec);
    conn_.reset();
    if (timed_out) {
      failure_ = FailureKind::kTimeout;
      co_return Status::Timeout("no response from " + ep_.url.host + " within " +
                                std::to_string(ep_.first_byte_timeout_ms) + " ms");
    }
    if (!reused) {
      failure_ = FailureKind::kIo;
      co_return Status::Unavailable("upstream " + ep_.url.host +
                                    " closed the connection: " + ec.message());
    }
  }
  failure_ = FailureKind::kIo;
  co_return Status::Unavailable("upstream " + ep_.url.host + " closed the connection");
}

const bhttp::response_parser<bhttp::buffer_body>::value_type& UpstreamCall::head() const {
  return parser_->get();
}

int UpstreamCall::status() const { return static_cast<int>(parser_->get().result_int()); }

asio::awaitable<Result<size_t>> UpstreamCall::ReadSome(char* buf, size_t cap) {
  if (!pending_error_.ok()) co_return std::exchange(pending_error_, Status::Ok());
  if (!conn_ || !parser_) co_return Status::Internal("ReadSome before Start");
  auto& body = parser_->get().body();
  body.data = buf;
  body.size = cap;
  error_code ec;
  // Parse what is buffered; read from the socket only when that yields nothing.
  for (;;) {
    if (parser_->is_done()) break;
    ec = PutBuffered(*parser_, conn_->buffer);
    if (ec == bhttp::error::need_buffer) {
      ec = {};
      break;  // `buf` is full
    }
    if (!ec) continue;
    if (ec != bhttp::error::need_more) break;
    if (body.size < cap) {
      ec = {};
      break;  // hand over what we have before waiting for more
    }
    conn_->deadline->Arm(ep_.idle_timeout_ms);
    auto space = conn_->buffer.prepare(16384);
    size_t n = 0;
    if (conn_->plain)
      n = co_await conn_->plain->async_read_some(space, redirect_error(use_awaitable, ec));
    else
      n = co_await conn_->tls->async_read_some(space, redirect_error(use_awaitable, ec));
    conn_->buffer.commit(n);
    if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) {
      parser_->put_eof(ec);  // ends a body delimited by the close; otherwise partial_message
      if (!ec) break;
    }
    if (ec) break;
  }
  const size_t got = cap - body.size;
  body.data = nullptr;
  body.size = 0;
  if (ec) {
    const bool timed_out = conn_->timed_out(ec);
    conn_.reset();
    Status err;
    if (timed_out) {
      failure_ = FailureKind::kTimeout;
      err = Status::Timeout("upstream idle for " + std::to_string(ep_.idle_timeout_ms) + " ms");
    } else {
      failure_ = FailureKind::kIo;
      err = Status::IoError("upstream stream broke: " + ec.message());
    }
    // Bytes that arrived before the break still count: hand them over now and
    // report the error on the next read.
    if (got > 0) {
      pending_error_ = std::move(err);
      co_return got;
    }
    co_return err;
  }
  if (got == 0) done_ = true;
  co_return got;
}

asio::awaitable<Result<std::string>> UpstreamCall::ReadAll(size_t limit) {
  // The body is parsed straight into `out` (sized from Content-Length when
  // there is one): no bounce buffer, and a small coroutine frame.
  std::string out;
  size_t step = 16384;
  if (auto cl = parser_->content_length())
    step = static_cast<size_t>(std::min<uint64_t>(*cl, limit)) + 1;
  for (;;) {
    const size_t old = out.size();
    const size_t room = std::max<size_t>(step, 1024);
    out.resize(old + room);
    Result<size_t> n = co_await ReadSome(out.data() + old, room);
    out.resize(old + (n.ok() ? *n : 0));
    if (!n.ok()) co_return n.status();
    if (*n == 0) break;
    if (out.size() > limit) {
      conn_.reset();
      co_return Status::TooLarge("upstream response over " + std::to_string(limit) + " bytes");
    }
    if (parser_->is_done() && pending_error_.ok()) {
      done_ = true;  // no need for the call that would return 0
      break;
    }
    step = 16384;
  }
  co_return out;
}

void UpstreamCall::Finish() {
  if (conn_ && parser_ && parser_->is_done() && parser_->keep_alive()) {
    conn_->deadline->Disarm();
    pool_.PutIdle(ep_, std::move(conn_));
  }
  conn_.reset();
}

}  // namespace tollgate::http
