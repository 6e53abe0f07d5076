// Usage extraction for Anthropic, OpenAI Responses and Gemini, whole-response
// metering for every API, and the passthrough stream adapters (client API ==
// provider API) that forward events unchanged and only meter them.
// Translating adapters live in anthropic_translate.cc.

#include "providers/adapter.h"
#include "providers/error_bodies.h"
#include "providers/sse.h"

#include "common/json.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <functional>

#include "providers/openai_wire.h"

namespace tollgate::providers {
namespace {

using rapidjson::Value;

// Reads token counts from one usage object; any implausible count (negative,
// fractional, huge, not a number) makes the whole object invalid.
struct CountReader {
  bool valid = true;
  int64_t operator()(const Value& obj, const char* key) {
    std::optional<int64_t> n = TokenCount(Member(obj, key));
    valid = valid && n.has_value();
    return n.value_or(0);
  }
};

size_t SerializedLen(const Value& v) {
  rapidjson::StringBuffer sb;
  JsonWriter w(sb);
  v.Accept(w);
  return sb.GetSize();
}


// Anthropic's raw counters, merged by maximum: message_start carries the input
// counts and a provisional output count, message_delta the cumulative output
// count (and, on some servers, the input counts again), so the largest value
// seen for each field is the latest.
struct AnthropicCounts {
  int64_t input = 0, cache_read = 0, cache_creation = 0, write_5m = 0, write_1h = 0, output = 0;

  // Merges a valid usage object (false, and nothing merged, for an invalid one).
  bool MergeMax(const Value& usage) {
    CountReader count;
    const int64_t in = count(usage, "input_tokens"), read = count(usage, "cache_read_input_tokens"),
                  creation = count(usage, "cache_creation_input_tokens"), out = count(usage, "output_tokens");
    int64_t w5 = 0, w1 = 0;
    if (const Value* cc = Member(usage, "cache_creation"); cc && cc->IsObject()) {
      w5 = count(*cc, "ephemeral_5m_input_tokens");
      w1 = count(*cc, "ephemeral_1h_input_tokens");
    }
    if (!count.valid) return false;
    input = std::max(input, in);
    cache_read = std::max(cache_read, read);
    cache_creation = std::max(cache_creation, creation);
    output = std::max(output, out);
    write_5m = std::max(write_5m, w5);
    write_1h = std::max(write_1h, w1);
    return true;
  }

  pricing::Usage ToUsage() const {
    pricing::Usage u;
    u.input = input;
    u.cache_read = cache_read;
    // The TTL split refines cache_creation_input_tokens; anything it does not
    // attribute to 1h is billed as 5m (Anthropic's default TTL).
    int64_t writes = std::max(cache_creation, write_5m + write_1h);
    u.cache_write_1h = std::min(write_1h, writes);
    u.cache_write_5m = writes - u.cache_write_1h;
    u.output = output;  // thinking tokens are inside output_tokens and billed alike
    return u;
  }
};

// Generated characters in an Anthropic message's content blocks.
size_t AnthropicContentChars(const Value& content) {
  size_t n = 0;
  if (!content.IsArray()) return 0;
  for (const auto& block : content.GetArray()) {
    n += StrLen(Member(block, "text")) + StrLen(Member(block, "thinking"));
    if (Str(Member(block, "type")) == "tool_use") {
      if (const Value* in = Member(block, "input")) n += SerializedLen(*in);
    }
  }
  return n;
}

// Generated characters in a Responses API "output" array.
size_t ResponsesOutputChars(const Value& output) {
  size_t n = 0;
  if (!output.IsArray()) return 0;
  for (const auto& item : output.GetArray()) {
    n += StrLen(Member(item, "arguments"));  // function_call
    for (const char* part_list : {"content", "summary"}) {
      const Value* parts = Member(item, part_list);
      if (!parts || !parts->IsArray()) continue;
      for (const auto& p : parts->GetArray())
        n += StrLen(Member(p, "text")) + StrLen(Member(p, "refusal"));
    }
  }
  return n;
}

// Generated characters in a Gemini GenerateContentResponse's candidates.
size_t GeminiCandidateChars(const Value& body) {
  size_t n = 0;
  const Value* cands = Member(body, "candidates");
  if (!cands || !cands->IsArray()) return 0;
  for (const auto& c : cands->GetArray()) {
    const Value* content = Member(c, "content");
    const Value* parts = content ? Member(*content, "parts") : nullptr;
    if (!parts || !parts->IsArray()) continue;
    for (const auto& p : parts->GetArray()) {
      n += StrLen(Member(p, "text"));
      if (const Value* fc = Member(p, "functionCall")) {
        n += StrLen(Member(*fc, "name"));
        if (const Value* args = Member(*fc, "args")) n += SerializedLen(*args);
      }
    }
  }
  return n;
}

bool GeminiFinished(const Value& body) {
  const Value* cands = Member(body, "candidates");
  if (!cands || !cands->IsArray()) return false;
  for (const auto& c : cands->GetArray())
    if (!Str(Member(c, "finishReason")).empty()) return true;
  return false;
}

void SetModel(const Value* v, Meter* m) {
  if (v && v->IsString() && v->GetStringLength() > 0)
    m->model.assign(v->GetString(), v->GetStringLength());
}

// ---------------------------------------------------------------------------
// Passthrough adapters.

class OpenAiPassthrough final : public StreamAdapter {
 public:
  explicit OpenAiPassthrough(bool strip_usage_chunk) : strip_usage_chunk_(strip_usage_chunk) {}

