#include "http/wire.h"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <array>
#include <charconv>

namespace tollgate::http {

using asio::redirect_error;
using asio::use_awaitable;

namespace {

void AppendNumber(std::string& out, uint64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, static_cast<size_t>(end - buf));
}

bool Framing(bhttp::field f) { return f == bhttp::field::content_length || f == bhttp::field::transfer_encoding; }

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

void AppendResponseHead(std::string& out, const bhttp::response_header<>& head, size_t body_size, bool chunked) {
  const unsigned status = head.result_int();
  out.append("HTTP/1.1 ", 9);
  AppendNumber(out, status);
  out.push_back(' ');
  std::string_view reason = head.reason();
  if (reason.empty()) reason = bhttp::obsolete_reason(head.result());
  out.append(reason);
  out.append("\r\n", 2);
  AppendFields(out, head);
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

void AppendRequestHead(std::string& out, const bhttp::request_header<>& head, size_t body_size) {
  out.append(head.method_string());
  out.push_back(' ');
  out.append(head.target());
  out.append(" HTTP/1.1\r\n", 11);
  AppendFields(out, head);
  out.append("Content-Length: ", 16);
  AppendNumber(out, body_size);
  out.append("\r\n\r\n", 4);
}

asio::awaitable<error_code> WriteAll(asio::ip::tcp::socket& s, const asio::const_buffer* bufs, size_t count,
                                     Deadline& deadline, int64_t timeout_ms) {
  // Up to 4 pieces (head, chunk size, data, CRLF); unused ones stay empty.
  std::array<asio::const_buffer, 4> pieces;
  size_t total = 0;
  for (size_t i = 0; i < count && i < pieces.size(); ++i) {
    pieces[i] = bufs[i];
    total += bufs[i].size();
  }
  error_code ec;
  size_t sent = s.write_some(pieces, ec);
  if (ec == asio::error::would_block || ec == asio::error::try_again) {
    ec = {};
    sent = 0;
  }
  if (ec || sent == total) co_return ec;
  // The send buffer is full: the rest waits for the reactor.
  beast::buffers_suffix<std::array<asio::const_buffer, 4>> rest(pieces);
  rest.consume(sent);
  deadline.Arm(timeout_ms);
  co_await asio::async_write(s, rest, redirect_error(use_awaitable, ec));
  deadline.Disarm();
  co_return ec;
}

asio::awaitable<error_code> ReadMore(asio::ip::tcp::socket& s, beast::flat_buffer& buf, size_t max) {
  error_code ec;
  const size_t n = co_await s.async_read_some(buf.prepare(max), redirect_error(use_awaitable, ec));
  buf.commit(n);
  co_return ec;
}

asio::awaitable<error_code> ReadMore(asio::ssl::stream<asio::ip::tcp::socket>& s, beast::flat_buffer& buf,
                                     size_t max) {
  error_code ec;
  const size_t n = co_await s.async_read_some(buf.prepare(max), redirect_error(use_awaitable, ec));
  buf.commit(n);
  co_return ec;
}

}  // namespace tollgate::http
