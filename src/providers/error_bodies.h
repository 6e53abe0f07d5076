// The error envelope of each client dialect, written in one place: the
// gateway's error answers (gateway/errors.h) and the error events that stream
// adapters send when an upstream breaks both come from here. Every string is
// made valid UTF-8 first (ToValidUtf8): messages may echo client or upstream
// bytes. Stateless; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace tollgate::providers {

// OpenAI: {"error":{"message","type","param","code"}}; an empty `param` is null.
std::string OpenAiErrorBody(std::string_view message, std::string_view type, std::string_view param,
                            std::string_view code);

// Anthropic: {"type":"error","error":{"type","message"[,"code"]}}; no "code"
// when `code` is nullopt (Anthropic's own bodies have none; tollgate's add it).
std::string AnthropicErrorBody(std::string_view type, std::string_view message,
                               std::optional<std::string_view> code = std::nullopt);

// Gemini (google.rpc.Status): {"error":{"code","message","status"[,"details"]}};
// with a `reason`, details holds one google.rpc.ErrorInfo of domain "tollgate".
std::string GeminiErrorBody(int code, std::string_view message, std::string_view status,
                            std::optional<std::string_view> reason = std::nullopt);

// The same bodies as server-sent events ("data: …\n\n"; Anthropic's with "event: error").
std::string OpenAiErrorEvent(std::string_view message, std::string_view type, std::string_view code);
std::string AnthropicErrorEvent(std::string_view type, std::string_view message);
std::string GeminiErrorEvent(int code, std::string_view message, std::string_view status);

}  // namespace tollgate::providers