  void OnEvent(std::string_view event, std::string* out) override {
    std::string_view data = SseData(event, &scratch_);
    bool keep = true;
    if (data == "[DONE]") {
      meter_.complete = true;
      keep = false;  // Finish re-sends it, after the gateway's own closing events
    } else if (!data.empty() && data.front() == '{') {
      ChunkInfo info = InspectChunk(data);
      meter_.text_chars += info.text_chars;
      if (!info.model.empty()) meter_.model = std::move(info.model);
      if (info.is_error) meter_.upstream_error = true;
      if (info.has_usage) {
        meter_.have_usage = true;
        meter_.usage = info.usage;
        // The client did not ask for usage; tollgate did, so it must not see it.
        if (strip_usage_chunk_ && info.usage_only) keep = false;
      }
    }
    if (keep) out->append(event).append("\n\n");
  }

  void Finish(std::string* out) override { out->append("data: [DONE]\n\n"); }

  void Fail(std::string_view message, std::string* out) override {
    out->append(OpenAiErrorEvent(message, "upstream_error", "stream_broken"));
  }

 private:
  const bool strip_usage_chunk_;
  std::string scratch_;
};

class AnthropicPassthrough final : public StreamAdapter {
 public:
  void OnEvent(std::string_view event, std::string* out) override {
    out->append(event).append("\n\n");
    std::string_view data = SseData(event, &scratch_);
    rapidjson::Document doc;
    if (!ParseJsonObject(data, &doc)) return;
    std::string_view type = Str(Member(doc, "type"));
    if (type == "content_block_delta") {
      if (const Value* d = Member(doc, "delta"))
        meter_.text_chars += StrLen(Member(*d, "text")) + StrLen(Member(*d, "partial_json")) +
                             StrLen(Member(*d, "thinking"));
    } else if (type == "message_start") {
      if (const Value* msg = Member(doc, "message")) {
        SetModel(Member(*msg, "model"), &meter_);
        if (MergeUsage(Member(*msg, "usage"))) meter_.usage_provisional = true;
      }
    } else if (type == "message_delta") {
      // The closing count; a malformed one leaves the provisional count standing.
      if (MergeUsage(Member(doc, "usage"))) meter_.usage_provisional = false;
    } else if (type == "content_block_start") {
      // Blocks usually start empty, but a server may put text in the start.
      if (const Value* b = Member(doc, "content_block"))
        meter_.text_chars += StrLen(Member(*b, "text")) + StrLen(Member(*b, "thinking"));
    } else if (type == "message_stop") {
      meter_.complete = true;
    } else if (type == "error") {
      meter_.upstream_error = true;
    }
  }

  void Finish(std::string* out) override {}

  void Fail(std::string_view message, std::string* out) override {
    out->append(AnthropicErrorEvent("api_error", message));
  }

