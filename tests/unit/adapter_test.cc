// Usage extractors, whole-response metering and the passthrough stream
// adapters, fed payloads shaped like the providers' documented examples.

#include "providers/adapter.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tollgate::providers {
namespace {

rapidjson::Document Parse(std::string_view json) {
  rapidjson::Document d;
  d.Parse(json.data(), json.size());
  EXPECT_FALSE(d.HasParseError()) << json;
  return d;
}

// Feeds an upstream SSE body (events separated by blank lines) event by event.
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

void ExpectUsage(const pricing::Usage& u, int64_t input, int64_t cache_read, int64_t w5m,
                 int64_t w1h, int64_t output, int64_t reasoning) {
  EXPECT_EQ(u.input, input);
  EXPECT_EQ(u.cache_read, cache_read);
  EXPECT_EQ(u.cache_write_5m, w5m);
  EXPECT_EQ(u.cache_write_1h, w1h);
  EXPECT_EQ(u.output, output);
  EXPECT_EQ(u.reasoning, reasoning);
}

// ---------------------------------------------------------------------------
// Usage extractors.

struct UsageCase {
  const char* name;
  const char* json;
  int64_t input, cache_read, w5m, w1h, output, reasoning;
};

TEST(AdapterUsage, Anthropic) {
  const UsageCase cases[] = {
      {"plain", R"({"input_tokens":2095,"output_tokens":503})", 2095, 0, 0, 0, 503, 0},
      {"cache read and write, no TTL split: writes are 5m",
       R"({"input_tokens":50,"cache_creation_input_tokens":1000,"cache_read_input_tokens":3000,
           "output_tokens":200})",
       50, 3000, 1000, 0, 200, 0},
      {"TTL split",
       R"({"input_tokens":21,"cache_creation_input_tokens":1000,"cache_read_input_tokens":0,
           "cache_creation":{"ephemeral_5m_input_tokens":400,"ephemeral_1h_input_tokens":600},
           "output_tokens":393,"service_tier":"standard"})",
       21, 0, 400, 600, 393, 0},
      {"all 1h",
       R"({"input_tokens":3,"cache_creation_input_tokens":12000,"cache_read_input_tokens":0,
           "cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":12000},
           "output_tokens":7})",
       3, 0, 0, 12000, 7, 0},
      {"null cache fields (some compatible servers)",
       R"({"input_tokens":10,"cache_creation_input_tokens":null,"cache_read_input_tokens":null,
           "output_tokens":4})",
       10, 0, 0, 0, 4, 0},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    pricing::Usage u;
    ASSERT_TRUE(UsageFromAnthropic(Parse(c.json), &u));
    ExpectUsage(u, c.input, c.cache_read, c.w5m, c.w1h, c.output, c.reasoning);
  }
  pricing::Usage u;
  EXPECT_FALSE(UsageFromAnthropic(Parse("null"), &u));
}

TEST(AdapterUsage, Responses) {
  const UsageCase cases[] = {
      {"reasoning model, cached prefix",
       R"({"input_tokens":328,"input_tokens_details":{"cached_tokens":128},"output_tokens":1200,
           "output_tokens_details":{"reasoning_tokens":1024},"total_tokens":1528})",
       200, 128, 0, 0, 176, 1024},
      {"no details", R"({"input_tokens":36,"output_tokens":87,"total_tokens":123})", 36, 0, 0, 0,
       87, 0},
      {"subset larger than total is clamped",
       R"({"input_tokens":5,"input_tokens_details":{"cached_tokens":9},"output_tokens":1,
           "output_tokens_details":{"reasoning_tokens":3}})",
       0, 5, 0, 0, 0, 1},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    pricing::Usage u;
    ASSERT_TRUE(UsageFromResponses(Parse(c.json), &u));
    ExpectUsage(u, c.input, c.cache_read, c.w5m, c.w1h, c.output, c.reasoning);
  }
}

