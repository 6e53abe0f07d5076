// OpenAI chat <-> Anthropic Messages translation: request and response bodies
// and both stream translators, fed payloads shaped like the providers'
// documented examples.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "providers/adapter.h"
#include "providers/openai_wire.h"

namespace tollgate::providers {
namespace {

rapidjson::Document Parse(std::string_view json) {
  rapidjson::Document d;
  d.Parse(json.data(), json.size());
  EXPECT_FALSE(d.HasParseError()) << json;
  return d;
}

// Parses a translation's output; a failed translation fails the test.
rapidjson::Document ParseResult(const Result<std::string>& r) {
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? Parse(r.value()) : rapidjson::Document();
}

std::string J(const rapidjson::Value& v) { return Serialize(v); }

std::string Feed(StreamAdapter& a, std::string_view body) {
  std::string out;
  size_t pos = 0;
  while (pos < body.size()) {
    size_t end = body.find("\n\n", pos);
    if (end == std::string_view::npos) end = body.size();
    if (end > pos) a.OnEvent(body.substr(pos, end - pos), &out);
    pos = end + 2;
  }
  return out;
}

struct SseEvent {
  std::string name;  // the "event:" line, empty when absent
  std::string data;
};

// Splits adapter output into events; every event must end in "\n\n".
std::vector<SseEvent> Events(std::string_view out) {
  std::vector<SseEvent> events;
  size_t pos = 0;
  while (pos < out.size()) {
    size_t end = out.find("\n\n", pos);
    EXPECT_NE(end, std::string_view::npos) << "unterminated event in: " << out.substr(pos);
    if (end == std::string_view::npos) break;
    SseEvent ev;
    std::string_view block = out.substr(pos, end - pos);
    size_t lp = 0;
    while (lp <= block.size()) {
      size_t nl = block.find('\n', lp);
      std::string_view line = block.substr(lp, nl == std::string_view::npos ? nl : nl - lp);
      if (line.substr(0, 7) == "event: ") ev.name = line.substr(7);
      if (line.substr(0, 6) == "data: ") ev.data = line.substr(6);
      if (nl == std::string_view::npos) break;
      lp = nl + 1;
    }
    events.push_back(std::move(ev));
    pos = end + 2;
  }
  return events;
}

// ---------------------------------------------------------------------------
// Chat request -> Anthropic request.

constexpr std::string_view kChatRequest = R"({
  "model": "claude-alias",
  "max_completion_tokens": 1024,
  "temperature": 1.4,
  "top_p": 0.9,
  "stop": "END",
  "stream": true,
  "user": "user-123",
  "messages": [
    {"role": "system", "content": "You are a weather bot."},
    {"role": "developer", "content": [{"type": "text", "text": "Answer briefly."}]},
    {"role": "user", "content": [
      {"type": "text", "text": "What's in this image, and what's the weather in SF?"},
      {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
      {"type": "image_url", "image_url": {"url": "https://upload.wikimedia.org/boardwalk.jpg", "detail": "high"}}]},
    {"role": "assistant", "content": null, "tool_calls": [
      {"id": "call_abc123", "type": "function",
       "function": {"name": "get_weather", "arguments": "{\"location\": \"San Francisco, CA\"}"}},
      {"id": "call:def", "type": "function", "function": {"name": "get_time", "arguments": ""}}]},
    {"role": "tool", "tool_call_id": "call_abc123", "content": "15 degrees"},
    {"role": "tool", "tool_call_id": "call:def", "content": [{"type": "text", "text": "14:05"}]},
    {"role": "user", "content": "Thanks! Summarise."}
  ],
  "tools": [
    {"type": "function", "function": {"name": "get_weather", "description": "Get the current weather",
      "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}},
    {"type": "function", "function": {"name": "get_time"}}
  ],
  "tool_choice": "required",
  "parallel_tool_calls": false
})";

TEST(TranslateChatToAnthropic, FullRequest) {
  rapidjson::Document d =
      ParseResult(ChatRequestToAnthropic(Parse(kChatRequest), "claude-sonnet-4-5", 4096));
  EXPECT_STREQ(d["model"].GetString(), "claude-sonnet-4-5");
  EXPECT_EQ(d["max_tokens"].GetInt64(), 1024);
  EXPECT_DOUBLE_EQ(d["temperature"].GetDouble(), 1.0);  // clamped into Anthropic's range
  EXPECT_DOUBLE_EQ(d["top_p"].GetDouble(), 0.9);
  EXPECT_EQ(J(d["stop_sequences"]), R"(["END"])");
  EXPECT_TRUE(d["stream"].GetBool());
  EXPECT_EQ(J(d["metadata"]), R"({"user_id":"user-123"})");
  EXPECT_EQ(
      J(d["system"]),
      R"([{"type":"text","text":"You are a weather bot."},{"type":"text","text":"Answer briefly."}])");

  const auto& msgs = d["messages"];
  ASSERT_EQ(msgs.Size(), 3u);  // user, assistant, user (tool results + text merged)
  EXPECT_STREQ(msgs[0]["role"].GetString(), "user");
  EXPECT_EQ(
      J(msgs[0]["content"]),
      R"([{"type":"text","text":"What's in this image, and what's the weather in SF?"},)"
      R"({"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}},)"
      R"({"type":"image","source":{"type":"url","url":"https://upload.wikimedia.org/boardwalk.jpg"}}])");
  EXPECT_STREQ(msgs[1]["role"].GetString(), "assistant");
  EXPECT_EQ(
      J(msgs[1]["content"]),
      R"([{"type":"tool_use","id":"call_abc123","name":"get_weather","input":{"location":"San Francisco, CA"}},)"
      R"({"type":"tool_use","id":"call_def","name":"get_time","input":{}}])");
  EXPECT_STREQ(msgs[2]["role"].GetString(), "user");
  EXPECT_EQ(
      J(msgs[2]["content"]),
      R"([{"type":"tool_result","tool_use_id":"call_abc123","content":"15 degrees"},)"
      R"({"type":"tool_result","tool_use_id":"call_def","content":[{"type":"text","text":"14:05"}]},)"
      R"({"type":"text","text":"Thanks! Summarise."}])");

