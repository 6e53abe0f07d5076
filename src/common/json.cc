#include "common/json.h"

#include <rapidjson/error/en.h>

namespace tollgate {

namespace json_internal {

JsonParse Failure(rapidjson::ParseErrorCode code, size_t offset, bool too_deep) {
  JsonParse p;
  p.ok = false;
  p.offset = offset;
  p.message = too_deep ? "nesting deeper than " + std::to_string(kMaxJsonDepth) + " levels"
                       : rapidjson::GetParseError_En(code);
  return p;
}

}  // namespace json_internal

std::optional<int64_t> TokenCount(const rapidjson::Value* v) {
  if (v == nullptr || v->IsNull()) return 0;
  if (v->IsInt64()) {
    const int64_t n = v->GetInt64();
    if (n >= 0 && n <= kMaxTokenCount) return n;
    return std::nullopt;
  }
  if (v->IsDouble()) {
    const double d = v->GetDouble();  // compared as a double: no cast of an out-of-range value
    if (d >= 0 && d <= static_cast<double>(kMaxTokenCount) && d == static_cast<double>(static_cast<int64_t>(d)))
      return static_cast<int64_t>(d);
  }
  return std::nullopt;
}

const rapidjson::Value* Member(const rapidjson::Value& obj, const char* key) {
  if (!obj.IsObject()) return nullptr;
  auto it = obj.FindMember(key);
  return it == obj.MemberEnd() ? nullptr : &it->value;
}

std::string_view Str(const rapidjson::Value* v) {
  return v && v->IsString() ? std::string_view(v->GetString(), v->GetStringLength()) : std::string_view();
}

size_t StrLen(const rapidjson::Value* v) { return v && v->IsString() ? v->GetStringLength() : 0; }

void WriteString(JsonWriter& w, std::string_view s) {
  w.String(s.empty() ? "" : s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

std::string Serialize(const rapidjson::Value& v) {
  return WriteJson([&](JsonWriter& w) { v.Accept(w); });
}

std::string WriteJson(const std::function<void(JsonWriter&)>& write) {
  rapidjson::StringBuffer sb;
  JsonWriter w(sb);
  write(w);
  return std::string(sb.GetString(), sb.GetSize());
}

std::string JsonErrorMessage(const JsonParse& p) {
  return "at offset " + std::to_string(p.offset) + ": " + p.message;
}

}  // namespace tollgate