TEST(AdapterUsage, Gemini) {
  const UsageCase cases[] = {
      {"plain", R"({"promptTokenCount":8,"candidatesTokenCount":6,"totalTokenCount":14})", 8, 0, 0,
       0, 6, 0},
      {"thinking model: thoughts apart from candidates",
       R"({"promptTokenCount":12,"candidatesTokenCount":310,"totalTokenCount":1229,
           "thoughtsTokenCount":907,"promptTokensDetails":[{"modality":"TEXT","tokenCount":12}]})",
       12, 0, 0, 0, 310, 907},
      {"context cache: cached is inside promptTokenCount",
       R"({"promptTokenCount":1200,"cachedContentTokenCount":1000,"candidatesTokenCount":300,
           "thoughtsTokenCount":1000,"totalTokenCount":2500})",
       200, 1000, 0, 0, 300, 1000},
      {"grounding: tool-use prompt tokens are extra input",
       R"({"promptTokenCount":10,"candidatesTokenCount":50,"toolUsePromptTokenCount":90,
           "totalTokenCount":150})",
       100, 0, 0, 0, 50, 0},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    rapidjson::Document d = Parse(c.json);
    pricing::Usage u;
    ASSERT_TRUE(UsageFromGemini(d, &u));
    ExpectUsage(u, c.input, c.cache_read, c.w5m, c.w1h, c.output, c.reasoning);
    EXPECT_EQ(u.Total(), d["totalTokenCount"].GetInt64());  // nothing counted twice
  }
}

// ---------------------------------------------------------------------------
// Whole responses.

