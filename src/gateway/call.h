// The per-request context of the gateway pipeline (Gateway::Call) and the
// helpers its stages share. Internal to src/gateway: only the stage files
// include it. A Call lives in its connection's coroutine frame and is touched
// by that worker's thread only.
#pragma once

#include <rapidjson/document.h>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cache/cache_key.h"
#include "cache/sse_replay.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "gateway/errors.h"
#include "gateway/gateway.h"
#include "gateway/request_checks.h"
#include "providers/adapter.h"
#include "providers/openai_wire.h"
#include "providers/provider.h"
#include "providers/sim.h"
#include "providers/sse.h"
#include "tokenizer/model_tokens.h"
#include "tokenizer/request_text.h"

namespace tollgate::gateway {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;

// The value of header `name`, or empty.
std::string_view HeaderValue(const http::Request& req, std::string_view name);

// The client's key: a bearer token, else x-api-key (Anthropic), else x-goog-api-key (Gemini).
std::string_view BearerToken(const http::Request& req);

// True the first time a model is seen without a price (logged once, not per request).
bool FirstUnknownPrice(const std::string& model);

// Upstream response headers worth passing back to the client.
bool ForwardableUpstreamHeader(std::string_view name);

// Everything one request accumulates on its way through the pipeline.
struct Gateway::Call {
  http::Request& req;
  ledger::Row row;
  int64_t start_us = 0;
  // The parsed body's nodes live in a buffer inside the Call (itself in the
  // coroutine frame), so a typical request body costs no malloc; larger ones spill to the heap.
  char body_arena[4096];
  rapidjson::MemoryPoolAllocator<> body_alloc{body_arena, sizeof body_arena};
  rapidjson::Document body{&body_alloc};
  bool stream = false;
  bool client_wants_usage = false;
  bool is_chat = false;
  providers::Api api = providers::Api::kOpenAiChat;  // the API the client speaks
  std::string provider_model;  // model id sent to the provider
  std::string response_model;  // "model" reported back, if any
  size_t text_chars = 0;       // generated text seen, for estimates
  bool have_usage = false;
  std::string cost_header;     // set by PriceAndRecord
  int worker = 0;              // index of the worker (and its upstream pool)
  bool authenticated = false;
  governance::Principal principal;
  governance::Admission admission;  // settled once, in PriceAndRecord
  bool body_modified = false;       // forces re-serialising the body upstream
  // Savings engine.
  const config::ModelConfig* model_cfg = nullptr;  // the real model serving it
  size_t deployment = 0;            // index of the deployment that answered
  std::string baseline_model;       // provider model id the baseline is priced at
  std::optional<pricing::Usage> baseline_usage;  // tokens the baseline would use (default: row.usage)
  std::string cache_key;            // set when a miss should be stored
  std::string cache_scope, semantic_text;
  std::vector<float> embedding;
  std::string tee;                  // what a streamed miss sent, for the cache
  http::ClientStream* tee_stream = nullptr;
  routing::HintDecision hint;
  std::string hint_model;           // the model whose control group measures the hint
  std::optional<double> fixed_cost; // replay: the recorded cost
  std::optional<double> replay_baseline_cost;
  bool defer_record = false;        // sub-request: the caller appends the row
  // Govern: the output cap sent upstream (-1: the client's own), and whether
  // tollgate added it because the client set none.
  int64_t output_cap = -1;
  bool cap_injected = false;
  // Exactly one ledger row per request, by construction: PriceAndRecord marks
  // the call recorded (a second call does nothing), and a Call that ends
  // unrecorded (a path that forgot, an exception, a coroutine frame destroyed
  // at shutdown) records itself from its destructor as `abandoned`.
  bool recorded = false;
  AccessEntry* access = nullptr;  // the access log's entry, given the row when the Call ends
  Gateway* owner = nullptr;  // who records it; null for a Call that must not record
  Call(http::Request& r, Gateway* g) : req(r), owner(g) {}
  ~Call();
  Call(const Call&) = delete;
  Call& operator=(const Call&) = delete;
};

// The last failure of a request's deployments, answered if they all fail: an
// upstream's own error answer (http_status != 0), else `error`.
struct Gateway::Failure {
  std::optional<ApiError> error;
  int http_status = 0;
  std::string body, content_type;
};

// Every answer names its ledger row, the route taken and the cache outcome.
template <class Message>
void SetIdHeaders(const Gateway::Call& call, Message& m) {
  m.set("x-tollgate-request-id", call.row.id);
  if (!call.row.route.empty()) m.set("x-tollgate-route", call.row.route);
  if (!call.row.cache.empty()) {
    m.set("x-tollgate-cache", call.row.cache == "semantic_hit" ? "hit" : call.row.cache);
    if (call.row.cache == "semantic_hit") m.set("x-tollgate-cache-match", "semantic");
  }
}

// The cache's name for a client API, or nullptr where the cache does not apply.
const char* CacheApiName(providers::Api api);

// A ledger row for a call tollgate makes on a request's behalf (cascade step,
// judge, embedding): the parent's identity, nothing else.
ledger::Row RowOnBehalfOf(const ledger::Row& parent);

}  // namespace tollgate::gateway