  EXPECT_EQ(
      J(d["tools"]),
      R"([{"name":"get_weather","description":"Get the current weather","input_schema":)"
      R"({"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}},)"
      R"({"name":"get_time","input_schema":{"type":"object","properties":{}}}])");
  EXPECT_EQ(J(d["tool_choice"]), R"({"type":"any","disable_parallel_tool_use":true})");
}

TEST(TranslateChatToAnthropic, Defaults) {
  rapidjson::Document d = ParseResult(ChatRequestToAnthropic(Parse(R"({"model":"m",
    "messages":[{"role":"system","content":"Be nice."},{"role":"user","content":"Hi"}],
    "stop":["\n\nHuman:","###"]})"),
                                                             "claude-haiku-4-5", 4096));
  EXPECT_EQ(d["max_tokens"].GetInt64(), 4096);  // Anthropic requires it
  EXPECT_STREQ(d["system"].GetString(), "Be nice.");
  EXPECT_EQ(J(d["stop_sequences"]), R"(["\n\nHuman:","###"])");
  EXPECT_EQ(J(d["messages"]), R"([{"role":"user","content":[{"type":"text","text":"Hi"}]}])");
  EXPECT_FALSE(d.HasMember("stream"));
  EXPECT_FALSE(d.HasMember("tools"));
  EXPECT_FALSE(d.HasMember("tool_choice"));
  EXPECT_FALSE(d.HasMember("temperature"));
}

TEST(TranslateChatToAnthropic, ToolChoice) {
  const struct {
    const char* chat;  // tool_choice JSON, or nullptr for absent
    const char* anthropic;
  } cases[] = {
      {R"("auto")", R"({"type":"auto"})"},
      {R"("none")", R"({"type":"none"})"},
      {R"("required")", R"({"type":"any"})"},
      {R"({"type":"function","function":{"name":"get_weather"}})",
       R"({"type":"tool","name":"get_weather"})"},
      {nullptr, nullptr},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.chat ? c.chat : "absent");
    std::string req = R"({"messages":[{"role":"user","content":"Hi"}],
      "tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}])";
    if (c.chat) req += std::string(R"(,"tool_choice":)") + c.chat;
    req += "}";
    rapidjson::Document d = ParseResult(ChatRequestToAnthropic(Parse(req), "c", 100));
    if (c.anthropic)
      EXPECT_EQ(J(d["tool_choice"]), c.anthropic);
    else
      EXPECT_FALSE(d.HasMember("tool_choice"));
  }
}

TEST(TranslateChatToAnthropic, RejectsWhatAnthropicCannotTake) {
  const char* bad[] = {
      R"([])",
      R"({"messages":"hi"})",
      R"({"messages":[{"role":"function","name":"f","content":"x"}]})",
      R"({"messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"AA==","format":"wav"}}]}]})",
      R"({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"ftp://x/y.png"}}]}]})",
      R"({"messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{\"a\":"}}]}]})",
      R"({"messages":[{"role":"user","content":"x"}],"tools":[{"type":"web_search"}]})",
      R"({"messages":[{"role":"user","content":"x"}],"n":2})",
  };
  for (const char* req : bad) {
    SCOPED_TRACE(req);
    auto r = ChatRequestToAnthropic(Parse(req), "c", 100);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  }
}

// ---------------------------------------------------------------------------
// Anthropic response -> chat response.

constexpr std::string_view kAnthropicToolResponse = R"({
  "id": "msg_01Aq9w938a90dw8q",
  "type": "message",
  "role": "assistant",
  "model": "claude-sonnet-4-5-20250929",
  "content": [
    {"type": "thinking", "thinking": "The user wants the weather.", "signature": "EqQBCgIYAhIM1gbcDa9GJwZA"},
    {"type": "text", "text": "I'll check the current weather in San Francisco for you."},
    {"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9", "name": "get_weather",
     "input": {"location": "San Francisco, CA", "unit": "celsius"}}
  ],
  "stop_reason": "tool_use",
  "stop_sequence": null,
  "usage": {"input_tokens": 472, "cache_creation_input_tokens": 100, "cache_read_input_tokens": 2048,
            "output_tokens": 91}
})";

