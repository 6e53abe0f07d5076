// In-process answers: the sim and replay providers and count_tokens.
#include "gateway/call.h"

namespace tollgate::gateway {

using asio::awaitable;
using asio::use_awaitable;

namespace {

// The sim's pacing: latency before the first token, then tokens_per_second.
awaitable<void> SleepMs(int64_t ms) {
  if (ms <= 0) co_return;
  asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(ms));
  boost::system::error_code ec;
  co_await t.async_wait(asio::redirect_error(use_awaitable, ec));
}

}  // namespace

awaitable<bool> Gateway::ServeSim(Call& call, const ProviderRuntime& p, const std::string& model,
                                  http::ClientStream& out) {
  const config::ProviderConfig& cfg = *p.cfg;
  call.response_model = model;
  const bool embeddings = call.row.endpoint == "embeddings";
  std::string body;
  if (embeddings) {
    co_await SleepMs(cfg.latency_ms);
    body = providers::SimEmbeddingsResponse(model, call.body, &call.row.usage);
  } else {
    providers::SimAnswer a = providers::SimGenerate(cfg, call.body);
    // An Anthropic client gets the simulated chat answer translated, like any OpenAI-family model.
    const bool to_anthropic = call.api == providers::Api::kAnthropicMessages;
    const bool chat = call.is_chat || to_anthropic;
    if (call.stream) co_return co_await StreamSim(call, cfg, model, a, chat, to_anthropic, out);
    const int64_t per_token_ms = std::max<int64_t>(1000 / cfg.tokens_per_second, 0);
    co_await SleepMs(cfg.latency_ms + per_token_ms * static_cast<int64_t>(a.pieces.size()));
    body = providers::SimChatResponse("sim-" + call.row.id.substr(4), model, a, chat);
    if (to_anthropic) {
      rapidjson::Document doc;
      ParseJson(doc, body);
      auto t = providers::ChatResponseToAnthropic(doc, call.row.requested_model);
      if (t.ok()) body = std::move(*t);
    }
    call.row.usage = a.usage;
  }
  call.row.status = 200;
  PriceAndRecord(call);
  bhttp::response<bhttp::string_body> res{bhttp::status::ok, 11};
  res.set(bhttp::field::content_type, "application/json");
  SetIdHeaders(call, res);
  res.set("x-tollgate-cost-usd", call.cost_header);
  res.set("x-tollgate-simulated", "true");
  if (!embeddings) MaybeCache(call, body);
  res.body() = std::move(body);
  const Status written = co_await out.Write(res);
  co_return written.ok();
}

awaitable<bool> Gateway::StreamSim(Call& call, const config::ProviderConfig& cfg, const std::string& model,
                                   const providers::SimAnswer& a, bool chat, bool to_anthropic,
                                   http::ClientStream& out) {
  const int64_t per_token_ms = std::max<int64_t>(1000 / cfg.tokens_per_second, 0);
  const std::string sim_id = "sim-" + call.row.id.substr(4);
  std::unique_ptr<providers::StreamAdapter> adapter;
  if (to_anthropic) adapter = providers::MakeChatToAnthropicStream(call.row.requested_model);
  auto emit = [&](std::string event, std::string* dst) {
    if (adapter) adapter->OnEvent(event, dst);
    else dst->append(event).append("\n\n");
  };
  call.row.streamed = true;
  bhttp::response<bhttp::empty_body> head{bhttp::status::ok, 11};
  head.set(bhttp::field::content_type, "text/event-stream");
  head.set(bhttp::field::cache_control, "no-cache");
  SetIdHeaders(call, head);
  head.set("x-tollgate-simulated", "true");
  Status st = co_await out.StartChunked(head);
  co_await SleepMs(cfg.latency_ms);
  size_t sent = 0;
  std::string chunk;
  bool cut = false;
  for (size_t i = 0; i < a.pieces.size() && st.ok(); ++i) {
    if (i > 0) co_await SleepMs(per_token_ms);
    if (Cutting()) {
      cut = true;
      break;
    }
    chunk.clear();
    emit("data: " + providers::SimChunk(sim_id, model, a.pieces[i], chat, i == 0, i + 1 == a.pieces.size()), &chunk);
    st = co_await out.WriteChunk(chunk);
    if (st.ok()) {
      ++sent;
      if (!call.row.ttft_ms) call.row.ttft_ms = static_cast<double>(MonotonicUs() - call.start_us) / 1000.0;
    }
  }
  if (!st.ok()) {
    call.row.usage = a.usage;
    call.row.usage.output = static_cast<int64_t>(sent);
    call.row.status = 499;
    call.row.error_class = "client_disconnect";
    stats_.client_disconnects.fetch_add(1, std::memory_order_relaxed);
    PriceAndRecord(call);
    co_return false;
  }
  call.row.usage = a.usage;
  call.row.status = 200;
  std::string tail;
  if (cut) {
    // Shutdown cut the stream: bill the pieces delivered, end in the client's dialect.
    call.row.usage.output = static_cast<int64_t>(sent);
    call.row.error_class = "shutdown";
    PriceAndRecord(call);
    const ApiError err = ShuttingDown();
    if (adapter) adapter->Fail(err.message, &tail);
    else tail += "data: " + ErrorBodyFor(call.api, err) + "\n\n";
    tail += ": tollgate cost_usd=" + call.cost_header + " request_id=" + call.row.id + "\n\n";
    st = co_await out.WriteChunk(tail);
    if (st.ok()) st = co_await out.EndChunked();
    co_return false;
  }
  PriceAndRecord(call);
  if (adapter) {
    emit("data: " + providers::SimUsageChunk(sim_id, model, a.usage, chat), &tail);
    adapter->Finish(&tail);
  } else {
    if (call.client_wants_usage) tail += "data: " + providers::SimUsageChunk(sim_id, model, a.usage, chat) + "\n\n";
    tail += "data: [DONE]\n\n";
  }
  MaybeCache(call, tail);
  tail += ": tollgate cost_usd=" + call.cost_header + " request_id=" + call.row.id + "\n\n";
  st = co_await out.WriteChunk(tail);
  if (st.ok()) st = co_await out.EndChunked();
  co_return st.ok();
}

