#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>
#include <vector>

#include "cache/cache_key.h"
#include "cache/exact_cache.h"
#include "cache/minhash.h"
#include "cache/semantic_index.h"
#include "cache/sse_replay.h"
#include "common/util.h"
#include "providers/sse.h"

namespace tollgate::cache {
namespace {

rapidjson::Document Parse(std::string_view s) {
  rapidjson::Document d;
  d.Parse(s.data(), s.size());
  EXPECT_FALSE(d.HasParseError()) << s;
  return d;
}

std::string Key(std::string_view body, std::string_view scope = "team-a",
                std::string_view model = "gpt-4o") {
  return CacheKey(scope, "chat", model, Parse(body));
}

std::string TempPath(const char* name) {
  auto dir = std::filesystem::temp_directory_path() / ("tollgate-unit-" + NewRequestId());
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

const char* kBase =
    R"({"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"temperature":0.2})";

TEST(CacheKey, InvariantToKeyOrderWhitespaceAndNumberForm) {
  const std::string k = Key(kBase);
  EXPECT_EQ(k.size(), 64u);
  EXPECT_EQ(k, Key(R"({ "temperature" : 0.2 ,
      "messages" : [ { "content":"hi", "role":"user" } ], "model":"gpt-4o" })"));
  EXPECT_EQ(Key(R"({"messages":[],"max_tokens":1})"), Key(R"({"messages":[],"max_tokens":1.0})"));
  EXPECT_EQ(Key(R"({"messages":[],"max_tokens":100})"), Key(R"({"messages":[],"max_tokens":1e2})"));
  // The body's model field is not part of the key; the served model is.
  EXPECT_EQ(
      k, Key(R"({"model":"alias","messages":[{"role":"user","content":"hi"}],"temperature":0.2})"));
}

TEST(CacheKey, IgnoresFieldsThatDoNotChangeTheOutput) {
  const std::string k = Key(kBase);
  EXPECT_EQ(k, Key(R"({"messages":[{"role":"user","content":"hi"}],"temperature":0.2,"stream":true,
      "stream_options":{"include_usage":true},"user":"u1","metadata":{"a":"b"},"store":true,
      "service_tier":"auto","prompt_cache_key":"x","safety_identifier":"s"})"));
  // Only top-level fields are neutral: a nested "user" is content.
  EXPECT_NE(Key(R"({"messages":[{"role":"user","content":"hi","user":"x"}]})"),
            Key(R"({"messages":[{"role":"user","content":"hi"}]})"));
}

TEST(CacheKey, SensitiveToEverythingThatChangesTheOutput) {
  const std::string k = Key(kBase);
  EXPECT_NE(k, Key(R"({"messages":[{"role":"user","content":"hi"}],"temperature":0.3})"));
  EXPECT_NE(k, Key(R"({"messages":[{"role":"user","content":"hi"}]})"));
  EXPECT_NE(k, Key(R"({"messages":[{"role":"user","content":"hi!"}],"temperature":0.2})"));
  EXPECT_NE(
      k,
      Key(R"({"messages":[{"role":"system","content":"x"},{"role":"user","content":"hi"}],"temperature":0.2})"));
  EXPECT_NE(k, Key(R"({"messages":[{"role":"user","content":"hi"}],"temperature":0.2,
      "tools":[{"type":"function","function":{"name":"f","parameters":{}}}]})"));
  EXPECT_NE(
      k,
      Key(R"({"messages":[{"role":"user","content":"hi"}],"temperature":0.2,"parallel_tool_calls":false})"));
  EXPECT_NE(k, Key(kBase, "team-a", "gpt-4o-mini"));
  EXPECT_NE(k, Key(kBase, "team-b"));
  EXPECT_NE(k, CacheKey("team-a", "completions", "gpt-4o", Parse(kBase)));
  // Length prefixes: moving bytes between scope and model changes the key.
  EXPECT_NE(CacheKey("ab", "chat", "c", Parse(kBase)), CacheKey("a", "chat", "bc", Parse(kBase)));
  EXPECT_NE(Key(R"({"messages":[],"max_tokens":1})"), Key(R"({"messages":[],"max_tokens":1.5})"));
}

TEST(CacheKey, SingleTurnText) {
  EXPECT_EQ(SingleTurnText("chat", Parse(kBase)), "hi");
  EXPECT_EQ(SingleTurnText("chat", Parse(R"({"messages":[{"role":"system","content":"be brief"},
      {"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}]})")),
            "a\nb");
  EXPECT_FALSE(SingleTurnText("chat", Parse(R"({"messages":[{"role":"user","content":"a"},
      {"role":"assistant","content":"b"},{"role":"user","content":"c"}]})")));
  EXPECT_FALSE(SingleTurnText("chat", Parse(R"({"messages":[{"role":"user","content":[
      {"type":"image_url","image_url":{"url":"x"}}]}]})")));
  EXPECT_FALSE(SingleTurnText("chat", Parse(R"({"messages":[]})")));
  EXPECT_EQ(SingleTurnText("messages", Parse(R"({"system":"s","messages":[{"role":"user","content":
      [{"type":"text","text":"q"}]}]})")),
            "q");
  EXPECT_FALSE(SingleTurnText("messages", Parse(R"({"messages":[{"role":"user","content":[
      {"type":"tool_result","tool_use_id":"x","content":"r"}]}]})")));
  EXPECT_EQ(SingleTurnText("completions", Parse(R"({"prompt":"once upon"})")), "once upon");
  EXPECT_EQ(SingleTurnText("completions", Parse(R"({"prompt":["one"]})")), "one");
  EXPECT_FALSE(SingleTurnText("completions", Parse(R"({"prompt":["one","two"]})")));
  EXPECT_EQ(SingleTurnText("responses", Parse(R"({"input":"r"})")), "r");
  EXPECT_FALSE(SingleTurnText("embeddings", Parse(R"({"input":"r"})")));
}

