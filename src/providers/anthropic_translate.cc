// Translation between the OpenAI chat completions dialect and Anthropic's
// Messages API, in both directions: request bodies, whole response bodies, and
// streams (event by event, nothing buffered beyond one event). The stream
// translators meter through the matching passthrough adapter, so metering is
// defined once per provider dialect.

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <utility>
#include <vector>

#include "common/json.h"
#include "providers/adapter.h"
#include "providers/error_bodies.h"
#include "providers/sse.h"
#include "providers/openai_wire.h"

namespace tollgate::providers {
namespace {

using rapidjson::Document;
using rapidjson::kArrayType;
using rapidjson::kObjectType;
using rapidjson::SizeType;
using rapidjson::Value;
using Alloc = Document::AllocatorType;

// ---------------------------------------------------------------------------
// Small JSON helpers (the shared ones are in common/json.h).

// An absent field reads as an empty view whose data() is null, which RapidJSON
// asserts against (an abort in a Debug build): empty strings go in as "".
Value S(std::string_view s, Alloc& a) {
  return Value(s.empty() ? "" : s.data(), static_cast<SizeType>(s.size()), a);
}


// Anthropic tool ids must match ^[a-zA-Z0-9_-]+$; OpenAI-compatible servers
// are looser (e.g. "call:0"), so the id is mapped the same way on both the
// tool_use and the tool_result that refers to it.
std::string AnthropicToolId(std::string_view id) {
  std::string s;
  s.reserve(id.size());
  for (char c : id)
    s.push_back(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' ? c : '_');
  return s.empty() ? std::string("toolu_unnamed") : s;
}

// "chatcmpl-abc" <-> "msg_abc": ids stay traceable across the translation.
std::string MessageIdFromChat(std::string_view chat_id) {
  if (chat_id.substr(0, 9) == "chatcmpl-") chat_id.remove_prefix(9);
  return chat_id.empty() ? std::string("msg_tollgate") : "msg_" + AnthropicToolId(chat_id);
}
std::string ChatIdFromMessage(std::string_view msg_id) {
  return "chatcmpl-" + std::string(msg_id.empty() ? std::string_view("tollgate") : msg_id);
}

const char* AnthropicStopToChat(std::string_view stop) {
  if (stop == "max_tokens" || stop == "model_context_window_exceeded") return "length";
  if (stop == "tool_use") return "tool_calls";
  if (stop == "refusal") return "content_filter";
  return "stop";  // end_turn, stop_sequence, pause_turn, unknown
}

const char* ChatFinishToAnthropic(std::string_view finish) {
  if (finish == "length") return "max_tokens";
  if (finish == "tool_calls" || finish == "function_call") return "tool_use";
  if (finish == "content_filter") return "refusal";
  return "end_turn";
}

// ---------------------------------------------------------------------------
// Chat request -> Anthropic request.

// An image_url (data: URL or http(s) URL) as an Anthropic image block.
Status ImageBlockFromUrl(std::string_view url, Value* block, Alloc& a) {
  Value source(kObjectType);
  if (url.substr(0, 5) == "data:") {
    size_t marker = url.find(";base64,");
    if (marker == std::string_view::npos)
      return Status::InvalidArgument("image_url data URLs must be base64-encoded");
    source.AddMember("type", "base64", a);
    source.AddMember("media_type", S(url.substr(5, marker - 5), a), a);
    source.AddMember("data", S(url.substr(marker + 8), a), a);
  } else if (url.substr(0, 7) == "http://" || url.substr(0, 8) == "https://") {
    source.AddMember("type", "url", a);
    source.AddMember("url", S(url, a), a);
  } else {
    return Status::InvalidArgument("image_url.url must be a data: URL or an http(s) URL");
  }
  block->AddMember("type", "image", a);
  block->AddMember("source", source, a);
  return Status::Ok();
}

// Appends chat message content (a string or an array of parts) to `blocks` as
// Anthropic content blocks. Empty text is dropped: Anthropic rejects it.
Status ChatContentToBlocks(const Value* content, bool allow_images, Value* blocks, Alloc& a) {
  if (!content || content->IsNull()) return Status::Ok();
  if (content->IsString()) {
    if (content->GetStringLength() == 0) return Status::Ok();
    Value block(kObjectType);
    block.AddMember("type", "text", a);
    block.AddMember("text", Value(*content, a), a);
    blocks->PushBack(block, a);
    return Status::Ok();
  }
  if (!content->IsArray())
    return Status::InvalidArgument("message content must be a string or an array of content parts");
  for (const auto& part : content->GetArray()) {
    std::string_view type = Str(Member(part, "type"));
    Value block(kObjectType);
    if (type == "text" || type == "refusal") {
      std::string_view text = Str(Member(part, type == "text" ? "text" : "refusal"));
      if (text.empty()) continue;
      block.AddMember("type", "text", a);
      block.AddMember("text", S(text, a), a);
    } else if (type == "image_url" && allow_images) {
      const Value* iu = Member(part, "image_url");
      std::string_view url =
          iu && iu->IsString() ? Str(iu) : Str(iu ? Member(*iu, "url") : nullptr);
      TG_RETURN_IF_ERROR(ImageBlockFromUrl(url, &block, a));
    } else {
      return Status::InvalidArgument("content part type '" + std::string(type) +
                                     "' cannot be sent to an Anthropic model");
    }
    // Clients that know they talk to Claude mark cache breakpoints on parts.
    if (const Value* cc = Member(part, "cache_control"); cc && cc->IsObject())
      block.AddMember("cache_control", Value(*cc, a), a);
    blocks->PushBack(block, a);
  }
  return Status::Ok();
}

// Appends `blocks` as a turn of `role`, merged into the previous turn when it
// has the same role: consecutive tool results must share one user turn, and
// Anthropic would merge same-role turns anyway.
void AppendTurn(Value* messages, const char* role, Value& blocks, Alloc& a) {
  if (blocks.Empty()) return;  // Anthropic rejects empty turns
  if (!messages->Empty()) {
    Value& last = (*messages)[messages->Size() - 1];
    if (Str(Member(last, "role")) == role) {
      Value& content = last["content"];
      for (auto& b : blocks.GetArray()) content.PushBack(b, a);
      return;
    }
  }
  Value turn(kObjectType);
  turn.AddMember("role", Value(role, a), a);
  turn.AddMember("content", blocks, a);
  messages->PushBack(turn, a);
}

Status AssistantToolCallsToBlocks(const Value& tool_calls, Value* blocks, Alloc& a) {
  if (!tool_calls.IsArray()) return Status::InvalidArgument("tool_calls must be an array");
  for (const auto& tc : tool_calls.GetArray()) {
    const Value* fn = Member(tc, "function");
    if (!fn || !fn->IsObject())
      return Status::InvalidArgument("only function tool_calls can be sent to an Anthropic model");
    std::string_view args = Str(Member(*fn, "arguments"));
    Document input;
    if (args.empty()) {
      input.SetObject();
    } else {
      const JsonParse input_json = ParseJson(input, args);
      if (!input_json.ok || !input.IsObject())
        return Status::InvalidArgument("tool_calls[].function.arguments must be a JSON object");
    }
    Value block(kObjectType);
    block.AddMember("type", "tool_use", a);
    block.AddMember("id", S(AnthropicToolId(Str(Member(tc, "id"))), a), a);
    block.AddMember("name", S(Str(Member(*fn, "name")), a), a);
    block.AddMember("input", Value(input, a), a);
    blocks->PushBack(block, a);
  }
  return Status::Ok();
}

Status ToolMessageToBlock(const Value& m, Value* blocks, Alloc& a) {
  Value block(kObjectType);
  block.AddMember("type", "tool_result", a);
  block.AddMember("tool_use_id", S(AnthropicToolId(Str(Member(m, "tool_call_id"))), a), a);
  const Value* content = Member(m, "content");
  if (content && content->IsArray()) {
    Value parts(kArrayType);
    TG_RETURN_IF_ERROR(ChatContentToBlocks(content, /*allow_images=*/false, &parts, a));
    block.AddMember("content", parts, a);
  } else {
    block.AddMember("content", S(Str(content), a), a);
  }
  blocks->PushBack(block, a);
  return Status::Ok();
}

// tools (type function) -> Anthropic tools; tool_choice and parallel_tool_calls
// -> tool_choice.
Status TranslateTools(const Value& chat, Document* out) {
  Alloc& a = out->GetAllocator();
  const Value* tools = Member(chat, "tools");
  if (!tools || !tools->IsArray() || tools->Empty()) return Status::Ok();
  Value list(kArrayType);
  for (const auto& t : tools->GetArray()) {
    std::string_view type = Str(Member(t, "type"));
    const Value* fn = Member(t, "function");
    if ((!type.empty() && type != "function") || !fn || !fn->IsObject())
      return Status::InvalidArgument("only function tools can be sent to an Anthropic model");
    Value tool(kObjectType);
    tool.AddMember("name", S(Str(Member(*fn, "name")), a), a);
    if (const Value* d = Member(*fn, "description"); d && d->IsString())
      tool.AddMember("description", Value(*d, a), a);
    if (const Value* p = Member(*fn, "parameters"); p && p->IsObject()) {
      tool.AddMember("input_schema", Value(*p, a), a);
    } else {  // Anthropic requires a schema; a parameterless function takes {}
      Value schema(kObjectType);
      schema.AddMember("type", "object", a);
      schema.AddMember("properties", Value(kObjectType), a);
      tool.AddMember("input_schema", schema, a);
    }
    list.PushBack(tool, a);
  }
  out->AddMember("tools", list, a);

  Value choice(kObjectType);
  const Value* tc = Member(chat, "tool_choice");
  if (tc && tc->IsString()) {
    std::string_view s = Str(tc);
    if (s == "auto")
      choice.AddMember("type", "auto", a);
    else if (s == "none")
      choice.AddMember("type", "none", a);
    else if (s == "required")
      choice.AddMember("type", "any", a);
    else
      return Status::InvalidArgument("tool_choice must be auto, none, required or a function");
  } else if (tc && tc->IsObject()) {
    const Value* fn = Member(*tc, "function");
    std::string_view name = Str(fn ? Member(*fn, "name") : nullptr);
    if (name.empty()) return Status::InvalidArgument("tool_choice.function.name is required");
    choice.AddMember("type", "tool", a);
    choice.AddMember("name", S(name, a), a);
  }
  const Value* parallel = Member(chat, "parallel_tool_calls");
  if (parallel && parallel->IsBool() && !parallel->GetBool()) {
    if (choice.ObjectEmpty()) choice.AddMember("type", "auto", a);
    if (Str(Member(choice, "type")) != "none")
      choice.AddMember("disable_parallel_tool_use", true, a);
  }
  if (!choice.ObjectEmpty()) out->AddMember("tool_choice", choice, a);
  return Status::Ok();
}

// ---------------------------------------------------------------------------
// Anthropic request -> chat request.

// An Anthropic image block as a chat image_url part.
Status ImagePartFromBlock(const Value& block, Value* part, Alloc& a) {
  const Value* src = Member(block, "source");
  std::string_view type = Str(src ? Member(*src, "type") : nullptr);
  std::string url;
  if (type == "base64") {
    url = "data:" + std::string(Str(Member(*src, "media_type"))) + ";base64," +
          std::string(Str(Member(*src, "data")));
  } else if (type == "url") {
    url = std::string(Str(Member(*src, "url")));
  } else {
    return Status::InvalidArgument("image source type '" + std::string(type) +
                                   "' cannot be sent to an OpenAI-compatible model");
  }
  Value iu(kObjectType);
  iu.AddMember("url", S(url, a), a);
  part->AddMember("type", "image_url", a);
  part->AddMember("image_url", iu, a);
  return Status::Ok();
}

// A tool_result's content as the text of a chat tool message, which carries text only.
Result<std::string> ToolResultText(const Value& block) {
  const Value* content = Member(block, "content");
  if (!content || content->IsNull()) return std::string();
  if (content->IsString()) return std::string(Str(content));
  if (!content->IsArray())
    return Status::InvalidArgument("tool_result.content must be a string or blocks");
  std::string text;
  for (const auto& b : content->GetArray()) {
    std::string_view type = Str(Member(b, "type"));
    if (type != "text")
      return Status::InvalidArgument("tool_result blocks of type '" + std::string(type) +
                                     "' cannot be sent to an OpenAI-compatible model");
    if (!text.empty()) text += "\n";
    text += Str(Member(b, "text"));
  }
  return text;
}

Status UserBlocksToMessages(const Value& content, Value* messages, Alloc& a) {
  Value parts(kArrayType);
  bool all_text = true;
  for (const auto& b : content.GetArray()) {
    std::string_view type = Str(Member(b, "type"));
    if (type == "tool_result") {
      // Tool results lead the user turn, so they go first, as tool messages.
      TG_ASSIGN_OR_RETURN(std::string text, ToolResultText(b));
      Value m(kObjectType);
      m.AddMember("role", "tool", a);
      m.AddMember("tool_call_id", S(Str(Member(b, "tool_use_id")), a), a);
      m.AddMember("content", S(text, a), a);
      messages->PushBack(m, a);
    } else if (type == "text") {
      Value part(kObjectType);
      part.AddMember("type", "text", a);
      part.AddMember("text", S(Str(Member(b, "text")), a), a);
      parts.PushBack(part, a);
    } else if (type == "image") {
      Value part(kObjectType);
      TG_RETURN_IF_ERROR(ImagePartFromBlock(b, &part, a));
      parts.PushBack(part, a);
      all_text = false;
    } else {
      return Status::InvalidArgument("content block type '" + std::string(type) +
                                     "' cannot be sent to an OpenAI-compatible model");
    }
  }
  if (parts.Empty()) return Status::Ok();
  Value m(kObjectType);
  m.AddMember("role", "user", a);
  if (all_text && parts.Size() == 1) {
    // Many OpenAI-compatible servers handle plain-string content best.
    m.AddMember("content", Value(parts[0]["text"], a), a);
  } else {
    m.AddMember("content", parts, a);
  }
  messages->PushBack(m, a);
  return Status::Ok();
}

// A system prompt (a string, or text blocks whose cache_control chat cannot carry) as one
// chat system message; an empty one adds nothing.
Status AppendSystemMessage(const Value& sys, Value* messages, Alloc& a) {
  std::string text;
  if (sys.IsString()) {
    text = Str(&sys);
  } else if (sys.IsArray()) {
    for (const auto& b : sys.GetArray()) {
      if (Str(Member(b, "type")) != "text")
        return Status::InvalidArgument("system blocks must be text");
      if (!text.empty()) text += "\n";
      text += Str(Member(b, "text"));
    }
  } else {
    return Status::InvalidArgument("system must be a string or an array of text blocks");
  }
  if (text.empty()) return Status::Ok();
  Value m(kObjectType);
  m.AddMember("role", "system", a);
  m.AddMember("content", S(text, a), a);
  messages->PushBack(m, a);
  return Status::Ok();
}

Status AssistantBlocksToMessage(const Value& content, Value* messages, Alloc& a) {
  std::string text;
  Value tool_calls(kArrayType);
  for (const auto& b : content.GetArray()) {
    std::string_view type = Str(Member(b, "type"));
    if (type == "text") {
      text += Str(Member(b, "text"));
    } else if (type == "tool_use") {
      Value fn(kObjectType);
      fn.AddMember("name", S(Str(Member(b, "name")), a), a);
      const Value* input = Member(b, "input");
      fn.AddMember("arguments", S(input ? Serialize(*input) : std::string("{}"), a), a);
      Value tc(kObjectType);
      tc.AddMember("id", S(Str(Member(b, "id")), a), a);
      tc.AddMember("type", "function", a);
      tc.AddMember("function", fn, a);
      tool_calls.PushBack(tc, a);
    } else if (type == "thinking" || type == "redacted_thinking") {
      // Chat has no input field for prior reasoning; the model does without it.
      continue;
    } else {
      return Status::InvalidArgument("content block type '" + std::string(type) +
                                     "' cannot be sent to an OpenAI-compatible model");
    }
  }
  if (text.empty() && tool_calls.Empty()) return Status::Ok();
  Value m(kObjectType);
  m.AddMember("role", "assistant", a);
  if (text.empty())
    m.AddMember("content", Value(), a);
  else
    m.AddMember("content", S(text, a), a);
  if (!tool_calls.Empty()) m.AddMember("tool_calls", tool_calls, a);
  messages->PushBack(m, a);
  return Status::Ok();
}

// ---------------------------------------------------------------------------
// Stream: Anthropic events -> chat.completion.chunk events.

class AnthropicToChatStream final : public StreamAdapter {
 public:
  AnthropicToChatStream(std::string_view request_model, bool include_usage)
      : model_(request_model),
        include_usage_(include_usage),
        created_(static_cast<int64_t>(std::time(nullptr))),
        metering_(MakeAnthropicPassthrough()) {}

  void OnEvent(std::string_view event, std::string* out) override {
    sink_.clear();
    metering_->OnEvent(event, &sink_);
    meter_ = metering_->meter();
    std::string_view data = SseData(event, &scratch_);
    Document doc;
    if (!ParseJsonObject(data, &doc)) return;
    std::string_view type = Str(Member(doc, "type"));
    if (type == "message_start") {
      const Value* msg = Member(doc, "message");
      Start(Str(msg ? Member(*msg, "id") : nullptr), out);
    } else if (type == "content_block_start") {
      Start({}, out);
      OnBlockStart(doc, out);
    } else if (type == "content_block_delta") {
      Start({}, out);
      OnBlockDelta(doc, out);
    } else if (type == "message_delta") {
      const Value* d = Member(doc, "delta");
      if (std::string_view s = Str(d ? Member(*d, "stop_reason") : nullptr); !s.empty())
        stop_reason_ = s;
    } else if (type == "message_stop") {
      EmitFinal(out);
    } else if (type == "error") {
      const Value* e = Member(doc, "error");
      std::string_view etype = Str(e ? Member(*e, "type") : nullptr);
      if (etype.empty()) etype = "api_error";
      out->append(OpenAiErrorEvent(Str(e ? Member(*e, "message") : nullptr), etype, etype));
    }
    // ping, content_block_stop and unknown events carry nothing for chat.
  }

  void Finish(std::string* out) override {
    if (started_) EmitFinal(out);
    out->append("data: [DONE]\n\n");
  }

  void Fail(std::string_view message, std::string* out) override {
    out->append(OpenAiErrorEvent(message, "upstream_error", "stream_broken"));
  }

 private:
  enum class Kind { kOther, kText, kThinking, kTool };
  struct Block {
    Kind kind = Kind::kOther;
    int tool_index = -1;  // the chat tool_calls[].index of a tool_use block
  };
  static constexpr int64_t kMaxBlocks = 4096;  // bounds untrusted block indexes

  // Emits the role chunk once, before any content.
  void Start(std::string_view msg_id, std::string* out) {
    if (started_) return;
    started_ = true;
    id_ = ChatIdFromMessage(msg_id);
    EmitChunk(out, [](JsonWriter& w) {
      w.Key("role");
      w.String("assistant");
      w.Key("content");
      w.String("");
    });
  }

  Block* BlockAt(const Value& doc) {
    const Value* idx = Member(doc, "index");
    if (!idx || !idx->IsInt64() || idx->GetInt64() < 0 || idx->GetInt64() >= kMaxBlocks)
      return nullptr;
    size_t i = static_cast<size_t>(idx->GetInt64());
    if (blocks_.size() <= i) blocks_.resize(i + 1);
    return &blocks_[i];
  }

  void OnBlockStart(const Value& doc, std::string* out) {
    Block* b = BlockAt(doc);
    const Value* cb = Member(doc, "content_block");
    if (!b || !cb) return;
    std::string_view type = Str(Member(*cb, "type"));
    if (type == "text") {
      b->kind = Kind::kText;
      EmitText("content", Str(Member(*cb, "text")), out);
    } else if (type == "thinking") {
      b->kind = Kind::kThinking;
      EmitText("reasoning_content", Str(Member(*cb, "thinking")), out);
    } else if (type == "tool_use") {
      b->kind = Kind::kTool;
      b->tool_index = next_tool_++;
      std::string_view id = Str(Member(*cb, "id")), name = Str(Member(*cb, "name"));
      int index = b->tool_index;
      // Anthropic starts with input {} and streams the JSON; a server that puts
      // the whole input in the start sends no deltas, so it becomes the arguments.
      const Value* input = Member(*cb, "input");
      std::string initial =
          input && input->IsObject() && !input->ObjectEmpty() ? Serialize(*input) : std::string();
      EmitChunk(out, [&](JsonWriter& w) {
        w.Key("tool_calls");
        w.StartArray();
        w.StartObject();
        w.Key("index");
        w.Int(index);
        w.Key("id");
        WriteString(w, id);
        w.Key("type");
        w.String("function");
        w.Key("function");
        w.StartObject();
        w.Key("name");
        WriteString(w, name);
        w.Key("arguments");
        WriteString(w, initial);
        w.EndObject();
        w.EndObject();
        w.EndArray();
      });
    }
  }

  void OnBlockDelta(const Value& doc, std::string* out) {
    Block* b = BlockAt(doc);
    const Value* d = Member(doc, "delta");
    if (!b || !d) return;
    std::string_view type = Str(Member(*d, "type"));
    if (type == "text_delta") {
      EmitText("content", Str(Member(*d, "text")), out);
    } else if (type == "thinking_delta") {
      EmitText("reasoning_content", Str(Member(*d, "thinking")), out);
    } else if (type == "input_json_delta" && b->kind == Kind::kTool) {
      std::string_view partial = Str(Member(*d, "partial_json"));
      if (partial.empty()) return;
      int index = b->tool_index;
      EmitChunk(out, [&](JsonWriter& w) {
        w.Key("tool_calls");
        w.StartArray();
        w.StartObject();
        w.Key("index");
        w.Int(index);
        w.Key("function");
        w.StartObject();
        w.Key("arguments");
        WriteString(w, partial);
        w.EndObject();
        w.EndObject();
        w.EndArray();
      });
    }
    // signature_delta and citations_delta have no chat counterpart.
  }

  void EmitText(const char* field, std::string_view text, std::string* out) {
    if (text.empty()) return;
    EmitChunk(out, [&](JsonWriter& w) {
      w.Key(field);
      WriteString(w, text);
    });
  }

  // The finish_reason chunk, then the usage chunk when the client asked for it.
  void EmitFinal(std::string* out) {
    if (finished_) return;
    finished_ = true;
    EmitChunk(
        out, [](JsonWriter&) {}, AnthropicStopToChat(stop_reason_));
    if (!include_usage_) return;
    const pricing::Usage& u = meter_.usage;
    sb_.Clear();
    JsonWriter w(sb_);
    w.StartObject();
    WriteHead(w);
    w.Key("choices");
    w.StartArray();
    w.EndArray();
    WriteOpenAiUsage(w, u, /*cached_details=*/true);
    w.EndObject();
    out->append("data: ").append(sb_.GetString(), sb_.GetSize()).append("\n\n");
  }

  void WriteHead(JsonWriter& w) {
    w.Key("id");
    WriteString(w, id_);
    w.Key("object");
    w.String("chat.completion.chunk");
    w.Key("created");
    w.Int64(created_);
    w.Key("model");
    WriteString(w, model_);
  }

  template <typename F>
  void EmitChunk(std::string* out, F&& write_delta, const char* finish_reason = nullptr) {
    sb_.Clear();
    JsonWriter w(sb_);
    w.StartObject();
    WriteHead(w);
    w.Key("choices");
    w.StartArray();
    w.StartObject();
    w.Key("index");
    w.Int(0);
    w.Key("delta");
    w.StartObject();
    write_delta(w);
    w.EndObject();
    w.Key("logprobs");
    w.Null();
    w.Key("finish_reason");
    if (finish_reason)
      w.String(finish_reason);
    else
      w.Null();
    w.EndObject();
    w.EndArray();
    if (include_usage_) {  // as OpenAI does: every chunk but the last has "usage": null
      w.Key("usage");
      w.Null();
    }
    w.EndObject();
    out->append("data: ").append(sb_.GetString(), sb_.GetSize()).append("\n\n");
  }

  const std::string model_;
  const bool include_usage_;
  const int64_t created_;
  std::unique_ptr<StreamAdapter> metering_;
  std::string id_;
  std::string stop_reason_;
  std::vector<Block> blocks_;
  int next_tool_ = 0;
  bool started_ = false;
  bool finished_ = false;
  std::string sink_, scratch_;
  rapidjson::StringBuffer sb_;
};

// ---------------------------------------------------------------------------
// Stream: chat.completion.chunk events -> Anthropic events.

class ChatToAnthropicStream final : public StreamAdapter {
 public:
  explicit ChatToAnthropicStream(std::string_view request_model)
      : model_(request_model), metering_(MakeOpenAiPassthrough(false)) {}

  void OnEvent(std::string_view event, std::string* out) override {
    sink_.clear();
    metering_->OnEvent(event, &sink_);
    meter_ = metering_->meter();
    std::string_view data = SseData(event, &scratch_);
    if (data == "[DONE]") {
      Close(out);
      return;
    }
    Document doc;
    if (!ParseJsonObject(data, &doc)) return;
    if (const Value* e = Member(doc, "error")) {
      std::string_view msg = Str(Member(*e, "message"));
      out->append(AnthropicErrorEvent("api_error", msg.empty() ? "upstream error" : msg));
      return;
    }
    Start(Str(Member(doc, "id")), out);
    const Value* choices = Member(doc, "choices");
    if (!choices || !choices->IsArray() || choices->Empty()) return;  // e.g. the usage chunk
    const Value& choice = (*choices)[0];                              // n > 1 has no Anthropic form
    if (const Value* delta = Member(choice, "delta"); delta && delta->IsObject()) {
      std::string_view reasoning = Str(Member(*delta, "reasoning_content"));
      if (reasoning.empty()) reasoning = Str(Member(*delta, "reasoning"));
      if (!reasoning.empty())
        EmitDelta(OpenBlock(Kind::kThinking, out), "thinking_delta", "thinking", reasoning, out);
      std::string_view text = Str(Member(*delta, "content"));
      if (text.empty()) text = Str(Member(*delta, "refusal"));
      if (!text.empty()) EmitDelta(OpenBlock(Kind::kText, out), "text_delta", "text", text, out);
      if (const Value* tcs = Member(*delta, "tool_calls"); tcs && tcs->IsArray())
        for (const auto& tc : tcs->GetArray()) OnToolCall(tc, out);
    }
    if (std::string_view finish = Str(Member(choice, "finish_reason")); !finish.empty()) {
      stop_reason_ = ChatFinishToAnthropic(finish);
      CloseBlock(out);
    }
  }

  void Finish(std::string* out) override { Close(out); }

  void Fail(std::string_view message, std::string* out) override {
    out->append(AnthropicErrorEvent("api_error", message));
  }

 private:
  enum class Kind { kNone, kText, kThinking, kTool };
  struct ToolCall {
    int64_t index;   // chat tool_calls[].index
    std::string id;  // chat id, to tell a new call reusing an index
    int block;       // Anthropic content block index
  };

  void Start(std::string_view chat_id, std::string* out) {
    if (started_) return;
    started_ = true;
    Emit(out, "message_start", [&](JsonWriter& w) {
      w.Key("message");
      w.StartObject();
      w.Key("id");
      WriteString(w, MessageIdFromChat(chat_id));
      w.Key("type");
      w.String("message");
      w.Key("role");
      w.String("assistant");
      w.Key("content");
      w.StartArray();
      w.EndArray();
      w.Key("model");
      WriteString(w, model_);
      w.Key("stop_reason");
      w.Null();
      w.Key("stop_sequence");
      w.Null();
      // Usage is unknown until the final chunk; message_delta carries it.
      WriteUsage(w, pricing::Usage{});
      w.EndObject();
    });
  }

  // Returns the index of an open block of `kind`, closing another kind first.
  int OpenBlock(Kind kind, std::string* out) {
    if (open_kind_ == kind) return open_index_;
    CloseBlock(out);
    open_kind_ = kind;
    open_index_ = next_block_++;
    Emit(out, "content_block_start", [&](JsonWriter& w) {
      w.Key("index");
      w.Int(open_index_);
      w.Key("content_block");
      w.StartObject();
      w.Key("type");
      if (kind == Kind::kText) {
        w.String("text");
        w.Key("text");
      } else {
        w.String("thinking");
        w.Key("thinking");
      }
      w.String("");
      w.EndObject();
    });
    return open_index_;
  }

  void CloseBlock(std::string* out) {
    if (open_kind_ == Kind::kNone) return;
    int index = open_index_;
    Emit(out, "content_block_stop", [&](JsonWriter& w) {
      w.Key("index");
      w.Int(index);
    });
    open_kind_ = Kind::kNone;
    open_index_ = -1;
  }

  void OnToolCall(const Value& tc, std::string* out) {
    const Value* idx = Member(tc, "index");
    int64_t index = idx && idx->IsInt64() ? idx->GetInt64() : 0;
    std::string_view id = Str(Member(tc, "id"));
    const Value* fn = Member(tc, "function");
    std::string_view name = Str(fn ? Member(*fn, "name") : nullptr);
    std::string_view args = Str(fn ? Member(*fn, "arguments") : nullptr);
    ToolCall* call = nullptr;
    for (auto& c : tools_)
      if (c.index == index) call = &c;
    // A new call: an unseen index, or a new id on a seen one (some servers send
    // every call whole at index 0).
    if (!call || (!id.empty() && id != call->id)) {
      CloseBlock(out);
      std::string tool_id =
          id.empty() ? "toolu_" + std::to_string(next_block_) : AnthropicToolId(id);
      tools_.push_back({index, std::string(id), next_block_++});
      call = &tools_.back();
      open_kind_ = Kind::kTool;
      open_index_ = call->block;
      Emit(out, "content_block_start", [&](JsonWriter& w) {
        w.Key("index");
        w.Int(call->block);
        w.Key("content_block");
        w.StartObject();
        w.Key("type");
        w.String("tool_use");
        w.Key("id");
        WriteString(w, tool_id);
        w.Key("name");
        WriteString(w, name);
        w.Key("input");
        w.StartObject();
        w.EndObject();
        w.EndObject();
      });
    }
    // Calls stream one after another; arguments for an earlier call after a
    // later one started still name the right block.
    if (!args.empty()) EmitDelta(call->block, "input_json_delta", "partial_json", args, out);
  }

  void EmitDelta(int index, const char* type, const char* field, std::string_view value,
                 std::string* out) {
    Emit(out, "content_block_delta", [&](JsonWriter& w) {
      w.Key("index");
      w.Int(index);
      w.Key("delta");
      w.StartObject();
      w.Key("type");
      w.String(type);
      w.Key(field);
      WriteString(w, value);
      w.EndObject();
    });
  }

  // Closes the message: message_delta (stop reason, final usage), message_stop.
  void Close(std::string* out) {
    if (closed_) return;
    closed_ = true;
    Start({}, out);
    CloseBlock(out);
    Emit(out, "message_delta", [&](JsonWriter& w) {
      w.Key("delta");
      w.StartObject();
      w.Key("stop_reason");
      w.String(stop_reason_.empty() ? "end_turn" : stop_reason_.c_str());
      w.Key("stop_sequence");
      w.Null();
      w.EndObject();
      WriteUsage(w, meter_.usage);
    });
    Emit(out, "message_stop", [](JsonWriter&) {});
  }

  static void WriteUsage(JsonWriter& w, const pricing::Usage& u) {
    w.Key("usage");
    w.StartObject();
    w.Key("input_tokens");
    w.Int64(u.input);
    w.Key("cache_creation_input_tokens");
    w.Int64(u.cache_write_5m + u.cache_write_1h);
    w.Key("cache_read_input_tokens");
    w.Int64(u.cache_read);
    w.Key("output_tokens");
    w.Int64(u.OutputTotal());  // Anthropic counts thinking inside output_tokens
    w.EndObject();
  }

  template <typename F>
  void Emit(std::string* out, const char* name, F&& body) {
    sb_.Clear();
    JsonWriter w(sb_);
    w.StartObject();
    w.Key("type");
    w.String(name);
    body(w);
    w.EndObject();
    out->append("event: ").append(name).append("\ndata: ");
    out->append(sb_.GetString(), sb_.GetSize()).append("\n\n");
  }

  const std::string model_;
  std::unique_ptr<StreamAdapter> metering_;
  std::vector<ToolCall> tools_;
  std::string stop_reason_;
  Kind open_kind_ = Kind::kNone;
  int open_index_ = -1;
  int next_block_ = 0;
  bool started_ = false;
  bool closed_ = false;
  std::string sink_, scratch_;
  rapidjson::StringBuffer sb_;
};

}  // namespace

// ---------------------------------------------------------------------------

Result<std::string> ChatRequestToAnthropic(const rapidjson::Value& chat, std::string_view model,
                                           int64_t default_max_tokens) {
  if (!chat.IsObject()) return Status::InvalidArgument("request body must be a JSON object");
  const Value* msgs = Member(chat, "messages");
  if (!msgs || !msgs->IsArray()) return Status::InvalidArgument("'messages' must be an array");
  if (const Value* n = Member(chat, "n"); n && n->IsInt64() && n->GetInt64() > 1)
    return Status::InvalidArgument("n > 1 is not supported by Anthropic models");

  Document out(kObjectType);
  Alloc& a = out.GetAllocator();
  out.AddMember("model", S(model, a), a);
  int64_t max_tokens = default_max_tokens;
  for (const char* key : {"max_completion_tokens", "max_tokens"}) {
    const Value* v = Member(chat, key);
    if (v && v->IsInt64() && v->GetInt64() > 0) {
      max_tokens = v->GetInt64();
      break;
    }
  }
  out.AddMember("max_tokens", max_tokens, a);

  Value system(kArrayType);
  Value messages(kArrayType);
  for (const auto& m : msgs->GetArray()) {
    if (!m.IsObject()) return Status::InvalidArgument("each message must be an object");
    std::string_view role = Str(Member(m, "role"));
    Value blocks(kArrayType);
    if (role == "system" || role == "developer") {
      TG_RETURN_IF_ERROR(ChatContentToBlocks(Member(m, "content"), false, &system, a));
    } else if (role == "user") {
      TG_RETURN_IF_ERROR(ChatContentToBlocks(Member(m, "content"), true, &blocks, a));
      AppendTurn(&messages, "user", blocks, a);
    } else if (role == "assistant") {
      TG_RETURN_IF_ERROR(ChatContentToBlocks(Member(m, "content"), false, &blocks, a));
      if (const Value* tc = Member(m, "tool_calls"); tc && !tc->IsNull())
        TG_RETURN_IF_ERROR(AssistantToolCallsToBlocks(*tc, &blocks, a));
      AppendTurn(&messages, "assistant", blocks, a);
    } else if (role == "tool") {
      TG_RETURN_IF_ERROR(ToolMessageToBlock(m, &blocks, a));
      AppendTurn(&messages, "user", blocks, a);
    } else {
      return Status::InvalidArgument("message role '" + std::string(role) +
                                     "' cannot be sent to an Anthropic model");
    }
  }
  if (system.Size() == 1 && !system[0].HasMember("cache_control")) {
    out.AddMember("system", Value(system[0]["text"], a), a);
  } else if (!system.Empty()) {
    out.AddMember("system", system, a);
  }
  out.AddMember("messages", messages, a);
  TG_RETURN_IF_ERROR(TranslateTools(chat, &out));

  if (const Value* t = Member(chat, "temperature"); t && t->IsNumber()) {
    // OpenAI accepts 0..2, Anthropic 0..1: clamp rather than fail the request.
    out.AddMember("temperature", std::clamp(t->GetDouble(), 0.0, 1.0), a);
  }
  if (const Value* p = Member(chat, "top_p"); p && p->IsNumber())
    out.AddMember("top_p", p->GetDouble(), a);
  if (const Value* stop = Member(chat, "stop"); stop && !stop->IsNull()) {
    Value seqs(kArrayType);
    if (stop->IsString()) {
      seqs.PushBack(Value(*stop, a), a);
    } else if (stop->IsArray()) {
      for (const auto& s : stop->GetArray())
        if (s.IsString()) seqs.PushBack(Value(s, a), a);
    } else {
      return Status::InvalidArgument("stop must be a string or an array of strings");
    }
    if (!seqs.Empty()) out.AddMember("stop_sequences", seqs, a);
  }
  if (const Value* s = Member(chat, "stream"); s && s->IsBool() && s->GetBool())
    out.AddMember("stream", true, a);
  if (std::string_view user = Str(Member(chat, "user")); !user.empty()) {
    Value meta(kObjectType);
    meta.AddMember("user_id", S(user, a), a);
    out.AddMember("metadata", meta, a);
  }
  return Serialize(out);
}

Result<std::string> AnthropicResponseToChat(const rapidjson::Value& message,
                                            std::string_view request_model) {
  if (!message.IsObject()) return Status::UpstreamError("Anthropic response is not a JSON object");
  if (Str(Member(message, "type")) == "error") {
    const Value* e = Member(message, "error");
    return Status::UpstreamError("Anthropic error: " +
                                 std::string(Str(e ? Member(*e, "message") : nullptr)));
  }
  Document out(kObjectType);
  Alloc& a = out.GetAllocator();
  std::string text, reasoning;
  Value tool_calls(kArrayType);
  if (const Value* content = Member(message, "content"); content && content->IsArray()) {
    for (const auto& b : content->GetArray()) {
      std::string_view type = Str(Member(b, "type"));
      if (type == "text") {
        text += Str(Member(b, "text"));
      } else if (type == "thinking") {
        reasoning += Str(Member(b, "thinking"));
      } else if (type == "tool_use") {
        const Value* input = Member(b, "input");
        Value fn(kObjectType);
        fn.AddMember("name", S(Str(Member(b, "name")), a), a);
        fn.AddMember("arguments", S(input ? Serialize(*input) : std::string("{}"), a), a);
        Value tc(kObjectType);
        tc.AddMember("id", S(Str(Member(b, "id")), a), a);
        tc.AddMember("type", "function", a);
        tc.AddMember("function", fn, a);
        tool_calls.PushBack(tc, a);
      }
    }
  }
  out.AddMember("id", S(ChatIdFromMessage(Str(Member(message, "id"))), a), a);
  out.AddMember("object", "chat.completion", a);
  out.AddMember("created", static_cast<int64_t>(std::time(nullptr)), a);
  out.AddMember("model", S(request_model, a), a);

  Value msg(kObjectType);
  msg.AddMember("role", "assistant", a);
  if (text.empty() && !tool_calls.Empty())
    msg.AddMember("content", Value(), a);
  else
    msg.AddMember("content", S(text, a), a);
  msg.AddMember("refusal", Value(), a);
  if (!reasoning.empty()) msg.AddMember("reasoning_content", S(reasoning, a), a);
  if (!tool_calls.Empty()) msg.AddMember("tool_calls", tool_calls, a);
  Value choice(kObjectType);
  choice.AddMember("index", 0, a);
  choice.AddMember("message", msg, a);
  choice.AddMember("logprobs", Value(), a);
  choice.AddMember("finish_reason",
                   Value(AnthropicStopToChat(Str(Member(message, "stop_reason"))), a), a);
  Value choices(kArrayType);
  choices.PushBack(choice, a);
  out.AddMember("choices", choices, a);

  pricing::Usage u;
  if (const Value* usage = Member(message, "usage"); usage && UsageFromAnthropic(*usage, &u)) {
    out.AddMember("usage", OpenAiUsageValue(u, /*cached_details=*/true, a), a);
  }
  return Serialize(out);
}

std::unique_ptr<StreamAdapter> MakeAnthropicToChatStream(std::string_view request_model,
                                                         bool include_usage) {
  return std::make_unique<AnthropicToChatStream>(request_model, include_usage);
}

Result<std::string> AnthropicRequestToChat(const rapidjson::Value& req, std::string_view model) {
  if (!req.IsObject()) return Status::InvalidArgument("request body must be a JSON object");
  const Value* msgs = Member(req, "messages");
  if (!msgs || !msgs->IsArray()) return Status::InvalidArgument("'messages' must be an array");

  Document out(kObjectType);
  Alloc& a = out.GetAllocator();
  out.AddMember("model", S(model, a), a);
  Value messages(kArrayType);
  if (const Value* sys = Member(req, "system"); sys && !sys->IsNull())
    TG_RETURN_IF_ERROR(AppendSystemMessage(*sys, &messages, a));
  for (const auto& m : msgs->GetArray()) {
    std::string_view role = Str(Member(m, "role"));
    const Value* content = Member(m, "content");
    if (role == "system") {
      // Claude Code sends system turns inside `messages` to models it does not take for
      // Claude; chat takes system messages anywhere, so each keeps its place.
      if (!content) return Status::InvalidArgument("a system message needs content");
      TG_RETURN_IF_ERROR(AppendSystemMessage(*content, &messages, a));
      continue;
    }
    if (role != "user" && role != "assistant")
      return Status::InvalidArgument("message role must be user, assistant or system");
    if (content && content->IsString()) {
      Value cm(kObjectType);
      cm.AddMember("role", S(role, a), a);
      cm.AddMember("content", Value(*content, a), a);
      messages.PushBack(cm, a);
    } else if (content && content->IsArray()) {
      if (role == "user")
        TG_RETURN_IF_ERROR(UserBlocksToMessages(*content, &messages, a));
      else
        TG_RETURN_IF_ERROR(AssistantBlocksToMessage(*content, &messages, a));
    } else {
      return Status::InvalidArgument("message content must be a string or an array of blocks");
    }
  }
  out.AddMember("messages", messages, a);

  if (const Value* tools = Member(req, "tools"); tools && tools->IsArray() && !tools->Empty()) {
    Value list(kArrayType);
    for (const auto& t : tools->GetArray()) {
      std::string_view type = Str(Member(t, "type"));
      // Server tools (web_search_*, bash_*, ...) run at Anthropic; there is no chat form.
      if (!type.empty() && type != "custom")
        return Status::InvalidArgument("tool type '" + std::string(type) +
                                       "' cannot be sent to an OpenAI-compatible model");
      Value fn(kObjectType);
      fn.AddMember("name", S(Str(Member(t, "name")), a), a);
      if (const Value* d = Member(t, "description"); d && d->IsString())
        fn.AddMember("description", Value(*d, a), a);
      if (const Value* s = Member(t, "input_schema"); s && s->IsObject())
        fn.AddMember("parameters", Value(*s, a), a);
      Value tool(kObjectType);
      tool.AddMember("type", "function", a);
      tool.AddMember("function", fn, a);
      list.PushBack(tool, a);
    }
    out.AddMember("tools", list, a);
    if (const Value* tc = Member(req, "tool_choice"); tc && tc->IsObject()) {
      std::string_view type = Str(Member(*tc, "type"));
      if (type == "auto" || type == "none") {
        out.AddMember("tool_choice", S(type, a), a);
      } else if (type == "any") {
        out.AddMember("tool_choice", "required", a);
      } else if (type == "tool") {
        Value fn(kObjectType);
        fn.AddMember("name", S(Str(Member(*tc, "name")), a), a);
        Value choice(kObjectType);
        choice.AddMember("type", "function", a);
        choice.AddMember("function", fn, a);
        out.AddMember("tool_choice", choice, a);
      } else {
        return Status::InvalidArgument("tool_choice.type must be auto, any, tool or none");
      }
      if (const Value* d = Member(*tc, "disable_parallel_tool_use");
          d && d->IsBool() && d->GetBool())
        out.AddMember("parallel_tool_calls", false, a);
    }
  }

  if (const Value* v = Member(req, "max_tokens"); v && v->IsInt64())
    out.AddMember("max_tokens", v->GetInt64(), a);  // understood by every compatible server
  if (const Value* t = Member(req, "temperature"); t && t->IsNumber())
    out.AddMember("temperature", t->GetDouble(), a);
  if (const Value* p = Member(req, "top_p"); p && p->IsNumber())
    out.AddMember("top_p", p->GetDouble(), a);
  if (const Value* ss = Member(req, "stop_sequences"); ss && ss->IsArray() && !ss->Empty())
    out.AddMember("stop", Value(*ss, a), a);
  if (const Value* meta = Member(req, "metadata")) {
    if (std::string_view user = Str(Member(*meta, "user_id")); !user.empty())
      out.AddMember("user", S(user, a), a);
  }
  if (const Value* s = Member(req, "stream"); s && s->IsBool() && s->GetBool()) {
    out.AddMember("stream", true, a);
    Value opts(kObjectType);
    opts.AddMember("include_usage", true, a);
    out.AddMember("stream_options", opts, a);
  }
  return Serialize(out);
}

Result<std::string> ChatResponseToAnthropic(const rapidjson::Value& completion,
                                            std::string_view request_model) {
  if (!completion.IsObject()) return Status::UpstreamError("chat response is not a JSON object");
  if (const Value* e = Member(completion, "error")) {
    return Status::UpstreamError("upstream error: " + std::string(Str(Member(*e, "message"))));
  }
  const Value* choices = Member(completion, "choices");
  if (!choices || !choices->IsArray() || choices->Empty())
    return Status::UpstreamError("chat response has no choices");
  const Value& choice = (*choices)[0];
  const Value* msg = Member(choice, "message");

  Document out(kObjectType);
  Alloc& a = out.GetAllocator();
  Value content(kArrayType);
  std::string text;
  if (const Value* c = msg ? Member(*msg, "content") : nullptr; c && c->IsString()) {
    text = Str(c);
  } else if (c && c->IsArray()) {
    for (const auto& p : c->GetArray()) text += Str(Member(p, "text"));
  }
  if (text.empty() && msg) text = Str(Member(*msg, "refusal"));
  if (!text.empty()) {
    Value block(kObjectType);
    block.AddMember("type", "text", a);
    block.AddMember("text", S(text, a), a);
    content.PushBack(block, a);
  }
  if (const Value* tcs = msg ? Member(*msg, "tool_calls") : nullptr; tcs && tcs->IsArray()) {
    for (const auto& tc : tcs->GetArray()) {
      const Value* fn = Member(tc, "function");
      std::string_view args = Str(fn ? Member(*fn, "arguments") : nullptr);
      Document input;
      const JsonParse input_json = ParseJson(input, args);
      // Anthropic's input must be an object; arguments cut off by max_tokens are not.
      if (!input_json.ok || !input.IsObject()) input.SetObject();
      Value block(kObjectType);
      block.AddMember("type", "tool_use", a);
      block.AddMember("id", S(AnthropicToolId(Str(Member(tc, "id"))), a), a);
      block.AddMember("name", S(Str(fn ? Member(*fn, "name") : nullptr), a), a);
      block.AddMember("input", Value(input, a), a);
      content.PushBack(block, a);
    }
  }
  out.AddMember("id", S(MessageIdFromChat(Str(Member(completion, "id"))), a), a);
  out.AddMember("type", "message", a);
  out.AddMember("role", "assistant", a);
  out.AddMember("model", S(request_model, a), a);
  out.AddMember("content", content, a);
  out.AddMember("stop_reason",
                Value(ChatFinishToAnthropic(Str(Member(choice, "finish_reason"))), a), a);
  out.AddMember("stop_sequence", Value(), a);
  pricing::Usage u;
  if (const Value* usage = Member(completion, "usage")) UsageFromOpenAi(*usage, &u);
  Value uo(kObjectType);
  uo.AddMember("input_tokens", u.input, a);
  uo.AddMember("cache_creation_input_tokens", 0, a);
  uo.AddMember("cache_read_input_tokens", u.cache_read, a);
  uo.AddMember("output_tokens", u.OutputTotal(), a);
  out.AddMember("usage", uo, a);
  return Serialize(out);
}

std::unique_ptr<StreamAdapter> MakeChatToAnthropicStream(std::string_view request_model) {
  return std::make_unique<ChatToAnthropicStream>(request_model);
}

}  // namespace tollgate::providers
