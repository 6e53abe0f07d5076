// Response-cache keys and the request facts a cache needs (docs/cache.md):
// CacheKey hashes everything in a request body that can change the answer,
// in a canonical form, so that equivalent requests share one key.
// SingleTurnText / SemanticScopeKey split a single-turn request into the text
// a semantic matcher compares and a key for everything else.
// Stateless functions; thread-safe.
#pragma once

#include <rapidjson/document.h>

#include <optional>
#include <string>
#include <string_view>

namespace tollgate::cache {

// Body fields that never change the generated output and are left out of the
// key: stream, stream_options, user, metadata, store, service_tier,
// prompt_cache_key, safety_identifier, and model (passed separately as the
// served model). parallel_tool_calls is kept: it changes what a tool-calling
// model may answer.
bool IsKeyNeutralField(std::string_view name);

// Canonical JSON of `v`: objects with keys sorted bytewise, no whitespace,
// integral numbers as integers (1 == 1.0 == 1e0), other numbers with 17
// significant digits, strings re-escaped by one writer. When `top_level`,
// the key-neutral fields of the object are dropped.
std::string CanonicalJson(const rapidjson::Value& v, bool top_level = false);

// Lowercase hex SHA-256 over a versioned, length-prefixed record of the scope
// (a tenant boundary chosen by the gateway, e.g. a key or team id), the API
// ("chat" | "completions" | "messages" | "responses" | "embeddings" | "gemini"),
// the served model and CanonicalJson(body, top_level=true). Any body value works
// (a non-object body is hashed as is).
std::string CacheKey(std::string_view scope, std::string_view api, std::string_view model,
                     const rapidjson::Value& body);

// The text a semantic cache compares: the user's text of a single-turn
// request, i.e. exactly one user message plus at most one system (or
// developer) message ("chat"), one user message with a top-level system
// ("messages"), a prompt string or a one-string array ("completions"), or an
// input string / one user message ("responses"). Multi-part text content is
// joined with '\n'. nullopt for multi-turn requests, any non-text part
// (image, audio, tool result), assistant/tool messages, or another API.
std::optional<std::string> SingleTurnText(std::string_view api, const rapidjson::Value& body);

// A key for everything in a single-turn request except the user's text: the
// CacheKey of the body with that text blanked. Two requests may share a
// semantic match only if their SemanticScopeKeys are equal (same scope,
// model, system prompt, temperature, tools...). nullopt when SingleTurnText is.
std::optional<std::string> SemanticScopeKey(std::string_view scope, std::string_view api,
                                            std::string_view model, const rapidjson::Value& body);

// The request's sampling temperature: "temperature" (or Gemini's
// generationConfig.temperature) when numeric; otherwise the APIs' default, 1.0.
double RequestTemperature(const rapidjson::Value& body);

}  // namespace tollgate::cache