TEST(CacheKey, SemanticScopeKeyIgnoresOnlyTheUserText) {
  auto scope = [](std::string_view body) {
    return SemanticScopeKey("t", "chat", "m", Parse(body));
  };
  auto a = scope(
      R"({"messages":[{"role":"system","content":"s"},{"role":"user","content":"what is x"}]})");
  ASSERT_TRUE(a);
  EXPECT_EQ(
      a,
      scope(
          R"({"messages":[{"role":"system","content":"s"},{"role":"user","content":"explain x"}]})"));
  EXPECT_NE(
      a,
      scope(
          R"({"messages":[{"role":"system","content":"S"},{"role":"user","content":"what is x"}]})"));
  EXPECT_NE(
      a,
      scope(R"({"messages":[{"role":"system","content":"s"},{"role":"user","content":"what is x"}],
      "temperature":0})"));
  EXPECT_NE(a, Key(R"({"messages":[{"role":"system","content":"s"},{"role":"user","content":""}]})",
                   "t", "m"));
  EXPECT_FALSE(
      scope(R"({"messages":[{"role":"user","content":"a"},{"role":"user","content":"b"}]})"));
}

TEST(CacheKey, RequestTemperature) {
  EXPECT_EQ(RequestTemperature(Parse(kBase)), 0.2);
  EXPECT_EQ(RequestTemperature(Parse(R"({"messages":[]})")), 1.0);
  EXPECT_EQ(RequestTemperature(Parse(R"({"temperature":null})")), 1.0);
  EXPECT_EQ(RequestTemperature(Parse(R"({"temperature":0})")), 0.0);
  EXPECT_EQ(RequestTemperature(Parse(R"({"generationConfig":{"temperature":0.7}})")), 0.7);
}

Entry MakeEntry(std::string body, std::string model = "gpt-4o") {
  Entry e;
  e.body = std::move(body);
  e.api = "chat";
  e.model = std::move(model);
  e.input_tokens = 10;
  e.output_tokens = 5;
  e.cost_usd = 0.001;
  return e;
}

