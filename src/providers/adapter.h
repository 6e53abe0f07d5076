// Wire-format adapters: everything the gateway needs to speak one client API
// to one provider API. A request body is translated once before forwarding; a
// whole response is translated (and metered) once; a streamed response goes
// through a per-request StreamAdapter event by event, so nothing is buffered
// beyond one SSE event. Passthrough adapters forward bytes unchanged and only
// meter. All functions are stateless and thread-safe; a StreamAdapter belongs
// to one request.
#pragma once

#include <rapidjson/document.h>

#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"
#include "pricing/catalog.h"

namespace tollgate::providers {

// The API a client speaks (by endpoint) or a provider serves (by type).
enum class Api {
  kOpenAiChat,         // POST /v1/chat/completions
  kOpenAiCompletions,  // POST /v1/completions
  kOpenAiEmbeddings,   // POST /v1/embeddings
  kOpenAiResponses,    // POST /v1/responses
  kAnthropicMessages,  // POST /v1/messages
  kGeminiGenerate,     // POST /v1beta/models/{model}:generateContent / :streamGenerateContent
};

// What metering learned from a response.
struct Meter {
  pricing::Usage usage;
  bool have_usage = false;   // the provider reported usage
  size_t text_chars = 0;     // generated text seen (for estimates when no usage comes)
  std::string model;         // model the provider says answered
  bool complete = false;     // the stream reached its terminal event
  bool upstream_error = false;  // the provider sent an error event/body
  // The usage is a provisional count, not the provider's closing one (Anthropic's
  // message_start says output_tokens: 1 until message_delta says the real number):
  // the gateway bills at least what the text received implies.
  bool usage_provisional = false;
};

// Usage extraction from each provider's usage object, into disjoint classes.
// Each returns false (and the gateway estimates instead) when the object is
// not an object or any count in it is implausible: negative, fractional,
// larger than kMaxTokenCount, or not a number (common/json.h, TokenCount).
// OpenAI chat/completions/embeddings: see openai_wire.h (UsageFromOpenAi).
// Anthropic: input_tokens, cache_read_input_tokens and cache_creation_input_tokens are
// already disjoint; cache_creation.{ephemeral_5m_input_tokens, ephemeral_1h_input_tokens}
// split the writes by TTL (all 5m when absent). Thinking is inside output_tokens.
bool UsageFromAnthropic(const rapidjson::Value& usage, pricing::Usage* out);
// OpenAI Responses: input_tokens includes input_tokens_details.cached_tokens;
// output_tokens includes output_tokens_details.reasoning_tokens.
bool UsageFromResponses(const rapidjson::Value& usage, pricing::Usage* out);
// Gemini usageMetadata: promptTokenCount includes cachedContentTokenCount;
// candidatesTokenCount is output; thoughtsTokenCount is reasoning, apart from candidates.
bool UsageFromGemini(const rapidjson::Value& usage_metadata, pricing::Usage* out);

// Meters a whole (non-streamed) response body of `api`.
Meter MeterResponse(Api api, const rapidjson::Value& body);

class StreamAdapter {
 public:
  virtual ~StreamAdapter() = default;
  // One complete upstream SSE event: its lines joined by '\n', without the
  // blank separator line. Appends to *out the complete SSE events (each ending
  // in "\n\n") that the client should receive now; may append nothing.
  virtual void OnEvent(std::string_view event, std::string* out) = 0;
  // The upstream stream ended cleanly: append the client's closing events
  // (e.g. "data: [DONE]\n\n" for OpenAI chat). Called at most once.
  virtual void Finish(std::string* out) = 0;
  // The upstream broke or timed out: append an error event in the client's
  // dialect. Called at most once, instead of Finish.
  virtual void Fail(std::string_view message, std::string* out) = 0;
  const Meter& meter() const { return meter_; }

 protected:
  Meter meter_;
};

// Passthrough meters (client API == provider API).
// OpenAI chat/completions: forwards every event except "[DONE]" (re-sent by
// Finish) and, when `strip_usage_chunk`, the usage-only chunk tollgate asked for.
std::unique_ptr<StreamAdapter> MakeOpenAiPassthrough(bool strip_usage_chunk);
// Anthropic Messages: forwards every event byte for byte; meters message_start
// and message_delta usage. Finish/Fail add nothing / an "event: error".
std::unique_ptr<StreamAdapter> MakeAnthropicPassthrough();
// OpenAI Responses: forwards every event; meters response.completed's usage.
std::unique_ptr<StreamAdapter> MakeResponsesPassthrough();
// Gemini streamGenerateContent?alt=sse: forwards every event; meters the last usageMetadata.
std::unique_ptr<StreamAdapter> MakeGeminiPassthrough();

// Translation: an OpenAI chat client served by an Anthropic model.
// `default_max_tokens` fills Anthropic's required max_tokens when the client set none.
Result<std::string> ChatRequestToAnthropic(const rapidjson::Value& chat, std::string_view model,
                                           int64_t default_max_tokens);
// Converts an Anthropic message into a chat.completion body (usage included).
Result<std::string> AnthropicResponseToChat(const rapidjson::Value& message, std::string_view request_model);
// Converts Anthropic SSE events into chat.completion.chunk events; the usage
// chunk is emitted only when `include_usage` (the client asked for it).
std::unique_ptr<StreamAdapter> MakeAnthropicToChatStream(std::string_view request_model, bool include_usage);

// Translation: an Anthropic Messages client served by an OpenAI(-compatible) model.
// Sets stream_options.include_usage when streaming.
Result<std::string> AnthropicRequestToChat(const rapidjson::Value& messages_req, std::string_view model);
// Converts a chat.completion body into an Anthropic message body.
Result<std::string> ChatResponseToAnthropic(const rapidjson::Value& completion, std::string_view request_model);
// Converts chat.completion.chunk events into Anthropic's event sequence
// (message_start, content_block_start/delta/stop, message_delta, message_stop),
// tool-call deltas included (as tool_use blocks with input_json_delta).
std::unique_ptr<StreamAdapter> MakeChatToAnthropicStream(std::string_view request_model);

}  // namespace tollgate::providers