TEST(TranslateAnthropicToChat, ResponseWithTextAndToolUse) {
  rapidjson::Document d =
      ParseResult(AnthropicResponseToChat(Parse(kAnthropicToolResponse), "claude-alias"));
  EXPECT_STREQ(d["id"].GetString(), "chatcmpl-msg_01Aq9w938a90dw8q");
  EXPECT_STREQ(d["object"].GetString(), "chat.completion");
  EXPECT_STREQ(d["model"].GetString(), "claude-alias");
  EXPECT_TRUE(d["created"].IsInt64());
  const auto& choice = d["choices"][0];
  EXPECT_EQ(choice["index"].GetInt(), 0);
  EXPECT_STREQ(choice["finish_reason"].GetString(), "tool_calls");
  const auto& msg = choice["message"];
  EXPECT_STREQ(msg["role"].GetString(), "assistant");
  EXPECT_STREQ(msg["content"].GetString(),
               "I'll check the current weather in San Francisco for you.");
  EXPECT_STREQ(msg["reasoning_content"].GetString(), "The user wants the weather.");
  ASSERT_EQ(msg["tool_calls"].Size(), 1u);
  const auto& tc = msg["tool_calls"][0];
  EXPECT_STREQ(tc["id"].GetString(), "toolu_01A09q90qw90lq917835lq9");
  EXPECT_STREQ(tc["type"].GetString(), "function");
  EXPECT_STREQ(tc["function"]["name"].GetString(), "get_weather");
  EXPECT_EQ(J(Parse(tc["function"]["arguments"].GetString())),
            R"({"location":"San Francisco, CA","unit":"celsius"})");
  EXPECT_EQ(J(d["usage"]), R"({"prompt_tokens":2620,"completion_tokens":91,"total_tokens":2711,)"
                           R"("prompt_tokens_details":{"cached_tokens":2048}})");
  // The translated body meters like the original.
  Meter m = MeterResponse(Api::kOpenAiChat, d);
  EXPECT_EQ(m.usage.PromptTotal(), 2620);
  EXPECT_EQ(m.usage.cache_read, 2048);
}

TEST(TranslateAnthropicToChat, StopReasons) {
  const struct {
    const char* anthropic;
    const char* chat;
  } cases[] = {{"end_turn", "stop"},
               {"max_tokens", "length"},
               {"stop_sequence", "stop"},
               {"tool_use", "tool_calls"},
               {"refusal", "content_filter"}};
  for (const auto& c : cases) {
    SCOPED_TRACE(c.anthropic);
    std::string body = std::string(R"({"id":"msg_1","type":"message","role":"assistant",
      "content":[{"type":"text","text":"Hi!"}],"stop_reason":")") +
                       c.anthropic + R"(","usage":{"input_tokens":10,"output_tokens":2}})";
    rapidjson::Document d = ParseResult(AnthropicResponseToChat(Parse(body), "m"));
    EXPECT_STREQ(d["choices"][0]["finish_reason"].GetString(), c.chat);
    EXPECT_STREQ(d["choices"][0]["message"]["content"].GetString(), "Hi!");
    EXPECT_FALSE(d["choices"][0]["message"].HasMember("tool_calls"));
  }
}

TEST(TranslateAnthropicToChat, ErrorBodyIsAnUpstreamError) {
  auto r = AnthropicResponseToChat(Parse(R"({"type":"error",
    "error":{"type":"overloaded_error","message":"Overloaded"}})"),
                                   "m");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUpstreamError);
  EXPECT_NE(r.status().message().find("Overloaded"), std::string::npos);
}

// ---------------------------------------------------------------------------
// Anthropic request -> chat request.

constexpr std::string_view kAnthropicRequest = R"({
  "model": "claude-sonnet-4-5",
  "max_tokens": 1024,
  "system": [{"type": "text", "text": "You are a coding agent."},
             {"type": "text", "text": "Be terse.", "cache_control": {"type": "ephemeral"}}],
  "messages": [
    {"role": "user", "content": "What's the weather in SF?"},
    {"role": "assistant", "content": [
      {"type": "thinking", "thinking": "I should call the tool.", "signature": "EqQBCgIYAhIM"},
      {"type": "text", "text": "Let me check."},
      {"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9", "name": "get_weather",
       "input": {"location": "San Francisco, CA"}}]},
    {"role": "user", "content": [
      {"type": "tool_result", "tool_use_id": "toolu_01A09q90qw90lq917835lq9", "content": "15 degrees"},
      {"type": "tool_result", "tool_use_id": "toolu_02", "is_error": true,
       "content": [{"type": "text", "text": "line1"}, {"type": "text", "text": "line2"}]},
      {"type": "text", "text": "And this picture?"},
      {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/4AAQSkZJRg=="}}]}
  ],
  "tools": [{"name": "get_weather", "description": "Get the current weather in a given location",
             "input_schema": {"type": "object", "properties": {"location": {"type": "string"}},
                              "required": ["location"]}}],
  "tool_choice": {"type": "any", "disable_parallel_tool_use": true},
  "stop_sequences": ["\n\nHuman:"],
  "temperature": 0.5,
  "top_p": 0.9,
  "top_k": 40,
  "stream": true,
  "metadata": {"user_id": "u-42"}
})";

TEST(TranslateAnthropicToChatRequest, FullRequest) {
  rapidjson::Document d = ParseResult(AnthropicRequestToChat(Parse(kAnthropicRequest), "gpt-4o"));
  EXPECT_STREQ(d["model"].GetString(), "gpt-4o");
  EXPECT_EQ(d["max_tokens"].GetInt64(), 1024);
  EXPECT_DOUBLE_EQ(d["temperature"].GetDouble(), 0.5);
  EXPECT_DOUBLE_EQ(d["top_p"].GetDouble(), 0.9);
  EXPECT_FALSE(d.HasMember("top_k"));
  EXPECT_EQ(J(d["stop"]), R"(["\n\nHuman:"])");
  EXPECT_STREQ(d["user"].GetString(), "u-42");
  EXPECT_TRUE(d["stream"].GetBool());
  EXPECT_EQ(J(d["stream_options"]), R"({"include_usage":true})");

  const auto& msgs = d["messages"];
  ASSERT_EQ(msgs.Size(), 6u);
  EXPECT_EQ(J(msgs[0]), R"({"role":"system","content":"You are a coding agent.\nBe terse."})");
  EXPECT_EQ(J(msgs[1]), R"({"role":"user","content":"What's the weather in SF?"})");
  EXPECT_EQ(
      J(msgs[2]),
      R"({"role":"assistant","content":"Let me check.","tool_calls":[{"id":"toolu_01A09q90qw90lq917835lq9",)"
      R"("type":"function","function":{"name":"get_weather","arguments":"{\"location\":\"San Francisco, CA\"}"}}]})");
  EXPECT_EQ(
      J(msgs[3]),
      R"({"role":"tool","tool_call_id":"toolu_01A09q90qw90lq917835lq9","content":"15 degrees"})");
  EXPECT_EQ(J(msgs[4]), R"({"role":"tool","tool_call_id":"toolu_02","content":"line1\nline2"})");
  EXPECT_EQ(
      J(msgs[5]),
      R"({"role":"user","content":[{"type":"text","text":"And this picture?"},)"
      R"({"type":"image_url","image_url":{"url":"data:image/jpeg;base64,/9j/4AAQSkZJRg=="}}]})");

  EXPECT_EQ(
      J(d["tools"]),
      R"([{"type":"function","function":{"name":"get_weather","description":"Get the current weather in a given location",)"
      R"("parameters":{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}}}])");
  EXPECT_STREQ(d["tool_choice"].GetString(), "required");
  EXPECT_FALSE(d["parallel_tool_calls"].GetBool());
}