TEST(CacheExact, LookupHitMissAndTtlExpiry) {
  auto c = ExactCache::Open({"", 10, 100, 1 << 20});
  ASSERT_TRUE(c.ok());
  ExactCache& cache = **c;
  cache.Insert("k", MakeEntry("{}"), 1000);
  EXPECT_FALSE(cache.Lookup("other", 1000));
  auto hit = cache.Lookup("k", 5000);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->body, "{}");
  EXPECT_EQ(hit->created_ms, 1000);
  EXPECT_EQ(hit->hits, 1);
  EXPECT_EQ(cache.Lookup("k", 10999)->hits, 2);  // TTL 10 s from 1000 ms: alive until 10999
  EXPECT_FALSE(cache.Lookup("k", 11000));
  EXPECT_FALSE(cache.Lookup("k", 1000));  // the expired entry was dropped
  auto st = cache.stats();
  EXPECT_EQ(st.entries, 0);
  EXPECT_EQ(st.hits, 2);
  EXPECT_EQ(st.misses, 3);
  EXPECT_EQ(st.expired, 1);
  // Re-inserting restarts the TTL and the hit count.
  cache.Insert("k", MakeEntry("{\"v\":2}"), 20000);
  EXPECT_EQ(cache.Lookup("k", 29000)->hits, 1);
}

TEST(CacheExact, LruEvictionByCount) {
  auto c = ExactCache::Open({"", 3600, 3, 1 << 20});
  ASSERT_TRUE(c.ok());
  ExactCache& cache = **c;
  for (const char* k : {"a", "b", "c"}) cache.Insert(k, MakeEntry(k), 1);
  ASSERT_TRUE(cache.Lookup("a", 2));  // a becomes most recent; b is now the LRU
  cache.Insert("d", MakeEntry("d"), 3);
  EXPECT_FALSE(cache.Lookup("b", 4));
  EXPECT_TRUE(cache.Lookup("a", 4));
  EXPECT_TRUE(cache.Lookup("c", 4));
  EXPECT_TRUE(cache.Lookup("d", 4));
  EXPECT_EQ(cache.stats().entries, 3);
  EXPECT_EQ(cache.stats().evictions, 1);
  // Replacing a key does not evict anything else.
  cache.Insert("c", MakeEntry("c2"), 5);
  EXPECT_EQ(cache.stats().entries, 3);
  EXPECT_EQ(cache.Lookup("c", 6)->body, "c2");
}

TEST(CacheExact, LruEvictionByBytes) {
  const std::string big(1000, 'x');
  const int64_t one = ExactCache::ApproxBytes("k0", MakeEntry(big));
  auto c = ExactCache::Open({"", 3600, 1000, 3 * one + 10});
  ASSERT_TRUE(c.ok());
  ExactCache& cache = **c;
  for (int i = 0; i < 3; ++i) cache.Insert("k" + std::to_string(i), MakeEntry(big), i);
  EXPECT_EQ(cache.stats().entries, 3);
  EXPECT_EQ(cache.stats().bytes, 3 * one);
  ASSERT_TRUE(cache.Lookup("k0", 10));
  cache.Insert("k3", MakeEntry(big), 11);
  EXPECT_EQ(cache.stats().entries, 3);
  EXPECT_FALSE(cache.Lookup("k1", 12));  // the least recently used
  EXPECT_TRUE(cache.Lookup("k0", 12));
  // An entry larger than the whole budget is not stored and evicts nothing.
  cache.Insert("huge", MakeEntry(std::string(4 * one, 'y')), 13);
  EXPECT_FALSE(cache.Lookup("huge", 14));
  EXPECT_EQ(cache.stats().entries, 3);
}

