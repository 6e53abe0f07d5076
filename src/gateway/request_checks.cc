#include "gateway/request_checks.h"

#include <string>

#include "common/json.h"

namespace tollgate::gateway {

namespace {

// OpenAI's names for JSON types in its "Invalid type" messages.
const char* TypeName(const rapidjson::Value& v) {
  if (v.IsNull()) return "null";
  if (v.IsBool()) return "a boolean";
  if (v.IsString()) return "a string";
  if (v.IsArray()) return "an array";
  if (v.IsObject()) return "an object";
  if (v.IsInt64() || v.IsUint64()) return "an integer";
  return "a decimal number";
}

ApiError InvalidType(const std::string& param, const char* expected, const rapidjson::Value& got) {
  ApiError e = InvalidRequest(
      "Invalid type for '" + param + "': expected " + expected + ", but got " + TypeName(got) + " instead.", param);
  e.code = "invalid_type";
  return e;
}

ApiError Missing(const std::string& param) {
  ApiError e = InvalidRequest("Missing required parameter: '" + param + "'.", param);
  e.code = "missing_required_parameter";
  return e;
}

// An integer >= `min` (null allowed: "not set").
std::optional<ApiError> CheckInteger(const rapidjson::Value& o, const char* key, int64_t min,
                                     const std::string& param_prefix = "") {
  const rapidjson::Value* v = Member(o, key);
  if (v == nullptr || v->IsNull()) return std::nullopt;
  const std::string param = param_prefix + key;
  if (!v->IsInt64()) return InvalidType(param, "an integer", *v);
  if (v->GetInt64() < min) {
    ApiError e = InvalidRequest("Invalid '" + param + "': integer below minimum value. Expected a value >= " +
                                    std::to_string(min) + ", but got " + std::to_string(v->GetInt64()) + " instead.",
                                param);
    e.code = "integer_below_min_value";
    return e;
  }
  return std::nullopt;
}

// A number in [min, max] (null allowed).
std::optional<ApiError> CheckNumber(const rapidjson::Value& o, const char* key, double min, double max) {
  const rapidjson::Value* v = Member(o, key);
  if (v == nullptr || v->IsNull()) return std::nullopt;
  if (!v->IsNumber()) return InvalidType(key, "a number", *v);
  const double d = v->GetDouble();
  if (d < min || d > max) {
    ApiError e = InvalidRequest("Invalid '" + std::string(key) + "': " + std::to_string(d) +
                                    " is outside the allowed range [" + std::to_string(min) + ", " +
                                    std::to_string(max) + "].",
                                key);
    e.code = "decimal_out_of_range";
    return e;
  }
  return std::nullopt;
}

enum class Shape { kString, kObject, kArray, kStringOrArray, kArrayOfObjects };

std::optional<ApiError> CheckShape(const rapidjson::Value& o, const char* key, Shape shape, bool required) {
  const rapidjson::Value* v = Member(o, key);
  if (v == nullptr || v->IsNull()) return required ? std::optional<ApiError>(Missing(key)) : std::nullopt;
  switch (shape) {
    case Shape::kString:
      if (!v->IsString()) return InvalidType(key, "a string", *v);
      break;
    case Shape::kObject:
      if (!v->IsObject()) return InvalidType(key, "an object", *v);
      break;
    case Shape::kArray:
      if (!v->IsArray()) return InvalidType(key, "an array", *v);
      break;
    case Shape::kStringOrArray:
      if (!v->IsString() && !v->IsArray()) return InvalidType(key, "a string or an array", *v);
      break;
    case Shape::kArrayOfObjects:
      if (!v->IsArray()) return InvalidType(key, "an array of objects", *v);
      for (rapidjson::SizeType i = 0; i < v->Size(); ++i)
        if (!(*v)[i].IsObject())
          return InvalidType(std::string(key) + "[" + std::to_string(i) + "]", "an object", (*v)[i]);
      break;
  }
  return std::nullopt;
}

}  // namespace

std::optional<ApiError> CheckRequestBody(providers::Api api, const rapidjson::Value& body) {
  using providers::Api;
  std::optional<ApiError> e;
  auto first = [&](std::optional<ApiError> r) {
    if (!e && r) e = std::move(r);
  };
  if (api == Api::kGeminiGenerate) {
    first(CheckShape(body, "contents", Shape::kArrayOfObjects, true));
    first(CheckShape(body, "generationConfig", Shape::kObject, false));
    if (const rapidjson::Value* g = Member(body, "generationConfig"); g && g->IsObject()) {
      first(CheckInteger(*g, "maxOutputTokens", 1, "generationConfig."));
      first(CheckNumber(*g, "temperature", 0, 2));
    }
    return e;
  }
  first(CheckShape(body, "user", Shape::kString, false));
  first(CheckShape(body, "metadata", Shape::kObject, false));
  first(CheckShape(body, "stream_options", Shape::kObject, false));
  switch (api) {
    case Api::kOpenAiChat:
      first(CheckShape(body, "messages", Shape::kArrayOfObjects, true));
      first(CheckInteger(body, "max_tokens", 1));
      first(CheckInteger(body, "max_completion_tokens", 1));
      first(CheckInteger(body, "n", 1));
      first(CheckNumber(body, "temperature", 0, 2));
      first(CheckShape(body, "tools", Shape::kArrayOfObjects, false));
      break;
    case Api::kOpenAiCompletions:
      first(CheckShape(body, "prompt", Shape::kStringOrArray, true));
      first(CheckInteger(body, "max_tokens", 0));
      first(CheckInteger(body, "n", 1));
      first(CheckNumber(body, "temperature", 0, 2));
      break;
    case Api::kOpenAiEmbeddings:
      first(CheckShape(body, "input", Shape::kStringOrArray, true));
      break;
    case Api::kOpenAiResponses:
      first(CheckShape(body, "input", Shape::kStringOrArray, false));
      first(CheckInteger(body, "max_output_tokens", 16));
      first(CheckNumber(body, "temperature", 0, 2));
      first(CheckShape(body, "tools", Shape::kArrayOfObjects, false));
      break;
    case Api::kAnthropicMessages:
      first(CheckShape(body, "messages", Shape::kArrayOfObjects, true));
      first(CheckInteger(body, "max_tokens", 1));
      first(CheckNumber(body, "temperature", 0, 1));
      first(CheckShape(body, "system", Shape::kStringOrArray, false));
      first(CheckShape(body, "tools", Shape::kArrayOfObjects, false));
      break;
    case Api::kGeminiGenerate:
      break;
  }
  return e;
}

std::optional<int64_t> ClientOutputCap(providers::Api api, const rapidjson::Value& body) {
  using providers::Api;
  auto integer = [](const rapidjson::Value& o, const char* key) -> std::optional<int64_t> {
    const rapidjson::Value* v = Member(o, key);
    if (v != nullptr && v->IsInt64()) return v->GetInt64();
    return std::nullopt;
  };
  switch (api) {
    case Api::kOpenAiChat:
      if (auto v = integer(body, "max_completion_tokens")) return v;
      return integer(body, "max_tokens");
    case Api::kOpenAiCompletions:
    case Api::kAnthropicMessages:
      return integer(body, "max_tokens");
    case Api::kOpenAiResponses:
      return integer(body, "max_output_tokens");
    case Api::kGeminiGenerate:
      if (const rapidjson::Value* g = Member(body, "generationConfig"); g && g->IsObject())
        return integer(*g, "maxOutputTokens");
      return std::nullopt;
    case Api::kOpenAiEmbeddings:
      return std::nullopt;
  }
  return std::nullopt;
}

void SetOutputCap(providers::Api api, rapidjson::Document& body, int64_t cap, bool prefer_max_completion_tokens) {
  using providers::Api;
  auto& alloc = body.GetAllocator();
  auto set = [&](rapidjson::Value& o, const char* key) {
    if (auto it = o.FindMember(key); it != o.MemberEnd()) it->value.SetInt64(cap);
    else o.AddMember(rapidjson::StringRef(key), rapidjson::Value(cap), alloc);
  };
  switch (api) {
    case Api::kOpenAiChat: {
      const rapidjson::Value* mct = Member(body, "max_completion_tokens");
      const rapidjson::Value* mt = Member(body, "max_tokens");
      const bool has_mct = mct != nullptr && !mct->IsNull();
      const bool has_mt = mt != nullptr && !mt->IsNull();
      if (has_mct || (!has_mt && prefer_max_completion_tokens)) {
        if (has_mt) set(body, "max_tokens");  // both set: lower both
        set(body, "max_completion_tokens");
      } else {
        set(body, "max_tokens");
      }
      return;
    }
    case Api::kOpenAiCompletions:
    case Api::kAnthropicMessages:
      set(body, "max_tokens");
      return;
    case Api::kOpenAiResponses:
      set(body, "max_output_tokens");
      return;
    case Api::kGeminiGenerate: {
      auto g = body.FindMember("generationConfig");
      if (g == body.MemberEnd() || !g->value.IsObject()) {
        body.RemoveMember("generationConfig");
        body.AddMember("generationConfig", rapidjson::Value(rapidjson::kObjectType), alloc);
        g = body.FindMember("generationConfig");
      }
      set(g->value, "maxOutputTokens");
      return;
    }
    case Api::kOpenAiEmbeddings:
      return;
  }
}

}  // namespace tollgate::gateway
