// Anthropic's Messages API: POST {base}/messages with x-api-key and
// anthropic-version (the client's, else the configured one); an OpenAI chat
// client is translated.
#include "providers/provider.h"

namespace tollgate::providers {

namespace {

class Anthropic final : public ProviderType {
 public:
  std::string_view name() const override { return "anthropic"; }
  Api UpstreamApi(Api) const override { return Api::kAnthropicMessages; }
  std::string Target(const config::ProviderConfig&, std::string_view base_path, Api, std::string_view,
                     bool) const override {
    return std::string(base_path) + "/messages";
  }
  std::optional<std::string> CountTokensTarget(std::string_view base_path) const override {
    return std::string(base_path) + "/messages/count_tokens";
  }
  void SetHeaders(const config::ProviderConfig& cfg, const http::Request& client,
                  http::RequestHead& up) const override {
    if (!cfg.api_key.empty()) up.set("x-api-key", cfg.api_key);
    const std::string_view version = ClientHeader(client, "anthropic-version");
    up.set("anthropic-version", version.empty() ? std::string_view(cfg.api_version) : version);
    if (std::string_view beta = ClientHeader(client, "anthropic-beta"); !beta.empty()) up.set("anthropic-beta", beta);
  }
};

}  // namespace

const ProviderType& AnthropicProviderType() {
  static const Anthropic t;
  return t;
}

}  // namespace tollgate::providers
