#include "tokenizer/request_text.h"

#include "common/json.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace tollgate::tokenizer {
namespace {

constexpr int64_t kTokensPerMessage = 3;
constexpr int64_t kTokensPerName = 1;
constexpr int64_t kReplyPrimer = 3;

void AddString(const rapidjson::Value& v, RequestText* out) {
  if (v.IsString() && v.GetStringLength() > 0) {
    out->parts.emplace_back(v.GetString(), v.GetStringLength());
  }
}

// A content value: a string, or an array of parts whose text is counted.
void AddContent(const rapidjson::Value& content, RequestText* out) {
  if (content.IsString()) {
    AddString(content, out);
    return;
  }
  if (!content.IsArray()) return;
  for (const auto& part : content.GetArray()) {
    if (part.IsString()) {
      AddString(part, out);
    } else if (part.IsObject()) {
      auto text = part.FindMember("text");
      if (text != part.MemberEnd()) AddString(text->value, out);
    }
  }
}

// "prompt" / "input": a string, strings, token ids, or Responses API items.
void AddInput(const rapidjson::Value& v, RequestText* out) {
  if (v.IsString()) {
    AddString(v, out);
    return;
  }
  if (!v.IsArray()) return;
  for (const auto& item : v.GetArray()) {
    if (item.IsString()) {
      AddString(item, out);
    } else if (item.IsInt64()) {
      out->framing_tokens += 1;  // an already-tokenized prompt
    } else if (item.IsArray()) {
      for (const auto& id : item.GetArray()) {
        if (id.IsInt64()) out->framing_tokens += 1;
      }
    } else if (item.IsObject()) {
      auto content = item.FindMember("content");
      if (content != item.MemberEnd()) {
        out->messages += 1;
        out->framing_tokens += kTokensPerMessage;
        AddContent(content->value, out);
      }
      for (const char* key : {"arguments", "output"}) {  // function calls and results
        auto m = item.FindMember(key);
        if (m != item.MemberEnd()) AddString(m->value, out);
      }
    }
  }
}

void AddMessage(const rapidjson::Value& msg, RequestText* out) {
  out->messages += 1;
  out->framing_tokens += kTokensPerMessage;
  if (!msg.IsObject()) return;
  for (const auto& m : msg.GetObject()) {
    std::string_view key(m.name.GetString(), m.name.GetStringLength());
    if (key == "content") {
      AddContent(m.value, out);
    } else if (key == "role") {
      AddString(m.value, out);
    } else if (key == "name") {
      AddString(m.value, out);
      out->framing_tokens += kTokensPerName;
    } else if (key == "tool_calls" && m.value.IsArray()) {
      for (const auto& call : m.value.GetArray()) {
        if (!call.IsObject()) continue;
        auto fn = call.FindMember("function");
        if (fn == call.MemberEnd() || !fn->value.IsObject()) continue;
        for (const char* k : {"name", "arguments"}) {
          auto f = fn->value.FindMember(k);
          if (f != fn->value.MemberEnd()) AddString(f->value, out);
        }
      }
    }
  }
}

}  // namespace

Result<RequestText> ExtractRequestText(std::string_view body) {
  rapidjson::Document doc;
  const JsonParse doc_json = ParseJson(doc, body);
  if (!doc_json.ok) {
    return Status::InvalidArgument(std::string("request body is not JSON: ") +
                                   doc_json.message +
                                   " at offset " + std::to_string(doc_json.offset));
  }
  if (!doc.IsObject()) return Status::InvalidArgument("request body is not a JSON object");
  RequestText out;
  auto model = doc.FindMember("model");
  if (model != doc.MemberEnd() && model->value.IsString()) out.model = model->value.GetString();

  bool found = false;
  for (const char* key : {"instructions", "system"}) {
    auto m = doc.FindMember(key);
    if (m != doc.MemberEnd()) AddString(m->value, &out);
  }
  auto messages = doc.FindMember("messages");
  if (messages != doc.MemberEnd() && messages->value.IsArray()) {
    found = true;
    for (const auto& msg : messages->value.GetArray()) AddMessage(msg, &out);
    out.framing_tokens += kReplyPrimer;
  }
  for (const char* key : {"prompt", "input"}) {
    auto m = doc.FindMember(key);
    if (m != doc.MemberEnd()) {
      found = true;
      AddInput(m->value, &out);
    }
  }
  for (const char* key : {"tools", "functions"}) {
    auto m = doc.FindMember(key);
    if (m != doc.MemberEnd() && m->value.IsArray()) {
      for (const auto& tool : m->value.GetArray()) out.parts.push_back(Serialize(tool));
    }
  }
  if (!found) {
    return Status::InvalidArgument("request body has no \"messages\", \"prompt\" or \"input\"");
  }
  return out;
}

}  // namespace tollgate::tokenizer
