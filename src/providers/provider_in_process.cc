// The in-process types: `sim` (simulated answers, offline) and `replay`
// (recorded answers from a routerbench-style dataset). They open no
// connection; the gateway's local stage answers for them (gateway/local.cc).
#include "providers/provider.h"

#include <vector>

namespace tollgate::providers {

namespace {

class InProcess final : public ProviderType {
 public:
  InProcess(std::string_view name, std::vector<Api> serves) : name_(name), serves_(std::move(serves)) {}
  std::string_view name() const override { return name_; }
  bool in_process() const override { return true; }
  bool requires_api_key() const override { return false; }
  // The client's own API where it is served, else one it is not (the gateway then
  // tries the next deployment).
  Api UpstreamApi(Api client) const override {
    for (Api a : serves_)
      if (a == client) return client;
    return client == Api::kOpenAiChat ? Api::kGeminiGenerate : Api::kOpenAiChat;
  }
  std::string Target(const config::ProviderConfig&, std::string_view, Api, std::string_view, bool) const override {
    return {};
  }
  void SetHeaders(const config::ProviderConfig&, const http::Request&, http::RequestHead&) const override {}

 private:
  std::string_view name_;
  std::vector<Api> serves_;
};

}  // namespace

const ProviderType& SimProviderType() {
  static const InProcess t("sim", {Api::kOpenAiChat, Api::kOpenAiCompletions, Api::kOpenAiEmbeddings,
                                   Api::kAnthropicMessages});
  return t;
}

const ProviderType& ReplayProviderType() {
  static const InProcess t("replay", {Api::kOpenAiChat, Api::kAnthropicMessages});
  return t;
}

}  // namespace tollgate::providers
