// HTTP/1.1 on the wire, for the server and the upstream client alike: message
// heads serialised into one reused string, and socket I/O that costs one
// system call and no trip through the event loop in the common case.
//
// Why not Beast's async_read/async_write: each is a composed operation that,
// when the kernel has the bytes ready (the usual case on a keep-alive
// connection), still posts its completion to the io_context, and every post
// costs an extra epoll_wait before the coroutine resumes. Beast's serializer
// walks a generic buffer-sequence view per field. Here a write is one
// sendmsg() with the head and the body as two iovecs; a read is one recv()
// when the reactor already knows the socket is readable, and otherwise a wait
// on the reactor that completes in line with the epoll_wait that saw the
// bytes. Beast's parsers still parse (fed with put()).
//
// Thread safety: none; a socket and its buffers belong to one worker.
#pragma once

// clang-format off
#include <utility>  // first: Boost 1.74's awaitable.hpp uses std::exchange without including it
// clang-format on

#include <array>
#include <boost/asio.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <initializer_list>
#include <string>
#include <string_view>

#include "http/deadline.h"

namespace tollgate::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using boost::system::error_code;

// A message head built straight into one string: set() appends
// "Name: value\r\n" (no header map, no allocation per field, no
// de-duplication: set each name once). The hot path's answers and upstream
// requests use it; Beast's messages remain for everything else.
class HeadBuilder {
 public:
  HeadBuilder() { fields_.reserve(512); }  // one allocation for a typical head
  void set(std::string_view name, std::string_view value) {
    fields_.append(name);
    fields_.append(": ", 2);
    fields_.append(value);
    fields_.append("\r\n", 2);
  }
  void set(bhttp::field name, std::string_view value) { set(bhttp::to_string(name), value); }
  // A value in two parts ("Bearer " + key) without building it first.
  void set(std::string_view name, std::string_view prefix, std::string_view value) {
    fields_.append(name);
    fields_.append(": ", 2);
    fields_.append(prefix);
    fields_.append(value);
    fields_.append("\r\n", 2);
  }
  // The fields so far, each line ending in CRLF.
  const std::string& fields() const { return fields_; }

 private:
  std::string fields_;
};

struct ResponseHead : HeadBuilder {
  explicit ResponseHead(unsigned s) : status(s) {}
  unsigned status;
};

struct RequestHead : HeadBuilder {
  // `t` must outlive the head.
  RequestHead(bhttp::verb m, std::string_view t) : method(m), target(t) {}
  bhttp::verb method;
  std::string_view target;
};

// The same heads from Beast messages (the paths off the hot one), without
// the framing fields (Content-Length, Transfer-Encoding: the writer frames the
// body itself) and, for requests, without Host (the upstream client sets it).
// A RequestHead borrows `head`'s target.
ResponseHead HeadOf(const bhttp::response_header<>& head);
RequestHead HeadOf(const bhttp::request_header<>& head);

// Request framing that RFC 9112 says a server must refuse, or that lets one
// request hide another (smuggling): any Transfer-Encoding other than exactly
// "chunked", and Transfer-Encoding together with Content-Length (Beast would
// frame such a request by its Content-Length and keep the connection). The
// problem, for a 400 that closes the connection, or nullptr.
const char* RequestFramingProblem(const bhttp::fields& h);

// Appends a complete response head: status line, fields, then
// "Content-Length: body_size" or, with `chunked`, "Transfer-Encoding: chunked",
// and the blank line. Statuses without a body (1xx, 204, 304) get neither.
void AppendResponseHead(std::string& out, const ResponseHead& head, size_t body_size, bool chunked);

// Appends a request head: the request line, "Host: host", the fields, "Content-Length: body_size"
// and the blank line.
void AppendRequestHead(std::string& out, const RequestHead& head, std::string_view host,
                       size_t body_size);

// Up to four pieces sent with one gather write (head, chunk size, data, CRLF).
struct Gather {
  std::array<asio::const_buffer, 4> pieces{};
  size_t count = 0;
  size_t total = 0;
  size_t sent = 0;
  Gather(std::initializer_list<asio::const_buffer> bufs) {
    for (const auto& b : bufs) {
      if (count == pieces.size()) break;
      pieces[count++] = b;
      total += b.size();
    }
  }
};

// Sends as much of `g` as the kernel takes now, without waiting; `s` must be
// in non-blocking mode (socket.non_blocking(true)). Returns true when nothing
// is left to do: all sent, or failed (`ec`). No coroutine frame, no event-loop
// trip: the common case of a write is this one call.
bool SendNow(asio::ip::tcp::socket& s, Gather& g, error_code& ec);

// Sends the rest of `g` through the reactor with `deadline` armed for
// `timeout_ms`. Returns the error, if any (operation_aborted on timeout).
asio::awaitable<error_code> SendRest(asio::ip::tcp::socket& s, Gather& g, Deadline& deadline,
                                     int64_t timeout_ms);

// Parses buffered bytes of `buf` into `parser` and consumes them. Returns:
// no error when the parser made progress or is done (check is_done() /
// is_header_done()), need_more when it needs bytes that are not buffered yet,
// need_buffer when a buffer_body's buffer is full, or a parse error.
template <bool isRequest>
error_code PutBuffered(bhttp::basic_parser<isRequest>& parser, beast::flat_buffer& buf) {
  error_code ec;
  if (buf.size() == 0) return bhttp::error::need_more;
  const size_t n = parser.put(buf.data(), ec);
  buf.consume(n);
  if (!ec && n == 0 && !parser.is_done()) ec = bhttp::error::need_more;
  return ec;
}

// Reads one whole message into `parser` (the header, then with eager parsing
// the body), buffering in `buf` (which keeps any bytes past the message).
// end_of_stream when the peer closed before sending a byte of it.
template <class Stream, bool isRequest>
asio::awaitable<error_code> ReadMessage(Stream& s, beast::flat_buffer& buf,
                                        bhttp::basic_parser<isRequest>& parser, bool header_only) {
  for (;;) {
    if (parser.is_done() || (header_only && parser.is_header_done())) co_return error_code{};
    error_code ec = PutBuffered(parser, buf);
    if (!ec) continue;
    if (ec != bhttp::error::need_more) co_return ec;
    const size_t n = co_await s.async_read_some(buf.prepare(16384),
                                                asio::redirect_error(asio::use_awaitable, ec));
    buf.commit(n);
    if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) {
      if (!parser.got_some()) co_return bhttp::error::end_of_stream;
      parser.put_eof(ec);  // completes a body delimited by the close, else partial_message
      if (!ec && parser.is_done()) co_return ec;
      co_return ec ? ec : bhttp::error::partial_message;
    }
    if (ec) co_return ec;
  }
}

}  // namespace tollgate::http