TEST(TranslateAnthropicToChatRequest, ToolChoiceAndNonStreaming) {
  const struct {
    const char* anthropic;
    const char* chat;
  } cases[] = {
      {R"({"type":"auto"})", R"("auto")"},
      {R"({"type":"none"})", R"("none")"},
      {R"({"type":"any"})", R"("required")"},
      {R"({"type":"tool","name":"get_weather"})",
       R"({"type":"function","function":{"name":"get_weather"}})"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.anthropic);
    std::string req =
        std::string(R"({"model":"x","max_tokens":10,"messages":[{"role":"user","content":"Hi"}],
      "tools":[{"name":"get_weather","input_schema":{"type":"object"}}],"tool_choice":)") +
        c.anthropic + "}";
    rapidjson::Document d = ParseResult(AnthropicRequestToChat(Parse(req), "m"));
    EXPECT_EQ(J(d["tool_choice"]), c.chat);
    EXPECT_FALSE(d.HasMember("parallel_tool_calls"));
    EXPECT_FALSE(d.HasMember("stream"));
    EXPECT_FALSE(d.HasMember("stream_options"));
  }
}

// Claude Code puts system turns inside `messages` for models it does not take for Claude
// (issue 19): each becomes a chat system message in its place, after the top-level one.
TEST(TranslateAnthropicToChatRequest, SystemMessagesKeepTheirPlace) {
  rapidjson::Document d = ParseResult(AnthropicRequestToChat(Parse(R"({
    "model":"gpt-4o-mini","max_tokens":64,"system":"Top.","thinking":{"type":"adaptive"},
    "messages":[{"role":"user","content":"say hello"},
                {"role":"system","content":"Be brief."},
                {"role":"assistant","content":[{"type":"thinking","thinking":"t","signature":"sig"},
                                               {"type":"text","text":"Hello."}]},
                {"role":"system","content":[{"type":"text","text":"A","cache_control":{"type":"ephemeral"}},
                                            {"type":"text","text":"B"}]},
                {"role":"system","content":""},
                {"role":"user","content":"again"}]})"),
                                                             "gpt-4o-mini"));
  EXPECT_EQ(J(d["messages"]),
            R"([{"role":"system","content":"Top."},{"role":"user","content":"say hello"},)"
            R"({"role":"system","content":"Be brief."},{"role":"assistant","content":"Hello."},)"
            R"({"role":"system","content":"A\nB"},{"role":"user","content":"again"}])");
  EXPECT_FALSE(d.HasMember("thinking"));
}

TEST(TranslateAnthropicToChatRequest, RejectsWhatChatCannotTake) {
  const char* bad[] = {
      R"({"messages":[{"role":"user","content":"x"}],"tools":[{"type":"web_search_20250305","name":"web_search"}]})",
      R"({"messages":[{"role":"user","content":[{"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBER"}}]}]})",
      R"({"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"AA"}}]}]}]})",
      R"({"messages":[{"role":"tool","content":"x"}]})",
      R"({"messages":[{"role":"system","content":5}]})",
      R"({"messages":[{"role":"system"}]})",
      R"({"messages":[{"role":"system","content":[{"type":"image","source":{"type":"url","url":"u"}}]}]})",
      R"({"system":5,"messages":[]})",
  };
  for (const char* req : bad) {
    SCOPED_TRACE(req);
    auto r = AnthropicRequestToChat(Parse(req), "m");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  }
}

// ---------------------------------------------------------------------------
// Chat response -> Anthropic response.

