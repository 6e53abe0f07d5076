#include "gateway/errors.h"

#include "providers/error_bodies.h"

namespace tollgate::gateway {

namespace {

// google.rpc.Code names for the HTTP statuses tollgate answers with.
const char* GeminiStatus(int status) {
  switch (status) {
    case 400: return "INVALID_ARGUMENT";
    case 401: return "UNAUTHENTICATED";
    case 403: return "PERMISSION_DENIED";
    case 404: return "NOT_FOUND";
    case 405: return "UNIMPLEMENTED";
    case 413: return "INVALID_ARGUMENT";
    case 429: return "RESOURCE_EXHAUSTED";
    case 499: return "CANCELLED";
    case 502: return "UNAVAILABLE";
    case 503: return "UNAVAILABLE";
    case 504: return "DEADLINE_EXCEEDED";
    default: return "INTERNAL";
  }
}

}  // namespace

// Messages and params may echo client bytes (a path, a header): the writers
// keep the body valid UTF-8.
std::string ErrorBody(const ApiError& e) { return providers::OpenAiErrorBody(e.message, e.type, e.param, e.code); }

std::string ErrorBodyFor(providers::Api api, const ApiError& e) {
  // Gemini's envelope carries tollgate's code as its ErrorInfo reason.
  if (api == providers::Api::kGeminiGenerate)
    return providers::GeminiErrorBody(e.status, e.message, GeminiStatus(e.status), e.code);
  if (api != providers::Api::kAnthropicMessages) return ErrorBody(e);
  // Anthropic's error types: invalid_request_error, authentication_error,
  // permission_error, not_found_error, rate_limit_error, api_error, overloaded_error.
  const char* type = "api_error";
  switch (e.status) {
    case 400: case 413: type = "invalid_request_error"; break;
    case 401: type = "authentication_error"; break;
    case 403: type = "permission_error"; break;
    case 404: type = "not_found_error"; break;
    case 429: type = "rate_limit_error"; break;
    default: break;
  }
  return providers::AnthropicErrorBody(type, e.message, e.code);
}

ApiError InvalidJson(std::string message) {
  return {400, "invalid_request_error", "invalid_json", std::move(message), ""};
}
ApiError InvalidRequest(std::string message, std::string param) {
  return {400, "invalid_request_error", "invalid_request", std::move(message), std::move(param)};
}
ApiError ModelNotFound(std::string_view model, std::string_view available) {
  return {404, "invalid_request_error", "model_not_found",
          "The model '" + std::string(model) + "' does not exist on this gateway. Available models: " +
              std::string(available),
          "model"};
}
ApiError TooLarge(long long limit) {
  return {413, "invalid_request_error", "request_too_large",
          "Request body is larger than the gateway's limit of " + std::to_string(limit) +
              " bytes (server.max_body_bytes).",
          ""};
}
ApiError NotFoundPath(std::string_view path) {
  return {404, "invalid_request_error", "not_found", "No route for " + std::string(path), ""};
}
ApiError MethodNotAllowed(std::string_view method, std::string_view path) {
  return {405, "invalid_request_error", "method_not_allowed",
          "Method " + std::string(method) + " is not allowed on " + std::string(path), ""};
}
ApiError UpstreamUnreachable(std::string_view provider, std::string_view detail) {
  return {502, "upstream_error", "upstream_unreachable",
          "Provider '" + std::string(provider) + "' is unreachable: " + std::string(detail), ""};
}
ApiError UpstreamTimeout(std::string_view provider, std::string_view detail) {
  return {504, "upstream_error", "upstream_timeout",
          "Provider '" + std::string(provider) + "' timed out: " + std::string(detail), ""};
}
ApiError FromDenial(const governance::Denial& d) {
  ApiError e{d.status, d.type, d.code, d.message, ""};
  e.retry_after_s = d.retry_after_s;
  e.headers = d.headers;
  return e;
}

ApiError ProviderNotConfigured(std::string_view provider, std::string_view detail) {
  return {502, "upstream_error", "provider_not_configured",
          "Provider '" + std::string(provider) + "' is not usable: " + std::string(detail), ""};
}

ApiError ShuttingDown() {
  return {503, "api_error", "shutdown", "The gateway is shutting down; retry the request", ""};
}

}  // namespace tollgate::gateway
