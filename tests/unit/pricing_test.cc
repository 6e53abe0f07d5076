#include <gtest/gtest.h>

#include "common/embedded.h"
#include "pricing/catalog.h"

namespace tollgate::pricing {
namespace {

constexpr const char* kCatalog = R"({
  "schema_version": 1, "catalog_version": "test-1",
  "models": [
    {"provider": "openai", "model": "gpt-x", "aliases": ["gpt-x-2025-01-01"], "effective_from": "2025-01-01",
     "mode": "chat", "input": 2.0, "cached_input": 0.5, "output": 8.0, "batch_discount": 0.5},
    {"provider": "openai", "model": "gpt-x", "effective_from": "2099-01-01", "mode": "chat", "input": 99, "output": 99},
    {"provider": "openai", "model": "gpt-y", "effective_from": "2024-01-01", "mode": "chat", "input": 5, "output": 10},
    {"provider": "openai", "model": "gpt-y", "effective_from": "2025-06-01", "mode": "chat", "input": 1, "output": 4},
    {"provider": "anthropic", "model": "claude-z", "effective_from": "2025-01-01", "mode": "chat",
     "input": 3, "cached_input": 0.3, "cache_write_5m": 3.75, "cache_write_1h": 6, "output": 15,
     "tiers": [{"above_input_tokens": 200000, "input": 6, "output": 22.5, "cached_input": 0.6,
                "cache_write_5m": 7.5, "cache_write_1h": 12}]}
  ]})";

std::unique_ptr<PriceCatalog> Load() {
  auto r = PriceCatalog::FromCatalogJson(kCatalog, "test", "2026-01-01");
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return std::move(r).value();
}

TEST(Pricing, SelectsNewestEntryInEffect) {
  auto cat = Load();
  const ModelPrice* x = cat->Find("gpt-x");
  ASSERT_NE(x, nullptr);
  EXPECT_DOUBLE_EQ(x->rates.input, 2.0);  // the 2099 price is not yet in effect
  const ModelPrice* y = cat->Find("gpt-y");
  ASSERT_NE(y, nullptr);
  EXPECT_DOUBLE_EQ(y->rates.input, 1.0);
  EXPECT_EQ(cat->version(), "test-1");
}

TEST(Pricing, FindsAliasesPrefixesAndSnapshots) {
  auto cat = Load();
  EXPECT_EQ(cat->Find("gpt-x-2025-01-01"), cat->Find("gpt-x"));
  EXPECT_EQ(cat->Find("openai/gpt-x"), cat->Find("gpt-x"));
  EXPECT_EQ(cat->Find("gpt-y-2025-09-09"), cat->Find("gpt-y"));
  EXPECT_EQ(cat->Find("no-such-model"), nullptr);
}

TEST(Pricing, OpenAiStyleCachedTokensPricedOnce) {
  auto cat = Load();
  // 1000 prompt tokens of which 400 cached, 500 output tokens.
  Usage u;
  u.input = 600;
  u.cache_read = 400;
  u.output = 500;
  Cost c = ComputeCost(*cat->Find("gpt-x"), u);
  EXPECT_NEAR(c.Total(), (600 * 2.0 + 400 * 0.5 + 500 * 8.0) / 1e6, 1e-12);
  EXPECT_NEAR(ComputeCost(*cat->Find("gpt-x"), u, /*batch=*/true).Total(), c.Total() * 0.5, 1e-12);
}

TEST(Pricing, ReasoningDefaultsToOutputPrice) {
  auto cat = Load();
  Usage u;
  u.reasoning = 1000;
  EXPECT_NEAR(ComputeCost(*cat->Find("gpt-x"), u).reasoning, 1000 * 8.0 / 1e6, 1e-12);
}

TEST(Pricing, AnthropicCacheWritesAndLongContextTier) {
  auto cat = Load();
  const ModelPrice* z = cat->Find("claude-z");
  Usage small;
  small.input = 1000;
  small.cache_write_5m = 2000;
  small.cache_write_1h = 3000;
  small.cache_read = 4000;
  small.output = 100;
  EXPECT_NEAR(ComputeCost(*z, small).Total(), (1000 * 3 + 2000 * 3.75 + 3000 * 6 + 4000 * 0.3 + 100 * 15) / 1e6, 1e-12);
  Usage big = small;
  big.input = 250000;  // prompt over 200k: every class moves to the tier rates
  EXPECT_NEAR(ComputeCost(*z, big).Total(),
              (250000 * 6 + 2000 * 7.5 + 3000 * 12 + 4000 * 0.6 + 100 * 22.5) / 1e6, 1e-12);
}

TEST(Pricing, OverridesAndUnknownModels) {
  auto cat = Load();
  config::PriceOverride o;
  o.model = "my-local";
  o.input = 0.1;
  o.output = 0.2;
  cat->ApplyOverride(o);
  const ModelPrice* p = cat->Find("my-local");
  ASSERT_NE(p, nullptr);
  EXPECT_DOUBLE_EQ(p->rates.cached_input, 0.1);
  EXPECT_DOUBLE_EQ(p->rates.reasoning, 0.2);
  config::PriceOverride o2;
  o2.model = "gpt-x";
  o2.cached_input = 0.25;  // only the cache price changes
  cat->ApplyOverride(o2);
  EXPECT_DOUBLE_EQ(cat->Find("gpt-x")->rates.input, 2.0);
  EXPECT_DOUBLE_EQ(cat->Find("gpt-x")->rates.cached_input, 0.25);
}

TEST(Pricing, LiteLlmFormat) {
  auto cat = Load();
  Status st = cat->MergeLiteLlm(R"({
    "sample_spec": {"max_tokens": 1},
    "acme-1": {"litellm_provider": "acme", "mode": "chat", "input_cost_per_token": 1e-6,
               "output_cost_per_token": 2e-6, "cache_read_input_token_cost": 1e-7,
               "input_cost_per_token_above_200k_tokens": 2e-6, "output_cost_per_token_above_200k_tokens": 4e-6}
  })", "litellm.json");
  ASSERT_TRUE(st.ok()) << st.ToString();
  const ModelPrice* p = cat->Find("acme/acme-1");
  ASSERT_NE(p, nullptr);
  EXPECT_NEAR(p->rates.input, 1.0, 1e-9);
  EXPECT_NEAR(p->rates.cached_input, 0.1, 1e-9);
  ASSERT_EQ(p->tiers.size(), 1u);
  EXPECT_NEAR(p->tiers[0].rates.output, 4.0, 1e-9);
  EXPECT_FALSE(cat->MergeLiteLlm("{not json", "bad.json").ok());
}

TEST(Pricing, RejectsMalformedCatalog) {
  EXPECT_FALSE(PriceCatalog::FromCatalogJson("{", "x", "2026-01-01").ok());
  EXPECT_FALSE(PriceCatalog::FromCatalogJson(R"({"models": [{"model": "a"}]})", "x", "2026-01-01").ok());
}

TEST(Pricing, EmbeddedCatalogLoadsAndPricesMajorModels) {
  auto cat = PriceCatalog::Build({}, "2026-11-23");
  ASSERT_TRUE(cat.ok()) << cat.status().ToString();
  EXPECT_GT((*cat)->size(), 50u);
  for (const char* m : {"gpt-4o", "gpt-4o-mini", "claude-sonnet-4-5", "gemini-2.5-pro", "deepseek-chat"}) {
    EXPECT_NE((*cat)->Find(m), nullptr) << m;
  }
}

}  // namespace
}  // namespace tollgate::pricing
