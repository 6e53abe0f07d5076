// libFuzzer target: the server's request path from the first byte a client
// sends to the head tollgate forwards upstream.
//
// Input: one control byte choosing server.max_body_bytes, one seeding the
// read sizes (fuzz_util.h), then the bytes of one client connection. They
// arrive in reads of those sizes through http::ReadMessage (the server's own
// read loop, http/wire.h) into a Beast request_parser configured as
// Server::Session configures it (body limit, 64 KiB header limit, eager
// parsing, the header first and then the body). Each request that parses is
// converted with HeadOf and re-serialised with AppendRequestHead, as the
// gateway does for an upstream request, and that head must parse back as one
// request with the same method and target: client bytes must not be able to
// smuggle a second request or a header upstream. Keep-alive requests on one
// connection are read in turn, as the server does.

// clang-format off
#include <utility>  // first: Boost 1.74's awaitable.hpp uses std::exchange without including it
// clang-format on

#include <boost/asio.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "fuzz_util.h"
#include "http/wire.h"

namespace {

using namespace tollgate::http;

// A connection that delivers the fuzzer's bytes in fuzzer-sized reads, then EOF.
class FuzzStream {
 public:
  using executor_type = asio::io_context::executor_type;
  FuzzStream(asio::io_context& ctx, tollgate::fuzz::Splitter& reads) : ctx_(ctx), reads_(reads) {}
  executor_type get_executor() { return ctx_.get_executor(); }

  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    return asio::async_initiate<Token, void(error_code, size_t)>(
        [this, buffers](auto handler) {
          size_t n = 0;
          error_code ec;
          if (reads_.done()) {
            ec = asio::error::eof;
          } else {
            const std::string_view bytes = reads_.Next();
            n = asio::buffer_copy(buffers, asio::buffer(bytes.data(), bytes.size()));
          }
          asio::post(ctx_, [h = std::move(handler), ec, n]() mutable { h(ec, n); });
        },
        token);
  }

 private:
  asio::io_context& ctx_;
  tollgate::fuzz::Splitter& reads_;
};

// The upstream head must read back as exactly one request with the same line.
void CheckForwardedHead(const bhttp::request_header<>& req) {
  RequestHead head = HeadOf(req);
  std::string wire;
  AppendRequestHead(wire, head, "upstream.example", 0);
  bhttp::request_parser<bhttp::empty_body> back;
  back.header_limit(1 << 20);
  error_code ec;
  const size_t used = back.put(asio::buffer(wire), ec);
  if (ec || !back.is_done() || used != wire.size() || back.get().method() != req.method() ||
      back.get().target() != req.target()) {
    std::fprintf(stderr, "forwarded head does not parse back as the same request (%s, %zu of %zu bytes):\n%s\n",
                 ec.message().c_str(), used, wire.size(), wire.c_str());
    std::abort();
  }
}

asio::awaitable<void> Connection(FuzzStream& stream, uint64_t body_limit) {
  beast::flat_buffer buffer;
  for (;;) {
    // As Server::Session: the header first, then (after a possible
    // 100 Continue) the body.
    bhttp::request_parser<bhttp::string_body> parser;
    parser.body_limit(body_limit);
    parser.header_limit(64 * 1024);
    parser.eager(true);
    error_code ec = co_await ReadMessage(stream, buffer, parser, true);
    // As the server: framing that could hide a second request is a 400 and a close.
    if (!ec && parser.is_header_done() && RequestFramingProblem(parser.get().base()) != nullptr) co_return;
    if (!ec && !parser.is_done()) ec = co_await ReadMessage(stream, buffer, parser, false);
    if (ec) co_return;  // 400, 413 or a closed connection: the server closes too
    auto& req = parser.get();
    // Only the API endpoints' POSTs (and GETs) are forwarded; a method Beast
    // does not know is answered 404/405 by the gateway.
    if (req.method() != bhttp::verb::unknown) CheckForwardedHead(req.base());
    (void)req.target();
    (void)req.body().size();
    if (!req.keep_alive()) co_return;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // server.max_body_bytes is configurable: small limits exercise the 413 path.
  static constexpr uint64_t kBodyLimits[] = {10 << 20, 0, 1, 16, 100, 1024, 65536, 10 << 20};
  const uint64_t body_limit = kBodyLimits[tollgate::fuzz::ControlByte(data, size, 0) % 8];
  tollgate::fuzz::Splitter reads(tollgate::fuzz::Payload(data, size, 2),
                                 tollgate::fuzz::ControlByte(data, size, 1));
  asio::io_context ctx;
  FuzzStream stream(ctx, reads);
  asio::co_spawn(ctx, Connection(stream, body_limit), asio::detached);
  ctx.run();
  return 0;
}
