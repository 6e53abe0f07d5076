// Untrusted input that once crashed or misled the gateway (issue 11): deep
// JSON, invalid UTF-8 echoed into error bodies, wrongly typed fields, and the
// output cap that keeps a governed request within its reservation.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <memory>
#include <string>

#include "common/json.h"
#include "common/util.h"
#include "gateway/errors.h"
#include "gateway/request_checks.h"
#include "providers/adapter.h"
#include "providers/openai_wire.h"

namespace tollgate {
namespace {

using gateway::ApiError;
using providers::Api;

std::string Nested(size_t depth) {
  return "{\"model\":\"x\",\"d\":" + std::string(depth, '[') + std::string(depth, ']') + "}";
}

TEST(Json, DeepNestingIsRefused) {
  rapidjson::Document d;
  // 200,000 levels crashed the process with a stack overflow in RapidJSON's recursive parser.
  const JsonParse p = ParseJson(d, Nested(200000));
  ASSERT_FALSE(p.ok);
  EXPECT_NE(p.message.find("nesting deeper than 128"), std::string::npos) << p.message;
  EXPECT_LE(p.offset, std::string("{\"model\":\"x\",\"d\":").size() + 128);
  EXPECT_TRUE(d.IsNull());
}

TEST(Json, NestingUpToTheLimitParses) {
  rapidjson::Document d;
  EXPECT_TRUE(ParseJson(d, Nested(kMaxJsonDepth - 1)).ok);  // + the outer object = the limit
  EXPECT_TRUE(d.IsObject());
  EXPECT_FALSE(ParseJson(d, Nested(kMaxJsonDepth)).ok);
}

TEST(Json, BracketsInsideStringsDoNotCount) {
  rapidjson::Document d;
  std::string s = "{\"a\":\"" + std::string(1000, '[') + "\\\"" + std::string(1000, '{') + "\"}";
  const JsonParse p = ParseJson(d, s);
  EXPECT_TRUE(p.ok) << p.message;
}

TEST(Json, AFailedParseLeavesNull) {
  rapidjson::Document d;
  ASSERT_TRUE(ParseJson(d, R"({"a":1})").ok);
  EXPECT_FALSE(ParseJson(d, R"({"a":)").ok);
  EXPECT_TRUE(d.IsNull());
}

TEST(Json, SyntaxErrorsNameTheOffset) {
  rapidjson::Document d;
  const JsonParse p = ParseJson(d, "{\"a\": tru}");
  ASSERT_FALSE(p.ok);
  EXPECT_EQ(JsonErrorMessage(p).rfind("at offset 9: ", 0), 0u) << JsonErrorMessage(p);
}

TEST(Json, IterativeParseKeepsMeaning) {
  rapidjson::Document d;
  ASSERT_TRUE(ParseJson(d, R"({"a":[1,{"b":[true,null,"x"]}],"c":1.5})").ok);
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  d.Accept(w);
  EXPECT_STREQ(sb.GetString(), R"({"a":[1,{"b":[true,null,"x"]}],"c":1.5})");
}

TEST(Utf8, ValidTextIsUnchanged) {
  const std::string s = "plain, \xC3\xA9t\xC3\xA9, \xE2\x82\xAC, \xF0\x9F\x98\x80";
  EXPECT_EQ(ToValidUtf8(s), s);
}

TEST(Utf8, InvalidBytesBecomeReplacementCharacters) {
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(ToValidUtf8("a\xFF" "b"), "a" + fffd + "b");
  EXPECT_EQ(ToValidUtf8("\xC0\xAF"), fffd + fffd);              // overlong '/'
  EXPECT_EQ(ToValidUtf8("\xED\xA0\x80"), fffd + fffd + fffd);   // a UTF-16 surrogate
  EXPECT_EQ(ToValidUtf8("\xF4\x90\x80\x80"), fffd + fffd + fffd + fffd);  // past U+10FFFF
  EXPECT_EQ(ToValidUtf8("\xE2\x82"), fffd + fffd);              // cut short
}

TEST(Utf8, ErrorBodiesAreValidUtf8InEveryDialect) {
  const ApiError e = gateway::NotFoundPath("/v1/\xFF\xFE");
  for (Api api : {Api::kOpenAiChat, Api::kAnthropicMessages, Api::kGeminiGenerate}) {
    const std::string body = gateway::ErrorBodyFor(api, e);
    EXPECT_EQ(ToValidUtf8(body), body) << body;
    rapidjson::Document d;
    d.Parse<rapidjson::kParseValidateEncodingFlag>(body.data(), body.size());
    EXPECT_FALSE(d.HasParseError()) << body;
  }
}

TEST(ErrorDialects, GeminiEnvelope) {
  const std::string body = gateway::ErrorBodyFor(Api::kGeminiGenerate, gateway::InvalidRequest("bad", "x"));
  rapidjson::Document d;
  ASSERT_TRUE(ParseJson(d, body).ok);
  EXPECT_EQ(d["error"]["code"].GetInt(), 400);
  EXPECT_STREQ(d["error"]["status"].GetString(), "INVALID_ARGUMENT");
  EXPECT_STREQ(d["error"]["message"].GetString(), "bad");
  EXPECT_STREQ(d["error"]["details"][0]["reason"].GetString(), "invalid_request");
}

std::optional<ApiError> Check(Api api, const char* json) {
  rapidjson::Document d;
  EXPECT_TRUE(ParseJson(d, json).ok) << json;
  return gateway::CheckRequestBody(api, d);
}

TEST(RequestChecks, OpenAiTypeErrors) {
  auto e = Check(Api::kOpenAiChat, R"({"model":"m","messages":"hi"})");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->status, 400);
  EXPECT_EQ(e->code, "invalid_type");
  EXPECT_EQ(e->param, "messages");
  EXPECT_EQ(e->message, "Invalid type for 'messages': expected an array of objects, but got a string instead.");

