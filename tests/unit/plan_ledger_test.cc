// `tollgate plan --from-ledger` on a ledger with a known traffic shape: a
// daily cosine curve of concurrent generations with a known peak, written
// through the in-memory and SQLite backends and read back only through
// ledger::LedgerReader. The peak must come back within 5% and every dollar
// figure of a scenario with a measured throughput is checked by hand.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <cmath>
#include <filesystem>
#include <numbers>

#include "common/util.h"
#include "ledger/storage.h"
#include "plan/advise.h"
#include "plan/scenario.h"
#include "plan/traffic.h"

namespace tollgate::plan {
namespace {

constexpr int64_t kDayMs = 86400000;
constexpr int64_t kLatencyMs = 120000;  // every generation lasts 2 minutes
constexpr int kPeak = 100, kTrough = 10, kDays = 2;
const int64_t kDay0 = *ParseDateUtcMs("2026-03-02");

// The target concurrency at `t`: kTrough at 02:00 UTC, kPeak at 14:00 UTC.
int Target(int64_t t_ms) {
  const double phase =
      2 * std::numbers::pi * static_cast<double>((t_ms - kDay0 - 2 * 3600000) % kDayMs) / kDayMs;
  return static_cast<int>(std::lround(kTrough + (kPeak - kTrough) * (1 - std::cos(phase)) / 2));
}

// In each 2-minute slot, Target() requests evenly spaced, each lasting one
// slot, so that Target() of them are running at any moment. Each has 1,000
// input tokens (250 read from the prompt cache), 200 output tokens and costs
// $0.002. Returns the number of rows.
int64_t FillShape(ledger::Storage& s) {
  auto writer = s.OpenWriter();
  EXPECT_TRUE(writer.ok());
  int64_t n = 0;
  for (int64_t slot = kDay0; slot < kDay0 + kDays * kDayMs; slot += kLatencyMs) {
    const int c = Target(slot);
    for (int j = 0; j < c; ++j) {
      ledger::Row r;
      r.id = "req_" + std::to_string(n++);
      r.ts_start_ms = slot + j * kLatencyMs / c;
      r.ts_end_ms = r.ts_start_ms + kLatencyMs;
      r.latency_ms = kLatencyMs;
      r.endpoint = "chat.completions";
      r.requested_model = r.served_model = "gpt-4o";
      r.provider = "openai";
      r.status = 200;
      r.usage = {750, 250, 0, 0, 200, 0};
      r.cost_known = true;
      r.cost = {0.002, 0, 0, 0, 0};
      (*writer)->Append(std::move(r));
    }
  }
  EXPECT_TRUE((*writer)->Close().ok());
  return n;
}

// Llama 3.1 8B on H100s with a measured 500 output tok/s per 1-GPU replica,
// rented at $2-$4/GPU-hour or owned ($30,000 over 36 months, 700 W, PUE 1.3,
// $0.10/kWh): every figure below follows by hand.
constexpr const char* kScenario = R"(model:
  name: Llama-3.1-8B
  parameters_billion: 8.03
  layers: 32
  kv_heads: 8
  head_dim: 128
  quantization: fp8
gpu:
  name: H100
  usd_per_hour_range: [2, 4]
  owned: {purchase_usd: 30000, lifetime_months: 36, pue: 1.3, usd_per_kwh: 0.10}
replica:
  gpus: 1
throughput:
  measured_tokens_per_s: 500
  input_tokens: 1000
  output_tokens: 200
load:
  tokens_per_s_per_user: 20
  active_users: 1
)";

class PlanFromLedgerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("tollgate-plan-" + NewRequestId());
    std::filesystem::create_directories(dir_);
    auto sqlite = ledger::OpenLedger("sqlite://" + (dir_ / "ledger.db").string());
    ASSERT_TRUE(sqlite.ok()) << sqlite.status().message();
    sqlite_ = std::move(*sqlite);
    memory_ = ledger::NewMemoryStorage();
    rows_ = FillShape(*memory_);
    ASSERT_EQ(FillShape(*sqlite_), rows_);
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  Result<TrafficReport> Read(ledger::Storage& s) {
    return ReadTraffic(*s.OpenReader(), kDay0, kDay0 + kDays * kDayMs, false);
  }

