#include "common/json.h"

#include <rapidjson/error/en.h>

namespace tollgate {

namespace json_internal {

JsonParse Failure(rapidjson::ParseErrorCode code, size_t offset, bool too_deep) {
  JsonParse p;
  p.ok = false;
  p.offset = offset;
  // The only handler that stops the reader is the depth limit.
  p.message = too_deep ? "nesting deeper than " + std::to_string(kMaxJsonDepth) + " levels"
                       : rapidjson::GetParseError_En(code);
  return p;
}

}  // namespace json_internal

std::string JsonErrorMessage(const JsonParse& p) {
  return "at offset " + std::to_string(p.offset) + ": " + p.message;
}

}  // namespace tollgate
