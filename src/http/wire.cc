#include "http/wire.h"

#include <array>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>
#include <span>

namespace tollgate::http {

using asio::redirect_error;
using asio::use_awaitable;

namespace {

void AppendNumber(std::string& out, uint64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, static_cast<size_t>(end - buf));
}

bool Framing(bhttp::field f) {
  return f == bhttp::field::content_length || f == bhttp::field::transfer_encoding;
}

}  // namespace

void AppendFields(std::string& out, const bhttp::fields& fields) {
  for (const auto& f : fields) {
    if (Framing(f.name())) continue;
    out.append(f.name_string());
    out.append(": ", 2);
    out.append(f.value());
    out.append("\r\n", 2);
  }
}

namespace {

void AppendStatusLine(std::string& out, unsigned status, std::string_view reason) {
  out.append("HTTP/1.1 ", 9);
  AppendNumber(out, status);
  out.push_back(' ');
  if (reason.empty()) reason = bhttp::obsolete_reason(static_cast<bhttp::status>(status));
  out.append(reason);
  out.append("\r\n", 2);
}

// The framing field (none for statuses without a body) and the blank line.
void AppendFraming(std::string& out, unsigned status, size_t body_size, bool chunked) {
  if (!(status < 200 || status == 204 || status == 304)) {
    if (chunked) {
      out.append("Transfer-Encoding: chunked\r\n");
    } else {
      out.append("Content-Length: ", 16);
      AppendNumber(out, body_size);
      out.append("\r\n", 2);
    }
  }
  out.append("\r\n", 2);
}

void AppendRequestLine(std::string& out, std::string_view method, std::string_view target) {
  out.append(method);
  out.push_back(' ');
  out.append(target);
  out.append(" HTTP/1.1\r\n", 11);
}

void AppendContentLength(std::string& out, size_t body_size) {
  out.append("Content-Length: ", 16);
  AppendNumber(out, body_size);
  out.append("\r\n\r\n", 4);
}

}  // namespace

void AppendResponseHead(std::string& out, const bhttp::response_header<>& head, size_t body_size,
                        bool chunked) {
  AppendStatusLine(out, head.result_int(), head.reason());
  AppendFields(out, head);
  AppendFraming(out, head.result_int(), body_size, chunked);
}

void AppendResponseHead(std::string& out, const ResponseHead& head, size_t body_size,
                        bool chunked) {
  AppendStatusLine(out, head.status, {});
  out.append(head.fields());
  AppendFraming(out, head.status, body_size, chunked);
}

void AppendRequestHead(std::string& out, const RequestHead& head, std::string_view host,
                       size_t body_size) {
  AppendRequestLine(out, bhttp::to_string(head.method), head.target);
  if (!host.empty()) {
    out.append("Host: ", 6);
    out.append(host);
    out.append("\r\n", 2);
  }
  out.append(head.fields());
  AppendContentLength(out, body_size);
}

void AppendRequestHead(std::string& out, const bhttp::request_header<>& head, size_t body_size) {
  AppendRequestLine(out, head.method_string(), head.target());
  AppendFields(out, head);
  AppendContentLength(out, body_size);
}

bool SendNow(asio::ip::tcp::socket& s, Gather& g, error_code& ec) {
  ec = {};
  const size_t n = s.write_some(std::span<const asio::const_buffer>(g.pieces.data(), g.count), ec);
  if (ec == asio::error::would_block || ec == asio::error::try_again) {
    ec = {};
    return false;
  }
  if (ec) return true;
  g.sent += n;
  return g.sent == g.total;
}

asio::awaitable<error_code> SendRest(asio::ip::tcp::socket& s, Gather& g, Deadline& deadline,
                                     int64_t timeout_ms) {
  beast::buffers_suffix<std::array<asio::const_buffer, 4>> rest(g.pieces);
  rest.consume(g.sent);
  error_code ec;
  deadline.Arm(timeout_ms);
  const size_t n = co_await asio::async_write(s, rest, redirect_error(use_awaitable, ec));
  deadline.Disarm();
  g.sent += n;
  co_return ec;
}

asio::awaitable<error_code> WriteAll(asio::ip::tcp::socket& s, Gather g, Deadline& deadline,
                                     int64_t timeout_ms) {
  error_code ec;
  if (SendNow(s, g, ec)) co_return ec;
  co_return co_await SendRest(s, g, deadline, timeout_ms);
}

}  // namespace tollgate::http