TEST(CacheExact, PersistsAcrossCloseAndOpen) {
  const std::string path = TempPath("cache.db");
  const int64_t now = NowUnixMs();
  {
    auto c = ExactCache::Open({path, 3600, 100, 1 << 20});
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    Entry e = MakeEntry(R"({"id":"x"})");
    e.scope = "sem-scope";
    e.semantic_text = "what is the capital of france";
    e.embedding = {0.25f, -1.5f, 3.0f};
    (*c)->Insert("k1", e, now - 2000);
    (*c)->Insert("k2", MakeEntry("two"), now - 1000);
    (*c)->Insert("gone", MakeEntry("g"), now - 1000);
    (*c)->Erase("gone");
    ASSERT_TRUE((*c)->Lookup("k1", now));  // k1 becomes the most recent, hits = 1
    ASSERT_TRUE((*c)->Close().ok());
  }
  auto c = ExactCache::Open({path, 3600, 100, 1 << 20});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  std::vector<std::string> order;
  (*c)->ForEach([&](const std::string& key, const Entry& e) {
    order.push_back(key);
    if (key != "k1") return;
    EXPECT_EQ(e.body, R"({"id":"x"})");
    EXPECT_EQ(e.api, "chat");
    EXPECT_EQ(e.model, "gpt-4o");
    EXPECT_EQ(e.input_tokens, 10);
    EXPECT_EQ(e.output_tokens, 5);
    EXPECT_DOUBLE_EQ(e.cost_usd, 0.001);
    EXPECT_EQ(e.created_ms, now - 2000);
    EXPECT_EQ(e.hits, 1);
    EXPECT_EQ(e.scope, "sem-scope");
    EXPECT_EQ(e.semantic_text, "what is the capital of france");
    EXPECT_EQ(e.embedding, (std::vector<float>{0.25f, -1.5f, 3.0f}));
  });
  EXPECT_EQ(order, (std::vector<std::string>{"k2", "k1"}));  // least recently used first
  (*c)->Clear();
  ASSERT_TRUE((*c)->Close().ok());
  auto again = ExactCache::Open({path, 3600, 100, 1 << 20});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->stats().entries, 0);
}

TEST(CacheExact, LoadDropsExpiredAndAppliesLimits) {
  const std::string path = TempPath("cache.db");
  const int64_t now = NowUnixMs();
  {
    auto c = ExactCache::Open({path, 0, 0, 0});  // no TTL, no limits
    ASSERT_TRUE(c.ok());
    (*c)->Insert("old", MakeEntry("o"), now - 7200 * 1000);
    for (int i = 0; i < 5; ++i) (*c)->Insert("n" + std::to_string(i), MakeEntry("n"), now - 10 + i);
    ASSERT_TRUE((*c)->Close().ok());
  }
  auto c = ExactCache::Open({path, 3600, 3, 1 << 20});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ((*c)->stats().entries, 3);
  EXPECT_EQ((*c)->stats().expired, 1);
  EXPECT_FALSE((*c)->Lookup("old", now));
  EXPECT_FALSE((*c)->Lookup("n1", now));
  EXPECT_TRUE((*c)->Lookup("n4", now));
}

TEST(CacheExact, ConcurrentInsertAndLookup) {
  const std::string path = TempPath("cache.db");
  auto c = ExactCache::Open({path, 3600, 500, 1 << 20});
  ASSERT_TRUE(c.ok());
  ExactCache& cache = **c;
  std::atomic<int64_t> found{0};
  const int64_t now = NowUnixMs();  // the reopen below expires entries by the wall clock
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        const std::string k = "k" + std::to_string((t * 7919 + i) % 800);
        if (auto e = cache.Lookup(k, now)) {
          EXPECT_EQ(e->body, k);
          found++;
        } else {
          cache.Insert(k, MakeEntry(k), now);
        }
      }
    });
  for (auto& th : threads) th.join();
  auto st = cache.stats();
  EXPECT_LE(st.entries, 500);
  EXPECT_EQ(st.hits, found.load());
  EXPECT_EQ(st.hits + st.misses, 8000);
  ASSERT_TRUE(cache.Close().ok());
  auto reopened = ExactCache::Open({path, 3600, 500, 1 << 20});
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ((*reopened)->stats().entries, st.entries);
}

TEST(CacheExact, CorruptFileIsAnErrorNotACrash) {
  const std::string path = TempPath("cache.db");
  {
    std::ofstream f(path, std::ios::binary);
    std::string junk(8192, '\0');
    std::mt19937 rng(7);
    for (char& ch : junk) ch = static_cast<char>(rng());
    f << junk;
  }
  auto c = ExactCache::Open({path, 3600, 100, 1 << 20});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kIoError);
  EXPECT_NE(c.status().message().find(path), std::string::npos);
  auto missing_dir = ExactCache::Open({"/nonexistent-dir-tollgate/x.db", 3600, 100, 1 << 20});
  EXPECT_FALSE(missing_dir.ok());
}

