// Google's Gemini API: the model in the path (:generateContent, or
// :streamGenerateContent?alt=sse), the key in x-goog-api-key.
#include "providers/provider.h"

namespace tollgate::providers {

namespace {

class Gemini final : public ProviderType {
 public:
  std::string_view name() const override { return "gemini"; }
  Api UpstreamApi(Api) const override { return Api::kGeminiGenerate; }
  std::string Target(const config::ProviderConfig&, std::string_view base_path, Api, std::string_view model,
                     bool stream) const override {
    return std::string(base_path)
        .append("/models/")
        .append(model)
        .append(stream ? ":streamGenerateContent?alt=sse" : ":generateContent");
  }
  void SetHeaders(const config::ProviderConfig& cfg, const http::Request&, http::RequestHead& up) const override {
    if (!cfg.api_key.empty()) up.set("x-goog-api-key", cfg.api_key);
  }
};

}  // namespace

const ProviderType& GeminiProviderType() {
  static const Gemini t;
  return t;
}

}  // namespace tollgate::providers