  std::filesystem::path dir_;
  std::unique_ptr<ledger::Storage> sqlite_, memory_;
  int64_t rows_ = 0;
};

TEST_F(PlanFromLedgerTest, RecoversTheKnownPeakAndShape) {
  for (ledger::Storage* s : {memory_.get(), sqlite_.get()}) {
    SCOPED_TRACE(s->url());
    auto t = Read(*s);
    ASSERT_TRUE(t.ok()) << t.status().message();
    ASSERT_EQ(t->models.size(), 1u);
    const ModelTraffic& m = t->models[0];
    EXPECT_EQ(m.model, "gpt-4o");
    EXPECT_EQ(m.requests, rows_);
    EXPECT_NEAR(static_cast<double>(m.peak_concurrency), kPeak, 0.05 * kPeak);
    // The curve's top is at 14:00; rounded to whole requests it is flat for a while around it.
    EXPECT_NEAR(static_cast<double>(m.peak_at_ms % kDayMs), 14 * 3600000.0, 3600000.0);
    // The p95 of each hour follows the curve: high around 14:00, low around 02:00.
    EXPECT_NEAR(static_cast<double>(m.p95_concurrency_by_hour[14]), kPeak, 0.05 * kPeak);
    EXPECT_LE(m.p95_concurrency_by_hour[2], kTrough + 3);
    // The mean of a cosine between 10 and 100 is 55.
    EXPECT_NEAR(m.mean_concurrency, (kPeak + kTrough) / 2.0, 0.5);
    EXPECT_DOUBLE_EQ(m.days, kDays);
    EXPECT_EQ(m.input_tokens, 1000 * rows_);
    EXPECT_EQ(m.output_tokens, 200 * rows_);
    EXPECT_DOUBLE_EQ(m.CachedShare(), 0.25);
    EXPECT_NEAR(m.api_usd, 0.002 * static_cast<double>(rows_), 1e-9);
  }
}

TEST_F(PlanFromLedgerTest, DollarFiguresByHand) {
  auto t = Read(*sqlite_);
  ASSERT_TRUE(t.ok());
  ASSERT_EQ(t->models[0].peak_concurrency, kPeak);
  auto scenario = ParseScenario(kScenario, "hand.yaml", BuiltinCatalog());
  ASSERT_TRUE(scenario.ok()) << scenario.status().message();
  AdviseOptions o;
  o.tokens_per_s_per_user = 20;
  o.scenario = *scenario;
  auto a = Advise(*t, o, BuiltinCatalog());
  ASSERT_TRUE(a.ok()) << a.status().message();
  ASSERT_EQ(a->models.size(), 1u);
  const ModelAdvice& m = a->models[0];
  // 55 concurrent on average × 720 two-minute slots a day = 39,600 requests a day.
  EXPECT_NEAR(static_cast<double>(rows_) / kDays, 39600, 40);
  const double per_day = static_cast<double>(rows_) / kDays;
  EXPECT_EQ(m.input_tokens_per_request, 1000);
  EXPECT_EQ(m.output_tokens_per_request, 200);
  EXPECT_NEAR(m.api_usd_per_month, per_day * 0.002 * 30, 1e-6);      // about $2,376
  EXPECT_NEAR(m.api_usd_per_mtok_output, 10, 1e-9);                  // $0.002 / 200 tokens
  EXPECT_NEAR(m.output_tokens_per_month, per_day * 200 * 30, 1e-3);  // about 237.6M
  ASSERT_EQ(m.candidates.size(), 1u);
  const Candidate& c = m.candidates[0];
  ASSERT_TRUE(c.fits) << c.why_not;
  // 500 tok/s ÷ 20 tok/s = 25 users per replica; 100 at peak → 4 replicas of 1 GPU.
  EXPECT_EQ(c.replica_gpus, 1);
  EXPECT_EQ(c.gpus.low, 4);
  EXPECT_EQ(c.gpus.high, 4);
  // 4 GPUs × 720 hours × $2 and $4.
  EXPECT_DOUBLE_EQ(c.rented_usd_per_month.low, 5760);
  EXPECT_DOUBLE_EQ(c.rented_usd_per_month.high, 11520);
  // Owned: $30,000 / (36 × 720 h) = $1.157407/h, + 0.7 kW × 1.3 × $0.10 = $0.091/h → × 4 × 720.
  ASSERT_TRUE(c.owned_usd_per_month);
  EXPECT_NEAR(c.owned_usd_per_month->low, (30000.0 / (36 * 720) + 0.091) * 4 * 720,
              1e-6);  // $3,595
  // Utilization: observed tokens/s ÷ 2,000 tok/s of capacity.
  const double observed = per_day * 200 / 86400;  // about 91.7 tok/s
  EXPECT_NEAR(c.utilization.low, observed / 2000, 1e-12);
  // $/Mtok at that use: $8/h (or $16/h) ÷ (observed tok/s × 3,600) × 1e6; about $24.24 and $48.48.
  EXPECT_NEAR(c.usd_per_mtok.low, 8 / (observed * 3600) * 1e6, 1e-6);
  EXPECT_NEAR(c.usd_per_mtok.high, 16 / (observed * 3600) * 1e6, 1e-6);
  // Break-even: $5,760 and $11,520 a month at $10 per million output tokens.
  EXPECT_NEAR(c.break_even_output_tokens_per_month.low, 576e6, 1e-3);
  EXPECT_NEAR(c.break_even_output_tokens_per_month.high, 1152e6, 1e-3);
  ASSERT_EQ(m.recommendations.size(), 1u);
  EXPECT_NE(m.recommendations[0].find("keep the API"), std::string::npos) << m.recommendations[0];
  EXPECT_NE(m.recommendations[0].find("$5,760–$11,520/month rented"), std::string::npos)
      << m.recommendations[0];
  EXPECT_NE(m.recommendations[0].find("576M–1.2B output tokens/month"), std::string::npos)
      << m.recommendations[0];

  rapidjson::Document j;
  j.Parse(RenderAdviceJson(*a).c_str());
  ASSERT_FALSE(j.HasParseError());
  EXPECT_EQ(j["models"][0]["candidates"][0]["rented_usd_per_month"]["high"].GetDouble(), 11520);
  EXPECT_NE(RenderAdviceSvg(*a).find("<svg"), std::string::npos);
  EXPECT_NE(RenderAdviceTable(*a).find("Recommendations"), std::string::npos);
  EXPECT_NE(RenderAdviceMarkdown(*a).find("| gpt-4o |"), std::string::npos);
}

