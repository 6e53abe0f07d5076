// Save stage: the exact and semantic caches, the routed model's choice of a
// real model (rules, learned router, cascade, default) and budget hints.
#include "gateway/call.h"

#include "config/closed_sets.h"

namespace tollgate::gateway {

using asio::awaitable;
using asio::use_awaitable;

namespace {

// The embedding in an OpenAI embeddings answer, or nullopt; the usage it
// reports replaces the estimate in `row`.
std::optional<std::vector<float>> EmbeddingOf(const std::string& body, ledger::Row* row) {
  rapidjson::Document d;
  if (!ParseJson(d, body).ok || !d.IsObject()) return std::nullopt;
  if (auto u = d.FindMember("usage"); u != d.MemberEnd() && u->value.IsObject()) {
    auto pt = u->value.FindMember("prompt_tokens");
    if (std::optional<int64_t> n = TokenCount(pt == u->value.MemberEnd() ? nullptr : &pt->value); n && *n > 0) {
      row->usage.input = *n;
      row->estimated = false;
    }
  }
  auto data = d.FindMember("data");
  if (data == d.MemberEnd() || !data->value.IsArray() || data->value.Empty() || !data->value[0].IsObject())
    return std::nullopt;
  auto emb = data->value[0].FindMember("embedding");
  if (emb == data->value[0].MemberEnd() || !emb->value.IsArray() || emb->value.Empty()) return std::nullopt;
  std::vector<float> v;
  v.reserve(emb->value.Size());
  for (const auto& x : emb->value.GetArray()) {
    if (!x.IsNumber()) return std::nullopt;
    v.push_back(static_cast<float>(x.GetDouble()));
  }
  return v;
}


// Drops SSE comment lines (tollgate's cost trailer) before re-assembling a stream.
std::string WithoutSseComments(const std::string& sse) {
  std::string out;
  out.reserve(sse.size());
  size_t pos = 0;
  while (pos < sse.size()) {
    size_t nl = sse.find('\n', pos);
    size_t end = nl == std::string::npos ? sse.size() : nl + 1;
    if (sse[pos] != ':') out.append(sse, pos, end - pos);
    pos = end;
  }
  return out;
}

}  // namespace

const config::ModelConfig* Gateway::ChooseRoute(Call& call, const config::ModelConfig& routed) {
  const config::RouteConfig& route = *routed.route;
  if (!route.rules.empty()) {
    const routing::RouteRules& rules = *rules_.at(routed.name);
    routing::RequestFeatures f = routing::ExtractFeatures(call.req.body(), call.body, call.row.tags);
    if (const config::RouteRule* r = rules.Match(f)) {
      call.row.route = routing::RouteRules::Describe(*r, rules.IndexOf(r)) + "->" + r->to;
      return models_.at(r->to);
    }
  }
  if (route.learned) {
    if (const config::ModelConfig* target = LearnedTarget(call, routed)) return target;
  }
  if (route.cascade) return nullptr;
  call.row.route = "default->" + route.default_model;
  return models_.at(route.default_model);
}

const config::ModelConfig* Gateway::LearnedTarget(Call& call, const config::ModelConfig& routed) {
  const config::LearnedRouteConfig& learned = *routed.route->learned;
  const router::LearnedRouter& lr = learned_.at(routed.name);
  std::vector<std::pair<std::string, double>> candidates;
  for (const auto& [router_model, tg_model] : learned.candidates) {
    double price = routing::BlendedPrice(prices_, models_.at(tg_model)->deployments.front());
    candidates.emplace_back(router_model, price < 0 ? 1e9 : price);
  }
  const std::string text = providers::ReplayPromptOf(call.body);
  const double threshold = learned.threshold.value_or(lr.threshold());
  const std::string chosen = lr.Choose(text, candidates, threshold);
  if (chosen.empty()) return nullptr;
  const std::string& tg = learned.candidates.at(chosen);
  std::vector<double> p = lr.PredictSuccess(text);
  double pc = 0;
  for (size_t i = 0; i < lr.models().size() && i < p.size(); ++i)
    if (lr.models()[i] == chosen) pc = p[i];
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", pc);
  call.row.route = "learned:p=" + std::string(buf) + ">=" + std::to_string(threshold).substr(0, 4) + "->" + tg;
  return models_.at(tg);
}

awaitable<bool> Gateway::Proxy(Call& call, http::ClientStream& out) {
  auto mit = models_.find(call.row.requested_model);
  if (mit == models_.end()) {
    stats_.bad_client_input.fetch_add(1, std::memory_order_relaxed);
    {
      const ApiError err = ModelNotFound(call.row.requested_model, model_names_);
      co_return co_await SendError(call, err, out);
    }
  }
  const config::ModelConfig* model = mit->second;
  if (call.authenticated) {
    if (auto denial = governor_.CheckModel(call.principal, model->name)) {
      const ApiError err = FromDenial(*denial);
      co_return co_await SendError(call, err, out);
    }
  }
  std::string_view cache_hdr = Trim(HeaderValue(call.req, "x-tollgate-cache"));
  if (!cache_hdr.empty() && cache_hdr != "on" && cache_hdr != "off" && cache_hdr != "refresh") {
    stats_.bad_client_input.fetch_add(1, std::memory_order_relaxed);
    {
      const ApiError err =
          InvalidRequest("Header x-tollgate-cache must be on, off or refresh", "x-tollgate-cache");
      co_return co_await SendError(call, err, out);
    }
  }
  // What this request would use without tollgate: the baseline of savings.
  if (model->route) {
    auto b = baseline_.find(model->name);
    if (b != baseline_.end()) call.baseline_model = models_.at(b->second)->deployments.front().model;
  } else {
    call.baseline_model = model->deployments.front().model;
  }

  if (cache_ != nullptr) {  // (no coroutine frame per request when caching is off)
    const char* hit_kind = nullptr;
    std::optional<cache::Entry> hit = co_await LookupCache(call, &hit_kind);
    if (hit) co_return co_await ServeCached(call, *hit, hit_kind, out);
  }

  const config::ModelConfig* hint_cfg = model;
  const config::ModelConfig* routed_cascade = nullptr;
  if (model->route) {
    const config::ModelConfig* target = ChooseRoute(call, *model);
    if (target == nullptr) {
      routed_cascade = model;
    } else {
      if (!hint_cfg->budget_hint) hint_cfg = target;
      model = target;
    }
  }
  if (hint_cfg->budget_hint && routed_cascade == nullptr) {
    call.hint = routing::ApplyBudgetHint(*hint_cfg->budget_hint, call.api, call.body, Random01());
    call.hint_model = hint_cfg->name;
    if (call.hint.hinted || call.hint.clamped) call.body_modified = true;
  }
  // A streamed answer is stored from what the client receives (MaybeCache).
  if (!call.cache_key.empty() && call.stream && !out.capturing()) {
    out.SetTee(&call.tee, 16 << 20);
    call.tee_stream = &out;
  }
  bool ok = false;
  if (routed_cascade != nullptr) ok = co_await RunCascade(call, *routed_cascade, out);
  else ok = co_await Forward(call, *model, out);
  co_return ok;
}

awaitable<std::optional<cache::Entry>> Gateway::LookupCache(Call& call, const char** kind) {
  const char* api = CacheApiName(call.api);
  if (!cache_ || api == nullptr) co_return std::nullopt;
  std::string_view hdr = Trim(HeaderValue(call.req, "x-tollgate-cache"));
  const std::string mode = hdr.empty() ? cfg_.cache.default_mode : std::string(hdr);
  if (mode == "off" ||
      (hdr != "on" && cfg_.cache.temperature_policy == "bypass" && cache::RequestTemperature(call.body) > 0)) {
    call.row.cache = "bypass";
    co_return std::nullopt;
  }
  // Tenants never share entries unless cache.scope says so.
  std::string scope;
  switch (config::ParseCacheScope(cfg_.cache.scope).value_or(config::CacheScope::kKey)) {
    case config::CacheScope::kGlobal: scope = "global"; break;
    case config::CacheScope::kProject: scope = "project:" + call.row.project; break;
    case config::CacheScope::kKey: scope = "key:" + (call.row.key_id.empty() ? call.row.api_key : call.row.key_id); break;
  }
  call.cache_key = cache::CacheKey(scope, api, call.row.requested_model, call.body);
  // Semantic matches stay within requests equal in everything but the user's text.
  call.cache_scope = cache::SemanticScopeKey(scope, api, call.row.requested_model, call.body).value_or("");
  call.row.cache = "miss";
  if (mode == "refresh") co_return std::nullopt;
  const int64_t now = NowUnixMs();
  if (auto e = cache_->Lookup(call.cache_key, now)) {
    *kind = "hit";
    co_return e;
  }
  if (cfg_.cache.semantic && call.api != providers::Api::kOpenAiEmbeddings) {
    std::optional<std::string> text = cache::SingleTurnText(api, call.body);
    if (call.cache_scope.empty()) text.reset();
    if (!text && cfg_.cache.semantic_multi_turn) {
      // Multi-turn: the users' turns are compared, within tenant, API and model.
      std::string all = providers::ReplayPromptOf(call.body);
      if (!all.empty()) {
        text = std::move(all);
        call.cache_scope = scope + "|" + api + "|" + call.row.requested_model + "|multi-turn";
      }
    }
    if (text && !text->empty()) {
      call.semantic_text = *text;
      std::optional<std::pair<uint64_t, double>> match;
      if (!cfg_.cache.embeddings_url.empty()) {
        if (auto vec = co_await Embed(call, *text)) {
          call.embedding = std::move(*vec);
          MutexLock lock(&semantic_mu_);
          if (semantic_) match = semantic_->Find(call.cache_scope, call.embedding, cfg_.cache.semantic_threshold);
        }
      } else {
        match = minhash_.Find(call.cache_scope, *text, cfg_.cache.minhash_threshold);
      }
      if (match) {
        std::string key;
        {
          MutexLock lock(&semantic_mu_);
          auto it = semantic_keys_.find(match->first);
          if (it != semantic_keys_.end()) key = it->second;
        }
        if (!key.empty()) {
          if (auto e = cache_->Lookup(key, now)) {
            *kind = "semantic_hit";
            co_return e;
          }
        }
        // The entry was evicted or expired: forget its vector too.
        MutexLock lock(&semantic_mu_);
        semantic_keys_.erase(match->first);
        if (!call.embedding.empty() && semantic_) semantic_->Remove(call.cache_scope, match->first);
        else minhash_.Remove(call.cache_scope, match->first);
      }
    }
  }
  stats_.cache_misses.fetch_add(1, std::memory_order_relaxed);
  co_return std::nullopt;
}

awaitable<std::optional<std::vector<float>>> Gateway::Embed(Call& call, const std::string& text) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  w.StartObject();
  w.Key("model");
  w.String(cfg_.cache.embeddings_model.c_str());
  w.Key("input");
  w.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
  w.EndObject();
  bhttp::request<bhttp::string_body> up{bhttp::verb::post, embeddings_.url.path + "/embeddings", 11};
  up.set(bhttp::field::content_type, "application/json");
  up.set(bhttp::field::user_agent, "tollgate/" TOLLGATE_VERSION);
  if (!embeddings_auth_.empty()) up.set(bhttp::field::authorization, embeddings_auth_);
  up.keep_alive(true);
  up.body().assign(sb.GetString(), sb.GetSize());
  http::UpstreamCall ucall(*pools_[static_cast<size_t>(call.worker)], embeddings_);
  const int64_t started_us = MonotonicUs();
  // The lookup's own spend is ledgered too (tagged, not charged to budgets).
  ledger::Row er = RowOnBehalfOf(call.row);
  er.endpoint = "embeddings";
  er.tags += std::string(er.tags.empty() ? "" : ",") + "tollgate:semantic-cache";
  er.requested_model = er.served_model = cfg_.cache.embeddings_model;
  er.provider = "semantic-cache";
  er.usage.input = providers::EstimateTokensFromChars(text.size());
  er.estimated = true;
  Status st = co_await ucall.Start(up);
  er.status = st.ok() ? ucall.status() : 502;
  std::optional<std::vector<float>> result;
  if (st.ok() && ucall.status() == 200) {
    auto body = co_await ucall.ReadAll(16 << 20);
    if (body.ok()) {
      ucall.Finish();
      result = EmbeddingOf(*body, &er);
    }
  }
  er.ts_end_ms = NowUnixMs();
  er.latency_ms = static_cast<double>(MonotonicUs() - started_us) / 1000.0;
  if (!result) {
    er.usage = pricing::Usage{};  // nothing usable came back
    er.error_class = "embeddings_failed";
    if (er.status == 200) er.status = 502;
  }
  er.price_version = prices_.version();
  if (const pricing::ModelPrice* p = prices_.Find(er.served_model)) {
    er.cost = pricing::ComputeCost(*p, er.usage);
    er.cost_known = true;
  } else {
    er.cost_known = er.usage.Total() == 0;
  }
  Record(er);
  if (!result) {
    stats_.embedding_errors.fetch_add(1, std::memory_order_relaxed);
    if (FirstUnknownPrice("\x01embeddings-error"))
      log::Warn("semantic cache: embeddings call to " + cfg_.cache.embeddings_url + " failed (" +
                (st.ok() ? "HTTP " + std::to_string(ucall.status()) : st.message()) + "); requests skip the semantic cache");
  }
  co_return result;
}