// The JSON payloads of an SSE stream; checks its framing on the way.
std::vector<std::string> SseDataPayloads(const std::string& sse) {
  std::vector<std::string> out;
  size_t pos = 0;
  std::string scratch;
  while (pos < sse.size()) {
    size_t sep = 0;
    size_t end = providers::FindSseEventEnd(sse, pos, &sep);
    EXPECT_NE(end, std::string::npos) << "event not terminated by a blank line";
    if (end == std::string::npos) break;
    std::string_view data =
        providers::SseData(std::string_view(sse).substr(pos, end - pos), &scratch);
    EXPECT_FALSE(data.empty());
    out.emplace_back(data);
    pos = end + sep;
  }
  return out;
}

std::string Canon(std::string_view json) { return CanonicalJson(Parse(json)); }

const char* kChatWhole =
    R"({"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":"gpt-4o",
  "choices":[{"index":0,"message":{"role":"assistant",
  "content":"Paris is the capital of France. It is known for the Eiffel Tower, the Louvre, and caf\u00e9s \u2014 \u00e9l\u00e9gance partout!",
  "tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\",\"unit\":\"celsius\",\"days\":[1,2,3]}"}},
  {"id":"call_2","type":"function","function":{"name":"noop","arguments":"{}"}}]},
  "logprobs":null,"finish_reason":"tool_calls"}],
  "usage":{"prompt_tokens":12,"completion_tokens":30,"total_tokens":42},"system_fingerprint":"fp_1"})";

TEST(SseReplay, ChatRoundTripWithToolCalls) {
  auto sse = ReplayAsSse("chat", kChatWhole, /*include_usage=*/true, "");
  ASSERT_TRUE(sse.ok()) << sse.status().ToString();
  auto payloads = SseDataPayloads(*sse);
  ASSERT_GE(payloads.size(), 6u);
  EXPECT_EQ(payloads.back(), "[DONE]");
  int usage_chunks = 0;
  for (size_t i = 0; i + 1 < payloads.size(); ++i) {
    auto d = Parse(payloads[i]);
    ASSERT_TRUE(d.IsObject());
    EXPECT_STREQ(d["object"].GetString(), "chat.completion.chunk");
    EXPECT_STREQ(d["id"].GetString(), "chatcmpl-1");
    if (d["choices"].Empty()) {
      ++usage_chunks;
    } else if (d["choices"][0]["delta"].HasMember("content") &&
               d["choices"][0]["delta"]["content"].IsString()) {
      EXPECT_LE(d["choices"][0]["delta"]["content"].GetStringLength(), 44u);
    }
  }
  EXPECT_EQ(usage_chunks, 1);
  auto whole = AssembleFromSse("chat", *sse);
  ASSERT_TRUE(whole.ok()) << whole.status().ToString();
  EXPECT_EQ(Canon(*whole), Canon(kChatWhole));

  // Without include_usage there is no usage chunk (and none in the rebuilt body); a new id replaces
  // the old.
  auto plain = ReplayAsSse("chat", kChatWhole, false, "chatcmpl-new");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->find("\"usage\""), std::string::npos);
  auto rebuilt = Parse(*AssembleFromSse("chat", *plain));
  EXPECT_STREQ(rebuilt["id"].GetString(), "chatcmpl-new");
  EXPECT_FALSE(rebuilt.HasMember("usage"));
}

TEST(SseReplay, ChatTextOnlyAndMultipleChoices) {
  const char* whole = R"({"id":"c","object":"chat.completion","created":1,"model":"m","choices":[
    {"index":0,"message":{"role":"assistant","content":""},"logprobs":null,"finish_reason":"stop"},
    {"index":1,"message":{"role":"assistant","content":"second answer"},"logprobs":null,"finish_reason":"length"}]})";
  auto sse = ReplayAsSse("chat", whole, false, "");
  ASSERT_TRUE(sse.ok());
  auto back = AssembleFromSse("chat", *sse);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(Canon(*back), Canon(whole));
}