TEST(AdapterMeter, OpenAiChat) {
  Meter m = MeterResponse(Api::kOpenAiChat, Parse(R"({
    "id":"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT","object":"chat.completion","created":1741569952,
    "model":"gpt-4.1-2025-04-14",
    "choices":[{"index":0,"message":{"role":"assistant","content":"Hello! How can I assist you today?",
      "refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],
    "usage":{"prompt_tokens":19,"completion_tokens":10,"total_tokens":29,
      "prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},
      "completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0}}})"));
  EXPECT_TRUE(m.have_usage);
  EXPECT_TRUE(m.complete);
  EXPECT_FALSE(m.upstream_error);
  EXPECT_EQ(m.model, "gpt-4.1-2025-04-14");
  EXPECT_EQ(m.usage.input, 19);
  EXPECT_EQ(m.usage.output, 10);
  EXPECT_EQ(m.text_chars, 34u);

  Meter e = MeterResponse(Api::kOpenAiChat, Parse(R"({"error":{"message":"bad","type":"x"}})"));
  EXPECT_TRUE(e.upstream_error);
  EXPECT_FALSE(e.complete);
  EXPECT_FALSE(e.have_usage);
}

TEST(AdapterMeter, Anthropic) {
  Meter m = MeterResponse(Api::kAnthropicMessages, Parse(R"({
    "id":"msg_01Aq9w938a90dw8q","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929",
    "content":[{"type":"text","text":"I'll check the weather."},
               {"type":"tool_use","id":"toolu_01A09q90qw90lq917835lq9","name":"get_weather",
                "input":{"location":"San Francisco, CA"}}],
    "stop_reason":"tool_use","stop_sequence":null,
    "usage":{"input_tokens":472,"cache_creation_input_tokens":0,"cache_read_input_tokens":2048,
             "output_tokens":91}})"));
  EXPECT_TRUE(m.have_usage);
  EXPECT_TRUE(m.complete);
  EXPECT_EQ(m.model, "claude-sonnet-4-5-20250929");
  ExpectUsage(m.usage, 472, 2048, 0, 0, 91, 0);
  // Text plus the tool input as serialized JSON: {"location":"San Francisco, CA"}.
  EXPECT_EQ(m.text_chars, std::string("I'll check the weather.").size() + 32);

  Meter e = MeterResponse(Api::kAnthropicMessages, Parse(R"({"type":"error",
    "error":{"type":"overloaded_error","message":"Overloaded"}})"));
  EXPECT_TRUE(e.upstream_error);
}

TEST(AdapterMeter, Responses) {
  Meter m = MeterResponse(Api::kOpenAiResponses, Parse(R"({
    "id":"resp_67ccd3a9da748190baa7f1570fe91ac604becb25c45c1d41","object":"response",
    "created_at":1741476777,"status":"completed","error":null,"model":"o3-2025-04-16",
    "output":[
      {"type":"reasoning","id":"rs_1","summary":[{"type":"summary_text","text":"Thinking."}]},
      {"type":"message","id":"msg_1","status":"completed","role":"assistant",
       "content":[{"type":"output_text","text":"In a peaceful grove.","annotations":[]}]},
      {"type":"function_call","id":"fc_1","call_id":"call_1","name":"f","arguments":"{\"a\":1}"}],
    "usage":{"input_tokens":328,"input_tokens_details":{"cached_tokens":0},"output_tokens":52,
             "output_tokens_details":{"reasoning_tokens":32},"total_tokens":380}})"));
  EXPECT_TRUE(m.have_usage);
  EXPECT_FALSE(m.upstream_error);
  EXPECT_EQ(m.model, "o3-2025-04-16");
  ExpectUsage(m.usage, 328, 0, 0, 0, 20, 32);
  EXPECT_EQ(m.text_chars, 9u + 20u + 7u);

  Meter f = MeterResponse(Api::kOpenAiResponses, Parse(R"({"status":"failed",
    "error":{"code":"server_error","message":"boom"},"usage":null})"));
  EXPECT_TRUE(f.upstream_error);
  EXPECT_FALSE(f.have_usage);
}

TEST(AdapterMeter, Gemini) {
  Meter m = MeterResponse(Api::kGeminiGenerate, Parse(R"({
    "candidates":[{"content":{"parts":[{"text":"AI learns patterns."},
                                       {"functionCall":{"name":"lookup","args":{"q":"x"}}}],
                              "role":"model"},"finishReason":"STOP","index":0}],
    "usageMetadata":{"promptTokenCount":8,"candidatesTokenCount":12,"totalTokenCount":60,
                     "thoughtsTokenCount":40},
    "modelVersion":"gemini-2.5-flash","responseId":"mXF7aNbKJqiJ1dkPk8SXwQQ"})"));
  EXPECT_TRUE(m.have_usage);
  EXPECT_EQ(m.model, "gemini-2.5-flash");
  ExpectUsage(m.usage, 8, 0, 0, 0, 12, 40);
  EXPECT_EQ(m.text_chars, 19u + 6u + 9u);  // text, name, {"q":"x"}
}

// ---------------------------------------------------------------------------
// OpenAI passthrough.

constexpr std::string_view kChatStream =
    R"(data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_44709d6fcb","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_44709d6fcb","choices":[{"index":0,"delta":{"content":"Hello"},"logprobs":null,"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_44709d6fcb","choices":[{"index":0,"delta":{"content":" there!"},"logprobs":null,"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_44709d6fcb","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null}

data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_44709d6fcb","choices":[],"usage":{"prompt_tokens":1200,"completion_tokens":300,"total_tokens":1500,"prompt_tokens_details":{"cached_tokens":1024},"completion_tokens_details":{"reasoning_tokens":100}}}

data: [DONE]

)";

TEST(AdapterOpenAiPassthrough, StripsInjectedUsageChunkAndDone) {
  auto a = MakeOpenAiPassthrough(/*strip_usage_chunk=*/true);
  std::string out = Feed(*a, kChatStream);
  EXPECT_EQ(out.find("\"choices\":[]"), std::string::npos);
  EXPECT_EQ(out.find("[DONE]"), std::string::npos);
  EXPECT_NE(out.find(R"("content":"Hello")"), std::string::npos);
  EXPECT_NE(out.find(R"("finish_reason":"stop")"), std::string::npos);
  // Forwarded events keep their bytes and their "\n\n" separators.
  size_t usage_chunk = kChatStream.rfind("data: ", kChatStream.find("\"choices\":[]"));
  EXPECT_EQ(out, kChatStream.substr(0, usage_chunk));
  const Meter& m = a->meter();
  EXPECT_TRUE(m.complete);
  EXPECT_TRUE(m.have_usage);
  EXPECT_FALSE(m.upstream_error);
  EXPECT_EQ(m.model, "gpt-4o-mini-2024-07-18");
  EXPECT_EQ(m.text_chars, 12u);
  ExpectUsage(m.usage, 176, 1024, 0, 0, 200, 100);
  std::string tail;
  a->Finish(&tail);
  EXPECT_EQ(tail, "data: [DONE]\n\n");
}

TEST(AdapterOpenAiPassthrough, KeepsUsageChunkTheClientAskedFor) {
  auto a = MakeOpenAiPassthrough(/*strip_usage_chunk=*/false);
  std::string out = Feed(*a, kChatStream);
  EXPECT_NE(out.find("\"choices\":[],\"usage\":{\"prompt_tokens\":1200"), std::string::npos);
  EXPECT_EQ(out.find("[DONE]"), std::string::npos);  // Finish re-sends it
  EXPECT_TRUE(a->meter().have_usage);
}

TEST(AdapterOpenAiPassthrough, NoDoneIsIncompleteAndFailSendsOpenAiError) {
  auto a = MakeOpenAiPassthrough(true);
  std::string_view partial = kChatStream.substr(0, kChatStream.find("data: {", 10));
  std::string out = Feed(*a, partial);
  EXPECT_FALSE(a->meter().complete);
  EXPECT_FALSE(a->meter().have_usage);
  EXPECT_EQ(a->meter().text_chars, 0u);
  std::string tail;
  a->Fail("Provider 'openai' stream broke: connection reset", &tail);
  EXPECT_EQ(tail,
            "data: {\"error\":{\"message\":\"Provider 'openai' stream broke: connection reset\","
            "\"type\":\"upstream_error\",\"param\":null,\"code\":\"stream_broken\"}}\n\n");
}

TEST(AdapterOpenAiPassthrough, ErrorChunkAndCommentsAndCrlf) {
  auto a = MakeOpenAiPassthrough(true);
  std::string out;
  a->OnEvent(": keep-alive", &out);
  a->OnEvent("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ab\"}}]}\r", &out);
  a->OnEvent(R"(data: {"error":{"message":"The server had an error","type":"server_error"}})",
             &out);
  EXPECT_EQ(a->meter().text_chars, 2u);
  EXPECT_TRUE(a->meter().upstream_error);
  EXPECT_EQ(out.substr(0, 14), ": keep-alive\n\n");
  EXPECT_NE(out.find("server_error"), std::string::npos);
}

// ---------------------------------------------------------------------------
// Anthropic passthrough (the event sequence of Anthropic's streaming docs).

constexpr std::string_view kAnthropicToolStream =
    R"(event: message_start
data: {"type":"message_start","message":{"model":"claude-haiku-4-5-20251001","id":"msg_01K2JbSUMYhez5RHoK9ZCj9U","type":"message","role":"assistant","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":849,"cache_creation_input_tokens":300,"cache_read_input_tokens":2000,"cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":300},"output_tokens":10,"service_tier":"standard"}}}

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
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":" \"San Francisco, CA\"}"}}

event: content_block_stop
data: {"type":"content_block_stop","index":1}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"input_tokens":849,"cache_creation_input_tokens":300,"cache_read_input_tokens":2000,"output_tokens":89}}

event: message_stop
data: {"type":"message_stop"}

)";

