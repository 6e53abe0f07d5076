#include "cache/cache_key.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "common/json.h"
#include "common/util.h"

namespace tollgate::cache {
namespace {

using Writer = JsonWriter;

std::string_view View(const rapidjson::Value& s) { return {s.GetString(), s.GetStringLength()}; }

void WriteNumber(const rapidjson::Value& v, Writer* w) {
  char buf[40];
  int n = 0;
  if (v.IsInt64()) {
    n = std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v.GetInt64()));
  } else if (v.IsUint64()) {
    n = std::snprintf(buf, sizeof buf, "%llu", static_cast<unsigned long long>(v.GetUint64()));
  } else {
    const double d = v.GetDouble();
    // Integral doubles print as integers so that 1, 1.0 and 1e0 agree.
    if (std::isfinite(d) && d == std::trunc(d) && std::fabs(d) < 9.0e18)
      n = std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(d));
    else
      n = std::snprintf(buf, sizeof buf, "%.17g", d);
  }
  w->RawValue(buf, static_cast<size_t>(n), rapidjson::kNumberType);
}

void WriteCanonical(const rapidjson::Value& v, bool top_level, Writer* w) {
  switch (v.GetType()) {
    case rapidjson::kNullType:
      w->Null();
      break;
    case rapidjson::kFalseType:
      w->Bool(false);
      break;
    case rapidjson::kTrueType:
      w->Bool(true);
      break;
    case rapidjson::kNumberType:
      WriteNumber(v, w);
      break;
    case rapidjson::kStringType:
      w->String(v.GetString(), v.GetStringLength());
      break;
    case rapidjson::kArrayType:
      w->StartArray();
      for (const auto& e : v.GetArray()) WriteCanonical(e, false, w);
      w->EndArray();
      break;
    case rapidjson::kObjectType: {
      std::vector<const rapidjson::Value::Member*> members;
      members.reserve(v.MemberCount());
      for (const auto& m : v.GetObject()) {
        if (top_level && IsKeyNeutralField(View(m.name))) continue;
        members.push_back(&m);
      }
      std::stable_sort(members.begin(), members.end(),
                       [](const auto* a, const auto* b) { return View(a->name) < View(b->name); });
      w->StartObject();
      for (const auto* m : members) {
        w->Key(m->name.GetString(), m->name.GetStringLength());
        WriteCanonical(m->value, false, w);
      }
      w->EndObject();
      break;
    }
  }
}

void AppendField(std::string* out, std::string_view f) {
  out->append(std::to_string(f.size())).append(":").append(f).append("\n");
}

// Text of one message content: a string, or an array of text parts only.
std::optional<std::string> ContentText(const rapidjson::Value& content) {
  if (content.IsString()) return std::string(View(content));
  if (!content.IsArray() || content.Empty()) return std::nullopt;
  std::string text;
  for (const auto& part : content.GetArray()) {
    if (!part.IsObject()) return std::nullopt;
    auto type = part.FindMember("type");
    auto t = part.FindMember("text");
    if (type == part.MemberEnd() || !type->value.IsString()) return std::nullopt;
    const std::string_view ty = View(type->value);
    if (ty != "text" && ty != "input_text") return std::nullopt;
    if (t == part.MemberEnd() || !t->value.IsString()) return std::nullopt;
    if (!text.empty()) text += '\n';
    text.append(View(t->value));
  }
  return text;
}

std::string_view RoleOf(const rapidjson::Value& msg) {
  if (!msg.IsObject()) return {};
  auto r = msg.FindMember("role");
  return r != msg.MemberEnd() && r->value.IsString() ? View(r->value) : std::string_view();
}

