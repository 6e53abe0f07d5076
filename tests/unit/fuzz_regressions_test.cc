// Regression tests for what the libFuzzer targets (fuzz/, docs/HARDENING.md)
// found. Each reproducer is also a seed in fuzz/corpus/<target>/regress_*, so
// the fuzz run replays it first; here it runs in every unit-test build.

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <string>
#include <string_view>

#include "common/json.h"
#include "providers/adapter.h"
#include "providers/openai_wire.h"

namespace tollgate::providers {
namespace {

// Parsed as the gateway parses (the fuzz targets do the same).
rapidjson::Document Parse(std::string_view json) {
  rapidjson::Document d;
  const JsonParse p = ParseJson(d, json);
  EXPECT_TRUE(p.ok) << JsonErrorMessage(p) << " in " << json;
  return d;
}

// A translated body must be a JSON object.
void ExpectObject(const Result<std::string>& r) {
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(Parse(r.value()).IsObject()) << r.value();
}

// request_json: an Anthropic client's tool without a "name" (the translator
// built a RapidJSON string from a null pointer: an assertion abort in Debug
// builds, for any client of /v1/messages served by an OpenAI-compatible model).
TEST(FuzzRegression, AnthropicToolWithoutNameTranslates) {
  auto req = Parse(R"({"model":"claude-sonnet-4-5","max_tokens":64,"messages":[{"role":"user","content":"hi"}],
                       "tools":[{"description":"no name","input_schema":{"type":"object"}}]})");
  ExpectObject(AnthropicRequestToChat(req, "gpt-4o-mini"));
}

// usage: an Anthropic answer whose tool_use block has no "id", translated for
// a chat client (the same null string, from the provider's side).
TEST(FuzzRegression, AnthropicToolUseWithoutIdTranslates) {
  auto msg = Parse(R"({"id":"msg_01","type":"message","role":"assistant","model":"claude-sonnet-4-5",
                       "content":[{"type":"tool_use","name":"calc","input":{"x":1}},{"type":"tool_use"}],
                       "stop_reason":"tool_use","usage":{"input_tokens":21,"output_tokens":9}})");
  ExpectObject(AnthropicResponseToChat(msg, "gpt-4o-mini"));
}

// The same helpers on the chat side: tool calls and tool results without ids or names.
TEST(FuzzRegression, ChatToolCallsWithoutIdsTranslate) {
  auto req = Parse(R"({"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"},
                       {"role":"assistant","content":null,"tool_calls":[{"type":"function","function":{"arguments":"{}"}}]},
                       {"role":"tool","content":"4"}],
                       "tools":[{"type":"function","function":{"parameters":{"type":"object"}}}]})");
  auto r = ChatRequestToAnthropic(req, "claude-sonnet-4-5", 1024);
  if (r.ok()) ExpectObject(r);  // a refusal is fine; an abort is not
}

// request_json: RapidJSON reads 2e308 (and -1.8e308) as infinity without an
// error, and no writer can write infinity back: the upstream body was cut
// after `"temperature":`. ParseJson now refuses it as it refuses 1e309.
TEST(FuzzRegression, NumbersBeyondDoubleAreParseErrors) {
  for (const char* body : {R"({"model":"x","temperature":2e308,"messages":[]})", R"({"a":[-1.8e308]})",
                           R"({"a":1e309})"}) {
    rapidjson::Document d;
    const JsonParse p = ParseJson(d, body);
    EXPECT_FALSE(p.ok) << body;
    EXPECT_EQ(p.message, "Number too big to be stored in double.") << body;
    EXPECT_TRUE(d.IsNull());
  }
  rapidjson::Document d;
  ASSERT_TRUE(ParseJson(d, R"({"model":"x","temperature":1.7976931348623157e308,"top_p":-0.0,"n":5e-324})").ok);
  const std::string forwarded = RewriteRequest(d, "m", false);
  rapidjson::Document back;
  EXPECT_TRUE(ParseJson(back, forwarded).ok) << forwarded;
}

}  // namespace
}  // namespace tollgate::providers