void Gateway::MaybeCache(Call& call, const std::string& final_part) {
  if (call.cache_key.empty() || call.row.status != 200 || !call.row.error_class.empty()) return;
  if (!call.stream) {
    StoreInCache(call, final_part);
  } else if (call.tee_stream != nullptr && !call.tee_stream->tee_overflowed()) {
    auto whole = cache::AssembleFromSse(CacheApiName(call.api), WithoutSseComments(call.tee + final_part));
    if (whole.ok()) {
      // The client may not have asked for the usage chunk (tollgate stripped it):
      // store the answer whole, with the usage the ledger recorded.
      rapidjson::Document d;
      const JsonParse d_json = ParseJson(d, *whole);
      if (d_json.ok && d.IsObject() && !d.HasMember("usage") &&
          call.api != providers::Api::kAnthropicMessages) {
        auto& a = d.GetAllocator();
        d.AddMember("usage", providers::OpenAiUsageValue(call.row.usage, /*cached_details=*/false, a), a);
        StoreInCache(call, Serialize(d));
      } else {
        StoreInCache(call, *whole);
      }
    }
  }
  call.cache_key.clear();  // stored (or not storable): once per request
  if (call.tee_stream != nullptr) call.tee_stream->SetTee(nullptr, 0);
}

void Gateway::IndexSemanticLocked(const std::string& scope, const std::string& text, const std::vector<float>& embedding,
                                  const std::string& key) {
  const uint64_t id = next_semantic_id_.fetch_add(1, std::memory_order_relaxed);
  if (!cfg_.cache.embeddings_url.empty()) {
    if (embedding.empty()) return;  // no vector: the embeddings call failed
    if (!semantic_) semantic_ = std::make_unique<cache::SemanticIndex>(static_cast<int>(embedding.size()));
    if (semantic_->Add(scope, id, embedding).ok()) semantic_keys_[id] = key;
  } else {
    minhash_.Add(scope, id, text);
    semantic_keys_[id] = key;
  }
}

