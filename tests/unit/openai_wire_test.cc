#include <gtest/gtest.h>

#include "providers/openai_wire.h"

namespace tollgate::providers {
namespace {

TEST(OpenAiWire, UsageSplitsCachedAndReasoningOut) {
  rapidjson::Document d;
  d.Parse(R"({"prompt_tokens": 1000, "completion_tokens": 300, "total_tokens": 1300,
              "prompt_tokens_details": {"cached_tokens": 600},
              "completion_tokens_details": {"reasoning_tokens": 200}})");
  pricing::Usage u;
  ASSERT_TRUE(UsageFromOpenAi(d, &u));
  EXPECT_EQ(u.input, 400);
  EXPECT_EQ(u.cache_read, 600);
  EXPECT_EQ(u.output, 100);
  EXPECT_EQ(u.reasoning, 200);
  EXPECT_EQ(u.Total(), 1300);  // nothing counted twice
}

TEST(OpenAiWire, EmbeddingsUsage) {
  rapidjson::Document d;
  d.Parse(R"({"prompt_tokens": 8, "total_tokens": 8})");
  pricing::Usage u;
  ASSERT_TRUE(UsageFromOpenAi(d, &u));
  EXPECT_EQ(u.input, 8);
  EXPECT_EQ(u.Total(), 8);
}

TEST(OpenAiWire, InspectsChunks) {
  auto c = InspectChunk(R"({"model":"m","choices":[{"index":0,"delta":{"content":"hello"}}]})");
  EXPECT_TRUE(c.parsed);
  EXPECT_FALSE(c.has_usage);
  EXPECT_EQ(c.text_chars, 5u);
  auto u = InspectChunk(R"({"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4}})");
  EXPECT_TRUE(u.has_usage && u.usage_only);
  EXPECT_EQ(u.usage.output, 4);
  auto t = InspectChunk(R"({"choices":[{"delta":{"tool_calls":[{"function":{"arguments":"{\"a\":1}"}}]}}]})");
  EXPECT_EQ(t.text_chars, 7u);
  auto n = InspectChunk(R"({"choices":[{"delta":{}}],"usage":null})");
  EXPECT_FALSE(n.has_usage);
  EXPECT_FALSE(InspectChunk("not json").parsed);
}

TEST(OpenAiWire, RewriteSetsModelAndUsageOption) {
  rapidjson::Document d;
  d.Parse(R"({"model":"alias","stream":true,"stream_options":{"include_usage":false},"messages":[]})");
  std::string out = RewriteRequest(d, "real", true);
  EXPECT_NE(out.find(R"("model":"real")"), std::string::npos);
  EXPECT_NE(out.find(R"("include_usage":true)"), std::string::npos);
  rapidjson::Document d2;
  d2.Parse(R"({"model":"a","stream":true})");
  EXPECT_NE(RewriteRequest(d2, "a", true).find(R"("stream_options":{"include_usage":true})"), std::string::npos);
}

TEST(OpenAiWire, EstimatesPromptTokens) {
  rapidjson::Document d;
  d.Parse(R"({"messages":[{"role":"user","content":"abcdefgh"},{"role":"user","content":[{"type":"text","text":"abcd"}]}]})");
  EXPECT_EQ(EstimatePromptTokens(d), 3 + 8);  // 12 chars / 4 + 4 framing tokens per message
}

}  // namespace
}  // namespace tollgate::providers