 private:
  // True when `usage` was a valid usage object and was merged.
  bool MergeUsage(const Value* usage) {
    if (!usage || !usage->IsObject() || !counts_.MergeMax(*usage)) return false;
    meter_.usage = counts_.ToUsage();
    meter_.have_usage = true;
    return true;
  }

  AnthropicCounts counts_;
  std::string scratch_;
};

class ResponsesPassthrough final : public StreamAdapter {
 public:
  void OnEvent(std::string_view event, std::string* out) override {
    out->append(event).append("\n\n");
    std::string_view data = SseData(event, &scratch_);
    rapidjson::Document doc;
    if (!ParseJsonObject(data, &doc)) return;
    if (const Value* seq = Member(doc, "sequence_number"); seq && seq->IsInt64())
      last_sequence_ = seq->GetInt64();
    std::string_view type = Str(Member(doc, "type"));
    // Text-bearing deltas; audio deltas are base64 and not text.
    if (type == "response.output_text.delta" || type == "response.function_call_arguments.delta" ||
        type == "response.reasoning_summary_text.delta" ||
        type == "response.reasoning_text.delta" || type == "response.refusal.delta" ||
        type == "response.custom_tool_call_input.delta") {
      meter_.text_chars += StrLen(Member(doc, "delta"));
      return;
    }
    if (type == "error") {
      meter_.upstream_error = true;
      return;
    }
    const Value* resp = Member(doc, "response");
    if (!resp || !resp->IsObject()) return;
    SetModel(Member(*resp, "model"), &meter_);
    if (type == "response.completed" || type == "response.incomplete" ||
        type == "response.failed") {
      meter_.complete = true;
      if (type == "response.failed") meter_.upstream_error = true;
      if (const Value* u = Member(*resp, "usage"); u && u->IsObject())
        meter_.have_usage = UsageFromResponses(*u, &meter_.usage);
    }
  }

  void Finish(std::string* out) override {}

  void Fail(std::string_view message, std::string* out) override {
    out->append("event: error\ndata: ");
    out->append(WriteJson([&](JsonWriter& w) {
      w.StartObject();
      w.Key("type");
      w.String("error");
      w.Key("code");
      w.String("stream_broken");
      w.Key("message");
      WriteString(w, message);
      w.Key("param");
      w.Null();
      w.Key("sequence_number");
      w.Int64(last_sequence_ + 1);
      w.EndObject();
    }));
    out->append("\n\n");
  }

 private:
  int64_t last_sequence_ = -1;
  std::string scratch_;
};

class GeminiPassthrough final : public StreamAdapter {
 public:
  void OnEvent(std::string_view event, std::string* out) override {
    out->append(event).append("\n\n");
    std::string_view data = SseData(event, &scratch_);
    rapidjson::Document doc;
    if (!ParseJsonObject(data, &doc)) return;
    if (Member(doc, "error")) {
      meter_.upstream_error = true;
      return;
    }
    meter_.text_chars += GeminiCandidateChars(doc);
    SetModel(Member(doc, "modelVersion"), &meter_);
    // Every chunk may carry usageMetadata with running totals; the last wins.
    if (const Value* u = Member(doc, "usageMetadata"); u && u->IsObject())
      meter_.have_usage = UsageFromGemini(*u, &meter_.usage) || meter_.have_usage;
    if (GeminiFinished(doc)) meter_.complete = true;
  }

  void Finish(std::string* out) override {}

  void Fail(std::string_view message, std::string* out) override {
    out->append(GeminiErrorEvent(503, message, "UNAVAILABLE"));
  }