void Gateway::StoreInCache(Call& call, const std::string& body) {
  if (!cache_ || call.cache_key.empty() || body.empty()) return;
  cache::Entry e;
  e.body = body;
  e.api = CacheApiName(call.api);
  e.model = call.row.served_model;
  e.input_tokens = call.row.usage.PromptTotal();
  e.output_tokens = call.row.usage.OutputTotal();
  e.cost_usd = call.row.cost_known ? call.row.cost.Total() : 0;
  e.scope = call.cache_scope;
  e.semantic_text = call.semantic_text;
  e.embedding = call.embedding;
  if (!call.semantic_text.empty()) {
    MutexLock lock(&semantic_mu_);
    // Vectors of evicted entries are dropped when a lookup meets them; this bounds the rest.
    if (semantic_keys_.size() >= static_cast<size_t>(cfg_.cache.max_entries) * 4) semantic_keys_.clear();
    IndexSemanticLocked(call.cache_scope, call.semantic_text, call.embedding, call.cache_key);
  }
  cache_->Insert(call.cache_key, std::move(e), NowUnixMs());
}

awaitable<bool> Gateway::ServeCached(Call& call, const cache::Entry& e, const char* kind, http::ClientStream& out) {
  const bool semantic = std::string_view(kind) == "semantic_hit";
  (semantic ? stats_.semantic_hits : stats_.cache_hits).fetch_add(1, std::memory_order_relaxed);
  call.row.cache = kind;
  call.row.provider = "cache";
  call.row.served_model = e.model;
  call.row.savings_lever = semantic ? "semantic_cache" : "cache";
  call.row.status = 200;
  call.cache_key.clear();  // nothing to store
  // The baseline: the tokens of the call that filled the entry, at the baseline's price.
  pricing::Usage u;
  u.input = e.input_tokens;
  u.output = e.output_tokens;
  call.baseline_usage = u;
  if (call.baseline_model.empty() || prices_.Find(call.baseline_model) == nullptr) {
    call.row.baseline_model = e.model;
    call.row.baseline_cost_usd = e.cost_usd;
  }
  if (!call.stream) {
    PriceAndRecord(call);
    co_return co_await SendAnswer(call, e.body, false, {}, {}, out);
  }
  auto sse = cache::ReplayAsSse(e.api, e.body, call.client_wants_usage, call.row.id);
  if (!sse.ok()) {
    // Entries are validated when stored, so this is a bug or a damaged file: say so.
    // Named, not a braced temporary: GCC 12 mis-destroys temporaries inside co_await expressions.
    const ApiError e{500, "server_error", "cache_replay_failed", "Cached answer could not be replayed: " + sse.status().message(), ""};
    co_return co_await SendError(call, e, out);
  }
  call.row.streamed = true;
  PriceAndRecord(call);
  co_return co_await SendAnswer(call, *sse, true, {}, {}, out);
}

}  // namespace tollgate::gateway
