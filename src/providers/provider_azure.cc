// Azure OpenAI: OpenAI's endpoints under /deployments/{deployment} with an
// api-version query parameter and an api-key header.
#include "providers/provider.h"

namespace tollgate::providers {

namespace {

class Azure final : public ProviderType {
 public:
  std::string_view name() const override { return "azure"; }
  Api UpstreamApi(Api client) const override {
    if (client == Api::kAnthropicMessages || client == Api::kGeminiGenerate) return Api::kOpenAiChat;
    return client;
  }
  std::string Target(const config::ProviderConfig& cfg, std::string_view base_path, Api api, std::string_view model,
                     bool) const override {
    std::string t(base_path);
    // Azure's Responses API has no deployment segment: the deployment is the body's model.
    if (api != Api::kOpenAiResponses) t.append("/deployments/").append(model);
    return t.append(OpenAiPath(api)).append("?api-version=").append(cfg.api_version);
  }
  void SetHeaders(const config::ProviderConfig& cfg, const http::Request&, http::RequestHead& up) const override {
    if (!cfg.api_key.empty()) up.set("api-key", cfg.api_key);
  }
  bool wants_max_completion_tokens() const override { return true; }
};

}  // namespace

const ProviderType& AzureProviderType() {
  static const Azure t;
  return t;
}

}  // namespace tollgate::providers
