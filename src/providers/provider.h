// One interface per provider type: the API it is spoken to in for each client
// API, the request target and headers (credentials, versions), and the output
// cap field it wants. Every type lives in its own file (provider_<type>.cc) and
// is registered by one line in provider.cc's table; the gateway asks the table,
// never the type's name. In-process types (sim, replay) have no upstream.
// Types are immutable and shared; every method is thread-safe.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.h"
#include "http/server.h"
#include "http/wire.h"
#include "providers/adapter.h"

namespace tollgate::providers {

// How a client API and a provider API meet: the same API (passthrough), a
// translation, or not at all.
enum class Bridge { kPassthrough, kChatToAnthropic, kAnthropicToChat, kUnsupported };
Bridge BridgeFor(Api client, Api provider);

class ProviderType {
 public:
  virtual ~ProviderType() = default;
  // The config's `type:` value.
  virtual std::string_view name() const = 0;
  // Answered in-process (sim, replay): no base_url, no connection, no key.
  virtual bool in_process() const { return false; }
  // A call without a configured api_key is refused before it is made.
  virtual bool requires_api_key() const { return true; }
  // The API the provider is spoken to in when the client speaks `client`
  // (BridgeFor says whether the two meet).
  virtual Api UpstreamApi(Api client) const = 0;
  // The request target: `base_path` (base_url's path) + the API's path.
  virtual std::string Target(const config::ProviderConfig& cfg, std::string_view base_path, Api api,
                             std::string_view model, bool stream) const = 0;
  // Credentials and version headers; `client` is the client's request, whose
  // provider-specific headers (anthropic-version, openai-organization…) pass through.
  virtual void SetHeaders(const config::ProviderConfig& cfg, const http::Request& client,
                          http::RequestHead& up) const = 0;
  // The target of the provider's own token-counting endpoint, or nullopt when
  // it has none (tollgate then answers count_tokens with its estimate).
  virtual std::optional<std::string> CountTokensTarget(std::string_view base_path) const { return std::nullopt; }
  // Chat's output cap field: max_completion_tokens (OpenAI's own API, whose
  // reasoning models refuse max_tokens) or max_tokens (everyone else).
  virtual bool wants_max_completion_tokens() const { return false; }
};

// The registered type named `name`, or nullptr.
const ProviderType* FindProviderType(std::string_view name);

// The stream adapter between a client API and the provider API it is served by.
// `inject_usage`: tollgate asked an OpenAI stream for usage the client did not.
std::unique_ptr<StreamAdapter> MakeStreamAdapter(Bridge bridge, Api provider_api, std::string_view request_model,
                                                 bool client_wants_usage, bool inject_usage);

// Shared by the OpenAI-family types: the path of an OpenAI API ("/chat/completions"…).
const char* OpenAiPath(Api api);
// The value of a client header, or empty.
std::string_view ClientHeader(const http::Request& client, std::string_view name);

}  // namespace tollgate::providers
