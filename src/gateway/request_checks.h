// What tollgate checks in a client's request body before acting on it, and
// the output cap it reads and writes. The checks follow the providers' own
// validation for the fields tollgate reads (types and minimums), so a request
// the provider would refuse with a 400 gets the same 400 here, before any
// budget is reserved or any upstream called. Stateless; thread-safe.
#pragma once

#include <rapidjson/document.h>

#include <cstdint>
#include <optional>

#include "gateway/errors.h"
#include "providers/adapter.h"

namespace tollgate::gateway {

// The first problem with `body` (a parsed JSON object) for the client's `api`,
// or nullopt when tollgate can act on it. `model` and `stream` are checked by
// the caller. The error is OpenAI's 400 shape: message, param and code
// (`invalid_type`, `integer_below_min_value`, `missing_required_parameter`).
std::optional<ApiError> CheckRequestBody(providers::Api api, const rapidjson::Value& body);

// The output-token cap the client set, in its API's field (chat:
// max_completion_tokens or max_tokens; completions and messages: max_tokens;
// responses: max_output_tokens; Gemini: generationConfig.maxOutputTokens), or
// nullopt when it set none. REQUIRES: CheckRequestBody passed.
std::optional<int64_t> ClientOutputCap(providers::Api api, const rapidjson::Value& body);

// Sets the output cap in the body of the client's `api` (creating the field,
// or Gemini's generationConfig, when absent). For chat, an existing
// max_completion_tokens / max_tokens field is kept; otherwise
// `prefer_max_completion_tokens` picks OpenAI's current field over the older
// one that every OpenAI-compatible server understands. Embeddings: no-op.
void SetOutputCap(providers::Api api, rapidjson::Document& body, int64_t cap, bool prefer_max_completion_tokens);

}  // namespace tollgate::gateway
