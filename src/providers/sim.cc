#include "providers/sim.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <ctime>

#include "common/util.h"
#include "providers/openai_wire.h"

namespace tollgate::providers {
namespace {

const char* const kWords[] = {"the",     "gateway", "meters",  "every",  "token",   "and",   "dollar",
                              "budget",  "cache",   "route",   "model",  "answer",  "fast",  "cheap",
                              "request", "ledger",  "stream",  "price",  "saves",   "spend", "visible",
                              "latency", "upstream", "replica", "policy", "cascade", "local", "simulated"};
constexpr size_t kWordCount = sizeof(kWords) / sizeof(kWords[0]);

using Writer = JsonWriter;

constexpr const char* kSystemFingerprint = "tollgate-sim";

void WriteHead(Writer& w, const std::string& id, const std::string& model, const char* object) {
  w.Key("id");
  w.String(id.c_str());
  w.Key("object");
  w.String(object);
  w.Key("created");
  w.Int64(static_cast<int64_t>(std::time(nullptr)));
  w.Key("model");
  w.String(model.c_str());
  w.Key("system_fingerprint");
  w.String(kSystemFingerprint);
}

}  // namespace

SimAnswer SimGenerate(const config::ProviderConfig& cfg, const rapidjson::Value& body) {
  SimAnswer a;
  int64_t n = cfg.response_tokens;
  for (const char* key : {"max_tokens", "max_completion_tokens"}) {
    auto it = body.FindMember(key);
    if (it != body.MemberEnd() && it->value.IsInt64() && it->value.GetInt64() > 0)
      n = std::min<int64_t>(n, it->value.GetInt64());
  }
  n = std::max<int64_t>(n, 1);
  uint64_t seed = std::hash<std::string>{}(Serialize(body));
  a.pieces.push_back("[simulated]");
  for (int64_t i = 1; i < n; ++i) {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    a.pieces.push_back(std::string(" ") + kWords[(seed >> 33) % kWordCount]);
  }
  a.usage.input = EstimatePromptTokens(body);
  a.usage.output = n;
  return a;
}

std::string SimChatResponse(const std::string& id, const std::string& model, const SimAnswer& a, bool chat) {
  std::string text;
  for (const auto& p : a.pieces) text += p;
  CompletionBody b;
  b.id = id;
  b.model = model;
  b.text = text;
  b.chat = chat;
  b.created = static_cast<int64_t>(std::time(nullptr));
  b.system_fingerprint = kSystemFingerprint;
  b.prompt_tokens = a.usage.PromptTotal();
  b.completion_tokens = a.usage.OutputTotal();
  return WriteCompletionBody(b);
}

std::string SimEmbeddingsResponse(const std::string& model, const rapidjson::Value& body, pricing::Usage* usage) {
  std::vector<std::string> inputs;
  auto it = body.FindMember("input");
  if (it != body.MemberEnd()) {
    if (it->value.IsString()) inputs.emplace_back(it->value.GetString(), it->value.GetStringLength());
    if (it->value.IsArray())
      for (const auto& v : it->value.GetArray())
        if (v.IsString()) inputs.emplace_back(v.GetString(), v.GetStringLength());
  }
  size_t chars = 0;
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  w.Key("object");
  w.String("list");
  w.Key("data");
  w.StartArray();
  for (size_t i = 0; i < inputs.size(); ++i) {
    chars += inputs[i].size();
    w.StartObject();
    w.Key("object");
    w.String("embedding");
    w.Key("index");
    w.Int(static_cast<int>(i));
    w.Key("embedding");
    w.StartArray();
    uint64_t seed = std::hash<std::string>{}(inputs[i]);
    for (int d = 0; d < 16; ++d) {
      seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
      w.Double(static_cast<double>((seed >> 40) % 2000) / 1000.0 - 1.0);
    }
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  w.Key("model");
  w.String(model.c_str());
  *usage = pricing::Usage{};
  usage->input = EstimateTokensFromChars(chars);
  w.Key("usage");
  w.StartObject();
  w.Key("prompt_tokens");
  w.Int64(usage->input);
  w.Key("total_tokens");
  w.Int64(usage->input);
  w.EndObject();
  w.EndObject();
  return std::string(sb.GetString(), sb.GetSize());
}

std::string SimChunk(const std::string& id, const std::string& model, const std::string& text, bool chat,
                     bool first, bool finish) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  WriteHead(w, id, model, chat ? "chat.completion.chunk" : "text_completion");
  w.Key("choices");
  w.StartArray();
  w.StartObject();
  w.Key("index");
  w.Int(0);
  if (chat) {
    w.Key("delta");
    w.StartObject();
    if (first) {
      w.Key("role");
      w.String("assistant");
    }
    w.Key("content");
    w.String(text.c_str(), static_cast<rapidjson::SizeType>(text.size()));
    w.EndObject();
  } else {
    w.Key("text");
    w.String(text.c_str(), static_cast<rapidjson::SizeType>(text.size()));
  }
  w.Key("finish_reason");
  if (finish) w.String("stop");
  else w.Null();
  w.EndObject();
  w.EndArray();
  w.EndObject();
  return std::string(sb.GetString(), sb.GetSize());
}

std::string SimUsageChunk(const std::string& id, const std::string& model, const pricing::Usage& u, bool chat) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  WriteHead(w, id, model, chat ? "chat.completion.chunk" : "text_completion");
  w.Key("choices");
  w.StartArray();
  w.EndArray();
  WriteOpenAiUsage(w, u);
  w.EndObject();
  return std::string(sb.GetString(), sb.GetSize());
}

}  // namespace tollgate::providers
