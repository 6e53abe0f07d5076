// Unit tests for src/tokenizer/. The exhaustive check against js-tiktoken is
// the corpus comparison (tests/tokenizer/compare.mjs); the ids below were
// produced by js-tiktoken 1.0.21's encode(text, [], []).

#include "tokenizer/tokenizer.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "tokenizer/model_tokens.h"
#include "tokenizer/request_text.h"
#include "tokenizer/utf8.h"

namespace tollgate::tokenizer {
namespace {

using Ids = std::vector<uint32_t>;

const Tokenizer& Get(Encoding e) {
  auto t = Tokenizer::Shared(e);
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return **t;
}
const Tokenizer& O200k() { return Get(Encoding::kO200kBase); }
const Tokenizer& Cl100k() { return Get(Encoding::kCl100kBase); }

TEST(TokenizerTest, HelloWorld) {
  EXPECT_EQ(O200k().Encode("hello world"), (Ids{24912, 2375}));
  EXPECT_EQ(Cl100k().Encode("hello world"), (Ids{15339, 1917}));
  EXPECT_EQ(O200k().Count("hello world"), 2u);
  EXPECT_EQ(Cl100k().Count("hello world"), 2u);
}

struct Known {
  const char* text;
  Ids o200k;
  Ids cl100k;
};

TEST(TokenizerTest, MatchesJsTiktoken) {
  const Known cases[] = {
      {"Hello, world! I'm 12345 tokens' worth.\n\n  def f(x):\n\treturn x",
       {13225, 11, 2375, 0, 5477, 220, 7633, 2548, 20290, 6, 7549, 364, 220, 1056, 285, 4061, 1883,
        1393, 1215},
       {9906, 11,   1917, 0,   358, 2846, 220,  4513, 1774, 11460,
        6,    5922, 382,  220, 711, 282,  2120, 997,  862,  865}},
      {"日本語のテキスト、中文文本와 한국어",
       {9048, 40909, 3385, 16056, 18368, 38236, 1395, 10667, 145683, 12753, 52971, 5959},
       {9080, 22656, 45918, 252, 16144, 57933, 62903, 71634, 5486, 16325, 17161, 17161, 22656,
        81673, 62398, 89059, 255, 32179}},
      {"🤖👩‍💻 émoji\u0301",
       {50378, 244, 28823, 102, 2524, 31446, 119, 1212, 3690, 4133, 13430},
       {9468, 97, 244, 9468, 239, 102, 378, 235, 93273, 119, 4046, 6489, 7910, 54939}},
      // Special-token text is ordinary text.
      {"<|endoftext|> is plain text",
       {27, 91, 419, 1440, 919, 91, 29, 382, 21402, 2201},
       {27, 91, 8862, 728, 428, 91, 29, 374, 14733, 1495}},
      // Contractions, titlecase and modifier letters, superscript digits,
      // ideographic space, NBSP, CRLF.
      {"HELLO'S hello'S ǅemal ʰello 1²³ \u3000\u00a0x\r\n\r\n",
       {111642, 2699, 31233, 40617, 31233, 220,   131,   227,   347,  280, 220,
        134,    108,  6053,  220,   16,    13848, 45681, 16884, 5310, 87,  1414},
       {51812, 1623, 13575, 24748, 13575, 220,   131, 227,   336,  278, 220, 134,
        108,   4896, 220,   16,    30556, 44301, 220, 23249, 4194, 87,  881}},
  };
  for (const Known& c : cases) {
    EXPECT_EQ(O200k().Encode(c.text), c.o200k) << c.text;
    EXPECT_EQ(Cl100k().Encode(c.text), c.cl100k) << c.text;
    EXPECT_EQ(O200k().Count(c.text), c.o200k.size()) << c.text;
    EXPECT_EQ(Cl100k().Count(c.text), c.cl100k.size()) << c.text;
  }
}

TEST(TokenizerTest, EmptyInput) {
  EXPECT_EQ(O200k().Count(""), 0u);
  EXPECT_TRUE(O200k().Encode("").empty());
  EXPECT_EQ(Cl100k().Count(std::string_view()), 0u);
  auto decoded = O200k().Decode({});
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(*decoded, "");
}

TEST(TokenizerTest, InvalidUtf8IsRepairedLikeNode) {
  // A lone 0xFF decodes to U+FFFD, which is token 3251 / 5809 on its own.
  EXPECT_EQ(O200k().Encode("\xff"), (Ids{3251}));
  EXPECT_EQ(Cl100k().Encode("\xff"), (Ids{5809}));
  const std::string bad[] = {
      "\x80",         "abc\xc3",         "\xc0\x80x",   "\xed\xa0\x80", "\xf4\x90\x80\x80",
      "\xe2\x28\xa1", "a\xf0\x9f\x98 b", "\xfe\xff\xfe"};
  for (const std::string& s : bad) {
    EXPECT_FALSE(IsValidUtf8(s));
    std::string fixed = RepairUtf8(s);
    EXPECT_TRUE(IsValidUtf8(fixed));
    EXPECT_EQ(O200k().Encode(s), O200k().Encode(fixed));
    EXPECT_EQ(Cl100k().Count(s), Cl100k().Count(fixed));
  }
}

TEST(TokenizerTest, RepairUtf8FollowsWhatwg) {
  const std::string r = "\xEF\xBF\xBD";  // U+FFFD
  EXPECT_EQ(RepairUtf8("ok"), "ok");
  EXPECT_EQ(RepairUtf8("\xE2\x82"), r);  // truncated: one replacement
  EXPECT_EQ(RepairUtf8("\xE2\x82x"), r + "x");
  EXPECT_EQ(RepairUtf8("\xED\xA0\x80"), r + r + r);          // surrogate: ED is valid only to 9F
  EXPECT_EQ(RepairUtf8("\xC0\x80"), r + r);                  // overlong lead bytes are invalid
  EXPECT_EQ(RepairUtf8("\xF0\x90\x41"), r + "A");            // two-byte prefix, then A
  EXPECT_EQ(RepairUtf8("\xF4\x90\x80\x80"), r + r + r + r);  // above U+10FFFF
  EXPECT_EQ(RepairUtf8("\xF0\x9F\x98\x80"), "\xF0\x9F\x98\x80");
  EXPECT_TRUE(IsValidUtf8("plain ASCII that is longer than eight bytes"));
  EXPECT_TRUE(IsValidUtf8("\xF0\x9F\x98\x80 \xE4\xB8\xAD \xC3\xA9"));
}

TEST(TokenizerTest, RandomBytesDoNotCrash) {
  std::mt19937 rng(7);
  for (int i = 0; i < 200; ++i) {
    std::string s(rng() % 300, '\0');
    for (char& c : s) c = static_cast<char>(rng());
    for (const Tokenizer* t : {&O200k(), &Cl100k()}) {
      Ids ids = t->Encode(s);
      EXPECT_EQ(ids.size(), t->Count(s));
      auto decoded = t->Decode(ids);
      ASSERT_TRUE(decoded.ok());
      EXPECT_EQ(*decoded, RepairUtf8(s));
    }
  }
}

TEST(TokenizerTest, DecodeRoundTrip) {
  const std::string text = "Round trip: ünïcödé, 中文, emoji 👍🏽, code `x += 1;`\n\ttab";
  for (const Tokenizer* t : {&O200k(), &Cl100k()}) {
    auto decoded = t->Decode(t->Encode(text));
    ASSERT_TRUE(decoded.ok());
    EXPECT_EQ(*decoded, text);
  }
}

TEST(TokenizerTest, DecodeRejectsUnknownIds) {
  Ids ids = {24912, 4000000};
  auto r = O200k().Decode(ids);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  Ids special = {199999};
  auto s = O200k().Decode(special);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(*s, "<|endoftext|>");
}

TEST(TokenizerTest, VocabularyShape) {
  EXPECT_EQ(O200k().vocab_size(), 199998u);
  EXPECT_EQ(Cl100k().vocab_size(), 100256u);
  EXPECT_EQ(O200k().special_tokens().size(), 2u);
  EXPECT_EQ(Cl100k().special_tokens().size(), 5u);
  auto a = Tokenizer::Shared(Encoding::kO200kBase);
  auto b = Tokenizer::Shared(Encoding::kO200kBase);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
  auto own = Tokenizer::Load(Encoding::kCl100kBase);
  ASSERT_TRUE(own.ok());
  EXPECT_EQ((*own)->Encode("hello world"), (Ids{15339, 1917}));
}

// tiktoken's reference merge, written the simplest way, to check the fast
// paths (quadratic and heap merges) on long single pieces.
Ids NaiveMerge(const std::unordered_map<std::string, uint32_t>& ranks, const std::string& piece) {
  std::vector<std::string> parts;
  for (char c : piece) parts.emplace_back(1, c);
  while (parts.size() > 1) {
    uint32_t best = UINT32_MAX;
    size_t bi = 0;
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
      auto it = ranks.find(parts[i] + parts[i + 1]);
      if (it != ranks.end() && it->second < best) {
        best = it->second;
        bi = i;
      }
    }
    if (best == UINT32_MAX) break;
    parts[bi] += parts[bi + 1];
    parts.erase(parts.begin() + static_cast<long>(bi) + 1);
  }
  Ids ids;
  for (const auto& p : parts) ids.push_back(ranks.at(p));
  return ids;
}

TEST(TokenizerTest, MergesMatchNaiveBpeOnLongPieces) {
  for (const Tokenizer* t : {&O200k(), &Cl100k()}) {
    std::unordered_map<std::string, uint32_t> ranks;
    for (uint32_t id = 0; id < t->vocab_size(); ++id) {
      Ids one = {id};
      ranks[*t->Decode(one)] = id;
    }
    std::mt19937 rng(11);
    const std::string alphabet = "abcdeilnorst";
    for (int i = 0; i < 40; ++i) {
      // Lowercase ASCII letters form a single piece in both encodings.
      std::string piece(1 + rng() % 300, 'a');
      for (char& c : piece) c = alphabet[rng() % alphabet.size()];
      Ids want = ranks.count(piece) ? Ids{ranks.at(piece)} : NaiveMerge(ranks, piece);
      EXPECT_EQ(t->Encode(piece), want) << piece;
    }
  }
}

TEST(TokenizerTest, LongRepeatedInput) {
  const std::string long_inputs[] = {std::string(1 << 18, 'a'), std::string(200000, ' '),
                                     std::string(100000, '\n'), std::string(300000, '7')};
  for (const std::string& s : long_inputs) {
    for (const Tokenizer* t : {&O200k(), &Cl100k()}) {
      Ids ids = t->Encode(s);
      EXPECT_EQ(ids.size(), t->Count(s));
      EXPECT_GT(ids.size(), 0u);
      EXPECT_LT(ids.size(), s.size());
      auto decoded = t->Decode(ids);
      ASSERT_TRUE(decoded.ok());
      EXPECT_EQ(*decoded, s);
    }
  }
  std::string emoji;
  for (int i = 0; i < 50000; ++i) emoji += "\xF0\x9F\x98\x80";
  EXPECT_EQ(*O200k().Decode(O200k().Encode(emoji)), emoji);
  // Digits pre-tokenize in groups of three: one token each.
  EXPECT_EQ(O200k().Count(std::string(300000, '7')), 100000u);
}

TEST(TokenizerTest, ConcurrentUseIsSafe) {
  const std::string text = "Concurrent counting, the same answer on every thread. 中文 😀 ";
  std::string big;
  for (int i = 0; i < 200; ++i) big += text;
  const size_t want = O200k().Count(big);
  std::vector<std::thread> threads;
  std::vector<size_t> got(4);
  for (size_t i = 0; i < got.size(); ++i) {
    threads.emplace_back([&, i] {
      for (int k = 0; k < 20; ++k) got[i] = O200k().Count(big);
    });
  }
  for (auto& th : threads) th.join();
  for (size_t g : got) EXPECT_EQ(g, want);
}

TEST(TokenizerTest, EncodingNames) {
  EXPECT_EQ(EncodingName(Encoding::kO200kBase), "o200k_base");
  EXPECT_EQ(ParseEncoding("cl100k_base"), Encoding::kCl100kBase);
  EXPECT_EQ(ParseEncoding("p50k_base"), std::nullopt);
}

TEST(ModelTokensTest, EncodingForModel) {
  for (const char* m : {"gpt-4o", "gpt-4o-mini-2024-07-18", "gpt-4.1-nano", "gpt-5",
                        "gpt-5.1-codex", "gpt-5-pro", "o1", "o3-mini", "o4-mini",
                        "openai/gpt-oss-120b", "gpt-realtime", "GPT-4O", "azure/gpt-4o"}) {
    EXPECT_EQ(EncodingForModel(m), Encoding::kO200kBase) << m;
  }
  for (const char* m :
       {"gpt-4", "gpt-4-turbo", "gpt-4-0613", "gpt-3.5-turbo", "gpt-3.5-turbo-instruct",
        "text-embedding-3-small", "text-embedding-ada-002", "gpt-35-turbo"}) {
    EXPECT_EQ(EncodingForModel(m), Encoding::kCl100kBase) << m;
  }
  for (const char* m : {"claude-sonnet-4-5", "gemini-2.5-pro", "davinci-002", "o", "omni", "",
                        "llama-3.3-70b-versatile"}) {
    EXPECT_EQ(EncodingForModel(m), std::nullopt) << m;
  }
}

TEST(ModelTokensTest, CountingMethods) {
  CountingMethod gpt = CountingMethodForModel("gpt-4o");
  EXPECT_TRUE(gpt.exact);
  EXPECT_EQ(gpt.family, "openai");
  CountingMethod claude = CountingMethodForModel("anthropic/claude-opus-4-5-20251101");
  EXPECT_FALSE(claude.exact);
  EXPECT_EQ(claude.family, "anthropic");
  EXPECT_EQ(claude.encoding, Encoding::kO200kBase);
  EXPECT_DOUBLE_EQ(claude.factor, 1.2);
  EXPECT_EQ(CountingMethodForModel("groq/llama-3.1-8b-instant").encoding, Encoding::kCl100kBase);
  CountingMethod other = CountingMethodForModel("some-new-model");
  EXPECT_EQ(other.family, "other");
  EXPECT_DOUBLE_EQ(other.factor, 1.0);
  EXPECT_EQ(ScaleCount(10, claude), 12);
  EXPECT_EQ(ScaleCount(11, claude), 14);  // ceil(13.2)
  EXPECT_EQ(ScaleCount(11, gpt), 11);
}

TEST(ModelTokensTest, CounterCountsOncePerEncoding) {
  ModelTokenCounter counter("hello world");
  auto gpt4o = counter.ForModel("gpt-4o");
  ASSERT_TRUE(gpt4o.ok());
  EXPECT_EQ(gpt4o->tokens, 2);
  auto claude = counter.ForModel("claude-sonnet-4-5");
  ASSERT_TRUE(claude.ok());
  EXPECT_EQ(claude->tokens, 3);  // ceil(2 * 1.2)
  auto cl = counter.ForEncoding(Encoding::kCl100kBase);
  ASSERT_TRUE(cl.ok());
  EXPECT_EQ(*cl, 2u);
}

TEST(RequestTextTest, ChatCompletion) {
  auto r = ExtractRequestText(R"({"model":"gpt-4o","messages":[
      {"role":"system","content":"You are terse."},
      {"role":"user","name":"bob","content":[{"type":"text","text":"hello world"},
                                             {"type":"image_url","image_url":{"url":"x"}}]},
      {"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function",
        "function":{"name":"lookup","arguments":"{\"q\":1}"}}]}],
      "tools":[{"type":"function","function":{"name":"lookup"}}]})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->model, "gpt-4o");
  EXPECT_EQ(r->messages, 3u);
  EXPECT_EQ(r->framing_tokens, 3 * 3 + 1 + 3);
  const std::vector<std::string> want = {
      "system", "You are terse.", "user",
      "bob",    "hello world",    "assistant",
      "lookup", "{\"q\":1}",      R"({"type":"function","function":{"name":"lookup"}})"};
  EXPECT_EQ(r->parts, want);
  // The cookbook's count for a single-message chat.
  auto one = ExtractRequestText(
      R"({"model":"gpt-4o","messages":[{"role":"user","content":"hello world"}]})");
  ASSERT_TRUE(one.ok());
  std::vector<std::string_view> parts(one->parts.begin(), one->parts.end());
  ModelTokenCounter counter(parts, one->framing_tokens);
  auto n = counter.ForModel(one->model);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->tokens, 3 + 1 + 2 + 3);  // framing, "user", "hello world", reply primer
}

TEST(RequestTextTest, PromptsAndInputs) {
  auto emb = ExtractRequestText(R"({"model":"text-embedding-3-small","input":["a b","c"]})");
  ASSERT_TRUE(emb.ok());
  EXPECT_EQ(emb->parts, (std::vector<std::string>{"a b", "c"}));
  EXPECT_EQ(emb->framing_tokens, 0);
  auto ids = ExtractRequestText(R"({"prompt":[[1,2,3],[4]]})");
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(ids->framing_tokens, 4);
  auto resp = ExtractRequestText(
      R"({"model":"gpt-5","instructions":"Be brief.","input":[{"role":"user","content":[{"type":"input_text","text":"hi"}]}]})");
  ASSERT_TRUE(resp.ok());
  EXPECT_EQ(resp->parts, (std::vector<std::string>{"Be brief.", "hi"}));
  EXPECT_EQ(resp->messages, 1u);
}

TEST(RequestTextTest, Errors) {
  EXPECT_EQ(ExtractRequestText("not json").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ExtractRequestText("[1,2]").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ExtractRequestText(R"({"model":"x"})").status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tollgate::tokenizer