awaitable<bool> Gateway::CountTokens(Call& call, http::ClientStream& out) {
  // Free on every provider, so it is answered but not ledgered.
  call.recorded = true;
  auto mit = models_.find(call.row.requested_model);
  if (mit == models_.end()) {
    ApiError e = ModelNotFound(call.row.requested_model, model_names_);
    {
      const std::string err_body = ErrorBodyFor(call.api, e);
      co_return co_await SendJson(e.status, err_body, out);
    }
  }
  const config::ModelConfig* counted = mit->second;
  if (counted->route) counted = models_.at(baseline_.at(counted->name));  // count as the baseline model would
  const config::Deployment& dep = counted->deployments.front();
  const ProviderRuntime& p = providers_.at(dep.provider);
  if (std::optional<std::string> target = p.type->CountTokensTarget(p.endpoint.url.path)) {
    const std::string payload = providers::RewriteRequest(call.body, dep.model, false);
    http::RequestHead up(bhttp::verb::post, *target);
    up.set(bhttp::field::content_type, "application/json");
    p.type->SetHeaders(*p.cfg, call.req, up);
    http::UpstreamCall ucall(*pools_[static_cast<size_t>(call.worker)], p.endpoint);
    const Status st = co_await ucall.Start(up, payload);
    if (!st.ok()) {
      ApiError e = UpstreamUnreachable(p.cfg->name, st.message());
      {
        const std::string err_body = ErrorBodyFor(call.api, e);
        co_return co_await SendJson(e.status, err_body, out);
      }
    }
    auto body = co_await ucall.ReadAll(1 << 20);
    ucall.Finish();
    bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(ucall.status()), 11};
    res.set(bhttp::field::content_type, "application/json");
    res.body() = body.ok() ? std::move(*body) : std::string();
    {
      const Status written = co_await out.Write(res);
      co_return written.ok();
    }
  }
  // Other providers have no such endpoint: answer with tollgate's own estimate.
  {
    const std::string count_body =
        "{\"input_tokens\":" + std::to_string(providers::EstimatePromptTokens(call.body)) + "}";
    co_return co_await SendJson(200, count_body, out);
  }
}

awaitable<bool> Gateway::ServeReplay(Call& call, const ProviderRuntime& p, const std::string& model,
                                     http::ClientStream& out) {
  const providers::ReplayData& data = *replay_.at(p.cfg->name);
  const std::string prompt = providers::ReplayPromptOf(call.body);
  std::optional<providers::ReplayAnswer> a = data.Find(prompt, model);
  if (!a) {
    const ApiError e{404, "invalid_request_error", "replay_miss",
                     "Replay provider '" + p.cfg->name + "' has no recorded answer of '" + model + "' to this prompt", ""};
    co_return co_await SendError(call, e, out);
  }
  call.response_model = model;
  const int64_t prompt_tokens = providers::EstimatePromptTokens(call.body);
  const int64_t completion_tokens = providers::EstimateTokensFromChars(a->text.size());
  call.row.usage = pricing::Usage{};
  call.row.usage.input = prompt_tokens;
  call.row.usage.output = completion_tokens;
  call.row.estimated = true;  // the dataset records cost, not tokens
  call.fixed_cost = a->cost_usd;
  call.row.quality = a->score;
  if (!call.baseline_model.empty()) {
    if (auto b = data.Find(prompt, call.baseline_model)) call.replay_baseline_cost = b->cost_usd;
  }
  call.row.status = 200;
  std::string body = providers::ReplayChatResponse("replay-" + call.row.id.substr(4), model, a->text, prompt_tokens, completion_tokens);
  const char* api = "chat";
  if (call.api == providers::Api::kAnthropicMessages) {
    rapidjson::Document doc;
    ParseJson(doc, body);
    auto t = providers::ChatResponseToAnthropic(doc, call.row.requested_model);
    if (t.ok()) body = std::move(*t);
    api = "messages";
  }
  call.row.streamed = call.stream;
  PriceAndRecord(call);
  char score[32];
  std::snprintf(score, sizeof score, "%g", a->score);
  if (!call.stream) co_return co_await SendAnswer(call, body, false, "x-tollgate-replay-score", score, out);
  auto sse = cache::ReplayAsSse(api, body, call.client_wants_usage, call.row.id);
  if (!sse.ok()) {
    const ApiError e{500, "server_error", "replay_failed", sse.status().message(), ""};
    co_return co_await SendError(call, e, out);
  }
  co_return co_await SendAnswer(call, *sse, true, "x-tollgate-replay-score", score, out);
}

}  // namespace tollgate::gateway