TEST(AdapterAnthropicPassthrough, ForwardsBytesAndMetersUsage) {
  auto a = MakeAnthropicPassthrough();
  EXPECT_EQ(Feed(*a, kAnthropicToolStream), kAnthropicToolStream);
  const Meter& m = a->meter();
  EXPECT_TRUE(m.complete);
  EXPECT_TRUE(m.have_usage);
  EXPECT_FALSE(m.upstream_error);
  EXPECT_EQ(m.model, "claude-haiku-4-5-20251001");
  // message_start's input counts, message_delta's cumulative output count.
  ExpectUsage(m.usage, 849, 2000, 0, 300, 89, 0);
  EXPECT_EQ(m.text_chars, 17u + 13u + 12u + 21u);  // text deltas + partial_json
  std::string tail;
  a->Finish(&tail);
  EXPECT_EQ(tail, "");
}

TEST(AdapterAnthropicPassthrough, OutputOnlyInMessageDelta) {
  // The documented minimal form: message_delta carries only output_tokens.
  auto a = MakeAnthropicPassthrough();
  Feed(*a, R"(event: message_start
data: {"type": "message_start", "message": {"id": "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY", "type": "message", "role": "assistant", "content": [], "model": "claude-opus-4-1", "stop_reason": null, "stop_sequence": null, "usage": {"input_tokens": 25, "output_tokens": 1}}}

event: message_delta
data: {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence":null}, "usage": {"output_tokens": 15}}

)");
  ExpectUsage(a->meter().usage, 25, 0, 0, 0, 15, 0);
  EXPECT_FALSE(a->meter().complete);  // no message_stop yet
}

TEST(AdapterAnthropicPassthrough, ThinkingAndErrorEvents) {
  auto a = MakeAnthropicPassthrough();
  std::string out = Feed(*a, R"(event: content_block_start
data: {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}}

event: content_block_delta
data: {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "Let me solve this"}}

event: content_block_delta
data: {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"}}

event: error
data: {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}

)");
  EXPECT_EQ(a->meter().text_chars, 17u);  // the signature is not generated text
  EXPECT_TRUE(a->meter().upstream_error);
  std::string tail;
  a->Fail("upstream timed out", &tail);
  EXPECT_EQ(tail,
            "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\","
            "\"message\":\"upstream timed out\"}}\n\n");
}

