// Savings engine pieces that need no network: config of routes, cascades,
// caches and budget hints; route rules; deployment order; budget hints; the
// savings report over a real SQLite ledger.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <cstdio>
#include <filesystem>
#include <map>

#include "common/util.h"
#include "config/config.h"
#include "ledger/ledger.h"
#include "pricing/catalog.h"
#include "report/report.h"
#include "routing/budget_hint.h"
#include "routing/deployment_order.h"
#include "routing/route_rules.h"

namespace tollgate {
namespace {

constexpr const char* kPolicy = R"(providers:
  - {name: a, type: openai-compatible, base_url: "http://127.0.0.1:9/v1"}
  - {name: b, type: openai-compatible, base_url: "http://127.0.0.1:8/v1"}
cache: {enabled: true, path: "", scope: project, semantic: true, minhash_threshold: 0.6}
models:
  - name: small
    deployments: [{provider: a, model: gpt-4o-mini}]
  - name: big
    strategy: cheapest
    latency_objective_ms: 500
    deployments:
      - {provider: a, model: gpt-4.1}
      - {provider: b, model: gpt-4.1-mini}
  - name: auto
    route:
      rules:
        - {name: tools, when: {has_tools: true}, to: big}
        - {name: long, when: {min_prompt_tokens: 50}, to: big}
        - {name: code, when: {regex: "(?i)PYTHON"}, to: big}
        - {when: {tags_any: [vip, gold]}, to: big}
      cascade:
        steps: [small, big]
        checks: [{type: refusal}, {type: json_schema, json_schema: {type: object, required: [answer]}}]
      default: small
    budget_hint: {max_tokens: 100, hint_tokens: 50}
)";

TEST(RoutingConfig, ParsesRoutesCascadesCacheAndHints) {
  auto c = config::ParseConfig(kPolicy, "p.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_TRUE(c->cache.enabled);
  EXPECT_EQ(c->cache.scope, "project");
  EXPECT_DOUBLE_EQ(c->cache.minhash_threshold, 0.6);
  const config::ModelConfig* autom = c->FindModel("auto");
  ASSERT_NE(autom, nullptr);
  ASSERT_TRUE(autom->route);
  EXPECT_TRUE(autom->deployments.empty());
  ASSERT_EQ(autom->route->rules.size(), 4u);
  EXPECT_EQ(*autom->route->rules[1].min_prompt_tokens, 50);
  ASSERT_TRUE(autom->route->cascade);
  EXPECT_EQ(autom->route->cascade->steps.size(), 2u);
  // A YAML mapping schema is stored as JSON text.
  rapidjson::Document schema;
  schema.Parse(autom->route->cascade->checks[1].json_schema.c_str());
  EXPECT_FALSE(schema.HasParseError()) << autom->route->cascade->checks[1].json_schema;
  ASSERT_TRUE(autom->budget_hint);
  EXPECT_EQ(autom->budget_hint->max_tokens, 100);
  EXPECT_EQ(c->FindModel("big")->strategy, "cheapest");
}

struct BadPolicy {
  const char* yaml;
  const char* expect;
};
class RoutingConfigErrors : public ::testing::TestWithParam<BadPolicy> {};

TEST_P(RoutingConfigErrors, NameLineAndFix) {
  std::string y = std::string(
                      "providers:\n  - {name: s, type: sim}\nmodels:\n  - {name: m, deployments: "
                      "[{provider: s}]}\n") +
                  GetParam().yaml;
  auto c = config::ParseConfig(y, "bad.yaml");
  ASSERT_FALSE(c.ok());
  const std::string& msg = c.status().message();
  EXPECT_NE(msg.find("bad.yaml:"), std::string::npos) << msg;
  EXPECT_NE(msg.find(GetParam().expect), std::string::npos) << msg;
  EXPECT_NE(msg.find("fix:"), std::string::npos) << msg;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, RoutingConfigErrors,
    ::testing::Values(
        BadPolicy{"  - {name: r, route: {default: nope}}\n", "unknown model 'nope'"},
        BadPolicy{"  - {name: r, route: {cascade: {steps: [m], checks: [{type: refusal}]}}}\n",
                  "at least two steps"},
        BadPolicy{"  - {name: r, route: {rules: [{when: {regex: '(('}, to: m}], default: m}}\n",
                  "invalid regex"},
        BadPolicy{"  - {name: r, route: {rules: [{when: {min_prompt_tokens: 5}, to: m}]}}\n",
                  "has no default"},
        BadPolicy{"  - {name: r, route: {default: m}, deployments: [{provider: s}]}\n",
                  "both route and deployments"},
        BadPolicy{"  - {name: r, route: {default: m}}\n  - {name: r2, route: {default: r}}\n",
                  "routed model 'r'"},
        BadPolicy{"  - {name: r, route: {cascade: {steps: [m, m], checks: [{type: judge}]}}}\n",
                  "judge_model"},
        BadPolicy{"  - {name: r, route: {cascade: {steps: [m, m], checks: [{type: vibes}]}}}\n",
                  "unknown cascade check"},
        BadPolicy{"  - {name: r, strategy: fastest, deployments: [{provider: s}]}\n",
                  "unknown strategy"},
        BadPolicy{"  - {name: r, budget_hint: {hint_tokens: 5, hint: short}, deployments: "
                  "[{provider: s}]}\n",
                  "{budget}"},
        BadPolicy{"cache: {scope: tenant}\n", "cache.scope"},
        BadPolicy{"cache: {semantic_threshold: 1.5}\n", "semantic_threshold"}));

rapidjson::Document Json(const char* s) {
  rapidjson::Document d;
  d.Parse(s);
  return d;
}

TEST(RouteRules, FirstMatchingRuleWins) {
  auto c = config::ParseConfig(kPolicy, "p.yaml");
  ASSERT_TRUE(c.ok());
  routing::RouteRules rules(c->FindModel("auto")->route->rules);
  auto match = [&](const char* body, const char* tags) -> std::string {
    rapidjson::Document d = Json(body);
    auto f = routing::ExtractFeatures(body, d, tags);
    const config::RouteRule* r = rules.Match(f);
    return r ? routing::RouteRules::Describe(*r, rules.IndexOf(r)) : "none";
  };
  EXPECT_EQ(match(R"({"messages":[{"role":"user","content":"hi"}]})", ""), "none");
  EXPECT_EQ(
      match(
          R"({"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f"}}]})",
          ""),
      "rule:tools");
  std::string words;
  for (int i = 0; i < 80; ++i) words += "word ";
  std::string long_prompt = R"({"messages":[{"role":"user","content":")" + words + R"("}]})";
  EXPECT_EQ(match(long_prompt.c_str(), ""), "rule:long");
  EXPECT_EQ(match(R"({"messages":[{"role":"user","content":"write python"}]})", ""),
            "rule:code");  // (?i)
  EXPECT_EQ(match(R"({"messages":[{"role":"user","content":"hi"}]})", "x,gold"), "rule:#4");
}

TEST(RouteRules, FeaturesSeeImagesAndTokens) {
  const char* body =
      R"({"messages":[{"role":"user","content":[{"type":"text","text":"what is this"},{"type":"image_url","image_url":{"url":"data:"}}]}]})";
  rapidjson::Document d = Json(body);
  auto f = routing::ExtractFeatures(body, d, "a,b");
  EXPECT_TRUE(f.has_images);
  EXPECT_FALSE(f.has_tools);
  EXPECT_GT(f.prompt_tokens, 3);
  EXPECT_EQ(f.tags.size(), 2u);
}

config::ModelConfig ThreeDeployments(const char* strategy) {
  config::ModelConfig m;
  m.name = "m";
  m.strategy = strategy;
  m.deployments = {{"p", "gpt-4.1", 1}, {"p", "gpt-4o-mini", 3}, {"p", "gpt-4.1-mini", 6}};
  return m;
}

TEST(DeploymentOrder, WeightedFollowsWeights) {
  config::ModelConfig m = ThreeDeployments("weighted");
  routing::LatencyStats stats({m});
  auto prices = pricing::PriceCatalog::Build({}, "2026-11-23");
  ASSERT_TRUE(prices.ok());
  std::map<size_t, int> first;
  for (int i = 0; i < 1000; ++i) {
    auto plan = routing::PlanDeployments(m, stats, **prices, (i + 0.5) / 1000.0);
    ASSERT_EQ(plan.order.size(), 3u);
    first[plan.order[0]]++;
  }
  EXPECT_EQ(first[0], 100);
  EXPECT_EQ(first[1], 300);
  EXPECT_EQ(first[2], 600);
}

TEST(DeploymentOrder, CheapestSkipsSlowAndLeastLatencyPrefersFast) {
  config::ModelConfig m = ThreeDeployments("cheapest");
  m.latency_objective_ms = 1000;
  routing::LatencyStats stats({m});
  auto prices = pricing::PriceCatalog::Build({}, "2026-11-23");
  ASSERT_TRUE(prices.ok());
  auto plan = routing::PlanDeployments(m, stats, **prices, 0.5);
  EXPECT_EQ(m.deployments[plan.order[0]].model, "gpt-4o-mini");  // cheapest of the three
  EXPECT_EQ(m.deployments[plan.order[2]].model, "gpt-4.1");
  stats.Record("m", 1, 5000);  // gpt-4o-mini is now over the objective
  plan = routing::PlanDeployments(m, stats, **prices, 0.5);
  EXPECT_EQ(m.deployments[plan.order[0]].model, "gpt-4.1-mini");
  EXPECT_EQ(m.deployments[plan.order[2]].model, "gpt-4o-mini");
  EXPECT_NE(plan.reason.find("over 1000ms"), std::string::npos) << plan.reason;

  m.strategy = "least_latency";
  stats.Record("m", 0, 50);
  stats.Record("m", 2, 400);
  plan = routing::PlanDeployments(m, stats, **prices, 0.5);
  EXPECT_EQ(plan.order[0], 0u);
  EXPECT_EQ(plan.order[1], 2u);
  EXPECT_EQ(plan.order[2], 1u);
}

TEST(BudgetHint, AddsHintAndClampsChatAndAnthropic) {
  config::BudgetHintConfig cfg;
  cfg.max_tokens = 100;
  cfg.hint_tokens = 50;
  cfg.control_share = 0.2;
  rapidjson::Document chat =
      Json(R"({"messages":[{"role":"user","content":"hi"}],"max_tokens":500})");
  auto d = routing::ApplyBudgetHint(cfg, providers::Api::kOpenAiChat, chat, 0.5);
  EXPECT_TRUE(d.hinted && d.clamped && !d.control);
  EXPECT_EQ(chat["max_tokens"].GetInt64(), 100);
  EXPECT_STREQ(chat["messages"][0]["role"].GetString(), "system");
  EXPECT_NE(std::string(chat["messages"][0]["content"].GetString()).find("50 tokens"),
            std::string::npos);
  EXPECT_STREQ(chat["messages"][1]["content"].GetString(), "hi");

  rapidjson::Document small = Json(
      R"({"messages":[{"role":"system","content":"Be nice."},{"role":"user","content":"hi"}],"max_tokens":20})");
  d = routing::ApplyBudgetHint(cfg, providers::Api::kOpenAiChat, small, 0.5);
  EXPECT_FALSE(d.clamped);  // already under the clamp
  EXPECT_EQ(small["messages"].Size(), 2u);
  EXPECT_NE(std::string(small["messages"][0]["content"].GetString()).find("Be nice."),
            std::string::npos);

  rapidjson::Document anth =
      Json(R"({"system":"S","messages":[{"role":"user","content":"hi"}],"max_tokens":4096})");
  d = routing::ApplyBudgetHint(cfg, providers::Api::kAnthropicMessages, anth, 0.9);
  EXPECT_EQ(anth["max_tokens"].GetInt64(), 100);
  EXPECT_NE(std::string(anth["system"].GetString()).find("50 tokens"), std::string::npos);

  rapidjson::Document ctl = Json(R"({"messages":[{"role":"user","content":"hi"}]})");
  d = routing::ApplyBudgetHint(cfg, providers::Api::kOpenAiChat, ctl, 0.1);  // below control_share
  EXPECT_TRUE(d.control);
  EXPECT_FALSE(ctl.HasMember("max_tokens"));
}

TEST(BudgetHint, SavedIsMeasuredAgainstTheControlGroup) {
  routing::BudgetHints h;
  EXPECT_EQ(h.Saved("m", 10), 0);  // no control yet: nothing claimed
  h.RecordControl("m", 300);
  h.RecordControl("m", 100);
  EXPECT_EQ(h.Saved("m", 50), 150);
  EXPECT_EQ(h.Saved("m", 400), 0);
}

TEST(SavingsReport, SumsBaselineAndLevers) {
  std::string path =
      (std::filesystem::temp_directory_path() / ("savings-" + NewRequestId() + ".db")).string();
  auto l = ledger::OpenSqliteLedger({path, 10, 10, 1000});
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  auto row = [&](const char* lever, double cost, std::optional<double> baseline, const char* key) {
    ledger::Row r;
    r.id = NewRequestId();
    r.ts_start_ms = r.ts_end_ms = NowUnixMs();
    r.endpoint = "chat.completions";
    r.requested_model = "auto";
    r.api_key = key;
    r.status = 200;
    r.cost_known = true;
    r.cost.output = cost;
    r.baseline_cost_usd = baseline;
    r.savings_lever = lever;
    (*l)->Append(r);
  };
  row("cache", 0, 1.0, "k1");
  row("routing", 0.2, 1.0, "k1");
  row("cascade", 0.1, 0.0, "k2");    // a rejected cascade step: pure extra cost
  row("", 0.5, std::nullopt, "k2");  // no savings engine involved
  ASSERT_TRUE((*l)->Close().ok());
  report::ReportOptions o;
  o.db_path = path;
  o.by = "lever";
  auto r = report::BuildReport(o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_NEAR(r->totals.cost_usd, 0.8, 1e-9);
  EXPECT_NEAR(r->totals.baseline_usd, 2.5, 1e-9);
  EXPECT_NEAR(r->totals.saved_usd(), 1.7, 1e-9);
  EXPECT_NEAR(r->totals.lever_usd[0], 1.0, 1e-9);   // cache
  EXPECT_NEAR(r->totals.lever_usd[2], 0.8, 1e-9);   // routing
  EXPECT_NEAR(r->totals.lever_usd[3], -0.1, 1e-9);  // cascade
  o.by = "key";
  r = report::BuildReport(o);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->rows.size(), 2u);
  std::string json = report::RenderSavingsJson(*r);
  EXPECT_NE(json.find("\"by_lever\""), std::string::npos);
  std::filesystem::remove(path);
  std::filesystem::remove(path + "-wal");
  std::filesystem::remove(path + "-shm");
}

}  // namespace
}  // namespace tollgate