// The value holding the user's text of a single-turn request (a string or a
// content array), or nullptr when the request is not single-turn text.
const rapidjson::Value* UserTextValue(std::string_view api, const rapidjson::Value& body) {
  if (!body.IsObject()) return nullptr;
  if (api == "chat" || api == "messages") {
    auto msgs = body.FindMember("messages");
    if (msgs == body.MemberEnd() || !msgs->value.IsArray()) return nullptr;
    const rapidjson::Value* user = nullptr;
    int system = 0;
    for (const auto& m : msgs->value.GetArray()) {
      const std::string_view role = RoleOf(m);
      if (role == "user" && !user) {
        user = &m;
      } else if (api == "chat" && (role == "system" || role == "developer") && system == 0) {
        auto c = m.FindMember("content");
        if (c == m.MemberEnd() || !ContentText(c->value)) return nullptr;
        ++system;
      } else {
        return nullptr;  // a second user turn, an assistant/tool turn, or something unknown
      }
    }
    if (!user) return nullptr;
    auto c = user->FindMember("content");
    if (c == user->MemberEnd() || !ContentText(c->value)) return nullptr;
    return &c->value;
  }
  if (api == "completions") {
    auto p = body.FindMember("prompt");
    if (p == body.MemberEnd()) return nullptr;
    if (p->value.IsString()) return &p->value;
    if (p->value.IsArray() && p->value.Size() == 1 && p->value[0].IsString()) return &p->value[0];
    return nullptr;
  }
  if (api == "responses") {
    auto in = body.FindMember("input");
    if (in == body.MemberEnd()) return nullptr;
    if (in->value.IsString()) return &in->value;
    if (!in->value.IsArray() || in->value.Size() != 1) return nullptr;
    const rapidjson::Value& m = in->value[0];
    if (RoleOf(m) != "user") return nullptr;
    auto c = m.FindMember("content");
    if (c == m.MemberEnd() || !ContentText(c->value)) return nullptr;
    return &c->value;
  }
  return nullptr;
}

}  // namespace

bool IsKeyNeutralField(std::string_view name) {
  static constexpr std::string_view kNeutral[] = {
      "stream",           "stream_options",    "user", "metadata", "store", "service_tier",
      "prompt_cache_key", "safety_identifier", "model"};
  return std::find(std::begin(kNeutral), std::end(kNeutral), name) != std::end(kNeutral);
}

std::string CanonicalJson(const rapidjson::Value& v, bool top_level) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  WriteCanonical(v, top_level, &w);
  return std::string(sb.GetString(), sb.GetSize());
}

std::string CacheKey(std::string_view scope, std::string_view api, std::string_view model,
                     const rapidjson::Value& body) {
  // Length-prefixed fields: no choice of scope/model can collide with another.
  std::string rec = "tollgate-cache-key-v1\n";
  AppendField(&rec, scope);
  AppendField(&rec, api);
  AppendField(&rec, model);
  AppendField(&rec, CanonicalJson(body, /*top_level=*/true));
  return Sha256Hex(rec);
}

std::optional<std::string> SingleTurnText(std::string_view api, const rapidjson::Value& body) {
  const rapidjson::Value* v = UserTextValue(api, body);
  if (!v) return std::nullopt;
  return ContentText(*v);
}

std::optional<std::string> SemanticScopeKey(std::string_view scope, std::string_view api,
                                            std::string_view model, const rapidjson::Value& body) {
  if (!UserTextValue(api, body)) return std::nullopt;
  rapidjson::Document copy;
  copy.CopyFrom(body, copy.GetAllocator());
  // The copy has the same shape, so the same walk finds the same slot in it.
  auto* slot = const_cast<rapidjson::Value*>(UserTextValue(api, copy));
  if (!slot) return std::nullopt;
  slot->SetString("", 0);
  std::string s = "semantic\n";
  s.append(scope);
  return CacheKey(s, api, model, copy);
}

double RequestTemperature(const rapidjson::Value& body) {
  if (!body.IsObject()) return 1.0;
  auto t = body.FindMember("temperature");
  if (t != body.MemberEnd() && t->value.IsNumber()) return t->value.GetDouble();
  auto g = body.FindMember("generationConfig");
  if (g != body.MemberEnd() && g->value.IsObject()) {
    auto gt = g->value.FindMember("temperature");
    if (gt != g->value.MemberEnd() && gt->value.IsNumber()) return gt->value.GetDouble();
  }
  return 1.0;
}

}  // namespace tollgate::cache
