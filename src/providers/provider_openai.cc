// OpenAI (api.openai.com) and every OpenAI-compatible server (vLLM, llama.cpp,
// Ollama, Together, Groq…): every OpenAI endpoint under base_url, a bearer key;
// an Anthropic or Gemini client is translated to chat.
#include "providers/provider.h"

namespace tollgate::providers {

namespace {

class OpenAiFamily : public ProviderType {
 public:
  OpenAiFamily(std::string_view name, bool official) : name_(name), official_(official) {}
  std::string_view name() const override { return name_; }
  // A local server usually runs without a key.
  bool requires_api_key() const override { return official_; }
  Api UpstreamApi(Api client) const override {
    if (client == Api::kAnthropicMessages || client == Api::kGeminiGenerate) return Api::kOpenAiChat;
    return client;
  }
  std::string Target(const config::ProviderConfig&, std::string_view base_path, Api api, std::string_view,
                     bool) const override {
    return std::string(base_path) + OpenAiPath(api);
  }
  void SetHeaders(const config::ProviderConfig& cfg, const http::Request& client,
                  http::RequestHead& up) const override {
    if (!cfg.api_key.empty()) up.set("authorization", "Bearer ", cfg.api_key);
    for (const char* h : {"openai-organization", "openai-project"})
      if (std::string_view v = ClientHeader(client, h); !v.empty()) up.set(h, v);
  }
  bool wants_max_completion_tokens() const override { return official_; }

 private:
  std::string_view name_;
  bool official_;
};

}  // namespace

const ProviderType& OpenAiProviderType() {
  static const OpenAiFamily t("openai", true);
  return t;
}

const ProviderType& OpenAiCompatibleProviderType() {
  static const OpenAiFamily t("openai-compatible", false);
  return t;
}

}  // namespace tollgate::providers