TEST(TranslateChatToAnthropicResponse, TextAndToolCalls) {
  rapidjson::Document d = ParseResult(ChatResponseToAnthropic(Parse(R"({
    "id": "chatcmpl-abc123", "object": "chat.completion", "created": 1699896916, "model": "gpt-4o-mini",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Checking.",
      "tool_calls": [{"id": "call_abc123", "type": "function",
        "function": {"name": "get_current_weather", "arguments": "{\n\"location\": \"Boston, MA\"\n}"}}]},
      "logprobs": null, "finish_reason": "tool_calls"}],
    "usage": {"prompt_tokens": 82, "completion_tokens": 17, "total_tokens": 99,
              "prompt_tokens_details": {"cached_tokens": 64},
              "completion_tokens_details": {"reasoning_tokens": 5}}})"),
                                                              "claude-alias"));
  EXPECT_EQ(
      J(d),
      R"({"id":"msg_abc123","type":"message","role":"assistant","model":"claude-alias","content":[)"
      R"({"type":"text","text":"Checking."},)"
      R"({"type":"tool_use","id":"call_abc123","name":"get_current_weather","input":{"location":"Boston, MA"}}],)"
      R"("stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":18,)"
      R"("cache_creation_input_tokens":0,"cache_read_input_tokens":64,"output_tokens":17}})");
  // The translated body meters like the original.
  Meter m = MeterResponse(Api::kAnthropicMessages, d);
  EXPECT_EQ(m.usage.PromptTotal(), 82);
  EXPECT_EQ(m.usage.OutputTotal(), 17);
}

TEST(TranslateChatToAnthropicResponse, FinishReasonsAndTruncatedArguments) {
  const struct {
    const char* chat;
    const char* anthropic;
  } cases[] = {{"stop", "end_turn"},
               {"length", "max_tokens"},
               {"tool_calls", "tool_use"},
               {"content_filter", "refusal"}};
  for (const auto& c : cases) {
    SCOPED_TRACE(c.chat);
    std::string body =
        std::string(R"({"id":"chatcmpl-1","choices":[{"index":0,"message":{"role":"assistant",
      "content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{\"a\": [1,"}}]},
      "finish_reason":")") +
        c.chat + R"("}]})";
    rapidjson::Document d = ParseResult(ChatResponseToAnthropic(Parse(body), "m"));
    EXPECT_STREQ(d["stop_reason"].GetString(), c.anthropic);
    EXPECT_EQ(J(d["content"]), R"([{"type":"tool_use","id":"call_1","name":"f","input":{}}])");
  }
  auto err = ChatResponseToAnthropic(
      Parse(R"({"error":{"message":"Rate limit","type":"requests"}})"), "m");
  ASSERT_FALSE(err.ok());
  EXPECT_EQ(err.status().code(), StatusCode::kUpstreamError);
}

// ---------------------------------------------------------------------------
// Stream: Anthropic events -> chat chunks.

constexpr std::string_view kAnthropicToolStream =
    R"(event: message_start
data: {"type":"message_start","message":{"model":"claude-haiku-4-5-20251001","id":"msg_01K2JbSUMYhez5RHoK9ZCj9U","type":"message","role":"assistant","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":849,"cache_creation_input_tokens":300,"cache_read_input_tokens":2000,"cache_creation":{"ephemeral_5m_input_tokens":300,"ephemeral_1h_input_tokens":0},"output_tokens":10,"service_tier":"standard"}}}

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}

event: ping
data: {"type": "ping"}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Okay, let's check"}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" the weather."}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: content_block_start
data: {"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_01T1x1fJ34qAmk2tNTrN7Up6","name":"get_weather","input":{}}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"location\":"}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":" \"San Francisco, CA\", \"unit\": \"fah"}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"renheit\"}"}}

event: content_block_stop
data: {"type":"content_block_stop","index":1}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":89}}

event: message_stop
data: {"type":"message_stop"}

)";

TEST(TranslateAnthropicToChatStream, TextAndSplitToolJson) {
  auto a = MakeAnthropicToChatStream("claude-alias", /*include_usage=*/true);
  std::string out = Feed(*a, kAnthropicToolStream);
  a->Finish(&out);
  std::vector<SseEvent> events = Events(out);
  ASSERT_EQ(events.size(), 10u);
  EXPECT_EQ(events.back().data, "[DONE]");

  std::string text, args;
  std::vector<std::string> finish;
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    SCOPED_TRACE(events[i].data);
    EXPECT_EQ(events[i].name, "");  // chat streams have no event names
    rapidjson::Document c = Parse(events[i].data);
    EXPECT_STREQ(c["id"].GetString(), "chatcmpl-msg_01K2JbSUMYhez5RHoK9ZCj9U");
    EXPECT_STREQ(c["object"].GetString(), "chat.completion.chunk");
    EXPECT_STREQ(c["model"].GetString(), "claude-alias");
    if (c["choices"].Empty()) continue;
    EXPECT_TRUE(c["usage"].IsNull());
    const auto& ch = c["choices"][0];
    const auto& delta = ch["delta"];
    if (ch["finish_reason"].IsString()) finish.push_back(ch["finish_reason"].GetString());
    if (delta.HasMember("content")) text += delta["content"].GetString();
    if (delta.HasMember("tool_calls")) {
      const auto& tc = delta["tool_calls"][0];
      EXPECT_EQ(tc["index"].GetInt(), 0);
      args += tc["function"]["arguments"].GetString();
    }
  }
  // Role first.
  rapidjson::Document first = Parse(events[0].data);
  EXPECT_EQ(J(first["choices"][0]["delta"]), R"({"role":"assistant","content":""})");
  // The tool call opens with its id, type and name.
  rapidjson::Document open = Parse(events[3].data);
  EXPECT_EQ(J(open["choices"][0]["delta"]),
            R"({"tool_calls":[{"index":0,"id":"toolu_01T1x1fJ34qAmk2tNTrN7Up6","type":"function",)"
            R"("function":{"name":"get_weather","arguments":""}}]})");
  EXPECT_EQ(text, "Okay, let's check the weather.");
  EXPECT_EQ(J(Parse(args)), R"({"location":"San Francisco, CA","unit":"fahrenheit"})");
  EXPECT_EQ(finish, std::vector<std::string>{"tool_calls"});
  // Usage chunk last before [DONE]: prompt = input + cache read + cache write.
  rapidjson::Document usage = Parse(events[8].data);
  EXPECT_EQ(J(usage["usage"]),
            R"({"prompt_tokens":3149,"completion_tokens":89,"total_tokens":3238,)"
            R"("prompt_tokens_details":{"cached_tokens":2000}})");

  const Meter& m = a->meter();
  EXPECT_TRUE(m.complete);
  EXPECT_TRUE(m.have_usage);
  EXPECT_EQ(m.model, "claude-haiku-4-5-20251001");
  EXPECT_EQ(m.usage.input, 849);
  EXPECT_EQ(m.usage.cache_read, 2000);
  EXPECT_EQ(m.usage.cache_write_5m, 300);
  EXPECT_EQ(m.usage.output, 89);
  EXPECT_EQ(m.text_chars, text.size() + args.size());
}