TEST(SseReplay, CompletionsRoundTrip) {
  const char* whole =
      R"({"id":"cmpl-1","object":"text_completion","created":5,"model":"gpt-3.5-turbo-instruct",
    "choices":[{"text":" there was a princess who lived in a castle by the sea, far away from everyone.","index":0,
    "logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":17,"total_tokens":20}})";
  auto sse = ReplayAsSse("completions", whole, true, "");
  ASSERT_TRUE(sse.ok());
  auto payloads = SseDataPayloads(*sse);
  EXPECT_EQ(payloads.back(), "[DONE]");
  for (size_t i = 0; i + 1 < payloads.size(); ++i)
    EXPECT_STREQ(Parse(payloads[i])["object"].GetString(), "text_completion");
  auto back = AssembleFromSse("completions", *sse);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(Canon(*back), Canon(whole));
}

const char* kMessagesWhole =
    R"({"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4",
  "content":[{"type":"thinking","thinking":"The user wants the weather; I should call the tool.","signature":"sig=="},
  {"type":"text","text":"Let me check the weather in Paris for you \u2014 one moment please."},
  {"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris","days":[1,2],"detail":{"wind":true}}},
  {"type":"tool_use","id":"toolu_2","name":"noop","input":{}}],
  "stop_reason":"tool_use","stop_sequence":null,
  "usage":{"input_tokens":20,"cache_read_input_tokens":5,"cache_creation_input_tokens":0,"output_tokens":40}})";

TEST(SseReplay, MessagesRoundTrip) {
  auto sse = ReplayAsSse("messages", kMessagesWhole, false, "msg_new");
  ASSERT_TRUE(sse.ok()) << sse.status().ToString();
  // Every event is "event: X\ndata: {...}" with X equal to the data's type.
  size_t pos = 0;
  int events = 0;
  while (pos < sse->size()) {
    size_t sep = 0;
    size_t end = providers::FindSseEventEnd(*sse, pos, &sep);
    ASSERT_NE(end, std::string::npos);
    std::string_view ev = std::string_view(*sse).substr(pos, end - pos);
    ASSERT_EQ(ev.substr(0, 7), "event: ");
    std::string_view name = ev.substr(7, ev.find('\n') - 7);
    std::string scratch;
    auto d = Parse(providers::SseData(ev, &scratch));
    EXPECT_EQ(name, d["type"].GetString());
    ++events;
    pos = end + sep;
  }
  EXPECT_GE(events, 12);
  auto back = AssembleFromSse("messages", *sse);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  auto expected = Parse(kMessagesWhole);
  expected["id"].SetString("msg_new");
  EXPECT_EQ(Canon(*back), CanonicalJson(expected));
}

TEST(SseReplay, IncompleteOrFailedStreamIsRejected) {
  auto chat = ReplayAsSse("chat", kChatWhole, true, "");
  ASSERT_TRUE(chat.ok());
  const size_t done = chat->rfind("data: [DONE]");
  EXPECT_EQ(AssembleFromSse("chat", chat->substr(0, done)).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_FALSE(AssembleFromSse("chat", chat->substr(0, chat->size() / 2)).ok());
  EXPECT_FALSE(
      AssembleFromSse("chat", "data: {\"error\":{\"message\":\"boom\"}}\n\ndata: [DONE]\n\n").ok());
  EXPECT_FALSE(AssembleFromSse("chat", "").ok());
  auto msgs = ReplayAsSse("messages", kMessagesWhole, false, "");
  ASSERT_TRUE(msgs.ok());
  const size_t stop = msgs->rfind("event: message_stop");
  EXPECT_EQ(AssembleFromSse("messages", msgs->substr(0, stop)).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_FALSE(
      AssembleFromSse("messages", "event: error\ndata: {\"type\":\"error\",\"error\":{}}\n\n")
          .ok());
  EXPECT_FALSE(ReplayAsSse("chat", "not json", false, "").ok());
  EXPECT_FALSE(ReplayAsSse("gemini", "{}", false, "").ok());
}

TEST(SseReplay, PiecesNeverSplitUtf8) {
  std::string text;
  for (int i = 0; i < 50; ++i) text += "\xE6\x97\xA5\xE6\x9C\xAC";  // 日本, no spaces
  std::string whole =
      R"({"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,
    "message":{"role":"assistant","content":")" +
      text + R"("},"logprobs":null,"finish_reason":"stop"}]})";
  auto sse = ReplayAsSse("chat", whole, false, "");
  ASSERT_TRUE(sse.ok());
  for (const auto& p : SseDataPayloads(*sse)) {
    if (p == "[DONE]") continue;
    auto d = Parse(p);  // rapidjson rejects nothing here, so check the bytes of each piece
    const auto& delta = d["choices"][0]["delta"];
    if (!delta.HasMember("content") || !delta["content"].IsString()) continue;
    std::string_view piece(delta["content"].GetString(), delta["content"].GetStringLength());
    EXPECT_EQ(piece.size() % 3, 0u) << "piece cut inside a character";
  }
  EXPECT_EQ(Parse(*AssembleFromSse("chat", *sse))["choices"][0]["message"]["content"].GetString(),
            text);
}

