// libFuzzer target: what tollgate does with a client's JSON body before it
// goes upstream.
//
// Input: one control byte (the client API, whether the request streams),
// then the body. The body is parsed as the gateway parses it (ParseJson: the
// nesting limit, then RapidJSON's iterative parser); a body the gateway would
// refuse with a 400 (bad JSON, too deep, not an object) stops here. The rest
// runs what the request path runs on the body: prompt text extraction and
// exact token counts (budget reservations), the prompt estimate, the cache key
// and its canonical JSON, the semantic cache's single-turn text and scope
// key, the temperature, the chat <-> Anthropic translation for the client's
// API, and the upstream rewrite. Every body tollgate builds for an upstream
// must parse again as JSON, and the canonical form must be a fixed point.

#include <rapidjson/document.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "cache/cache_key.h"
#include "common/json.h"
#include "fuzz_util.h"
#include "providers/adapter.h"
#include "providers/openai_wire.h"
#include "tokenizer/model_tokens.h"
#include "tokenizer/request_text.h"

namespace {

using tollgate::providers::Api;

constexpr Api kApis[] = {Api::kOpenAiChat,        Api::kOpenAiCompletions, Api::kOpenAiEmbeddings,
                         Api::kOpenAiResponses,   Api::kAnthropicMessages, Api::kGeminiGenerate};

// The cache's name of a client API (gateway.cc's CacheApiName), "" where the
// cache does not apply.
const char* CacheApi(Api api) {
  switch (api) {
    case Api::kOpenAiChat: return "chat";
    case Api::kOpenAiCompletions: return "completions";
    case Api::kAnthropicMessages: return "messages";
    case Api::kOpenAiResponses: return "responses";
    case Api::kOpenAiEmbeddings: return "embeddings";
    case Api::kGeminiGenerate: return "gemini";
  }
  return "";
}

// A body built for an upstream must be JSON (and an object).
void MustParse(const std::string& json) {
  rapidjson::Document d;
  d.Parse<rapidjson::kParseIterativeFlag>(json.data(), json.size());
  if (d.HasParseError() || !d.IsObject()) std::abort();
}

void CountTokens(std::string_view body) {
  auto text = tollgate::tokenizer::ExtractRequestText(body);
  if (!text.ok()) return;
  std::vector<std::string_view> parts(text->parts.begin(), text->parts.end());
  tollgate::tokenizer::ModelTokenCounter counter(std::move(parts), text->framing_tokens);
  for (const char* model : {"gpt-4o-mini", "gpt-4-turbo", "claude-sonnet-4-5"}) (void)counter.ForModel(model);
}

void CacheKeys(Api api, const rapidjson::Value& body) {
  const std::string canonical = tollgate::cache::CanonicalJson(body, true);
  // Full precision: the canonical form prints doubles with 17 digits, which
  // name the same double only when parsed exactly (RapidJSON's default parse
  // can be one unit in the last place off, e.g. for 9.9999999999999999e+306).
  rapidjson::Document again;
  again.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseFullPrecisionFlag>(canonical.data(),
                                                                                   canonical.size());
  if (again.HasParseError() || tollgate::cache::CanonicalJson(again, true) != canonical) std::abort();
  const char* name = CacheApi(api);
  (void)tollgate::cache::RequestTemperature(body);
  (void)tollgate::cache::CacheKey("scope", name, "gpt-4o-mini", body);
  auto text = tollgate::cache::SingleTurnText(name, body);
  auto scope = tollgate::cache::SemanticScopeKey("scope", name, "gpt-4o-mini", body);
  if (text.has_value() != scope.has_value()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const uint8_t control = tollgate::fuzz::ControlByte(data, size, 0);
  const Api api = kApis[control % 6];
  const bool inject_usage = (control & 0x40) != 0;  // a streamed OpenAI request without include_usage
  const std::string body(tollgate::fuzz::Payload(data, size, 1));

  rapidjson::Document doc;
  if (!tollgate::ParseJson(doc, body).ok || !doc.IsObject()) return 0;  // the gateway's 400

  if (api == Api::kOpenAiChat || api == Api::kOpenAiCompletions) CountTokens(body);
  (void)tollgate::providers::EstimatePromptTokens(doc);
  CacheKeys(api, doc);

  if (api == Api::kOpenAiChat) {
    auto t = tollgate::providers::ChatRequestToAnthropic(doc, "claude-sonnet-4-5", 4096);
    if (t.ok()) MustParse(*t);
  } else if (api == Api::kAnthropicMessages) {
    auto t = tollgate::providers::AnthropicRequestToChat(doc, "gpt-4o-mini");
    if (t.ok()) MustParse(*t);
  }
  // Last: it edits the document.
  MustParse(tollgate::providers::RewriteRequest(doc, "provider-model", inject_usage));
  return 0;
}
