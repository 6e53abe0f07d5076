// The one place where failures become OpenAI-shaped HTTP errors:
// {"error":{"message","type","param","code"}}.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "governance/governor.h"
#include "providers/adapter.h"

namespace tollgate::gateway {

struct ApiError {
  int status = 500;
  std::string type;   // invalid_request_error | api_error | upstream_error ...
  std::string code;   // machine-readable; also the ledger's error_class
  std::string message;
  std::string param;  // empty -> null
  int retry_after_s = -1;  // >= 0: sent as Retry-After
  std::vector<std::pair<std::string, std::string>> headers;  // extra response headers
};

// Serialises `e` as an OpenAI error body.
std::string ErrorBody(const ApiError& e);
// Serialises `e` in the dialect of the client's API: Anthropic's
// {"type":"error","error":{"type","message"}} for /v1/messages, Gemini's
// {"error":{"code","message","status"}} for generateContent, OpenAI's otherwise.
// Every body is valid UTF-8, whatever bytes the message echoes.
std::string ErrorBodyFor(providers::Api api, const ApiError& e);

ApiError InvalidJson(std::string message);
ApiError InvalidRequest(std::string message, std::string param);
ApiError ModelNotFound(std::string_view model, std::string_view available);
ApiError TooLarge(long long limit);
ApiError NotFoundPath(std::string_view path);
ApiError MethodNotAllowed(std::string_view method, std::string_view path);
ApiError UpstreamUnreachable(std::string_view provider, std::string_view detail);
ApiError UpstreamTimeout(std::string_view provider, std::string_view detail);
ApiError FromDenial(const governance::Denial& d);
ApiError ProviderNotConfigured(std::string_view provider, std::string_view detail);
// 503: the gateway is shutting down and cut the request (code "shutdown").
ApiError ShuttingDown();

}  // namespace tollgate::gateway
