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

std::string JsonErrorMessage(const JsonParse& p) {
  return "at offset " + std::to_string(p.offset) + ": " + p.message;
}

}  // namespace tollgate
