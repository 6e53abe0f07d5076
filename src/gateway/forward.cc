// Forward stage: admission, deployment order, the upstream request written by
// the deployment's provider type (providers/provider.h), retries with backoff,
// and fallback to the next deployment. Nothing reaches the client until a
// deployment answers, so every failure before that can be retried elsewhere.
#include "gateway/call.h"

#include "config/closed_sets.h"

namespace tollgate::gateway {

using asio::awaitable;
using asio::use_awaitable;

namespace {

// The client streams an OpenAI API without asking for usage: tollgate asks on
// its behalf (and strips the usage chunk on the way back).
bool InjectUsage(const Gateway::Call& call) {
  const bool openai_stream = call.api == providers::Api::kOpenAiChat || call.api == providers::Api::kOpenAiCompletions;
  return call.stream && openai_stream && !call.client_wants_usage;
}

}  // namespace

awaitable<bool> Gateway::Forward(Call& call, const config::ModelConfig& model, http::ClientStream& out) {
  call.model_cfg = &model;
  std::optional<ApiError> denied = co_await Admit(call, model);
  if (denied) {
    const ApiError err = std::move(*denied);
    co_return co_await SendError(call, err, out);
  }
  Failure failure;
  // Only a weighted draw needs the (locked) generator.
  routing::DeploymentPlan plan =
      routing::PlanDeployments(model, *latency_, prices_, config::ParseRoutingStrategy(model.strategy) == config::RoutingStrategy::kWeighted ? Random01() : 0.0);
  if (!plan.reason.empty()) call.row.route += (call.row.route.empty() ? "" : ";") + plan.reason;
  for (size_t k = 0; k < plan.order.size(); ++k) {
    if (k > 0) ++call.row.fallbacks;
    const std::optional<bool> answered = co_await TryDeployment(call, model, plan.order[k], failure, out);
    if (answered) co_return *answered;
  }
  co_return co_await SendFailure(call, failure, out);
}

awaitable<std::optional<bool>> Gateway::TryDeployment(Call& call, const config::ModelConfig& model, size_t d,
                                                      Failure& failure, http::ClientStream& out) {
  const config::Deployment& dep = model.deployments[d];
  const ProviderRuntime& p = providers_.at(dep.provider);
  call.deployment = d;
  call.row.provider = p.cfg->name;
  call.row.served_model = dep.model;
  const providers::Api papi = p.type->UpstreamApi(call.api);
  const providers::Bridge bridge = providers::BridgeFor(call.api, papi);
  if (p.type->in_process()) {
    if (bridge != providers::Bridge::kPassthrough) {
      failure = Failure{InvalidRequest("The " + p.cfg->type + " provider does not serve this endpoint", "")};
      co_return std::nullopt;
    }
    if (replay_.count(p.cfg->name) != 0) co_return co_await ServeReplay(call, p, dep.model, out);
    co_return co_await ServeSim(call, p, dep.model, out);
  }
  if (p.type->requires_api_key() && p.cfg->api_key.empty()) {
    failure = Failure{ProviderNotConfigured(p.cfg->name, "no API key; set api_key (e.g. ${PROVIDER_API_KEY})")};
    co_return std::nullopt;
  }
  if (bridge == providers::Bridge::kUnsupported) {
    failure = Failure{InvalidRequest("Model '" + model.name + "' is served by provider '" + p.cfg->name + "' (type " +
                                         p.cfg->type + "), which cannot answer this endpoint",
                                     "model")};
    co_return std::nullopt;
  }
  ApplyOutputCap(call, *p.type);
  std::string rewritten;
  bool use_raw = false;
  if (std::optional<ApiError> bad = UpstreamBody(call, dep, papi, bridge, &rewritten, &use_raw)) {
    const ApiError err = std::move(*bad);
    co_return co_await SendError(call, err, out);
  }
  const std::string& payload = use_raw ? call.req.body() : rewritten;
  const std::string target = p.type->Target(*p.cfg, p.endpoint.url.path, papi, dep.model, call.stream);
  for (int64_t attempt = 0; attempt <= p.cfg->max_retries; ++attempt) {
    if (attempt > 0) {
      ++call.row.retries;
      asio::steady_timer t(co_await asio::this_coro::executor,
                           std::chrono::milliseconds(p.cfg->retry_backoff_ms << std::min<int64_t>(attempt - 1, 10)));
      boost::system::error_code ec;
      co_await t.async_wait(asio::redirect_error(use_awaitable, ec));
    }
    const std::optional<bool> answered = co_await Attempt(call, p, papi, bridge, target, payload, failure, out);
    if (answered) co_return answered;
  }
  co_return std::nullopt;
}

void Gateway::ApplyOutputCap(Call& call, const providers::ProviderType& type) {
  if (call.output_cap < 0) return;
  // A field injected for an earlier deployment is replaced, not kept.
  if (call.cap_injected && call.api == providers::Api::kOpenAiChat) {
    call.body.RemoveMember("max_tokens");
    call.body.RemoveMember("max_completion_tokens");
  }
  SetOutputCap(call.api, call.body, call.output_cap, type.wants_max_completion_tokens());
  call.body_modified = true;
}

std::optional<ApiError> Gateway::UpstreamBody(Call& call, const config::Deployment& dep, providers::Api papi,
                                              providers::Bridge bridge, std::string* rewritten, bool* use_raw) {
  // The client's bytes untouched whenever possible.
  *use_raw = false;
  if (bridge == providers::Bridge::kChatToAnthropic || bridge == providers::Bridge::kAnthropicToChat) {
    Result<std::string> t = bridge == providers::Bridge::kChatToAnthropic
                                ? providers::ChatRequestToAnthropic(call.body, dep.model, cfg_.governance.default_max_tokens)
                                : providers::AnthropicRequestToChat(call.body, dep.model);
    if (!t.ok()) return InvalidRequest(t.status().message(), "");
    *rewritten = std::move(*t);
  } else if (papi == providers::Api::kGeminiGenerate) {
    *use_raw = !call.body_modified;  // the model travels in the path
    if (!*use_raw) *rewritten = Serialize(call.body);
  } else {
    const bool inject_usage = InjectUsage(call);
    const bool has_model = call.body.HasMember("model");
    *use_raw = !((has_model && dep.model != call.row.requested_model) || inject_usage || call.body_modified);
    if (!*use_raw) *rewritten = providers::RewriteRequest(call.body, dep.model, inject_usage);
  }
  return std::nullopt;
}

awaitable<std::optional<bool>> Gateway::Attempt(Call& call, const ProviderRuntime& p, providers::Api papi,
                                                providers::Bridge bridge, const std::string& target,
                                                const std::string& payload, Failure& failure,
                                                http::ClientStream& out) {
  http::RequestHead up(bhttp::verb::post, target);
  up.set(bhttp::field::content_type, "application/json");
  up.set(bhttp::field::user_agent, "tollgate/" TOLLGATE_VERSION);
  up.set(bhttp::field::accept, call.stream ? "text/event-stream" : "application/json");
  p.type->SetHeaders(*p.cfg, call.req, up);
  http::UpstreamCall ucall(*pools_[static_cast<size_t>(call.worker)], p.endpoint);
  const Status st = co_await ucall.Start(up, payload);  // the body is sent from where it is
  if (!st.ok() && Cutting()) {
    const ApiError err = ShuttingDown();  // no other deployment is tried while shutting down
    co_return co_await SendError(call, err, out);
  }
  if (!st.ok()) {
    stats_.upstream_errors.fetch_add(1, std::memory_order_relaxed);
    if (ucall.failure_kind() == http::FailureKind::kTimeout) failure = Failure{UpstreamTimeout(p.cfg->name, st.message())};
    else failure = Failure{UpstreamUnreachable(p.cfg->name, st.message())};
    co_return std::nullopt;
  }
  const int status = ucall.status();
  if (status == 429 || status >= 500) {
    stats_.upstream_errors.fetch_add(1, std::memory_order_relaxed);
    Result<std::string> body = co_await ucall.ReadAll(1 << 20);
    ucall.Finish();
    auto ct = ucall.head().find(bhttp::field::content_type);
    failure = Failure{ApiError{status, "upstream_error", status == 429 ? "upstream_rate_limited" : "upstream_5xx",
                               "Provider '" + p.cfg->name + "' answered HTTP " + std::to_string(status), ""},
                      status, body.ok() ? *body : std::string(),
                      ct == ucall.head().end() ? "application/json" : std::string(ct->value())};
    co_return std::nullopt;
  }
  if (status >= 400) co_return co_await RelayUpstreamError(call, ucall, out);
  auto ct = ucall.head().find(bhttp::field::content_type);
  const bool is_sse = ct != ucall.head().end() && ct->value().find("text/event-stream") != std::string_view::npos;
  if (call.stream && is_sse) {
    std::unique_ptr<providers::StreamAdapter> adapter = providers::MakeStreamAdapter(
        bridge, papi, call.row.requested_model, call.client_wants_usage, InjectUsage(call));
    co_return co_await RelayStream(call, ucall, *adapter, out);
  }
  co_return co_await RelayWhole(call, ucall, papi, bridge != providers::Bridge::kPassthrough, out);
}

}  // namespace tollgate::gateway