TEST(MinHash, NormalizationAndSimilarityOrdering) {
  EXPECT_EQ(NormalizeForMatch("  Hello,   World!! 42 "), "hello world 42");
  EXPECT_DOUBLE_EQ(
      MinHashIndex::Similarity("What is the capital of France?", "what is the CAPITAL of france"),
      1.0);
  const double near = MinHashIndex::Similarity("What is the capital city of France?",
                                               "What is the capital of France?");
  const double para = MinHashIndex::Similarity("How do I reset my password on the website?",
                                               "How can I reset my password on the site?");
  const double unrelated =
      MinHashIndex::Similarity("How do I reset my password on the website?",
                               "Recommend a good pasta recipe for dinner tonight");
  EXPECT_GT(near, para);
  EXPECT_GT(para, unrelated);
  EXPECT_LT(unrelated, 0.1);
  // Word order matters through bigrams.
  EXPECT_LT(MinHashIndex::Similarity("dog bites man", "man bites dog"), 1.0);
}

TEST(MinHash, FindThresholdScopeIsolationAndRemove) {
  MinHashIndex idx;
  idx.Add("a", 1, "What is the capital of France?");
  idx.Add("a", 2, "Give me a recipe for chocolate chip cookies");
  idx.Add("b", 3, "What is the capital of France?");
  auto m = idx.Find("a", "what is the capital of france", 0.9);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->first, 1u);
  EXPECT_DOUBLE_EQ(m->second, 1.0);
  EXPECT_EQ(idx.Find("b", "What is the capital of France?", 0.9)->first, 3u);
  EXPECT_FALSE(idx.Find("c", "What is the capital of France?", 0.5));
  EXPECT_FALSE(idx.Find("a", "Tell me about the history of Rome", 0.5));
  auto loose = idx.Find("a", "What is the capital city of France?", 0.5);
  ASSERT_TRUE(loose);
  EXPECT_EQ(loose->first, 1u);
  EXPECT_FALSE(idx.Find("a", "What is the capital city of France?", loose->second + 0.01));
  idx.Remove("a", 1);
  EXPECT_FALSE(idx.Find("a", "What is the capital of France?", 0.5));
  EXPECT_TRUE(idx.Find("b", "What is the capital of France?", 0.5));
  idx.Add("a", 2, "What is the capital of France?");  // replaces id 2's text
  EXPECT_EQ(idx.Size("a"), 1u);
  EXPECT_FALSE(idx.Find("a", "Give me a recipe for chocolate chip cookies", 0.5));
  idx.Add("a", 9, "?!");  // no words: not indexed
  EXPECT_EQ(idx.Size("a"), 1u);
}

std::vector<float> Vec(std::initializer_list<float> v) { return v; }

