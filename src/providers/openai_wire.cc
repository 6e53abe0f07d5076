#include "providers/openai_wire.h"

#include "common/json.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cmath>

namespace tollgate::providers {
namespace {

// Text characters inside one message/delta object.
size_t MessageChars(const rapidjson::Value& m) {
  size_t n = StrLen(Member(m, "content")) + StrLen(Member(m, "reasoning_content")) +
             StrLen(Member(m, "refusal"));
  if (const auto* tc = Member(m, "tool_calls"); tc && tc->IsArray()) {
    for (const auto& call : tc->GetArray()) {
      if (const auto* fn = Member(call, "function")) {
        n += StrLen(Member(*fn, "arguments")) + StrLen(Member(*fn, "name"));
      }
    }
  }
  return n;
}

size_t ChoicesChars(const rapidjson::Value& doc, const char* part) {
  size_t n = 0;
  const auto* choices = Member(doc, "choices");
  if (!choices || !choices->IsArray()) return 0;
  for (const auto& c : choices->GetArray()) {
    n += StrLen(Member(c, "text"));
    if (const auto* m = Member(c, part)) n += MessageChars(*m);
  }
  return n;
}

size_t ContentChars(const rapidjson::Value& content) {
  if (content.IsString()) return content.GetStringLength();
  size_t n = 0;
  if (content.IsArray()) {
    for (const auto& part : content.GetArray()) n += StrLen(Member(part, "text"));
  }
  return n;
}

}  // namespace

bool UsageFromOpenAi(const rapidjson::Value& usage, pricing::Usage* out) {
  if (!usage.IsObject()) return false;
  // Any count that is not a plausible token count voids the whole object: the
  // caller then estimates, rather than bill a negative or absurd amount.
  bool valid = true;
  auto count = [&](const rapidjson::Value& obj, const char* key) {
    std::optional<int64_t> n = TokenCount(Member(obj, key));
    valid = valid && n.has_value();
    return n.value_or(0);
  };
  int64_t prompt = count(usage, "prompt_tokens");
  int64_t completion = count(usage, "completion_tokens");
  int64_t cached = 0, reasoning = 0;
  if (const auto* d = Member(usage, "prompt_tokens_details"); d && d->IsObject()) cached = count(*d, "cached_tokens");
  // DeepSeek's documented field (prompt_tokens = prompt_cache_hit_tokens + prompt_cache_miss_tokens).
  if (cached == 0) cached = count(usage, "prompt_cache_hit_tokens");
  if (const auto* d = Member(usage, "completion_tokens_details"); d && d->IsObject())
    reasoning = count(*d, "reasoning_tokens");
  const int64_t total = count(usage, "total_tokens");
  if (!valid) return false;
  if (prompt == 0 && completion == 0) prompt = total;  // embeddings
  // xAI counts reasoning_tokens on top of completion_tokens (total_tokens =
  // prompt + completion + reasoning); OpenAI and the rest count them inside.
  const bool reasoning_apart = reasoning > 0 && total == prompt + completion + reasoning;
  cached = std::clamp<int64_t>(cached, 0, prompt);
  if (!reasoning_apart) reasoning = std::clamp<int64_t>(reasoning, 0, completion);
  *out = pricing::Usage{};
  out->input = prompt - cached;
  out->cache_read = cached;
  out->output = reasoning_apart ? completion : completion - reasoning;
  out->reasoning = reasoning;
  return true;
}

ChunkInfo InspectChunk(std::string_view json) {
  ChunkInfo info;
  rapidjson::Document doc;
  const JsonParse doc_json = ParseJson(doc, json);
  if (!doc_json.ok || !doc.IsObject()) return info;
  info.parsed = true;
  if (Member(doc, "error")) info.is_error = true;
  if (const auto* m = Member(doc, "model"); m && m->IsString()) info.model = m->GetString();
  if (const auto* u = Member(doc, "usage"); u && u->IsObject()) {
    info.has_usage = UsageFromOpenAi(*u, &info.usage);
    const auto* choices = Member(doc, "choices");
    info.usage_only = choices && choices->IsArray() && choices->Empty();
  }
  info.text_chars = ChoicesChars(doc, "delta");
  return info;
}

size_t ResponseTextChars(const rapidjson::Value& response) { return ChoicesChars(response, "message"); }

int64_t EstimatePromptTokens(const rapidjson::Value& body) {
  size_t chars = 0;
  int64_t framing = 0;
  if (const auto* msgs = Member(body, "messages"); msgs && msgs->IsArray()) {
    for (const auto& m : msgs->GetArray()) {
      if (const auto* c = Member(m, "content")) chars += ContentChars(*c);
      framing += 4;
    }
  }
  if (const auto* p = Member(body, "prompt")) chars += ContentChars(*p);
  if (const auto* in = Member(body, "input")) chars += ContentChars(*in);
  return EstimateTokensFromChars(chars) + framing;
}

int64_t EstimateTokensFromChars(size_t chars) { return static_cast<int64_t>((chars + 3) / 4); }

namespace {

void WriteUsageObject(JsonWriter& w, const pricing::Usage& u, bool cached_details) {
  w.StartObject();
  w.Key("prompt_tokens");
  w.Int64(u.PromptTotal());
  w.Key("completion_tokens");
  w.Int64(u.OutputTotal());
  w.Key("total_tokens");
  w.Int64(u.Total());
  if (cached_details) {
    w.Key("prompt_tokens_details");
    w.StartObject();
    w.Key("cached_tokens");
    w.Int64(u.cache_read);
    w.EndObject();
  }
  w.EndObject();
}

}  // namespace

void WriteOpenAiUsage(JsonWriter& w, const pricing::Usage& u, bool cached_details) {
  w.Key("usage");
  WriteUsageObject(w, u, cached_details);
}

rapidjson::Value OpenAiUsageValue(const pricing::Usage& u, bool cached_details,
                                  rapidjson::Document::AllocatorType& alloc) {
  // Written once by WriteUsageObject and read back: a few dozen bytes, and the
  // shape is not spelled out a second time.
  rapidjson::Document d(&alloc);
  (void)ParseJson(d, WriteJson([&](JsonWriter& w) { WriteUsageObject(w, u, cached_details); }));
  rapidjson::Value out;
  out.Swap(d);
  return out;
}

std::string WriteCompletionBody(const CompletionBody& b) {
  return WriteJson([&](JsonWriter& w) {
    w.StartObject();
    w.Key("id");
    WriteString(w, b.id);
    w.Key("object");
    w.String(b.chat ? "chat.completion" : "text_completion");
    w.Key("created");
    w.Int64(b.created);
    w.Key("model");
    WriteString(w, b.model);
    if (b.system_fingerprint) {
      w.Key("system_fingerprint");
      w.String(b.system_fingerprint);
    }
    w.Key("choices");
    w.StartArray();
    w.StartObject();
    w.Key("index");
    w.Int(0);
    if (b.chat) {
      w.Key("message");
      w.StartObject();
      w.Key("role");
      w.String("assistant");
      w.Key("content");
      WriteString(w, b.text);
      w.EndObject();
    } else {
      w.Key("text");
      WriteString(w, b.text);
    }
    w.Key("finish_reason");
    w.String("stop");
    w.EndObject();
    w.EndArray();
    pricing::Usage u;
    u.input = b.prompt_tokens;
    u.output = b.completion_tokens;
    WriteOpenAiUsage(w, u);
    w.EndObject();
  });
}

std::string RewriteRequest(rapidjson::Document& body, std::string_view model, bool force_include_usage) {
  auto& alloc = body.GetAllocator();
  rapidjson::Value model_value(model.data(), static_cast<rapidjson::SizeType>(model.size()), alloc);
  if (auto it = body.FindMember("model"); it != body.MemberEnd()) it->value = model_value;
  else body.AddMember("model", model_value, alloc);
  if (force_include_usage) {
    auto it = body.FindMember("stream_options");
    if (it == body.MemberEnd() || !it->value.IsObject()) {
      if (it != body.MemberEnd()) body.RemoveMember(it);
      rapidjson::Value opts(rapidjson::kObjectType);
      opts.AddMember("include_usage", true, alloc);
      body.AddMember("stream_options", opts, alloc);
    } else {
      auto iu = it->value.FindMember("include_usage");
      if (iu != it->value.MemberEnd()) iu->value.SetBool(true);
      else it->value.AddMember("include_usage", true, alloc);
    }
  }
  return Serialize(body);
}

}  // namespace tollgate::providers