TEST(TranslateAnthropicToChatStream, NoUsageChunkUnlessAsked) {
  auto a = MakeAnthropicToChatStream("claude-alias", /*include_usage=*/false);
  std::string out = Feed(*a, kAnthropicToolStream);
  a->Finish(&out);
  std::vector<SseEvent> events = Events(out);
  ASSERT_EQ(events.size(), 9u);
  EXPECT_EQ(out.find("\"usage\""), std::string::npos);
  EXPECT_NE(events[7].data.find(R"("finish_reason":"tool_calls")"), std::string::npos);
  EXPECT_TRUE(a->meter().have_usage);  // metering does not depend on the client's choice
}

TEST(TranslateAnthropicToChatStream, ThinkingErrorsAndBreaks) {
  auto a = MakeAnthropicToChatStream("m", false);
  std::string out = Feed(*a, R"(event: message_start
data: {"type": "message_start", "message": {"id": "msg_01", "type": "message", "role": "assistant", "content": [], "model": "claude-sonnet-4-5", "stop_reason": null, "stop_sequence": null, "usage": {"input_tokens": 25, "output_tokens": 1}}}

event: content_block_start
data: {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}}

event: content_block_delta
data: {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "Let me think."}}

event: content_block_delta
data: {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "EqQBCgIYAhIM"}}

event: error
data: {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}

)");
  std::vector<SseEvent> events = Events(out);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(J(Parse(events[1].data)["choices"][0]["delta"]),
            R"({"reasoning_content":"Let me think."})");
  EXPECT_EQ(
      events[2].data,
      R"({"error":{"message":"Overloaded","type":"overloaded_error","param":null,"code":"overloaded_error"}})");
  EXPECT_TRUE(a->meter().upstream_error);
  EXPECT_FALSE(a->meter().complete);
  std::string tail;
  a->Fail("Provider 'anthropic' stream broke: timeout", &tail);
  EXPECT_EQ(tail,
            "data: {\"error\":{\"message\":\"Provider 'anthropic' stream broke: timeout\","
            "\"type\":\"upstream_error\",\"param\":null,\"code\":\"stream_broken\"}}\n\n");
}

TEST(TranslateAnthropicToChatStream, WholeToolInputInBlockStart) {
  auto a = MakeAnthropicToChatStream("m", false);
  std::string out = Feed(*a, R"(event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_1","name":"f","input":{"a":1}}}

)");
  std::vector<SseEvent> events = Events(out);
  ASSERT_EQ(events.size(), 2u);  // role chunk, then the call
  EXPECT_EQ(J(Parse(events[1].data)["choices"][0]["delta"]),
            R"({"tool_calls":[{"index":0,"id":"toolu_1","type":"function",)"
            R"("function":{"name":"f","arguments":"{\"a\":1}"}}]})");
}

// ---------------------------------------------------------------------------
// Stream: chat chunks -> Anthropic events.

constexpr std::string_view kChatToolStream =
    R"(data: {"id":"chatcmpl-A1","object":"chat.completion.chunk","created":1727000000,"model":"gpt-4o-2024-08-06","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-A1","object":"chat.completion.chunk","created":1727000000,"model":"gpt-4o-2024-08-06","choices":[{"index":0,"delta":{"content":"Let me look"},"logprobs":null,"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-A1","object":"chat.completion.chunk","created":1727000000,"model":"gpt-4o-2024-08-06","choices":[{"index":0,"delta":{"content":" that up."},"logprobs":null,"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-A1","object":"chat.completion.chunk","created":1727000000,"model":"gpt-4o-2024-08-06","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_DdmO9pD3xa9XTPNJ32zg2hcA","type":"function","function":{"name":"get_weather","arguments":""}}]},"logprobs":null,"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-A1","object":"chat.completion.chunk","created":1727000000,"model":"gpt-4o-2024-08-06","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"lo"}}]},"logprobs":null,"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-A1","object":"chat.completion.chunk","created":1727000000,"model":"gpt-4o-2024-08-06","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"cation\": \"Paris, France\"}"}}]},"logprobs":null,"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-A1","object":"chat.completion.chunk","created":1727000000,"model":"gpt-4o-2024-08-06","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_2","type":"function","function":{"name":"get_time","arguments":""}}]},"logprobs":null,"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-A1","object":"chat.completion.chunk","created":1727000000,"model":"gpt-4o-2024-08-06","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"{\"tz\": \"CET\"}"}}]},"logprobs":null,"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-A1","object":"chat.completion.chunk","created":1727000000,"model":"gpt-4o-2024-08-06","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"tool_calls"}],"usage":null}

