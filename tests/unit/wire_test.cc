// http/wire: hand-written heads and the one-syscall read/write paths, over
// real loopback sockets.
#include "http/wire.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <string>
#include <thread>

namespace tollgate::http {
namespace {

using tcp = asio::ip::tcp;

TEST(WireTest, ResponseHeadFramesTheBodyItself) {
  bhttp::response<bhttp::string_body> res{bhttp::status::ok, 11};
  res.set(bhttp::field::content_type, "application/json");
  res.set("x-tollgate-request-id", "req_1");
  res.set(bhttp::field::content_length, "999");  // ignored: the writer frames the body
  std::string out;
  AppendResponseHead(out, HeadOf(res.base()), 42, false);
  EXPECT_EQ(out,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nx-tollgate-request-id: req_1\r\n"
            "Content-Length: 42\r\n\r\n");

  out.clear();
  bhttp::response<bhttp::empty_body> head{bhttp::status::too_many_requests, 11};
  head.set(bhttp::field::transfer_encoding, "gzip");  // ignored too
  AppendResponseHead(out, HeadOf(head.base()), 0, true);
  EXPECT_EQ(out, "HTTP/1.1 429 Too Many Requests\r\nTransfer-Encoding: chunked\r\n\r\n");

  out.clear();
  bhttp::response<bhttp::empty_body> empty{bhttp::status::no_content, 11};
  AppendResponseHead(out, HeadOf(empty.base()), 0, false);
  EXPECT_EQ(out, "HTTP/1.1 204 No Content\r\n\r\n");
}

TEST(WireTest, RequestHead) {
  bhttp::request<bhttp::string_body> req{bhttp::verb::post, "/v1/chat/completions?x=1", 11};
  req.set(bhttp::field::host, "ignored.example.com");  // the upstream client sets Host
  req.set(bhttp::field::authorization, "Bearer k");
  std::string out;
  AppendRequestHead(out, HeadOf(req.base()), "api.example.com", 7);
  EXPECT_EQ(out,
            "POST /v1/chat/completions?x=1 HTTP/1.1\r\nHost: api.example.com\r\nAuthorization: "
            "Bearer k\r\n"
            "Content-Length: 7\r\n\r\n");
}

TEST(WireTest, HeadsBuiltAsText) {
  ResponseHead res(502);
  res.set(bhttp::field::content_type, "application/json");
  res.set("x-tollgate-cost-usd", "0.000012");
  std::string out;
  AppendResponseHead(out, res, 3, false);
  EXPECT_EQ(out,
            "HTTP/1.1 502 Bad Gateway\r\nContent-Type: application/json\r\nx-tollgate-cost-usd: "
            "0.000012\r\n"
            "Content-Length: 3\r\n\r\n");

  RequestHead req(bhttp::verb::post, "/v1/messages");
  req.set("x-api-key", "k");
  out.clear();
  AppendRequestHead(out, req, "api.anthropic.com", 2);
  EXPECT_EQ(out,
            "POST /v1/messages HTTP/1.1\r\nHost: api.anthropic.com\r\nx-api-key: "
            "k\r\nContent-Length: 2\r\n\r\n");
}

// A connected loopback pair on one io_context.
struct Pair {
  asio::io_context ioc{1};
  tcp::socket a{ioc}, b{ioc};
  Pair() {
    tcp::acceptor acc(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    a.connect(acc.local_endpoint());
    b = acc.accept();
    a.non_blocking(true);
    b.non_blocking(true);
  }
};

template <class F>
void RunCoro(asio::io_context& ioc, F&& f) {
  bool done = false;
  asio::co_spawn(
      ioc,
      [&]() -> asio::awaitable<void> {
        co_await f();
        done = true;
      },
      asio::detached);
  ioc.run();
  ASSERT_TRUE(done);
}

TEST(WireTest, SendRestFinishesThroughTheReactorWhenTheSendBufferIsFull) {
  Pair p;
  DeadlineWheel wheel(p.ioc);
  Deadline deadline(wheel, p.a);
  const std::string head = "HEAD:";
  std::string body(16 << 20, 'x');  // far more than a socket buffer
  for (size_t i = 0; i < body.size(); i += 4093) body[i] = static_cast<char>('a' + i % 26);
  std::string got;
  error_code write_ec = asio::error::fault;
  RunCoro(p.ioc, [&]() -> asio::awaitable<void> {
    // The reader drains concurrently, in small pieces.
    asio::co_spawn(
        p.ioc,
        [&]() -> asio::awaitable<void> {
          beast::flat_buffer buf;
          for (;;) {
            error_code ec;
            const size_t n = co_await p.b.async_read_some(
                buf.prepare(1 << 16), asio::redirect_error(asio::use_awaitable, ec));
            buf.commit(n);
            got.append(static_cast<const char*>(buf.data().data()), buf.size());
            buf.consume(buf.size());
            if (ec) break;
          }
        },
        asio::detached);
    // (Named: GCC 12 miscompiles braced temporaries inside co_await.)
    Gather g{asio::buffer(head), asio::buffer(body)};
    const bool done = SendNow(p.a, g, write_ec);
    EXPECT_FALSE(done) << "the kernel took all " << g.total << " bytes at once";
    if (!done) write_ec = co_await SendRest(p.a, g, deadline, 10000);
    p.a.shutdown(tcp::socket::shutdown_send);
  });
  EXPECT_FALSE(write_ec) << write_ec.message();
  ASSERT_EQ(got.size(), head.size() + body.size());
  EXPECT_TRUE(got == head + body);
}

TEST(WireTest, SendReportsAClosedPeer) {
  Pair p;
  DeadlineWheel wheel(p.ioc);
  Deadline deadline(wheel, p.a);
  p.b.close();
  std::string body(1 << 20, 'y');
  error_code ec;
  RunCoro(p.ioc, [&]() -> asio::awaitable<void> {
    // The first write may land in the kernel before the reset arrives.
    for (int i = 0; i < 50 && !ec; ++i) {
      Gather g{asio::buffer(body)};
      if (!SendNow(p.a, g, ec)) ec = co_await SendRest(p.a, g, deadline, 10000);
    }
  });
  EXPECT_TRUE(ec == asio::error::broken_pipe || ec == asio::error::connection_reset)
      << ec.message();
}

TEST(WireTest, ReadMessageAcrossTinyWritesAndPipelinedRequests) {
  Pair p;
  const std::string one =
      "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
  const std::string two = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  std::thread writer([&] {
    // Byte by byte: the parser must wait for the rest of every piece.
    tcp::socket& s = p.a;
    for (char c : one) {
      error_code ec;
      while (asio::write(s, asio::buffer(&c, 1), ec) == 0 && ec == asio::error::would_block) {
      }
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    const std::string both = two + two;
    error_code ec;
    asio::write(s, asio::buffer(both), ec);
  });
  std::vector<std::string> targets, bodies;
  RunCoro(p.ioc, [&]() -> asio::awaitable<void> {
    beast::flat_buffer buf;
    for (int i = 0; i < 3; ++i) {
      bhttp::request_parser<bhttp::string_body> parser;
      parser.eager(true);
      error_code ec = co_await ReadMessage(p.b, buf, parser, false);
      if (ec) {
        ADD_FAILURE() << ec.message();
        break;
      }
      targets.emplace_back(parser.get().target());
      bodies.push_back(parser.get().body());
    }
  });
  writer.join();
  ASSERT_EQ(targets.size(), 3u);
  EXPECT_EQ(targets[0], "/v1/chat/completions");
  EXPECT_EQ(bodies[0], "hello");
  EXPECT_EQ(targets[1], "/healthz");
  EXPECT_EQ(targets[2], "/healthz");
}

TEST(WireTest, ReadMessageEndings) {
  struct Case {
    std::string sent;
    error_code want;
  };
  const Case cases[] = {
      {"", bhttp::error::end_of_stream},                                  // closed before a byte
      {"POST / HTTP/1.1\r\nHost: x\r\n", bhttp::error::partial_message},  // closed mid-header
      {"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc",
       bhttp::error::partial_message},  // mid-body
      {"NOT HTTP AT ALL\r\n\r\n", bhttp::error::bad_version},
      {"POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\n", bhttp::error::body_limit},
      {"POST / HTTP/1.1\r\nX: " + std::string(5000, 'a') + "\r\n\r\n", bhttp::error::header_limit},
  };
  for (const Case& c : cases) {
    Pair p;
    asio::write(p.a, asio::buffer(c.sent));
    p.a.shutdown(tcp::socket::shutdown_send);
    error_code ec;
    RunCoro(p.ioc, [&]() -> asio::awaitable<void> {
      beast::flat_buffer buf;
      bhttp::request_parser<bhttp::string_body> parser;
      parser.eager(true);
      parser.body_limit(50);
      parser.header_limit(4096);
      ec = co_await ReadMessage(p.b, buf, parser, false);
    });
    EXPECT_EQ(ec, c.want) << "sent: " << c.sent.substr(0, 60) << " got: " << ec.message();
  }
}

TEST(WireTest, ResponseBodyDelimitedByTheClose) {
  Pair p;
  asio::write(p.a,
              asio::buffer(std::string("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it")));
  p.a.shutdown(tcp::socket::shutdown_send);
  std::string body;
  error_code ec;
  RunCoro(p.ioc, [&]() -> asio::awaitable<void> {
    beast::flat_buffer buf;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.eager(true);
    ec = co_await ReadMessage(p.b, buf, parser, false);
    body = parser.get().body();
  });
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_EQ(body, "all of it");
}

}  // namespace
}  // namespace tollgate::http
