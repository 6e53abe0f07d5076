// The request pipeline without sockets: Gateway::Handle driven on an
// io_context into a capturing ClientStream, against the in-process `sim`
// provider. Every way a request can end must leave exactly one ledger row
// (issue 12: "recording happens exactly once by construction").
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "common/util.h"
#include "config/config.h"
#include "gateway/gateway.h"
#include "governance/governor.h"
#include "ledger/ledger.h"
#include "pricing/catalog.h"

namespace tollgate {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;

// A ledger that keeps the rows it is given.
class MemoryLedger final : public ledger::Ledger {
 public:
  void Append(ledger::Row row) override {
    std::lock_guard<std::mutex> lock(mu_);
    rows_.push_back(std::move(row));
  }
  Status Flush() override { return Status::Ok(); }
  Status Close() override { return Status::Ok(); }
  uint64_t failed_rows() const override { return 0; }
  std::vector<ledger::Row> Take() {
    std::lock_guard<std::mutex> lock(mu_);
    return std::exchange(rows_, {});
  }

 private:
  std::mutex mu_;
  std::vector<ledger::Row> rows_;
};

const char* kConfig = R"(
providers:
  - name: sim
    type: sim
    latency_ms: 0
    tokens_per_second: 100000
    response_tokens: 4
  - name: slow
    type: sim
    latency_ms: 0
    tokens_per_second: 1
    response_tokens: 8
models:
  - name: sim-small
    deployments: [{provider: sim, model: sim-small}]
  - name: sim-governed
    deployments: [{provider: sim, model: sim-governed}]
  - name: sim-slow
    deployments: [{provider: slow, model: sim-small}]
pricing:
  overrides:
    - {model: sim-small, input: 0.15, output: 0.6}
    - {model: sim-governed, input: 1000, output: 1000}
budgets:
  - {name: tiny, scope: global, model: sim-governed, window: lifetime, limit_usd: 0.0001}
)";

struct Answer {
  int status = 0;
  std::string body;
};

class PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("tollgate-pipeline-" + NewRequestId());
    std::filesystem::create_directories(dir_);
    auto cfg = config::ParseConfig(kConfig, "pipeline.yaml");
    ASSERT_TRUE(cfg.ok()) << cfg.status().message();
    cfg_ = std::make_unique<config::Config>(std::move(*cfg));
    auto prices = pricing::PriceCatalog::Build(cfg_->pricing, "2026-12-07");
    ASSERT_TRUE(prices.ok()) << prices.status().message();
    prices_ = std::move(*prices);
    auto gov = governance::Governor::Create(*cfg_, (dir_ / "state.db").string());
    ASSERT_TRUE(gov.ok()) << gov.status().message();
    gov_ = std::move(*gov);
    auto g = gateway::Gateway::Create(*cfg_, *prices_, ledger_, *gov_);
    ASSERT_TRUE(g.ok()) << g.status().message();
    gateway_ = std::move(*g);
  }
  void TearDown() override {
    gateway_.reset();
    gov_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  Answer Send(const std::string& target, const std::string& body,
              std::vector<std::pair<std::string, std::string>> headers = {},
              http::PreError pre = http::PreError::kNone) {
    http::Request req{bhttp::verb::post, target, 11};
    req.set(bhttp::field::content_type, "application/json");
    for (const auto& [k, v] : headers) req.set(k, v);
    req.body() = body;
    req.prepare_payload();
    http::ClientStream out;  // capture mode: no socket
    asio::io_context ioc;
    asio::co_spawn(ioc, gateway_->Handle(0, req, pre, out), [](std::exception_ptr e, bool) {
      if (e) std::rethrow_exception(e);
    });
    ioc.run();
    return {out.captured_status(), out.captured_body()};
  }

  // Sends the request and expects exactly one ledger row with `status`.
  ledger::Row OneRow(int status, const std::string& target, const std::string& body,
                     std::vector<std::pair<std::string, std::string>> headers = {},
                     http::PreError pre = http::PreError::kNone) {
    const Answer a = Send(target, body, std::move(headers), pre);
    EXPECT_EQ(a.status, status) << target << " " << body.substr(0, 200) << " -> " << a.body;
    std::vector<ledger::Row> rows = ledger_.Take();
    EXPECT_EQ(rows.size(), 1u) << target << " " << body.substr(0, 200) << " -> " << a.body;
    if (rows.empty()) return {};
    EXPECT_EQ(rows[0].status, status);
    return rows[0];
  }

  std::filesystem::path dir_;
  std::unique_ptr<config::Config> cfg_;
  std::unique_ptr<pricing::PriceCatalog> prices_;
  std::unique_ptr<governance::Governor> gov_;
  MemoryLedger ledger_;
  std::unique_ptr<gateway::Gateway> gateway_;
};

const std::string kChat = R"({"model":"sim-small","messages":[{"role":"user","content":"hi"}]})";

