#include "http/wire.h"

#include "common/util.h"

#include <array>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>
#include <span>

namespace tollgate::http {

using asio::redirect_error;
using asio::use_awaitable;

namespace {

bool Framing(bhttp::field f) {
  return f == bhttp::field::content_length || f == bhttp::field::transfer_encoding;
}

void AppendNumber(std::string& out, uint64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, static_cast<size_t>(end - buf));
}

void AppendContentLength(std::string& out, size_t body_size) {
  out.append("Content-Length: ", 16);
  AppendNumber(out, body_size);
  out.append("\r\n", 2);
}

}  // namespace

ResponseHead HeadOf(const bhttp::response_header<>& head) {
  ResponseHead h(head.result_int());
  for (const auto& f : head)
    if (!Framing(f.name())) h.set(f.name_string(), f.value());
  return h;
}

RequestHead HeadOf(const bhttp::request_header<>& head) {
  RequestHead h(head.method(), head.target());
  for (const auto& f : head)
    if (!Framing(f.name()) && f.name() != bhttp::field::host) h.set(f.name_string(), f.value());
  return h;
}

void AppendResponseHead(std::string& out, const ResponseHead& head, size_t body_size,
                        bool chunked) {
  out.append("HTTP/1.1 ", 9);
  AppendNumber(out, head.status);
  out.push_back(' ');
  out.append(bhttp::obsolete_reason(static_cast<bhttp::status>(head.status)));
  out.append("\r\n", 2);
  out.append(head.fields());
  if (!(head.status < 200 || head.status == 204 || head.status == 304)) {
    if (chunked)
      out.append("Transfer-Encoding: chunked\r\n");
    else
      AppendContentLength(out, body_size);
  }
  out.append("\r\n", 2);
}

void AppendRequestHead(std::string& out, const RequestHead& head, std::string_view host,
                       size_t body_size) {
  out.append(bhttp::to_string(head.method));
  out.push_back(' ');
  out.append(head.target);
  out.append(" HTTP/1.1\r\n", 11);
  out.append("Host: ", 6);
  out.append(host);
  out.append("\r\n", 2);
  out.append(head.fields());
  AppendContentLength(out, body_size);
  out.append("\r\n", 2);
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

const char* RequestFramingProblem(const bhttp::fields& h) {
  auto te = h.find(bhttp::field::transfer_encoding);
  if (te == h.end()) return nullptr;
  if (h.count(bhttp::field::transfer_encoding) > 1 ||
      !beast::iequals(Trim(std::string_view(te->value().data(), te->value().size())), "chunked"))
    return "Transfer-Encoding other than chunked is not supported";
  if (h.find(bhttp::field::content_length) != h.end())
    return "Transfer-Encoding and Content-Length must not both be sent";
  return nullptr;
}

}  // namespace tollgate::http