 private:
  std::string scratch_;
};

}  // namespace

bool UsageFromAnthropic(const rapidjson::Value& usage, pricing::Usage* out) {
  if (!usage.IsObject()) return false;
  AnthropicCounts c;
  if (!c.MergeMax(usage)) return false;
  *out = c.ToUsage();
  return true;
}

bool UsageFromResponses(const rapidjson::Value& usage, pricing::Usage* out) {
  if (!usage.IsObject()) return false;
  CountReader count;
  int64_t input = count(usage, "input_tokens");
  int64_t output = count(usage, "output_tokens");
  int64_t cached = 0, reasoning = 0;
  if (const Value* d = Member(usage, "input_tokens_details")) cached = count(*d, "cached_tokens");
  if (const Value* d = Member(usage, "output_tokens_details")) reasoning = count(*d, "reasoning_tokens");
  if (!count.valid) return false;
  cached = std::clamp<int64_t>(cached, 0, input);
  reasoning = std::clamp<int64_t>(reasoning, 0, output);
  *out = pricing::Usage{};
  out->input = input - cached;
  out->cache_read = cached;
  out->output = output - reasoning;
  out->reasoning = reasoning;
  return true;
}

bool UsageFromGemini(const rapidjson::Value& usage_metadata, pricing::Usage* out) {
  if (!usage_metadata.IsObject()) return false;
  CountReader count;
  const int64_t prompt = count(usage_metadata, "promptTokenCount");
  const int64_t cached = std::min(count(usage_metadata, "cachedContentTokenCount"), prompt);
  const int64_t tool_prompt = count(usage_metadata, "toolUsePromptTokenCount");
  const int64_t candidates = count(usage_metadata, "candidatesTokenCount");
  const int64_t thoughts = count(usage_metadata, "thoughtsTokenCount");
  if (!count.valid) return false;
  *out = pricing::Usage{};
  // toolUsePromptTokenCount (e.g. search grounding results fed back to the
  // model) is outside promptTokenCount and billed as input.
  out->input = prompt - cached + tool_prompt;
  out->cache_read = cached;
  out->output = candidates;
  out->reasoning = thoughts;
  return true;
}

Meter MeterResponse(Api api, const rapidjson::Value& body) {
  Meter m;
  if (!body.IsObject()) return m;
  switch (api) {
    case Api::kOpenAiChat:
    case Api::kOpenAiCompletions:
    case Api::kOpenAiEmbeddings:
      if (Member(body, "error")) m.upstream_error = true;
      if (const Value* u = Member(body, "usage"); u && u->IsObject())
        m.have_usage = UsageFromOpenAi(*u, &m.usage);
      SetModel(Member(body, "model"), &m);
      m.text_chars = ResponseTextChars(body);
      break;
    case Api::kOpenAiResponses:
      if (const Value* e = Member(body, "error"); e && e->IsObject()) m.upstream_error = true;
      if (Str(Member(body, "status")) == "failed") m.upstream_error = true;
      if (const Value* u = Member(body, "usage"); u && u->IsObject())
        m.have_usage = UsageFromResponses(*u, &m.usage);
      SetModel(Member(body, "model"), &m);
      if (const Value* o = Member(body, "output")) m.text_chars = ResponsesOutputChars(*o);
      break;
    case Api::kAnthropicMessages:
      if (Str(Member(body, "type")) == "error") m.upstream_error = true;
      if (const Value* u = Member(body, "usage"); u && u->IsObject())
        m.have_usage = UsageFromAnthropic(*u, &m.usage);
      SetModel(Member(body, "model"), &m);
      if (const Value* c = Member(body, "content")) m.text_chars = AnthropicContentChars(*c);
      break;
    case Api::kGeminiGenerate:
      if (Member(body, "error")) m.upstream_error = true;
      if (const Value* u = Member(body, "usageMetadata"); u && u->IsObject())
        m.have_usage = UsageFromGemini(*u, &m.usage);
      SetModel(Member(body, "modelVersion"), &m);
      m.text_chars = GeminiCandidateChars(body);
      break;
  }
  // A whole body is complete by construction; an error body is not an answer.
  m.complete = !m.upstream_error;
  return m;
}

std::unique_ptr<StreamAdapter> MakeOpenAiPassthrough(bool strip_usage_chunk) {
  return std::make_unique<OpenAiPassthrough>(strip_usage_chunk);
}
std::unique_ptr<StreamAdapter> MakeAnthropicPassthrough() {
  return std::make_unique<AnthropicPassthrough>();
}
std::unique_ptr<StreamAdapter> MakeResponsesPassthrough() {
  return std::make_unique<ResponsesPassthrough>();
}
std::unique_ptr<StreamAdapter> MakeGeminiPassthrough() {
  return std::make_unique<GeminiPassthrough>();
}

}  // namespace tollgate::providers
