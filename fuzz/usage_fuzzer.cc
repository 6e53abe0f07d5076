// libFuzzer target: usage extraction from an upstream's answer, as
// Gateway::RelayWhole meters a non-streamed response.
//
// Input: one control byte (the provider API whose answer this is), then the
// response body. It is parsed as the gateway parses it (ParseJson) and
// metered with MeterResponse for that API; the OpenAI chunk inspector (which
// reads the same usage objects in streams) and the text counter run on it
// too, and a chat or Anthropic answer is translated for a client of the other
// dialect, as RelayWhole does, and that body must parse again as JSON.

#include <rapidjson/document.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/json.h"
#include "fuzz_util.h"
#include "providers/adapter.h"
#include "providers/openai_wire.h"

namespace {

using tollgate::providers::Api;

constexpr Api kApis[] = {Api::kOpenAiChat,        Api::kOpenAiCompletions, Api::kOpenAiEmbeddings,
                         Api::kOpenAiResponses,   Api::kAnthropicMessages, Api::kGeminiGenerate};

void MustParse(const std::string& json) {
  rapidjson::Document d;
  d.Parse<rapidjson::kParseIterativeFlag>(json.data(), json.size());
  if (d.HasParseError() || !d.IsObject()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Api api = kApis[tollgate::fuzz::ControlByte(data, size, 0) % 6];
  const std::string body(tollgate::fuzz::Payload(data, size, 1));

  (void)tollgate::providers::InspectChunk(body);
  rapidjson::Document doc;
  if (!tollgate::ParseJson(doc, body).ok) return 0;
  const tollgate::providers::Meter meter = tollgate::providers::MeterResponse(api, doc);
  (void)meter;
  (void)tollgate::providers::ResponseTextChars(doc);
  if (api == Api::kAnthropicMessages) {
    auto chat = tollgate::providers::AnthropicResponseToChat(doc, "gpt-4o-mini");
    if (chat.ok()) MustParse(*chat);
  } else if (api == Api::kOpenAiChat) {
    auto message = tollgate::providers::ChatResponseToAnthropic(doc, "claude-sonnet-4-5");
    if (message.ok()) MustParse(*message);
  }
  return 0;
}