// ---------------------------------------------------------------------------
// Responses passthrough.

constexpr std::string_view kResponsesStream =
    R"(event: response.created
data: {"type":"response.created","sequence_number":0,"response":{"id":"resp_67c9fdcecf488190bdd9a0409de3a1ec07b8b0ad4e5eb654","object":"response","created_at":1741290958,"status":"in_progress","error":null,"incomplete_details":null,"model":"gpt-4.1-2025-04-14","output":[],"usage":null}}

event: response.in_progress
data: {"type":"response.in_progress","sequence_number":1,"response":{"id":"resp_67c9fdcecf488190bdd9a0409de3a1ec07b8b0ad4e5eb654","object":"response","status":"in_progress","model":"gpt-4.1-2025-04-14","output":[],"usage":null}}

event: response.output_item.added
data: {"type":"response.output_item.added","sequence_number":2,"output_index":0,"item":{"id":"msg_67c9fdcf37fc8190ba82116e33fb28c507b8b0ad4e5eb654","type":"message","status":"in_progress","role":"assistant","content":[]}}

event: response.content_part.added
data: {"type":"response.content_part.added","sequence_number":3,"item_id":"msg_67c9fdcf37fc8190ba82116e33fb28c507b8b0ad4e5eb654","output_index":0,"content_index":0,"part":{"type":"output_text","text":"","annotations":[]}}

event: response.output_text.delta
data: {"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_67c9fdcf37fc8190ba82116e33fb28c507b8b0ad4e5eb654","output_index":0,"content_index":0,"delta":"Hi"}

event: response.output_text.delta
data: {"type":"response.output_text.delta","sequence_number":5,"item_id":"msg_67c9fdcf37fc8190ba82116e33fb28c507b8b0ad4e5eb654","output_index":0,"content_index":0,"delta":" there!"}

event: response.output_text.done
data: {"type":"response.output_text.done","sequence_number":6,"item_id":"msg_67c9fdcf37fc8190ba82116e33fb28c507b8b0ad4e5eb654","output_index":0,"content_index":0,"text":"Hi there!"}