data: {"id":"chatcmpl-A1","object":"chat.completion.chunk","created":1727000000,"model":"gpt-4o-2024-08-06","choices":[],"usage":{"prompt_tokens":120,"completion_tokens":40,"total_tokens":160,"prompt_tokens_details":{"cached_tokens":100,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0}}}

data: [DONE]

)";

std::vector<std::string> Names(const std::vector<SseEvent>& events) {
  std::vector<std::string> names;
  for (const auto& e : events) names.push_back(e.name);
  return names;
}

TEST(TranslateChatToAnthropicStream, TextThenTwoToolCalls) {
  auto a = MakeChatToAnthropicStream("claude-alias");
  std::string out = Feed(*a, kChatToolStream);
  std::string tail;
  a->Finish(&tail);
  EXPECT_EQ(tail, "");  // [DONE] already closed the message
  std::vector<SseEvent> events = Events(out);
  EXPECT_EQ(Names(events), (std::vector<std::string>{
                               "message_start", "content_block_start", "content_block_delta",
                               "content_block_delta", "content_block_stop", "content_block_start",
                               "content_block_delta", "content_block_delta", "content_block_stop",
                               "content_block_start", "content_block_delta", "content_block_stop",
                               "message_delta", "message_stop"}));
  std::string text;
  std::vector<std::string> json(3);
  for (const auto& e : events) {
    SCOPED_TRACE(e.data);
    rapidjson::Document d = Parse(e.data);
    EXPECT_EQ(std::string(d["type"].GetString()), e.name);  // data.type matches the event name
    if (e.name == "content_block_delta") {
      const auto& delta = d["delta"];
      int index = d["index"].GetInt();
      if (std::string(delta["type"].GetString()) == "text_delta") {
        EXPECT_EQ(index, 0);
        text += delta["text"].GetString();
      } else {
        EXPECT_STREQ(delta["type"].GetString(), "input_json_delta");
        json[index] += delta["partial_json"].GetString();
      }
    }
  }
  EXPECT_EQ(
      J(Parse(events[0].data)),
      R"({"type":"message_start","message":{"id":"msg_A1","type":"message","role":"assistant",)"
      R"("content":[],"model":"claude-alias","stop_reason":null,"stop_sequence":null,"usage":)"
      R"({"input_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0}}})");
  EXPECT_EQ(
      events[1].data,
      R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})");
  EXPECT_EQ(events[5].data,
            R"({"type":"content_block_start","index":1,"content_block":{"type":"tool_use",)"
            R"("id":"call_DdmO9pD3xa9XTPNJ32zg2hcA","name":"get_weather","input":{}}})");
  EXPECT_EQ(events[9].data,
            R"({"type":"content_block_start","index":2,"content_block":{"type":"tool_use",)"
            R"("id":"call_2","name":"get_time","input":{}}})");
  EXPECT_EQ(events[4].data, R"({"type":"content_block_stop","index":0})");
  EXPECT_EQ(text, "Let me look that up.");
  EXPECT_EQ(J(Parse(json[1])), R"({"location":"Paris, France"})");
  EXPECT_EQ(J(Parse(json[2])), R"({"tz":"CET"})");
  EXPECT_EQ(
      events[12].data,
      R"({"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},)"
      R"("usage":{"input_tokens":20,"cache_creation_input_tokens":0,"cache_read_input_tokens":100,"output_tokens":40}})");
  EXPECT_EQ(events[13].data, R"({"type":"message_stop"})");

  const Meter& m = a->meter();
  EXPECT_TRUE(m.complete);
  EXPECT_TRUE(m.have_usage);
  EXPECT_EQ(m.model, "gpt-4o-2024-08-06");
  EXPECT_EQ(m.usage.input, 20);
  EXPECT_EQ(m.usage.cache_read, 100);
  EXPECT_EQ(m.usage.output, 40);
}

TEST(TranslateChatToAnthropicStream, ReasoningThenTextAndFinishWithoutDone) {
  auto a = MakeChatToAnthropicStream("m");
  std::string out = Feed(
      *a,
      R"(data: {"id":"chatcmpl-r","object":"chat.completion.chunk","model":"deepseek-reasoner","choices":[{"index":0,"delta":{"role":"assistant","reasoning_content":"Hmm, "},"finish_reason":null}]}

data: {"id":"chatcmpl-r","object":"chat.completion.chunk","model":"deepseek-reasoner","choices":[{"index":0,"delta":{"reasoning_content":"2+2."},"finish_reason":null}]}

data: {"id":"chatcmpl-r","object":"chat.completion.chunk","model":"deepseek-reasoner","choices":[{"index":0,"delta":{"content":"4"},"finish_reason":"length"}]}

)");
  a->Finish(&out);  // the upstream closed without [DONE] or usage
  std::vector<SseEvent> events = Events(out);
  EXPECT_EQ(Names(events),
            (std::vector<std::string>{"message_start", "content_block_start", "content_block_delta",
                                      "content_block_delta", "content_block_stop",
                                      "content_block_start", "content_block_delta",
                                      "content_block_stop", "message_delta", "message_stop"}));
  EXPECT_EQ(
      events[1].data,
      R"({"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":""}})");
  EXPECT_EQ(
      events[3].data,
      R"({"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"2+2."}})");
  EXPECT_EQ(events[6].data,
            R"({"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"4"}})");
  EXPECT_NE(events[8].data.find(R"("stop_reason":"max_tokens")"), std::string::npos);
  EXPECT_FALSE(a->meter().complete);
  EXPECT_FALSE(a->meter().have_usage);
  EXPECT_EQ(a->meter().text_chars, 10u);  // reasoning counts as generated text
}

