// The OpenAI wire format (chat completions, completions, embeddings), as spoken
// by OpenAI and every OpenAI-compatible server (vLLM, llama.cpp, Ollama...):
// usage extraction into tollgate's disjoint token classes, SSE chunk
// inspection, request rewriting, and token estimates for broken streams.
// Stateless functions; thread-safe.
#pragma once

#include <rapidjson/document.h>

#include <string>
#include <string_view>

#include "common/json.h"  // Serialize, which this header's callers use with it
#include "pricing/catalog.h"

namespace tollgate::providers {

// Converts an OpenAI "usage" object. cached_tokens is a subset of
// prompt_tokens and reasoning_tokens a subset of completion_tokens; both are
// split out so no token is counted twice. Returns false if `usage` is not an object.
bool UsageFromOpenAi(const rapidjson::Value& usage, pricing::Usage* out);

// What tollgate needs from one streamed chunk ("data: {...}" payload).
struct ChunkInfo {
  bool parsed = false;      // valid JSON object
  bool has_usage = false;   // carries a non-null usage object
  bool usage_only = false;  // "choices": [] with usage: the include_usage chunk
  bool is_error = false;    // an {"error": ...} event
  size_t text_chars = 0;    // characters of generated text (content, reasoning, tool arguments)
  pricing::Usage usage;
  std::string model;
};
ChunkInfo InspectChunk(std::string_view json);

// Characters of generated text in a complete (non-streamed) response body.
size_t ResponseTextChars(const rapidjson::Value& response);

// Estimated prompt tokens of a request body (about 4 characters a token plus
// a few tokens of framing per message), used only when no usage arrives.
int64_t EstimatePromptTokens(const rapidjson::Value& body);
// Estimated tokens for `chars` characters of generated text.
int64_t EstimateTokensFromChars(size_t chars);

// OpenAI's usage object for `u`, written as the "usage" member of the object
// `w` is in: {prompt_tokens, completion_tokens, total_tokens}, and with
// `cached_details` also prompt_tokens_details.cached_tokens (cache reads).
void WriteOpenAiUsage(JsonWriter& w, const pricing::Usage& u, bool cached_details = false);
// The same object as a DOM value (its memory from `alloc`), to add to a document.
rapidjson::Value OpenAiUsageValue(const pricing::Usage& u, bool cached_details,
                                  rapidjson::Document::AllocatorType& alloc);

// A whole chat completion (or legacy text completion) with one choice that
// stopped: {id, object, created, model, [system_fingerprint], choices, usage}.
struct CompletionBody {
  std::string_view id, model, text;
  bool chat = true;  // "chat.completion" with a message; else "text_completion" with text
  int64_t created = 0;  // Unix seconds
  const char* system_fingerprint = nullptr;  // omitted when null
  int64_t prompt_tokens = 0, completion_tokens = 0;
};
std::string WriteCompletionBody(const CompletionBody& b);

// Serialises `body` after setting "model" to `model` and, when
// `force_include_usage`, stream_options.include_usage = true. Modifies `body`.
std::string RewriteRequest(rapidjson::Document& body, std::string_view model, bool force_include_usage);

}  // namespace tollgate::providers