event: response.completed
data: {"type":"response.completed","sequence_number":7,"response":{"id":"resp_67c9fdcecf488190bdd9a0409de3a1ec07b8b0ad4e5eb654","object":"response","created_at":1741290958,"status":"completed","error":null,"model":"gpt-4.1-2025-04-14","output":[{"id":"msg_67c9fdcf37fc8190ba82116e33fb28c507b8b0ad4e5eb654","type":"message","status":"completed","role":"assistant","content":[{"type":"output_text","text":"Hi there!","annotations":[]}]}],"usage":{"input_tokens":37,"input_tokens_details":{"cached_tokens":0},"output_tokens":11,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":48}}}

)";

TEST(AdapterResponsesPassthrough, ForwardsAndMetersCompleted) {
  auto a = MakeResponsesPassthrough();
  EXPECT_EQ(Feed(*a, kResponsesStream), kResponsesStream);
  const Meter& m = a->meter();
  EXPECT_TRUE(m.complete);
  EXPECT_TRUE(m.have_usage);
  EXPECT_EQ(m.model, "gpt-4.1-2025-04-14");
  EXPECT_EQ(m.text_chars, 9u);  // deltas only; output_text.done repeats them
  ExpectUsage(m.usage, 37, 0, 0, 0, 11, 0);
}

TEST(AdapterResponsesPassthrough, BrokenStreamFailsWithNextSequenceNumber) {
  auto a = MakeResponsesPassthrough();
  Feed(*a, kResponsesStream.substr(0, kResponsesStream.find("event: response.output_text.done")));
  EXPECT_FALSE(a->meter().complete);
  EXPECT_FALSE(a->meter().have_usage);
  std::string tail;
  a->Fail("connection reset", &tail);
  EXPECT_EQ(tail,
            "event: error\ndata: {\"type\":\"error\",\"code\":\"stream_broken\",\"message\":"
            "\"connection reset\",\"param\":null,\"sequence_number\":6}\n\n");
}

TEST(AdapterResponsesPassthrough, FailedResponseIsAnUpstreamError) {
  auto a = MakeResponsesPassthrough();
  Feed(*a, R"(event: response.failed
data: {"type":"response.failed","sequence_number":3,"response":{"id":"resp_1","status":"failed","error":{"code":"server_error","message":"The model failed to generate a response."},"model":"gpt-4.1","usage":null}}

)");
  EXPECT_TRUE(a->meter().upstream_error);
  EXPECT_FALSE(a->meter().have_usage);
}

// ---------------------------------------------------------------------------
// Gemini passthrough (streamGenerateContent?alt=sse).

TEST(AdapterGeminiPassthrough, LastUsageMetadataWins) {
  constexpr std::string_view kStream =
      R"(data: {"candidates": [{"content": {"parts": [{"text": "The sky"}],"role": "model"},"index": 0}],"usageMetadata": {"promptTokenCount": 8,"totalTokenCount": 8,"promptTokensDetails": [{"modality": "TEXT","tokenCount": 8}]},"modelVersion": "gemini-2.5-flash","responseId": "mXF7aNbKJqiJ1dkPk8SXwQQ"}

data: {"candidates": [{"content": {"parts": [{"text": " is blue."}],"role": "model"},"finishReason": "STOP","index": 0}],"usageMetadata": {"promptTokenCount": 8,"candidatesTokenCount": 6,"totalTokenCount": 40,"thoughtsTokenCount": 26,"promptTokensDetails": [{"modality": "TEXT","tokenCount": 8}]},"modelVersion": "gemini-2.5-flash","responseId": "mXF7aNbKJqiJ1dkPk8SXwQQ"}

)";
  auto a = MakeGeminiPassthrough();
  EXPECT_EQ(Feed(*a, kStream), kStream);
  const Meter& m = a->meter();
  EXPECT_TRUE(m.complete);
  EXPECT_TRUE(m.have_usage);
  EXPECT_EQ(m.model, "gemini-2.5-flash");
  EXPECT_EQ(m.text_chars, 16u);
  ExpectUsage(m.usage, 8, 0, 0, 0, 6, 26);
  std::string tail;
  a->Fail("timeout", &tail);
  EXPECT_EQ(
      tail,
      "data: {\"error\":{\"code\":503,\"message\":\"timeout\",\"status\":\"UNAVAILABLE\"}}\n\n");
}

}  // namespace
}  // namespace tollgate::providers