TEST_F(PlanFromLedgerTest, CatalogCandidatesGiveRangesAndOneSentencePerModel) {
  auto t = Read(*memory_);
  ASSERT_TRUE(t.ok());
  auto a = Advise(*t, AdviseOptions{}, BuiltinCatalog());
  ASSERT_TRUE(a.ok()) << a.status().message();
  const ModelAdvice& m = a->models[0];
  EXPECT_EQ(m.candidates.size(), BuiltinCatalog().models.size() * BuiltinCatalog().gpus.size());
  EXPECT_EQ(m.recommendations.size(), BuiltinCatalog().models.size());
  bool small_on_h100 = false;
  for (const Candidate& c : m.candidates) {
    if (!c.fits) {
      EXPECT_FALSE(c.why_not.empty());
      continue;
    }
    // The roofline efficiency range (40-80%) and the price range give ranges.
    EXPECT_LE(c.gpus.low, c.gpus.high);
    EXPECT_LT(c.rented_usd_per_month.low, c.rented_usd_per_month.high);
    EXPECT_LE(c.usd_per_mtok.low, c.usd_per_mtok.high);
    small_on_h100 |= c.model == "Llama-3.1-8B-Instruct" && c.gpu == "H100";
  }
  EXPECT_TRUE(small_on_h100);
  for (const Candidate& c : m.candidates) {
    if (c.model == "Llama-3.1-405B-Instruct" && c.gpu == "L4") {
      EXPECT_FALSE(c.fits);
    }
  }
}

TEST(PlanTraffic, TimeWeightedPercentile) {
  EXPECT_EQ(TimeWeightedPercentile({}, 0.95), 0);
  EXPECT_EQ(TimeWeightedPercentile({90, 5, 5}, 0.95), 1);  // 95% of the time at 1 or less
  EXPECT_EQ(TimeWeightedPercentile({50, 0, 50}, 0.95), 2);
  EXPECT_EQ(TimeWeightedPercentile({100}, 0.95), 0);
}

}  // namespace
}  // namespace tollgate::plan