TEST(SemanticIndex, FindThresholdAndScopeIsolation) {
  SemanticIndex idx(3);
  EXPECT_EQ(idx.dim(), 3);
  ASSERT_TRUE(idx.Add("a", 1, Vec({1, 0, 0})).ok());
  ASSERT_TRUE(idx.Add("a", 2, Vec({0, 1, 0})).ok());
  ASSERT_TRUE(idx.Add("b", 3, Vec({10, 0.5f, 0})).ok());  // normalised on Add
  auto m = idx.Find("a", Vec({2, 0.2f, 0}), 0.9);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->first, 1u);
  EXPECT_NEAR(m->second, 2 / std::sqrt(4.04), 1e-5);
  EXPECT_FALSE(idx.Find("a", Vec({1, 1, 0}), 0.8));  // cosine 0.707 to both
  EXPECT_TRUE(idx.Find("a", Vec({1, 1, 0}), 0.7));
  EXPECT_EQ(idx.Find("b", Vec({1, 0, 0}), 0.9)->first, 3u);
  EXPECT_FALSE(idx.Find("c", Vec({1, 0, 0}), 0.0));
  idx.Remove("a", 1);
  idx.Remove("a", 42);  // absent: ignored
  auto after = idx.Find("a", Vec({1, 0, 0}), -1.0);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->first, 2u);
  ASSERT_TRUE(idx.Add("a", 1, Vec({1, 0, 0})).ok());  // re-adding a removed id revives it
  EXPECT_EQ(idx.Find("a", Vec({1, 0, 0}), 0.99)->first, 1u);
}

TEST(SemanticIndex, RejectsWrongDimensionAndZeroVectors) {
  SemanticIndex idx(4);
  EXPECT_EQ(idx.Add("a", 1, Vec({1, 0, 0})).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(idx.Add("a", 1, Vec({0, 0, 0, 0})).code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(idx.Add("a", 1, Vec({0, 0, 0, 1})).ok());
  EXPECT_FALSE(idx.Find("a", Vec({0, 0, 1}), 0.0));
}

TEST(SemanticIndex, GrowsBeyondInitialCapacityAndReclaimsDeletedSlots) {
  constexpr int kDim = 8;
  SemanticIndex idx(kDim, /*max_elements_per_scope=*/300, /*initial_capacity=*/16);
  std::mt19937 rng(1);
  std::normal_distribution<float> nd;
  std::vector<std::vector<float>> vecs;
  for (int i = 0; i < 200; ++i) {
    std::vector<float> v(kDim);
    for (float& x : v) x = nd(rng);
    vecs.push_back(v);
    ASSERT_TRUE(idx.Add("s", i, v).ok()) << i;
  }
  EXPECT_EQ(idx.Size("s"), 200u);
  EXPECT_GE(idx.CapacityForTest("s"), 200u);
  int exact = 0;
  for (int i = 0; i < 200; ++i) {
    auto m = idx.Find("s", vecs[i], 0.999);
    exact += m && m->first == static_cast<uint64_t>(i);
  }
  EXPECT_GE(exact, 198);  // HNSW is approximate; at this size it finds (nearly) every point
  // Removed ids are not found; re-adding one updates its old slot in place.
  for (int i = 100; i < 110; ++i) idx.Remove("s", i);
  EXPECT_EQ(idx.Size("s"), 190u);
  for (int i = 100; i < 110; ++i) {
    auto m = idx.Find("s", vecs[i], 0.999);
    EXPECT_TRUE(!m || m->first != static_cast<uint64_t>(i));
  }
  for (int i = 100; i < 110; ++i) ASSERT_TRUE(idx.Add("s", i, vecs[i]).ok());
  for (int i = 100; i < 110; ++i)
    EXPECT_EQ(idx.Find("s", vecs[i], 0.999)->first, static_cast<uint64_t>(i));
  // At the limit, new ids are refused until deleted slots are reclaimed.
  for (int i = 200; i < 300; ++i) ASSERT_TRUE(idx.Add("s", i, vecs[i % 200]).ok()) << i;
  EXPECT_EQ(idx.Add("s", 1000, vecs[0]).code(), StatusCode::kTooLarge);
  for (int i = 0; i < 50; ++i) idx.Remove("s", i);
  for (int i = 1000; i < 1050; ++i) ASSERT_TRUE(idx.Add("s", i, vecs[i % 200]).ok()) << i;
  EXPECT_EQ(idx.Size("s"), 300u);
  EXPECT_LE(idx.CapacityForTest("s"), 300u);
}

}  // namespace
}  // namespace tollgate::cache