  e = Check(Api::kOpenAiChat, R"({"model":"m","messages":[],"max_tokens":-1})");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code, "integer_below_min_value");
  EXPECT_EQ(e->param, "max_tokens");
  EXPECT_NE(e->message.find("Expected a value >= 1, but got -1 instead."), std::string::npos) << e->message;

  e = Check(Api::kOpenAiChat, R"({"model":"m","messages":[],"max_tokens":1e30})");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->message, "Invalid type for 'max_tokens': expected an integer, but got a decimal number instead.");

  e = Check(Api::kOpenAiChat, R"({"model":"m","messages":[{"role":"user","content":"x"}, 3]})");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->param, "messages[1]");

  e = Check(Api::kOpenAiChat, R"({"model":"m"})");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code, "missing_required_parameter");

  e = Check(Api::kOpenAiChat, R"({"model":"m","messages":[],"temperature":"hot"})");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->param, "temperature");
  e = Check(Api::kOpenAiChat, R"({"model":"m","messages":[],"user":7})");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->param, "user");
}

TEST(RequestChecks, EachApiItsOwnFields) {
  EXPECT_TRUE(Check(Api::kOpenAiResponses, R"({"model":"m","input":"x","max_output_tokens":8})"));
  EXPECT_FALSE(Check(Api::kOpenAiResponses, R"({"model":"m","input":"x","max_output_tokens":16})"));
  EXPECT_TRUE(Check(Api::kOpenAiEmbeddings, R"({"model":"m","input":{}})"));
  EXPECT_FALSE(Check(Api::kOpenAiEmbeddings, R"({"model":"m","input":["a","b"]})"));
  EXPECT_TRUE(Check(Api::kOpenAiCompletions, R"({"model":"m","prompt":1})"));
  EXPECT_FALSE(Check(Api::kOpenAiCompletions, R"({"model":"m","prompt":"p","max_tokens":0})"));
  EXPECT_TRUE(Check(Api::kAnthropicMessages, R"({"model":"m","messages":[],"max_tokens":0})"));
  EXPECT_FALSE(Check(Api::kAnthropicMessages,
                     R"({"model":"m","max_tokens":5,"system":"s","messages":[{"role":"user","content":"x"}]})"));
  EXPECT_TRUE(Check(Api::kGeminiGenerate, R"({"contents":"x"})"));
  EXPECT_TRUE(Check(Api::kGeminiGenerate, R"({"contents":[],"generationConfig":{"maxOutputTokens":2.5}})"));
  EXPECT_FALSE(Check(Api::kGeminiGenerate, R"({"contents":[{"parts":[{"text":"x"}]}]})"));
  // Null means "not set", as OpenAI treats it.
  EXPECT_FALSE(Check(Api::kOpenAiChat, R"({"model":"m","messages":[],"max_tokens":null,"user":null})"));
}

int64_t CapAfterSet(Api api, const char* json, int64_t cap, bool prefer_mct, const char* field) {
  rapidjson::Document d;
  EXPECT_TRUE(ParseJson(d, json).ok);
  gateway::SetOutputCap(api, d, cap, prefer_mct);
  EXPECT_EQ(gateway::ClientOutputCap(api, d), std::optional<int64_t>(cap)) << json;
  const rapidjson::Value* v = &d;
  std::string f = field;
  if (size_t dot = f.find('.'); dot != std::string::npos) {
    v = &d[f.substr(0, dot).c_str()];
    f = f.substr(dot + 1);
  }
  auto it = v->FindMember(f.c_str());
  return it == v->MemberEnd() ? -1 : it->value.GetInt64();
}

