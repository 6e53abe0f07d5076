// Govern stage: the facts a budget reservation needs (the input-token bound
// and the output cap), from the request and the model's deployments.
#include "gateway/call.h"

namespace tollgate::gateway {

using asio::awaitable;
using asio::use_awaitable;

namespace {

// True when the body carries input the text tokenizer cannot count (images,
// audio, files): such requests fall back to the byte bound.
bool HasNonTextParts(const rapidjson::Value& body) {
  auto msgs = body.FindMember("messages");
  if (msgs == body.MemberEnd() || !msgs->value.IsArray()) return body.HasMember("input") || !body.HasMember("prompt");
  for (const auto& m : msgs->value.GetArray()) {
    if (!m.IsObject()) continue;
    auto c = m.FindMember("content");
    if (c == m.MemberEnd() || !c->value.IsArray()) continue;
    for (const auto& part : c->value.GetArray()) {
      auto t = part.IsObject() ? part.FindMember("type") : part.MemberEnd();
      if (!part.IsObject() || t == part.MemberEnd() || !t->value.IsString() || std::string_view(t->value.GetString()) != "text")
        return true;
    }
  }
  return false;
}

}  // namespace

int64_t Gateway::InputTokensBound(const Call& call, const config::ModelConfig& model) const {
  // A token is at least one byte, so the body's size always bounds the prompt.
  const int64_t byte_bound = static_cast<int64_t>(call.req.body().size());
  if (call.api != providers::Api::kOpenAiChat && call.api != providers::Api::kOpenAiCompletions) return byte_bound;
  if (HasNonTextParts(call.body)) return byte_bound;
  // Exact counts where every deployment uses a known OpenAI encoding.
  for (const auto& d : model.deployments)
    if (!tokenizer::CountingMethodForModel(d.model).exact) return byte_bound;
  auto text = tokenizer::ExtractRequestText(call.req.body());
  if (!text.ok()) return byte_bound;
  std::vector<std::string_view> parts(text->parts.begin(), text->parts.end());
  tokenizer::ModelTokenCounter counter(std::move(parts), text->framing_tokens);
  int64_t most = 0;
  for (const auto& d : model.deployments) {
    auto n = counter.ForModel(d.model);
    if (!n.ok()) return byte_bound;
    most = std::max(most, n->tokens);
  }
  return std::min(most, byte_bound);
}

awaitable<std::optional<ApiError>> Gateway::Admit(Call& call, const config::ModelConfig& model) {
  const governance::Principal* principal = call.authenticated ? &call.principal : nullptr;
  if (governor_.Active(principal)) {
    const governance::RequestFacts facts = BudgetFacts(call, model);  // a named local in a co_await (GCC 12)
    std::optional<governance::Denial> denial = co_await governor_.AdmitAsync(principal, facts, &call.admission);
    if (denial) co_return FromDenial(*denial);
  }
  // The cap forwarded upstream is the one reserved for: the budget may pay for
  // fewer output tokens than asked (clamp), and a request that sets none is
  // sent with the reserved default, so no answer can cost more than its reservation.
  call.cap_injected = call.admission.active && call.api != providers::Api::kOpenAiEmbeddings &&
                      !ClientOutputCap(call.api, call.body);
  if (call.admission.clamped_max_tokens >= 0) call.output_cap = call.admission.clamped_max_tokens;
  else if (call.cap_injected) call.output_cap = cfg_.governance.default_max_tokens;
  co_return std::nullopt;
}

governance::RequestFacts Gateway::BudgetFacts(const Call& call, const config::ModelConfig& model) const {
  governance::RequestFacts f;
  f.model = model.name;
  f.user = call.row.user;
  f.project = call.row.project;
  f.team = call.row.team;
  f.key_id = call.row.key_id;
  f.input_tokens_bound = InputTokensBound(call, model);
  f.max_output_tokens = 0;
  if (call.api != providers::Api::kOpenAiEmbeddings)
    f.max_output_tokens = ClientOutputCap(call.api, call.body).value_or(cfg_.governance.default_max_tokens);
  // Price at the dearest deployment, since any of them may serve it, and at the
  // dearest tier the prompt can reach: a tier applies above a prompt size, and
  // the prompt is at most input_tokens_bound, so a tier starting at or past the
  // bound cannot apply (issue 19: a 124 KB Claude Code body was reserved at
  // Sonnet's >200K-token rates, $2.21 where the base rates bound it by $1.22).
  for (const auto& d : model.deployments) {
    const pricing::ModelPrice* p = prices_.Find(d.model);
    if (!p) continue;
    auto consider = [&](const pricing::Rates& r) {
      f.input_usd_per_token = std::max(f.input_usd_per_token, std::max({r.input, r.cache_write_5m, r.cache_write_1h}) * 1e-6);
      f.output_usd_per_token = std::max(f.output_usd_per_token, std::max(r.output, r.reasoning) * 1e-6);
    };
    consider(p->rates);
    for (const auto& t : p->tiers)
      if (f.input_tokens_bound > t.above_input_tokens) consider(t.rates);
  }
  return f;
}

}  // namespace tollgate::gateway
