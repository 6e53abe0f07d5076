#include "providers/provider.h"

#include <array>

namespace tollgate::providers {

// Each type's single instance, defined in its own file.
const ProviderType& OpenAiProviderType();
const ProviderType& OpenAiCompatibleProviderType();
const ProviderType& AzureProviderType();
const ProviderType& AnthropicProviderType();
const ProviderType& GeminiProviderType();
const ProviderType& SimProviderType();
const ProviderType& ReplayProviderType();

const ProviderType* FindProviderType(std::string_view name) {
  // The registry: one line per provider type.
  static const std::array<const ProviderType*, 7> kTypes = {
      &OpenAiProviderType(), &OpenAiCompatibleProviderType(), &AzureProviderType(), &AnthropicProviderType(),
      &GeminiProviderType(), &SimProviderType(),              &ReplayProviderType(),
  };
  for (const ProviderType* t : kTypes)
    if (t->name() == name) return t;
  return nullptr;
}

Bridge BridgeFor(Api client, Api provider) {
  if (client == provider) return Bridge::kPassthrough;
  if (client == Api::kOpenAiChat && provider == Api::kAnthropicMessages) return Bridge::kChatToAnthropic;
  if (client == Api::kAnthropicMessages && provider == Api::kOpenAiChat) return Bridge::kAnthropicToChat;
  return Bridge::kUnsupported;
}

std::unique_ptr<StreamAdapter> MakeStreamAdapter(Bridge bridge, Api provider_api, std::string_view request_model,
                                                 bool client_wants_usage, bool inject_usage) {
  if (bridge == Bridge::kChatToAnthropic) return MakeAnthropicToChatStream(request_model, client_wants_usage);
  if (bridge == Bridge::kAnthropicToChat) return MakeChatToAnthropicStream(request_model);
  switch (provider_api) {
    case Api::kAnthropicMessages: return MakeAnthropicPassthrough();
    case Api::kOpenAiResponses: return MakeResponsesPassthrough();
    case Api::kGeminiGenerate: return MakeGeminiPassthrough();
    default: return MakeOpenAiPassthrough(inject_usage);
  }
}

const char* OpenAiPath(Api api) {
  switch (api) {
    case Api::kOpenAiCompletions: return "/completions";
    case Api::kOpenAiEmbeddings: return "/embeddings";
    case Api::kOpenAiResponses: return "/responses";
    default: return "/chat/completions";
  }
}

std::string_view ClientHeader(const http::Request& client, std::string_view name) {
  auto it = client.find(name);
  return it == client.end() ? std::string_view() : std::string_view(it->value().data(), it->value().size());
}

}  // namespace tollgate::providers