TEST(OutputCap, InjectedInEachApisField) {
  EXPECT_EQ(CapAfterSet(Api::kOpenAiChat, R"({"messages":[]})", 64, true, "max_completion_tokens"), 64);
  EXPECT_EQ(CapAfterSet(Api::kOpenAiChat, R"({"messages":[]})", 64, false, "max_tokens"), 64);
  EXPECT_EQ(CapAfterSet(Api::kOpenAiChat, R"({"messages":[],"max_tokens":900})", 64, true, "max_tokens"), 64);
  EXPECT_EQ(CapAfterSet(Api::kOpenAiCompletions, R"({"prompt":"x"})", 64, true, "max_tokens"), 64);
  EXPECT_EQ(CapAfterSet(Api::kOpenAiResponses, R"({"input":"x"})", 64, true, "max_output_tokens"), 64);
  EXPECT_EQ(CapAfterSet(Api::kAnthropicMessages, R"({"messages":[]})", 64, true, "max_tokens"), 64);
  EXPECT_EQ(CapAfterSet(Api::kGeminiGenerate, R"({"contents":[]})", 64, true, "generationConfig.maxOutputTokens"),
            64);
  EXPECT_EQ(CapAfterSet(Api::kGeminiGenerate, R"({"contents":[],"generationConfig":{"temperature":0}})", 64, true,
                        "generationConfig.maxOutputTokens"),
            64);
}

TEST(OutputCap, ReadsWhatTheClientSet) {
  rapidjson::Document d;
  ASSERT_TRUE(ParseJson(d, R"({"input":"x","max_output_tokens":300})").ok);
  EXPECT_EQ(gateway::ClientOutputCap(Api::kOpenAiResponses, d), 300);
  EXPECT_EQ(gateway::ClientOutputCap(Api::kOpenAiChat, d), std::nullopt);
  ASSERT_TRUE(ParseJson(d, R"({"messages":[],"max_tokens":10,"max_completion_tokens":20})").ok);
  EXPECT_EQ(gateway::ClientOutputCap(Api::kOpenAiChat, d), 20);
  ASSERT_TRUE(ParseJson(d, R"({"contents":[],"generationConfig":{"maxOutputTokens":33}})").ok);
  EXPECT_EQ(gateway::ClientOutputCap(Api::kGeminiGenerate, d), 33);
}

// A provider's usage object with negative, fractional, huge or string counts
// once billed negative dollars (and UBSan flagged the double-to-int cast):
// such an object now counts as no usage at all, so the gateway estimates.
TEST(UsageValidation, ImplausibleCountsVoidTheUsage) {
  auto parse = [](const char* json) {
    auto d = std::make_unique<rapidjson::Document>();
    EXPECT_TRUE(ParseJson(*d, json).ok) << json;
    return d;
  };
  pricing::Usage u;
  EXPECT_FALSE(providers::UsageFromOpenAi(*parse(R"({"prompt_tokens":-1000,"completion_tokens":5})"), &u));
  EXPECT_FALSE(providers::UsageFromOpenAi(*parse(R"({"prompt_tokens":10,"completion_tokens":1.5e300})"), &u));
  EXPECT_FALSE(providers::UsageFromOpenAi(*parse(R"({"prompt_tokens":"10","completion_tokens":5})"), &u));
  EXPECT_FALSE(providers::UsageFromOpenAi(
      *parse(R"({"prompt_tokens":10,"completion_tokens":5,"prompt_tokens_details":{"cached_tokens":2.5}})"), &u));
  ASSERT_TRUE(providers::UsageFromOpenAi(*parse(R"({"prompt_tokens":10.0,"completion_tokens":5,"total_tokens":15})"), &u));
  EXPECT_EQ(u.input, 10);
  EXPECT_EQ(u.output, 5);
  EXPECT_FALSE(providers::UsageFromAnthropic(*parse(R"({"input_tokens":5,"output_tokens":-3})"), &u));
  EXPECT_FALSE(providers::UsageFromResponses(*parse(R"({"input_tokens":5,"output_tokens":1e30})"), &u));
  EXPECT_FALSE(providers::UsageFromGemini(*parse(R"({"promptTokenCount":5,"thoughtsTokenCount":-9.2e18})"), &u));
  ASSERT_TRUE(providers::UsageFromGemini(*parse(R"({"promptTokenCount":5,"candidatesTokenCount":7})"), &u));
  EXPECT_EQ(u.output, 7);
}

TEST(UsageValidation, AnthropicStreamWithoutAValidClosingCountIsProvisional) {
  auto stream = providers::MakeAnthropicPassthrough();
  std::string out;
  stream->OnEvent(R"(event: message_start
data: {"type":"message_start","message":{"id":"m","model":"claude","usage":{"input_tokens":20,"output_tokens":1}}})",
                  &out);
  EXPECT_TRUE(stream->meter().usage_provisional);
  stream->OnEvent(R"(event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":"many"}})",
                  &out);
  stream->OnEvent(R"(event: message_stop
data: {"type":"message_stop"})",
                  &out);
  EXPECT_TRUE(stream->meter().complete);
  EXPECT_TRUE(stream->meter().usage_provisional);
  EXPECT_EQ(stream->meter().usage.input, 20);

  auto ok = providers::MakeAnthropicPassthrough();
  ok->OnEvent(R"(data: {"type":"message_start","message":{"usage":{"input_tokens":20,"output_tokens":1}}})", &out);
  ok->OnEvent(R"(data: {"type":"message_delta","usage":{"output_tokens":40}})", &out);
  EXPECT_FALSE(ok->meter().usage_provisional);
  EXPECT_EQ(ok->meter().usage.output, 40);
}

}  // namespace
}  // namespace tollgate