TEST_F(PipelineTest, EveryExitPathWritesExactlyOneRow) {
  // Identify: headers and body.
  EXPECT_EQ(OneRow(400, "/v1/chat/completions", kChat, {{"x-tollgate-project", "a\x01" "b"}}).error_class,
            "invalid_header");
  EXPECT_EQ(OneRow(400, "/v1/chat/completions", kChat, {{"x-tollgate-tags", std::string(40, 'x') + ",a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q,r,s,t,u,v,w,x,y,z,0,1,2,3,4,5,6,7"}}).status, 400);
  EXPECT_EQ(OneRow(413, "/v1/chat/completions", kChat, {}, http::PreError::kBodyTooLarge).error_class,
            "request_too_large");
  EXPECT_EQ(OneRow(400, "/v1/chat/completions", "{\"model\":").error_class, "invalid_json");
  EXPECT_EQ(OneRow(400, "/v1/chat/completions", "{\"d\":" + std::string(100000, '[') + std::string(100000, ']') + "}")
                .error_class,
            "invalid_json");
  EXPECT_EQ(OneRow(400, "/v1/chat/completions", "[1,2]").error_class, "invalid_json");
  EXPECT_EQ(OneRow(400, "/v1/chat/completions", R"({"messages":[]})").error_class, "invalid_request");
  EXPECT_EQ(OneRow(400, "/v1/chat/completions", R"({"model":"sim-small","messages":"hi"})").error_class,
            "invalid_type");
  EXPECT_EQ(OneRow(400, "/v1/chat/completions", R"({"model":"sim-small","messages":[],"stream":"yes"})").status,
            400);
  // Save / route.
  EXPECT_EQ(OneRow(404, "/v1/chat/completions", R"({"model":"nope","messages":[]})").error_class,
            "model_not_found");
  EXPECT_EQ(OneRow(400, "/v1/chat/completions", kChat, {{"x-tollgate-cache", "sometimes"}}).status, 400);
  // Govern: the budget cannot cover the reservation.
  EXPECT_EQ(OneRow(429, "/v1/chat/completions", R"({"model":"sim-governed","messages":[{"role":"user","content":"x"}]})")
                .error_class,
            "budget_exceeded");
  // Forward + relay + record: answered, whole and streamed, on each API sim serves.
  ledger::Row ok = OneRow(200, "/v1/chat/completions", kChat);
  EXPECT_TRUE(ok.error_class.empty());
  EXPECT_GT(ok.cost.Total(), 0);
  EXPECT_TRUE(OneRow(200, "/v1/chat/completions",
                     R"({"model":"sim-small","stream":true,"messages":[{"role":"user","content":"hi"}]})")
                  .streamed);
  OneRow(200, "/v1/completions", R"({"model":"sim-small","prompt":"hi"})");
  OneRow(200, "/v1/embeddings", R"({"model":"sim-small","input":"hi"})");
  OneRow(200, "/v1/messages", R"({"model":"sim-small","max_tokens":20,"messages":[{"role":"user","content":"hi"}]})");
  // A provider that cannot serve the endpoint: the error still has its row.
  OneRow(400, "/v1/responses", R"({"model":"sim-small","input":"hi"})");
}

TEST_F(PipelineTest, ACallDestroyedMidStreamStillWritesItsRow) {
  // The worker's loop goes away while the stream is suspended (as at shutdown):
  // the frame is destroyed, and the Call records itself.
  http::Request req{bhttp::verb::post, "/v1/chat/completions", 11};
  req.body() = R"({"model":"sim-slow","stream":true,"messages":[{"role":"user","content":"hi"}]})";
  http::ClientStream out;
  {
    asio::io_context ioc;
    asio::co_spawn(ioc, gateway_->Handle(0, req, http::PreError::kNone, out), asio::detached);
    ioc.run_for(std::chrono::milliseconds(200));
    EXPECT_TRUE(out.started());  // the head went out; the body is sleeping between tokens
    EXPECT_TRUE(ledger_.Take().empty());
  }
  std::vector<ledger::Row> rows = ledger_.Take();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].error_class, "abandoned");
  EXPECT_EQ(rows[0].status, 499);
  EXPECT_EQ(rows[0].requested_model, "sim-slow");
}

TEST_F(PipelineTest, EveryDeclaredCounterIsExported) {
  const Answer m = Send("/metrics", "");
  ASSERT_EQ(m.status, 200);
#define EXPECT_EXPORTED(field, name, help) \
  EXPECT_NE(m.body.find(std::string("# HELP ") + name + " " + help), std::string::npos) << name;
  TOLLGATE_GATEWAY_COUNTERS(EXPECT_EXPORTED)
#undef EXPECT_EXPORTED
}

TEST_F(PipelineTest, EveryDeclaredMetricIsExported) {
  const Answer m = Send("/metrics", "");
  ASSERT_EQ(m.status, 200);
  // The exact cache's gauges are exported only while the cache is on (it is off here).
  auto cache_only = [](gateway::Metric id) {
    return id == gateway::Metric::kCacheEntries || id == gateway::Metric::kCacheBytes ||
           id == gateway::Metric::kCacheEvictions;
  };
#define EXPECT_METRIC_EXPORTED(id, name, type, help)                                               \
  if (!cache_only(gateway::Metric::id)) {                                                          \
    EXPECT_NE(m.body.find(gateway::MetricHeader(gateway::Metric::id)), std::string::npos) << name; \
  }                                                                                                \
  EXPECT_EQ(std::string(gateway::MetricName(gateway::Metric::id)), name);
  TOLLGATE_METRICS(TOLLGATE_METRIC_NONE, EXPECT_METRIC_EXPORTED)
#undef EXPECT_METRIC_EXPORTED
}

TEST_F(PipelineTest, PathsOutsideTheApiWriteNoRow) {
  EXPECT_EQ(Send("/healthz", "").status, 200);
  EXPECT_EQ(Send("/v1/nope", "{}").status, 404);
  EXPECT_EQ(Send("/v1/messages/count_tokens",
                 R"({"model":"sim-small","messages":[{"role":"user","content":"hi"}]})")
                .status,
            200);  // free on every provider: answered, not ledgered
  EXPECT_TRUE(ledger_.Take().empty());
}

}  // namespace
}  // namespace tollgate
