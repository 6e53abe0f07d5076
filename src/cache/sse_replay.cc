#include "cache/sse_replay.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <map>
#include <optional>
#include <vector>

#include "common/json.h"
#include "providers/sse.h"

namespace tollgate::cache {
namespace {

using rapidjson::Value;
using Writer = JsonWriter;

std::string_view View(const Value& s) { return {s.GetString(), s.GetStringLength()}; }

std::string_view StringMember(const Value& obj, const char* name) { return Str(Member(obj, name)); }
int64_t IntMember(const Value& obj, const char* name, int64_t dflt) {
  const Value* v = Member(obj, name);
  return v && v->IsInt64() ? v->GetInt64() : dflt;
}

// Cuts text into 20-40 byte pieces, after a space when one falls in that
// window, else at 32 bytes moved forward to a UTF-8 character boundary.
std::vector<std::string_view> Pieces(std::string_view s) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (pos < s.size()) {
    if (s.size() - pos <= 40) {
      out.push_back(s.substr(pos));
      break;
    }
    size_t end = 0;
    for (size_t i = pos + 40; i > pos + 20; --i)
      if (s[i - 1] == ' ') {
        end = i;
        break;
      }
    if (end == 0) {
      end = pos + 32;
      while (end < s.size() && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) ++end;
    }
    out.push_back(s.substr(pos, end - pos));
    pos = end;
  }
  return out;
}

// One JSON event under construction.
struct Json {
  rapidjson::StringBuffer sb;
  Writer w{sb};
  void Key(const char* k) { w.Key(k); }
  void Str(std::string_view s) { w.String(s.data(), static_cast<rapidjson::SizeType>(s.size())); }
  void KStr(const char* k, std::string_view s) { Key(k), Str(s); }
  void KCopy(const char* k, const Value* v) {
    Key(k);
    if (v)
      v->Accept(w);
    else
      w.Null();
  }
  std::string_view Out() const { return {sb.GetString(), sb.GetSize()}; }
};

void EmitData(const Json& j, std::string* out) {
  out->append("data: ").append(j.Out()).append("\n\n");
}
void EmitEvent(std::string_view name, const Json& j, std::string* out) {
  out->append("event: ").append(name).append("\ndata: ").append(j.Out()).append("\n\n");
}

struct Header {  // the fields every OpenAI chunk repeats
  std::string id, model, object;
  int64_t created = 0;
  const Value* system_fingerprint = nullptr;
  void Write(Json* j) const {
    j->KStr("id", id);
    j->KStr("object", object);
    j->Key("created");
    j->w.Int64(created);
    j->KStr("model", model);
    if (system_fingerprint) j->KCopy("system_fingerprint", system_fingerprint);
  }
};

Header MakeHeader(const Value& whole, std::string_view new_id, const char* object) {
  Header h;
  h.id = new_id.empty() ? std::string(StringMember(whole, "id")) : std::string(new_id);
  h.model = StringMember(whole, "model");
  h.object = object;
  h.created = IntMember(whole, "created", 0);
  const Value* fp = Member(whole, "system_fingerprint");
  if (fp && fp->IsString()) h.system_fingerprint = fp;
  return h;
}

// A chat chunk for one choice; `delta` writes the delta object's members.
template <typename F>
void ChatChunk(const Header& h, int64_t index, F&& delta, const Value* finish, std::string* out) {
  Json j;
  j.w.StartObject();
  h.Write(&j);
  j.Key("choices");
  j.w.StartArray();
  j.w.StartObject();
  j.Key("index");
  j.w.Int64(index);
  j.Key("delta");
  j.w.StartObject();
  delta(j);
  j.w.EndObject();
  j.Key("logprobs");
  j.w.Null();
  j.KCopy("finish_reason", finish);
  j.w.EndObject();
  j.w.EndArray();
  j.w.EndObject();
  EmitData(j, out);
}

void UsageChunk(const Header& h, const Value& usage, std::string* out) {
  Json j;
  j.w.StartObject();
  h.Write(&j);
  j.Key("choices");
  j.w.StartArray();
  j.w.EndArray();
  j.KCopy("usage", &usage);
  j.w.EndObject();
  EmitData(j, out);
}

Status NotA(std::string_view api) {
  return Status::InvalidArgument("cache: not a whole " + std::string(api) + " response");
}

Result<std::string> ReplayChat(const Value& whole, bool include_usage, std::string_view new_id) {
  const Value* choices = Member(whole, "choices");
  if (!choices || !choices->IsArray()) return NotA("chat");
  const Header h = MakeHeader(whole, new_id, "chat.completion.chunk");
  std::string out;
  int64_t pos = 0;
  for (const Value& c : choices->GetArray()) {
    const int64_t index = IntMember(c, "index", pos++);
    const Value* msg = Member(c, "message");
    if (!msg || !msg->IsObject()) return NotA("chat");
    const Value* content = Member(*msg, "content");
    const bool text = content && content->IsString();
    ChatChunk(
        h, index,
        [&](Json& j) {
          j.KStr("role",
                 StringMember(*msg, "role").empty() ? "assistant" : StringMember(*msg, "role"));
          j.Key("content");
          if (text)
            j.Str("");
          else
            j.w.Null();
        },
        nullptr, &out);
    for (const char* field : {"reasoning_content", "content", "refusal"}) {
      const Value* v = Member(*msg, field);
      if (!v || !v->IsString()) continue;
      for (std::string_view piece : Pieces(View(*v)))
        ChatChunk(
            h, index, [&](Json& j) { j.KStr(field, piece); }, nullptr, &out);
    }
    if (const Value* tcs = Member(*msg, "tool_calls"); tcs && tcs->IsArray()) {
      int64_t k = 0;
      for (const Value& tc : tcs->GetArray()) {
        const Value* fn = Member(tc, "function");
        const std::string_view name = fn ? StringMember(*fn, "name") : std::string_view();
        const std::string_view args = fn ? StringMember(*fn, "arguments") : std::string_view();
        auto open = [&](Json& j) { j.Key("index"), j.w.Int64(k); };
        ChatChunk(
            h, index,
            [&](Json& j) {
              j.Key("tool_calls");
              j.w.StartArray();
              j.w.StartObject();
              open(j);
              j.KStr("id", StringMember(tc, "id"));
              j.KStr("type",
                     StringMember(tc, "type").empty() ? "function" : StringMember(tc, "type"));
              j.Key("function");
              j.w.StartObject();
              j.KStr("name", name);
              j.KStr("arguments", "");
              j.w.EndObject();
              j.w.EndObject();
              j.w.EndArray();
            },
            nullptr, &out);
        for (std::string_view piece : Pieces(args))
          ChatChunk(
              h, index,
              [&](Json& j) {
                j.Key("tool_calls");
                j.w.StartArray();
                j.w.StartObject();
                open(j);
                j.Key("function");
                j.w.StartObject();
                j.KStr("arguments", piece);
                j.w.EndObject();
                j.w.EndObject();
                j.w.EndArray();
              },
              nullptr, &out);
        ++k;
      }
    }
    static const Value kStop("stop");
    const Value* finish = Member(c, "finish_reason");
    ChatChunk(
        h, index, [](Json&) {}, finish && !finish->IsNull() ? finish : &kStop, &out);
  }
  const Value* usage = Member(whole, "usage");
  if (include_usage && usage && usage->IsObject()) UsageChunk(h, *usage, &out);
  out += "data: [DONE]\n\n";
  return out;
}

Result<std::string> ReplayCompletions(const Value& whole, bool include_usage,
                                      std::string_view new_id) {
  const Value* choices = Member(whole, "choices");
  if (!choices || !choices->IsArray()) return NotA("completions");
  const Header h = MakeHeader(whole, new_id, "text_completion");
  std::string out;
  auto chunk = [&](int64_t index, std::string_view text, const Value* finish) {
    Json j;
    j.w.StartObject();
    h.Write(&j);
    j.Key("choices");
    j.w.StartArray();
    j.w.StartObject();
    j.KStr("text", text);
    j.Key("index");
    j.w.Int64(index);
    j.Key("logprobs");
    j.w.Null();
    j.KCopy("finish_reason", finish);
    j.w.EndObject();
    j.w.EndArray();
    j.w.EndObject();
    EmitData(j, &out);
  };
  int64_t pos = 0;
  for (const Value& c : choices->GetArray()) {
    const int64_t index = IntMember(c, "index", pos++);
    for (std::string_view piece : Pieces(StringMember(c, "text"))) chunk(index, piece, nullptr);
    static const Value kStop("stop");
    const Value* finish = Member(c, "finish_reason");
    chunk(index, "", finish && !finish->IsNull() ? finish : &kStop);
  }
  const Value* usage = Member(whole, "usage");
  if (include_usage && usage && usage->IsObject()) UsageChunk(h, *usage, &out);
  out += "data: [DONE]\n\n";
  return out;
}

Result<std::string> ReplayMessages(const Value& whole, std::string_view new_id) {
  const Value* content = Member(whole, "content");
  if (!content || !content->IsArray()) return NotA("messages");
  const Value* usage = Member(whole, "usage");
  std::string out;
  {
    Json j;
    j.w.StartObject();
    j.KStr("type", "message_start");
    j.Key("message");
    j.w.StartObject();
    j.KStr("id", new_id.empty() ? StringMember(whole, "id") : new_id);
    j.KStr("type", "message");
    j.KStr("role", "assistant");
    j.KStr("model", StringMember(whole, "model"));
    j.Key("content");
    j.w.StartArray();
    j.w.EndArray();
    j.Key("stop_reason");
    j.w.Null();
    j.Key("stop_sequence");
    j.w.Null();
    // Input counts up front and output at message_delta, as Anthropic streams them.
    j.Key("usage");
    j.w.StartObject();
    if (usage && usage->IsObject())
      for (const auto& m : usage->GetObject()) {
        if (View(m.name) == "output_tokens") continue;
        j.w.Key(m.name.GetString(), m.name.GetStringLength());
        m.value.Accept(j.w);
      }
    j.Key("output_tokens");
    j.w.Int64(0);
    j.w.EndObject();
    j.w.EndObject();
    j.w.EndObject();
    EmitEvent("message_start", j, &out);
  }
  int64_t index = 0;
  for (const Value& block : content->GetArray()) {
    const std::string_view type = StringMember(block, "type");
    auto delta = [&](const char* dtype, const char* field, std::string_view piece) {
      Json j;
      j.w.StartObject();
      j.KStr("type", "content_block_delta");
      j.Key("index");
      j.w.Int64(index);
      j.Key("delta");
      j.w.StartObject();
      j.KStr("type", dtype);
      j.KStr(field, piece);
      j.w.EndObject();
      j.w.EndObject();
      EmitEvent("content_block_delta", j, &out);
    };
    Json start;
    start.w.StartObject();
    start.KStr("type", "content_block_start");
    start.Key("index");
    start.w.Int64(index);
    start.Key("content_block");
    std::string input_json;
    if (type == "text") {
      start.w.StartObject();
      start.KStr("type", "text");
      start.KStr("text", "");
      start.w.EndObject();
    } else if (type == "thinking") {
      start.w.StartObject();
      start.KStr("type", "thinking");
      start.KStr("thinking", "");
      start.w.EndObject();
    } else if (type == "tool_use" || type == "server_tool_use") {
      start.w.StartObject();
      start.KStr("type", type);
      start.KStr("id", StringMember(block, "id"));
      start.KStr("name", StringMember(block, "name"));
      start.Key("input");
      start.w.StartObject();
      start.w.EndObject();
      start.w.EndObject();
      if (const Value* in = Member(block, "input"); in && !(in->IsObject() && in->ObjectEmpty())) {
        rapidjson::StringBuffer sb;
        Writer w(sb);
        in->Accept(w);
        input_json.assign(sb.GetString(), sb.GetSize());
      }
    } else {
      block.Accept(start.w);  // redacted_thinking and unknown blocks travel whole
    }
    start.w.EndObject();
    EmitEvent("content_block_start", start, &out);
    if (type == "text") {
      for (std::string_view p : Pieces(StringMember(block, "text"))) delta("text_delta", "text", p);
    } else if (type == "thinking") {
      for (std::string_view p : Pieces(StringMember(block, "thinking")))
        delta("thinking_delta", "thinking", p);
      if (const Value* sig = Member(block, "signature"); sig && sig->IsString())
        delta("signature_delta", "signature", View(*sig));
    } else {
      for (std::string_view p : Pieces(input_json)) delta("input_json_delta", "partial_json", p);
    }
    Json stop;
    stop.w.StartObject();
    stop.KStr("type", "content_block_stop");
    stop.Key("index");
    stop.w.Int64(index);
    stop.w.EndObject();
    EmitEvent("content_block_stop", stop, &out);
    ++index;
  }
  {
    Json j;
    j.w.StartObject();
    j.KStr("type", "message_delta");
    j.Key("delta");
    j.w.StartObject();
    j.KCopy("stop_reason", Member(whole, "stop_reason"));
    j.KCopy("stop_sequence", Member(whole, "stop_sequence"));
    j.w.EndObject();
    j.Key("usage");
    j.w.StartObject();
    j.Key("output_tokens");
    j.w.Int64(usage ? IntMember(*usage, "output_tokens", 0) : 0);
    j.w.EndObject();
    j.w.EndObject();
    EmitEvent("message_delta", j, &out);
  }
  Json stop;
  stop.w.StartObject();
  stop.KStr("type", "message_stop");
  stop.w.EndObject();
  EmitEvent("message_stop", stop, &out);
  return out;
}

// Calls fn(data) for each event's data payload, in order.
template <typename F>
void ForEachData(std::string_view sse, F&& fn) {
  const std::string buf(sse);
  size_t pos = 0;
  std::string scratch;
  while (pos < buf.size()) {
    size_t sep = 0;
    size_t end = providers::FindSseEventEnd(buf, pos, &sep);
    std::string_view ev = end == std::string::npos ? std::string_view(buf).substr(pos)
                                                   : std::string_view(buf).substr(pos, end - pos);
    fn(providers::SseData(ev, &scratch));
    if (end == std::string::npos) break;
    pos = end + sep;
  }
}

Status Incomplete(std::string_view api, std::string_view why) {
  return Status::InvalidArgument("cache: " + std::string(api) + " stream " + std::string(why));
}

struct OpenAiTop {          // response-level fields of an OpenAI stream
  rapidjson::Document doc;  // owns the values below
  Value id, model, created, fingerprint, usage;
  bool done = false;
  void Take(const Value& chunk) {
    auto& a = doc.GetAllocator();
    auto take = [&](Value* dst, const char* name) {
      const Value* v = Member(chunk, name);
      if (dst->IsNull() && v && !v->IsNull()) dst->CopyFrom(*v, a);
    };
    take(&id, "id");
    take(&model, "model");
    take(&created, "created");
    take(&fingerprint, "system_fingerprint");
    if (const Value* u = Member(chunk, "usage"); u && u->IsObject()) usage.CopyFrom(*u, a);
  }
};

Result<std::string> AssembleChat(std::string_view sse, bool completions) {
  const char* api = completions ? "completions" : "chat";
  struct Tool {
    std::string id, type, name, args;
  };
  struct Choice {
    std::string role = "assistant";
    std::optional<std::string> content, reasoning, refusal, text;
    std::map<int64_t, Tool> tools;
    std::string finish;
    bool finished = false;
  };
  std::map<int64_t, Choice> choices;
  OpenAiTop top;
  Status bad = Status::Ok();
  ForEachData(sse, [&](std::string_view data) {
    if (!bad.ok() || data.empty()) return;
    if (data == "[DONE]") {
      top.done = true;
      return;
    }
    rapidjson::Document d;
    if (!providers::ParseJsonObject(data, &d)) {
      bad = Incomplete(api, "has a malformed event");
      return;
    }
    if (d.HasMember("error")) {
      bad = Incomplete(api, "carries an error event");
      return;
    }
    top.Take(d);
    const Value* cs = Member(d, "choices");
    if (!cs || !cs->IsArray()) return;
    for (const Value& c : cs->GetArray()) {
      Choice& ch = choices[IntMember(c, "index", 0)];
      if (const Value* f = Member(c, "finish_reason"); f && f->IsString()) {
        ch.finish = View(*f);
        ch.finished = true;
      }
      if (completions) {
        if (const Value* t = Member(c, "text"); t && t->IsString()) {
          if (!ch.text) ch.text.emplace();
          ch.text->append(View(*t));
        }
        continue;
      }
      const Value* delta = Member(c, "delta");
      if (!delta || !delta->IsObject()) continue;
      if (auto r = StringMember(*delta, "role"); !r.empty()) ch.role = r;
      auto append = [&](std::optional<std::string>* dst, const char* name) {
        const Value* v = Member(*delta, name);
        if (!v || !v->IsString()) return;
        if (!*dst) dst->emplace();
        (*dst)->append(View(*v));
      };
      append(&ch.content, "content");
      append(&ch.reasoning, "reasoning_content");
      append(&ch.refusal, "refusal");
      if (const Value* tcs = Member(*delta, "tool_calls"); tcs && tcs->IsArray()) {
        for (const Value& tc : tcs->GetArray()) {
          Tool& t = ch.tools[IntMember(tc, "index", 0)];
          if (auto id = StringMember(tc, "id"); !id.empty()) t.id = id;
          if (auto ty = StringMember(tc, "type"); !ty.empty()) t.type = ty;
          if (const Value* fn = Member(tc, "function"); fn && fn->IsObject()) {
            t.name += StringMember(*fn, "name");
            t.args += StringMember(*fn, "arguments");
          }
        }
      }
    }
  });
  TG_RETURN_IF_ERROR(bad);
  if (!top.done) return Incomplete(api, "ended without [DONE]");
  if (choices.empty()) return Incomplete(api, "has no choices");
  for (const auto& [i, c] : choices)
    if (!c.finished) return Incomplete(api, "has a choice without finish_reason");

  Json j;
  j.w.StartObject();
  j.KCopy("id", &top.id);
  j.KStr("object", completions ? "text_completion" : "chat.completion");
  j.KCopy("created", &top.created);
  j.KCopy("model", &top.model);
  j.Key("choices");
  j.w.StartArray();
  for (const auto& [index, c] : choices) {
    j.w.StartObject();
    j.Key("index");
    j.w.Int64(index);
    if (completions) {
      j.KStr("text", c.text ? *c.text : std::string());
    } else {
      j.Key("message");
      j.w.StartObject();
      j.KStr("role", c.role);
      j.Key("content");
      if (c.content)
        j.Str(*c.content);
      else
        j.w.Null();
      if (c.reasoning) j.KStr("reasoning_content", *c.reasoning);
      if (c.refusal) j.KStr("refusal", *c.refusal);
      if (!c.tools.empty()) {
        j.Key("tool_calls");
        j.w.StartArray();
        for (const auto& [k, t] : c.tools) {
          j.w.StartObject();
          j.KStr("id", t.id);
          j.KStr("type", t.type.empty() ? "function" : t.type);
          j.Key("function");
          j.w.StartObject();
          j.KStr("name", t.name);
          j.KStr("arguments", t.args);
          j.w.EndObject();
          j.w.EndObject();
        }
        j.w.EndArray();
      }
      j.w.EndObject();
    }
    j.Key("logprobs");
    j.w.Null();
    j.KStr("finish_reason", c.finish);
    j.w.EndObject();
  }
  j.w.EndArray();
  if (top.usage.IsObject()) j.KCopy("usage", &top.usage);
  if (!top.fingerprint.IsNull()) j.KCopy("system_fingerprint", &top.fingerprint);
  j.w.EndObject();
  return std::string(j.Out());
}

Result<std::string> AssembleMessages(std::string_view sse) {
  rapidjson::Document msg;  // the message_start message, completed in place
  auto& a = msg.GetAllocator();
  struct Block {
    Value value;
    std::string partial_json;
  };
  std::map<int64_t, Block> blocks;
  bool started = false, stopped = false;
  Status bad = Status::Ok();
  ForEachData(sse, [&](std::string_view data) {
    if (!bad.ok() || data.empty() || stopped) return;
    rapidjson::Document d;
    if (!providers::ParseJsonObject(data, &d)) {
      bad = Incomplete("messages", "has a malformed event");
      return;
    }
    const std::string_view type = StringMember(d, "type");
    if (type == "error") {
      bad = Incomplete("messages", "carries an error event");
    } else if (type == "message_start") {
      const Value* m = Member(d, "message");
      if (!m || !m->IsObject()) {
        bad = Incomplete("messages", "has a malformed message_start");
        return;
      }
      msg.CopyFrom(*m, a);
      started = true;
    } else if (!started) {
      if (type != "ping") bad = Incomplete("messages", "does not begin with message_start");
    } else if (type == "content_block_start") {
      const Value* b = Member(d, "content_block");
      if (!b || !b->IsObject()) return;
      Block& blk = blocks[IntMember(d, "index", 0)];
      blk.value.CopyFrom(*b, a);
    } else if (type == "content_block_delta") {
      auto it = blocks.find(IntMember(d, "index", 0));
      const Value* delta = Member(d, "delta");
      if (it == blocks.end() || !delta) {
        bad = Incomplete("messages", "has a delta for a block never started");
        return;
      }
      Value& v = it->second.value;
      const std::string_view dt = StringMember(*delta, "type");
      auto append = [&](const char* field, std::string_view piece) {
        std::string s(StringMember(v, field));
        s.append(piece);
        if (v.HasMember(field))
          v[field].SetString(s.data(), static_cast<rapidjson::SizeType>(s.size()), a);
        else
          v.AddMember(Value(field, a),
                      Value(s.data(), static_cast<rapidjson::SizeType>(s.size()), a), a);
      };
      if (dt == "text_delta")
        append("text", StringMember(*delta, "text"));
      else if (dt == "thinking_delta")
        append("thinking", StringMember(*delta, "thinking"));
      else if (dt == "signature_delta")
        append("signature", StringMember(*delta, "signature"));
      else if (dt == "input_json_delta")
        it->second.partial_json += StringMember(*delta, "partial_json");
    } else if (type == "content_block_stop") {
      auto it = blocks.find(IntMember(d, "index", 0));
      if (it == blocks.end() || it->second.partial_json.empty()) return;
      rapidjson::Document in;
      const JsonParse in_json = ParseJson(in, it->second.partial_json);
      if (!in_json.ok) {
        bad = Incomplete("messages", "has tool input that is not JSON");
        return;
      }
      Value& v = it->second.value;
      Value copy(in, a);
      if (v.HasMember("input"))
        v["input"] = copy;
      else
        v.AddMember("input", copy, a);
    } else if (type == "message_delta") {
      if (const Value* delta = Member(d, "delta"); delta && delta->IsObject())
        for (const auto& m : delta->GetObject()) {
          Value val(m.value, a);
          if (msg.HasMember(m.name))
            msg[m.name] = val;
          else
            msg.AddMember(Value(m.name, a), val, a);
        }
      if (const Value* u = Member(d, "usage"); u && u->IsObject()) {
        if (!msg.HasMember("usage") || !msg["usage"].IsObject()) {
          if (msg.HasMember("usage")) msg.RemoveMember("usage");
          msg.AddMember("usage", Value(rapidjson::kObjectType), a);
        }
        Value& mu = msg["usage"];
        for (const auto& m : u->GetObject()) {
          Value val(m.value, a);
          if (mu.HasMember(m.name))
            mu[m.name] = val;
          else
            mu.AddMember(Value(m.name, a), val, a);
        }
      }
    } else if (type == "message_stop") {
      stopped = true;
    }
  });
  TG_RETURN_IF_ERROR(bad);
  if (!started) return Incomplete("messages", "has no message_start");
  if (!stopped) return Incomplete("messages", "ended without message_stop");
  Value content(rapidjson::kArrayType);
  for (auto& [i, b] : blocks) content.PushBack(b.value, a);
  if (msg.HasMember("content"))
    msg["content"] = content;
  else
    msg.AddMember("content", content, a);
  return Serialize(msg);
}

}  // namespace

Result<std::string> ReplayAsSse(std::string_view api, std::string_view whole_json,
                                bool include_usage, std::string_view new_id) {
  rapidjson::Document d;
  const JsonParse d_json = ParseJson(d, whole_json);
  if (!d_json.ok || !d.IsObject()) return NotA(api);
  if (api == "chat") return ReplayChat(d, include_usage, new_id);
  if (api == "completions") return ReplayCompletions(d, include_usage, new_id);
  if (api == "messages") return ReplayMessages(d, new_id);
  return Status::InvalidArgument("cache: cannot replay api '" + std::string(api) + "' as a stream");
}

Result<std::string> AssembleFromSse(std::string_view api, std::string_view sse) {
  if (api == "chat") return AssembleChat(sse, false);
  if (api == "completions") return AssembleChat(sse, true);
  if (api == "messages") return AssembleMessages(sse);
  return Status::InvalidArgument("cache: cannot assemble api '" + std::string(api) +
                                 "' from a stream");
}

}  // namespace tollgate::cache