TEST(TranslateChatToAnthropicStream, WholeToolCallsReusingIndexZero) {
  // Some compatible servers send each call whole, all at index 0, told apart by id.
  auto a = MakeChatToAnthropicStream("m");
  std::string out = Feed(
      *a,
      R"(data: {"id":"chatcmpl-g","choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"f","arguments":"{\"x\":1}"}},{"index":0,"id":"call_b","type":"function","function":{"name":"g","arguments":"{}"}}]},"finish_reason":"tool_calls"}]}

data: [DONE]

)");
  std::vector<SseEvent> events = Events(out);
  EXPECT_EQ(Names(events), (std::vector<std::string>{
                               "message_start", "content_block_start", "content_block_delta",
                               "content_block_stop", "content_block_start", "content_block_delta",
                               "content_block_stop", "message_delta", "message_stop"}));
  EXPECT_NE(events[4].data.find(
                R"("index":1,"content_block":{"type":"tool_use","id":"call_b","name":"g")"),
            std::string::npos);
}

TEST(TranslateChatToAnthropicStream, ErrorsInAnthropicDialect) {
  auto a = MakeChatToAnthropicStream("m");
  std::string out = Feed(
      *a,
      R"(data: {"error":{"message":"The server had an error while processing your request.","type":"server_error","param":null,"code":null}}

)");
  EXPECT_EQ(out,
            "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":"
            "\"The server had an error while processing your request.\"}}\n\n");
  EXPECT_TRUE(a->meter().upstream_error);
  std::string tail;
  a->Fail("stream broke", &tail);
  EXPECT_EQ(tail,
            "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":"
            "\"stream broke\"}}\n\n");
}

// A chat request translated to Anthropic and back keeps its conversation.
TEST(TranslateRoundTrip, ChatThroughAnthropicAndBack) {
  rapidjson::Document anthropic =
      ParseResult(ChatRequestToAnthropic(Parse(kChatRequest), "claude-sonnet-4-5", 4096));
  rapidjson::Document chat = ParseResult(AnthropicRequestToChat(anthropic, "gpt-4o"));
  const auto& msgs = chat["messages"];
  ASSERT_EQ(msgs.Size(), 6u);  // system, user, assistant, tool, tool, user
  EXPECT_STREQ(msgs[0]["content"].GetString(), "You are a weather bot.\nAnswer briefly.");
  EXPECT_STREQ(msgs[2]["tool_calls"][0]["id"].GetString(), "call_abc123");
  EXPECT_STREQ(msgs[3]["tool_call_id"].GetString(), "call_abc123");
  EXPECT_STREQ(msgs[4]["tool_call_id"].GetString(), "call_def");
  EXPECT_STREQ(msgs[4]["content"].GetString(), "14:05");
  EXPECT_STREQ(msgs[5]["content"].GetString(), "Thanks! Summarise.");
}

// Untrusted upstream bytes: no adapter may crash or emit a half event.
TEST(TranslateStreams, SurviveMalformedEvents) {
  const char* garbage[] = {
      "",
      "data: {",
      "data: []",
      "data: null",
      "event: message_start",
      ": comment",
      R"(data: {"type":"content_block_delta","index":99999999999,"delta":{"type":"text_delta","text":"x"}})",
      R"(data: {"type":"content_block_delta","index":-1,"delta":{"type":"input_json_delta","partial_json":"x"}})",
      R"(data: {"type":"content_block_start","index":2,"content_block":7})",
      R"(data: {"type":"message_start","message":[]})",
      R"(data: {"type":"message_delta","usage":{"output_tokens":"many"}})",
      R"(data: {"choices":[{"delta":{"tool_calls":[{"index":-1,"function":{"arguments":5}}]}}]})",
      R"(data: {"choices":[{"delta":{"tool_calls":{}}}]})",
      R"(data: {"choices":[7],"usage":[]})",
      R"(data: {"error":"plain string"})",
      R"(data: {"type":"response.completed","response":{"usage":5}})",
      R"(data: {"candidates":[{"content":{"parts":[{"functionCall":{}}]}}],"usageMetadata":[]})",
      "data: [DONE]",
  };

  std::unique_ptr<StreamAdapter> adapters[] = {
      MakeOpenAiPassthrough(true),          MakeAnthropicPassthrough(),
      MakeResponsesPassthrough(),           MakeGeminiPassthrough(),
      MakeAnthropicToChatStream("m", true), MakeChatToAnthropicStream("m"),
  };
  for (auto& a : adapters) {
    std::string out;
    for (const char* g : garbage) a->OnEvent(g, &out);
    a->Finish(&out);
    a->Fail("x", &out);
    Events(out);  // fails the test on an unterminated event
    EXPECT_TRUE(out.empty() || out.ends_with("\n\n"));
  }
}

}  // namespace
}  // namespace tollgate::providers
