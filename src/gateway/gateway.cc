#include "gateway/gateway.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cctype>
#include <mutex>
#include <sstream>
#include <unordered_set>

#include "cache/cache_key.h"
#include "cache/sse_replay.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "gateway/admin.h"
#include "gateway/errors.h"
#include "gateway/request_checks.h"
#include "providers/adapter.h"
#include "providers/openai_wire.h"
#include "providers/sim.h"
#include "providers/sse.h"
#include "tokenizer/model_tokens.h"
#include "tokenizer/request_text.h"

namespace tollgate::gateway {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using asio::awaitable;
using asio::use_awaitable;

namespace {

constexpr size_t kMaxUpstreamBody = 64 << 20;
constexpr size_t kMaxHeaderValue = 256;
constexpr size_t kMaxTags = 32;

std::string_view HeaderValue(const http::Request& req, std::string_view name) {
  auto it = req.find(name);
  return it == req.end() ? std::string_view() : std::string_view(it->value().data(), it->value().size());
}

std::string_view BearerToken(const http::Request& req) {
  std::string_view auth = HeaderValue(req, "authorization");
  if (auth.size() > 7 && (auth.substr(0, 7) == "Bearer " || auth.substr(0, 7) == "bearer ")) return Trim(auth.substr(7));
  // Anthropic-style clients send the key in x-api-key, Gemini clients in x-goog-api-key.
  std::string_view k = Trim(HeaderValue(req, "x-api-key"));
  return k.empty() ? Trim(HeaderValue(req, "x-goog-api-key")) : k;
}

// Paths the gateway itself answers (everything else may be the dashboard's).
bool IsApiPath(std::string_view path) {
  return path.rfind("/v1/", 0) == 0 || path.rfind("/v1beta/", 0) == 0 || path == "/chat/completions" ||
         path == "/completions" || path == "/embeddings" || path == "/responses" || path == "/models";
}

// True the first time a model is seen without a price, so a busy unpriced
// model logs once instead of flooding the log. Only the unknown-price path locks.
bool FirstUnknownPrice(const std::string& model) {
  static std::mutex mu;
  static std::unordered_set<std::string> seen;
  std::lock_guard<std::mutex> lock(mu);
  return seen.size() < 10000 && seen.insert(model).second;
}

bool Printable(std::string_view s) {
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f) return false;
  return true;
}

// Upstream response headers worth passing back to the client.
bool ForwardableUpstreamHeader(std::string_view name) {
  // Case-insensitive, without allocating: this runs for every upstream header.
  auto starts = [&](std::string_view prefix) {
    if (name.size() < prefix.size()) return false;
    for (size_t i = 0; i < prefix.size(); ++i)
      if (static_cast<char>(std::tolower(static_cast<unsigned char>(name[i]))) != prefix[i]) return false;
    return true;
  };
  auto is = [&](std::string_view v) { return name.size() == v.size() && starts(v); };
  return is("x-request-id") || is("request-id") || starts("openai-") || starts("x-ratelimit-") ||
         starts("anthropic-ratelimit-") || is("retry-after");
}

}  // namespace

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
  explicit Call(http::Request& r) : req(r) {}
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

Result<std::unique_ptr<Gateway>> Gateway::Create(const config::Config& cfg, const pricing::PriceCatalog& prices,
                                                 ledger::Ledger& ledger, governance::Governor& governor) {
  std::unique_ptr<Gateway> g(new Gateway(cfg, prices, ledger, governor));
  for (const auto& p : cfg.providers) {
    ProviderRuntime rt;
    rt.cfg = &p;
    if (p.type != "sim" && p.type != "replay") {
      TG_ASSIGN_OR_RETURN(rt.endpoint.url, http::ParseUrl(p.base_url));
      rt.endpoint.pool_key = p.name;
      rt.endpoint.connect_timeout_ms = p.connect_timeout_ms;
      rt.endpoint.first_byte_timeout_ms = p.first_byte_timeout_ms;
      rt.endpoint.idle_timeout_ms = p.idle_timeout_ms;
      rt.endpoint.max_idle = static_cast<size_t>(p.max_idle_connections);
      if (rt.endpoint.url.tls) {
        TG_ASSIGN_OR_RETURN(rt.endpoint.tls, http::MakeTlsContext(p.ca_file));
      }
      if (!p.api_key.empty()) rt.authorization = "Bearer " + p.api_key;
    }
    g->providers_.emplace(p.name, std::move(rt));
  }
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  w.StartObject();
  w.Key("object");
  w.String("list");
  w.Key("data");
  w.StartArray();
  for (const auto& m : cfg.models) {
    g->models_.emplace(m.name, &m);
    g->model_names_ += (g->model_names_.empty() ? "" : ", ") + m.name;
    w.StartObject();
    w.Key("id");
    w.String(m.name.c_str());
    w.Key("object");
    w.String("model");
    w.Key("created");
    w.Int(0);
    w.Key("owned_by");
    w.String(m.route ? "tollgate" : m.deployments.front().provider.c_str());
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  g->models_json_.assign(sb.GetString(), sb.GetSize());
  TG_RETURN_IF_ERROR(g->InitSavings());
  return g;
}

Status Gateway::InitSavings() {
  latency_ = std::make_unique<routing::LatencyStats>(cfg_.models);
  for (const auto& p : cfg_.providers) {
    if (p.type != "replay") continue;
    auto data = providers::ReplayData::Load(p.dataset);
    if (!data.ok()) return Status::InvalidArgument(cfg_.source + ":" + std::to_string(p.line) + ": error: replay provider '" +
                                                   p.name + "': " + data.status().message() + " (fix: point dataset at routerbench CSV files)");
    replay_[p.name] = *data;
  }
  for (const auto& m : cfg_.models) {
    for (const auto& d : m.deployments) {
      auto r = replay_.find(d.provider);
      if (r != replay_.end() && !r->second->HasModel(d.model))
        return Status::InvalidArgument(cfg_.source + ":" + std::to_string(m.line) + ": error: model '" + m.name +
                                       "': the replay dataset has no model '" + d.model +
                                       "' (fix: use one of its model columns, e.g. " + r->second->dataset().models.front() + ")");
    }
    if (!m.route) continue;
    const config::RouteConfig& route = *m.route;
    if (!route.rules.empty()) rules_[m.name] = std::make_unique<routing::RouteRules>(route.rules);
    if (route.learned) {
      auto lr = router::LearnedRouter::Load(route.learned->model_file);
      if (!lr.ok()) return Status::InvalidArgument(cfg_.source + ":" + std::to_string(m.line) + ": error: model '" + m.name +
                                                   "': cannot load learned router: " + lr.status().message() +
                                                   " (fix: run `tollgate router train` and point model_file at its output)");
      for (const auto& [rm, tg] : route.learned->candidates) {
        if (lr->ModelIndex(rm) < 0)
          return Status::InvalidArgument(cfg_.source + ":" + std::to_string(m.line) + ": error: model '" + m.name +
                                         "': the learned router does not score '" + rm + "' (fix: use a model it was trained on)");
      }
      learned_.emplace(m.name, std::move(*lr));
    }
    if (route.cascade) {
      std::vector<std::optional<router::CheckSpec>> specs;
      for (const auto& c : route.cascade->checks) {
        if (c.type == "judge") {
          specs.emplace_back();
          continue;
        }
        router::CheckSpec spec;
        spec.kind = c.type == "json_schema" ? router::CheckKind::kJsonSchema
                    : c.type == "length"    ? router::CheckKind::kLength
                    : c.type == "refusal"   ? router::CheckKind::kRefusal
                    : c.type == "confidence" ? router::CheckKind::kConfidence
                                             : router::CheckKind::kRegex;
        spec.json_schema = c.json_schema;
        spec.min_chars = c.min_chars;
        spec.max_chars = c.max_chars;
        spec.min_confidence = c.min_confidence;
        spec.regex = c.pattern;
        specs.push_back(std::move(spec));
      }
      cascade_checks_[m.name] = std::move(specs);
    }
    // The baseline: configured, or the dearest model the route can send to.
    std::string baseline = route.baseline;
    if (baseline.empty()) {
      std::vector<std::string> targets;
      for (const auto& r : route.rules) targets.push_back(r.to);
      if (!route.default_model.empty()) targets.push_back(route.default_model);
      if (route.cascade) targets.insert(targets.end(), route.cascade->steps.begin(), route.cascade->steps.end());
      if (route.learned)
        for (const auto& [rm, tg] : route.learned->candidates) targets.push_back(tg);
      double best = -2;
      for (const auto& t : targets) {
        double price = routing::BlendedPrice(prices_, models_.at(t)->deployments.front());
        if (price > best) {
          best = price;
          baseline = t;
        }
      }
    }
    baseline_[m.name] = baseline;
  }
  if (!cfg_.cache.enabled) return Status::Ok();
  cache::ExactCacheOptions opt;
  opt.path = cfg_.cache.path;
  opt.ttl_s = cfg_.cache.ttl_s;
  opt.max_entries = cfg_.cache.max_entries;
  opt.max_bytes = cfg_.cache.max_bytes;
  auto c = cache::ExactCache::Open(opt);
  if (!c.ok()) return Status::IoError("cache: " + c.status().message() + " (fix: check cache.path, or delete a damaged cache file)");
  cache_ = std::move(*c);
  if (!cfg_.cache.embeddings_url.empty()) {
    TG_ASSIGN_OR_RETURN(embeddings_.url, http::ParseUrl(cfg_.cache.embeddings_url));
    embeddings_.pool_key = "\x01embeddings";
    embeddings_.connect_timeout_ms = cfg_.cache.embeddings_timeout_ms;
    embeddings_.first_byte_timeout_ms = cfg_.cache.embeddings_timeout_ms;
    embeddings_.idle_timeout_ms = cfg_.cache.embeddings_timeout_ms;
    if (embeddings_.url.tls) {
      TG_ASSIGN_OR_RETURN(embeddings_.tls, http::MakeTlsContext(""));
    }
    if (!cfg_.cache.embeddings_api_key.empty()) embeddings_auth_ = "Bearer " + cfg_.cache.embeddings_api_key;
  }
  // Rebuild the semantic indexes from the persisted entries.
  if (cfg_.cache.semantic) {
    std::lock_guard<std::mutex> lock(semantic_mu_);
    cache_->ForEach([&](const std::string& key, const cache::Entry& e) {
      if (!e.semantic_text.empty()) IndexSemanticLocked(e.scope, e.semantic_text, e.embedding, key);
    });
  }
  return Status::Ok();
}

void Gateway::AttachWorkers(http::Server& server) {
  server_ = &server;
  pools_.clear();
  for (int i = 0; i < server.workers(); ++i)
    pools_.push_back(std::make_unique<http::UpstreamPool>(server.worker_context(i), server.worker_deadlines(i)));
}

awaitable<bool> Gateway::SendJson(int status, const std::string& body, http::ClientStream& out) {
  bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(status), 11};
  res.set(bhttp::field::content_type, "application/json");
  res.body() = body;
  Status st = co_await out.Write(res);
  co_return st.ok();
}

awaitable<bool> Gateway::SendError(Call& call, const ApiError& e, http::ClientStream& out) {
  call.row.status = e.status;
  call.row.error_class = e.code;
  PriceAndRecord(call);
  bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(e.status), 11};
  if (e.retry_after_s >= 0) res.set(bhttp::field::retry_after, std::to_string(e.retry_after_s));
  for (const auto& [name, value] : e.headers) res.set(name, value);
  res.set(bhttp::field::content_type, "application/json");
  SetIdHeaders(call, res);
  res.body() = ErrorBodyFor(call.api, e);
  Status st = co_await out.Write(res);
  co_return st.ok();
}

void Gateway::PriceAndRecord(Call& call) {
  ledger::Row& row = call.row;
  row.ts_end_ms = NowUnixMs();
  row.latency_ms = static_cast<double>(MonotonicUs() - call.start_us) / 1000.0;
  row.price_version = prices_.version();
  const pricing::ModelPrice* price = nullptr;
  if (!call.response_model.empty()) price = prices_.Find(call.response_model);
  if (!price && !row.served_model.empty()) price = prices_.Find(row.served_model);
  if (!price && !row.requested_model.empty() && row.usage.Total() > 0) price = prices_.Find(row.requested_model);
  if (call.fixed_cost) {
    // Replay: the recorded call's cost, all of it on output (the dataset has no split).
    row.cost = pricing::Cost{};
    row.cost.output = *call.fixed_cost;
    row.cost_known = true;
    row.price_version = "replay";
    call.cost_header = FormatUsd(row.cost.Total());
  } else if (price) {
    if (price->source != "catalog") row.price_version += price->source == "config" ? "+override" : "+" + price->source;
    row.cost = pricing::ComputeCost(*price, row.usage);
    row.cost_known = true;
    call.cost_header = FormatUsd(row.cost.Total());
  } else if (row.usage.Total() == 0) {
    // Nothing was consumed (e.g. a rejected request): that costs nothing.
    row.cost_known = true;
    call.cost_header = "0";
  } else {
    row.cost_known = false;
    call.cost_header = "unknown";
    stats_.unknown_price.fetch_add(1, std::memory_order_relaxed);
    if (FirstUnknownPrice(row.served_model.empty() ? row.requested_model : row.served_model))
      log::Warn("no price for model '" + (row.served_model.empty() ? row.requested_model : row.served_model) +
              "': cost recorded as unknown (add it under pricing.overrides)");
  }
  if (row.served_model.empty() && !call.response_model.empty()) row.served_model = call.response_model;
  // Budget-aware prompting: control requests set the baseline, treated ones are measured against it.
  if (!call.hint_model.empty() && row.status == 200 && !row.estimated) {
    if (call.hint.control) hints_.RecordControl(call.hint_model, row.usage.OutputTotal());
    else if (call.hint.hinted || call.hint.clamped) row.output_tokens_saved = hints_.Saved(call.hint_model, row.usage.OutputTotal());
  }
  // The counterfactual: these tokens (plus any the hint saved) at the baseline model's price.
  if (!call.baseline_model.empty() && !row.baseline_cost_usd) {
    row.baseline_model = call.baseline_model;
    if (call.replay_baseline_cost) {
      row.baseline_cost_usd = *call.replay_baseline_cost;
    } else if (const pricing::ModelPrice* bp = prices_.Find(call.baseline_model)) {
      pricing::Usage u = call.baseline_usage.value_or(row.usage);
      u.output += row.output_tokens_saved;
      row.baseline_cost_usd = pricing::ComputeCost(*bp, u).Total();
    }
  }
  // The lever is named whether it saved or cost money, so its sum is honest.
  if (row.savings_lever.empty() && row.baseline_cost_usd && row.cost_known) {
    if (!row.route.empty() && row.served_model != call.baseline_model) row.savings_lever = "routing";
    else if (row.output_tokens_saved > 0) row.savings_lever = "budget_hint";
  }
  if (row.status == 200 && call.model_cfg != nullptr && !row.estimated)
    latency_->Record(call.model_cfg->name, call.deployment, row.ttft_ms.value_or(row.latency_ms));
  if (call.admission.active) {
    governor_.Settle(call.admission, row.cost_known ? row.cost.Total() : 0.0, row.usage.Total());
    row.reserved_usd = call.admission.reserved_usd;
    for (const auto& slot : call.admission.slots) row.charges.push_back({slot.budget_id, slot.window_start_ms});
    call.admission.active = false;
  }
  if (call.defer_record) return;
  metrics_.Record(row);
  ledger_.Append(row);
}

std::string Gateway::RenderMetrics() {
  std::ostringstream os;
  os << "# HELP tollgate_budget_remaining_usd Hard limit minus spend in the current window.\n"
        "# TYPE tollgate_budget_remaining_usd gauge\n";
  for (const auto& [b, spent] : governor_.BudgetStatus()) {
    if (!b.limit_usd) continue;
    os << "tollgate_budget_remaining_usd{budget=\"" << b.name << "\"} " << (*b.limit_usd - spent) << "\n";
  }
  os << "# HELP tollgate_budget_spent_usd Spend in the budget's current window.\n# TYPE tollgate_budget_spent_usd gauge\n";
  for (const auto& [b, spent] : governor_.BudgetStatus())
    os << "tollgate_budget_spent_usd{budget=\"" << b.name << "\"} " << spent << "\n";
  os << "# HELP tollgate_cache_hits_total Responses served from tollgate's cache, by match kind.\n"
        "# TYPE tollgate_cache_hits_total counter\n"
        "tollgate_cache_hits_total{match=\"exact\"} " << stats_.cache_hits.load() << "\n"
        "tollgate_cache_hits_total{match=\"semantic\"} " << stats_.semantic_hits.load() << "\n";
  if (cache_) {
    const cache::ExactCache::Stats cs = cache_->stats();
    os << "# HELP tollgate_cache_entries Entries in the exact cache.\n# TYPE tollgate_cache_entries gauge\ntollgate_cache_entries "
       << cs.entries << "\n# HELP tollgate_cache_bytes Bytes held by the exact cache.\n# TYPE tollgate_cache_bytes gauge\ntollgate_cache_bytes "
       << cs.bytes << "\n# HELP tollgate_cache_evictions_total Entries evicted by the LRU bound.\n# TYPE tollgate_cache_evictions_total counter\n"
       << "tollgate_cache_evictions_total " << cs.evictions << "\n";
  }
  auto c = [&](const char* name, const char* help, const std::atomic<uint64_t>& v) {
    os << "# HELP " << name << " " << help << "\n# TYPE " << name << " counter\n" << name << " " << v.load() << "\n";
  };
  c("tollgate_bad_client_input_total", "Requests refused for malformed input.", stats_.bad_client_input);
  c("tollgate_client_disconnects_total", "Streams the client abandoned.", stats_.client_disconnects);
  c("tollgate_streams_broken_total", "Streams the upstream broke.", stats_.streams_broken);
  c("tollgate_unknown_price_total", "Requests whose model has no known price.", stats_.unknown_price);
  c("tollgate_cache_misses_total", "Cacheable requests not found in the cache.", stats_.cache_misses);
  c("tollgate_embedding_errors_total", "Semantic-cache embedding calls that failed.", stats_.embedding_errors);
  c("tollgate_cascade_escalations_total", "Cascade steps whose answer failed a check.", stats_.cascade_escalations);
  os << "# HELP tollgate_ledger_failed_rows_total Ledger rows that could not be written.\n"
        "# TYPE tollgate_ledger_failed_rows_total counter\ntollgate_ledger_failed_rows_total "
     << ledger_.failed_rows() << "\n";
  return metrics_.Render(os.str());
}

awaitable<bool> Gateway::Handle(int worker, http::Request& req, http::PreError pre, http::ClientStream& out) {
  stats_.requests.fetch_add(1, std::memory_order_relaxed);
  std::string_view target(req.target().data(), req.target().size());
  std::string_view path = target.substr(0, target.find('?'));
  const auto method = req.method();

  if (path == "/healthz") co_return co_await SendJson(200, R"({"status":"ok"})", out);
  if (path == "/metrics") {
    bhttp::response<bhttp::string_body> res{bhttp::status::ok, 11};
    res.set(bhttp::field::content_type, "text/plain; version=0.0.4");
    res.body() = RenderMetrics();
    {
      const Status written = co_await out.Write(res);
      co_return written.ok();
    }
  }
  std::string_view query = target.size() > path.size() ? target.substr(path.size() + 1) : std::string_view();
  if (path.rfind("/admin/", 0) == 0) {
    // SQLite work: hop to the blocking pool and back, so the worker's loop keeps serving.
    auto worker_exec = co_await asio::this_coro::executor;
    co_await asio::post(blocking_.get_executor(), use_awaitable);
    AdminResponse r = HandleAdmin(governor_, req.method_string(), path, query, BearerToken(req), req.body());
    co_await asio::post(worker_exec, use_awaitable);
    co_return co_await SendJson(r.status, r.body, out);
  }
  if (dashboard_ && !IsApiPath(path)) {
    auto worker_exec = co_await asio::this_coro::executor;
    co_await asio::post(blocking_.get_executor(), use_awaitable);
    std::optional<dashboard::Response> r =
        dashboard_->Handle(req.method_string(), path, query, HeaderValue(req, "authorization"));
    co_await asio::post(worker_exec, use_awaitable);
    if (r) {
      bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(r->status), 11};
      res.set(bhttp::field::content_type, r->content_type);
      for (const auto& [k, v] : r->headers) res.set(k, v);
      res.body() = std::move(r->body);
      {
        const Status written = co_await out.Write(res);
        co_return written.ok();
      }
    }
  }
  if (path == "/v1/models" || path == "/models") {
    if (governor_.auth_enabled()) {
      governance::Principal who;
      if (auto denial = governor_.Authenticate(BearerToken(req), &who)) {
        const std::string err_body = ErrorBody(FromDenial(*denial));
        co_return co_await SendJson(denial->status, err_body, out);
      }
    }
    if (method != bhttp::verb::get) {
      {
        const std::string err_body = ErrorBody(MethodNotAllowed(req.method_string(), path));
        co_return co_await SendJson(405, err_body, out);
      }
    }
    co_return co_await SendJson(200, models_json_, out);
  }
  std::string endpoint;
  providers::Api api = providers::Api::kOpenAiChat;
  std::string gemini_model;
  bool gemini_stream = false;
  bool count_tokens = false;
  if (path == "/v1/chat/completions" || path == "/chat/completions") {
    endpoint = "chat.completions";
  } else if (path == "/v1/completions" || path == "/completions") {
    endpoint = "completions";
    api = providers::Api::kOpenAiCompletions;
  } else if (path == "/v1/embeddings" || path == "/embeddings") {
    endpoint = "embeddings";
    api = providers::Api::kOpenAiEmbeddings;
  } else if (path == "/v1/responses" || path == "/responses") {
    endpoint = "responses";
    api = providers::Api::kOpenAiResponses;
  } else if (path == "/v1/messages") {
    endpoint = "messages";
    api = providers::Api::kAnthropicMessages;
  } else if (path == "/v1/messages/count_tokens") {
    endpoint = "messages.count_tokens";
    api = providers::Api::kAnthropicMessages;
    count_tokens = true;
  } else if (path.rfind("/v1beta/models/", 0) == 0 || path.rfind("/v1/models/", 0) == 0) {
    // Gemini's native API: /v1beta/models/{model}:generateContent or :streamGenerateContent.
    std::string_view rest = path.substr(path.find("/models/") + 8);
    size_t colon = rest.rfind(':');
    if (colon != std::string_view::npos && colon > 0) {
      std::string_view verb = rest.substr(colon + 1);
      if (verb == "generateContent" || verb == "streamGenerateContent") {
        endpoint = "gemini.generate";
        api = providers::Api::kGeminiGenerate;
        gemini_model = std::string(rest.substr(0, colon));
        gemini_stream = verb == "streamGenerateContent";
      }
    }
  }
  if (endpoint.empty()) {
    stats_.bad_client_input.fetch_add(1, std::memory_order_relaxed);
    {
      const std::string err_body = ErrorBody(NotFoundPath(path));
      co_return co_await SendJson(404, err_body, out);
    }
  }
  if (method != bhttp::verb::post) {
    stats_.bad_client_input.fetch_add(1, std::memory_order_relaxed);
    {
      const std::string err_body = ErrorBodyFor(api, MethodNotAllowed(req.method_string(), path));
      co_return co_await SendJson(405, err_body, out);
    }
  }

  Call call(req);
  call.start_us = MonotonicUs();
  call.row.id = NewRequestId();
  call.row.ts_start_ms = NowUnixMs();
  call.row.endpoint = endpoint;
  call.is_chat = endpoint == "chat.completions";
  call.api = api;
  call.worker = worker;

  // Client identity. The bearer secret itself is never stored or logged.
  std::string_view bearer = BearerToken(req);
  if (!bearer.empty()) call.row.api_key = "key_" + Sha256Hex(bearer).substr(0, 12);
  std::string_view project = Trim(HeaderValue(req, "x-tollgate-project"));
  std::string_view user_hdr = Trim(HeaderValue(req, "x-tollgate-user"));
  std::string_view tags = HeaderValue(req, "x-tollgate-tags");
  // Find the bad header first and co_await outside the loop: GCC 12 mis-handles
  // the lifetime of a range-for's initializer_list across a co_await (it crashed).
  const char* bad_header = nullptr;
  for (auto [name, v] : {std::pair{"x-tollgate-project", project}, std::pair{"x-tollgate-user", user_hdr},
                         std::pair{"x-tollgate-tags", tags}}) {
    if (v.size() > kMaxHeaderValue * (std::string_view(name) == "x-tollgate-tags" ? 8 : 1) || !Printable(v)) {
      bad_header = name;
      break;
    }
  }
  if (bad_header != nullptr) {
    stats_.bad_client_input.fetch_add(1, std::memory_order_relaxed);
    const ApiError e{400, "invalid_request_error", "invalid_header",
                     std::string("Header ") + bad_header + " must be printable text of at most " +
                         std::to_string(kMaxHeaderValue) + " characters",
                     bad_header};
    co_return co_await SendError(call, e, out);
  }
  call.row.project = std::string(project);
  {
    std::string joined;
    size_t count = 0;
    size_t pos = 0;
    while (pos <= tags.size() && !tags.empty()) {
      size_t comma = tags.find(',', pos);
      std::string_view t = Trim(tags.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos));
      if (!t.empty()) {
        joined += (joined.empty() ? "" : ",") + std::string(t);
        ++count;
      }
      if (comma == std::string_view::npos) break;
      pos = comma + 1;
    }
    if (count > kMaxTags) {
      stats_.bad_client_input.fetch_add(1, std::memory_order_relaxed);
      {
        const ApiError err =
            InvalidRequest("At most 32 tags are allowed in x-tollgate-tags", "x-tollgate-tags");
        co_return co_await SendError(call, err, out);
      }
    }
    call.row.tags = std::move(joined);
  }

  if (governor_.auth_enabled()) {
    auto denial = governor_.Authenticate(bearer, &call.principal);
    if (denial) {
      stats_.bad_client_input.fetch_add(1, std::memory_order_relaxed);
      {
        const ApiError err = FromDenial(*denial);
        co_return co_await SendError(call, err, out);
      }
    }
    call.authenticated = true;
    const governance::Principal& p = call.principal;
    call.row.key_id = p.key_id;
    call.row.api_key = p.key_id;
    call.row.team = p.team;
    // What the key says about its owner is authoritative over request headers.
    if (!p.project.empty()) call.row.project = p.project;
    for (const auto& t : p.tags) call.row.tags += (call.row.tags.empty() ? "" : ",") + t;
  }

  if (pre == http::PreError::kBodyTooLarge) {
    stats_.bad_client_input.fetch_add(1, std::memory_order_relaxed);
    {
      const ApiError err = TooLarge(cfg_.server.max_body_bytes);
      co_await SendError(call, err, out);
    }
    co_return false;
  }

  const std::string& raw = req.body();
  const JsonParse body_json = ParseJson(call.body, raw);
  if (!body_json.ok) {
    stats_.bad_client_input.fetch_add(1, std::memory_order_relaxed);
    const ApiError err = InvalidJson("Invalid JSON in request body " + JsonErrorMessage(body_json));
    co_return co_await SendError(call, err, out);
  }
  if (!call.body.IsObject()) {
    stats_.bad_client_input.fetch_add(1, std::memory_order_relaxed);
    {
      const ApiError err = InvalidJson("Request body must be a JSON object");
      co_return co_await SendError(call, err, out);
    }
  }
  if (api == providers::Api::kGeminiGenerate) {
    call.row.requested_model = gemini_model;
    call.stream = gemini_stream;
  } else {
    auto model_it = call.body.FindMember("model");
    if (model_it == call.body.MemberEnd() || !model_it->value.IsString() || model_it->value.GetStringLength() == 0) {
      stats_.bad_client_input.fetch_add(1, std::memory_order_relaxed);
      {
        const ApiError err =
            InvalidRequest("'model' is required and must be a non-empty string", "model");
        co_return co_await SendError(call, err, out);
      }
    }
    call.row.requested_model.assign(model_it->value.GetString(), model_it->value.GetStringLength());
  }
  if (std::optional<ApiError> bad = CheckRequestBody(api, call.body)) {
    stats_.bad_client_input.fetch_add(1, std::memory_order_relaxed);
    const ApiError err = std::move(*bad);
    co_return co_await SendError(call, err, out);
  }
  if (count_tokens) co_return co_await CountTokens(call, out);
  if (auto u = call.body.FindMember("user"); u != call.body.MemberEnd() && u->value.IsString())
    call.row.user.assign(u->value.GetString(), std::min<size_t>(u->value.GetStringLength(), kMaxHeaderValue));
  if (auto md = call.body.FindMember("metadata"); md != call.body.MemberEnd() && md->value.IsObject()) {
    auto uid = md->value.FindMember("user_id");
    if (uid != md->value.MemberEnd() && uid->value.IsString())
      call.row.user.assign(uid->value.GetString(), std::min<size_t>(uid->value.GetStringLength(), kMaxHeaderValue));
  }
  if (!user_hdr.empty()) call.row.user = std::string(user_hdr);
  if (call.authenticated && !call.principal.user.empty()) call.row.user = call.principal.user;
  if (api != providers::Api::kOpenAiEmbeddings && api != providers::Api::kGeminiGenerate) {
    if (auto s = call.body.FindMember("stream"); s != call.body.MemberEnd()) {
      if (!s->value.IsBool() && !s->value.IsNull()) {
        stats_.bad_client_input.fetch_add(1, std::memory_order_relaxed);
        {
          const ApiError err = InvalidRequest("'stream' must be a boolean", "stream");
          co_return co_await SendError(call, err, out);
        }
      }
      call.stream = s->value.IsBool() && s->value.GetBool();
    }
    if (auto so = call.body.FindMember("stream_options"); so != call.body.MemberEnd() && so->value.IsObject()) {
      auto iu = so->value.FindMember("include_usage");
      call.client_wants_usage = iu != so->value.MemberEnd() && iu->value.IsBool() && iu->value.GetBool();
    }
  }
  co_return co_await Proxy(call, out);
}

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
  // Price at the dearest deployment and tier, since any of them may serve it.
  for (const auto& d : model.deployments) {
    const pricing::ModelPrice* p = prices_.Find(d.model);
    if (!p) continue;
    auto consider = [&](const pricing::Rates& r) {
      f.input_usd_per_token = std::max(f.input_usd_per_token, std::max({r.input, r.cache_write_5m, r.cache_write_1h}) * 1e-6);
      f.output_usd_per_token = std::max(f.output_usd_per_token, std::max(r.output, r.reasoning) * 1e-6);
    };
    consider(p->rates);
    for (const auto& t : p->tiers) consider(t.rates);
  }
  return f;
}

namespace {

// Which API a provider type serves.
providers::Api ProviderApi(const config::ProviderConfig& p, providers::Api client) {
  if (p.type == "anthropic") return providers::Api::kAnthropicMessages;
  if (p.type == "gemini") return providers::Api::kGeminiGenerate;
  // The OpenAI family serves every OpenAI endpoint; an Anthropic client is translated to chat.
  if (client == providers::Api::kAnthropicMessages || client == providers::Api::kGeminiGenerate)
    return providers::Api::kOpenAiChat;
  return client;
}

// How a client API and a provider API meet: the same API (passthrough), a
// translation, or not at all.
enum class Bridge { kPassthrough, kChatToAnthropic, kAnthropicToChat, kUnsupported };

Bridge BridgeFor(providers::Api client, providers::Api provider) {
  using providers::Api;
  if (client == provider) return Bridge::kPassthrough;
  if (client == Api::kOpenAiChat && provider == Api::kAnthropicMessages) return Bridge::kChatToAnthropic;
  if (client == Api::kAnthropicMessages && provider == Api::kOpenAiChat) return Bridge::kAnthropicToChat;
  return Bridge::kUnsupported;
}

const char* OpenAiPath(providers::Api api) {
  switch (api) {
    case providers::Api::kOpenAiCompletions: return "/completions";
    case providers::Api::kOpenAiEmbeddings: return "/embeddings";
    case providers::Api::kOpenAiResponses: return "/responses";
    default: return "/chat/completions";
  }
}


}  // namespace

namespace {

// The cache's name for a client API, or nullptr where the cache does not apply.
const char* CacheApiName(providers::Api api) {
  switch (api) {
    case providers::Api::kOpenAiChat: return "chat";
    case providers::Api::kOpenAiCompletions: return "completions";
    case providers::Api::kAnthropicMessages: return "messages";
    case providers::Api::kOpenAiEmbeddings: return "embeddings";
    default: return nullptr;
  }
}

// The text of an answer in the client's API shape, for cascade checks.
std::string AnswerText(providers::Api api, const std::string& body) {
  rapidjson::Document d;
  const JsonParse d_json = ParseJson(d, body);
  std::string out;
  if (!d_json.ok || !d.IsObject()) return out;
  if (api == providers::Api::kAnthropicMessages) {
    auto c = d.FindMember("content");
    if (c != d.MemberEnd() && c->value.IsArray())
      for (const auto& b : c->value.GetArray()) {
        auto t = b.IsObject() ? b.FindMember("text") : b.MemberEnd();
        if (b.IsObject() && t != b.MemberEnd() && t->value.IsString()) out.append(t->value.GetString(), t->value.GetStringLength());
      }
    return out;
  }
  auto ch = d.FindMember("choices");
  if (ch == d.MemberEnd() || !ch->value.IsArray() || ch->value.Empty() || !ch->value[0].IsObject()) return out;
  const auto& c0 = ch->value[0];
  if (auto m = c0.FindMember("message"); m != c0.MemberEnd() && m->value.IsObject()) {
    auto t = m->value.FindMember("content");
    if (t != m->value.MemberEnd() && t->value.IsString()) out.assign(t->value.GetString(), t->value.GetStringLength());
    // A tool call is an answer too: check its arguments.
    auto tc = m->value.FindMember("tool_calls");
    if (out.empty() && tc != m->value.MemberEnd() && tc->value.IsArray() && !tc->value.Empty()) out = providers::Serialize(tc->value);
  } else if (auto t = c0.FindMember("text"); t != c0.MemberEnd() && t->value.IsString()) {
    out.assign(t->value.GetString(), t->value.GetStringLength());
  }
  return out;
}

// A new ledger row (own id and start time) charged to the same client as `parent`.
ledger::Row RowOnBehalfOf(const ledger::Row& parent) {
  ledger::Row r;
  r.id = NewRequestId();
  r.ts_start_ms = NowUnixMs();
  r.api_key = parent.api_key;
  r.key_id = parent.key_id;
  r.user = parent.user;
  r.project = parent.project;
  r.team = parent.team;
  r.tags = parent.tags;
  return r;
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

double Gateway::Random01() {
  std::lock_guard<std::mutex> lock(rng_mu_);
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
}

Status Gateway::Close() {
  if (cache_) return cache_->Close();
  return Status::Ok();
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
    const config::RouteConfig& route = *model->route;
    const config::ModelConfig* target = nullptr;
    if (!route.rules.empty()) {
      const routing::RouteRules& rules = *rules_.at(model->name);
      routing::RequestFeatures f = routing::ExtractFeatures(call.req.body(), call.body, call.row.tags);
      if (const config::RouteRule* r = rules.Match(f)) {
        target = models_.at(r->to);
        call.row.route = routing::RouteRules::Describe(*r, rules.IndexOf(r)) + "->" + r->to;
      }
    }
    if (target == nullptr && route.learned) {
      const router::LearnedRouter& lr = learned_.at(model->name);
      std::vector<std::pair<std::string, double>> candidates;
      for (const auto& [router_model, tg_model] : route.learned->candidates) {
        double price = routing::BlendedPrice(prices_, models_.at(tg_model)->deployments.front());
        candidates.emplace_back(router_model, price < 0 ? 1e9 : price);
      }
      const std::string text = providers::ReplayPromptOf(call.body);
      const double threshold = route.learned->threshold.value_or(lr.threshold());
      std::string chosen = lr.Choose(text, candidates, threshold);
      if (!chosen.empty()) {
        const std::string& tg = route.learned->candidates.at(chosen);
        target = models_.at(tg);
        std::vector<double> p = lr.PredictSuccess(text);
        double pc = 0;
        for (size_t i = 0; i < lr.models().size() && i < p.size(); ++i)
          if (lr.models()[i] == chosen) pc = p[i];
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.2f", pc);
        call.row.route = "learned:p=" + std::string(buf) + ">=" + std::to_string(threshold).substr(0, 4) + "->" + tg;
      }
    }
    if (target == nullptr && route.cascade) {
      routed_cascade = model;
    } else if (target == nullptr) {
      target = models_.at(route.default_model);
      call.row.route = "default->" + route.default_model;
    }
    if (target != nullptr) {
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

awaitable<bool> Gateway::Forward(Call& call, const config::ModelConfig& model, http::ClientStream& out) {
  call.model_cfg = &model;
  const governance::Principal* principal = call.authenticated ? &call.principal : nullptr;
  if (governor_.Active(principal)) {
    if (auto denial = governor_.Admit(principal, BudgetFacts(call, model), &call.admission)) {
      const ApiError err = FromDenial(*denial);
      co_return co_await SendError(call, err, out);
    }
  }
  // The cap forwarded upstream is the one reserved for: the budget may pay for
  // fewer output tokens than asked (clamp), and a request that sets none is
  // sent with the reserved default, so no answer can cost more than its reservation.
  int64_t output_cap = -1;
  const bool cap_injected = call.admission.active && call.api != providers::Api::kOpenAiEmbeddings &&
                            !ClientOutputCap(call.api, call.body);
  if (call.admission.clamped_max_tokens >= 0) output_cap = call.admission.clamped_max_tokens;
  else if (cap_injected) output_cap = cfg_.governance.default_max_tokens;

  // The last failure, answered if every deployment fails.
  std::optional<ApiError> last_error;  // built only on failure
  int last_http_status = 0;
  std::string last_http_body, last_http_ctype;
  const bool openai_stream = call.api == providers::Api::kOpenAiChat || call.api == providers::Api::kOpenAiCompletions;
  const bool inject_usage = call.stream && openai_stream && !call.client_wants_usage;

  // Only a weighted draw needs the (locked) generator.
  routing::DeploymentPlan plan =
      routing::PlanDeployments(model, *latency_, prices_, model.strategy == "weighted" ? Random01() : 0.0);
  if (!plan.reason.empty()) call.row.route += (call.row.route.empty() ? "" : ";") + plan.reason;
  for (size_t k = 0; k < plan.order.size(); ++k) {
    const size_t d = plan.order[k];
    const config::Deployment& dep = model.deployments[d];
    const ProviderRuntime& p = providers_.at(dep.provider);
    if (k > 0) ++call.row.fallbacks;
    call.deployment = d;
    call.row.provider = p.cfg->name;
    call.row.served_model = dep.model;
    if (p.cfg->type == "replay") {
      if (call.api != providers::Api::kOpenAiChat && call.api != providers::Api::kAnthropicMessages) {
        last_error = InvalidRequest("The replay provider serves chat completions and messages only", "");
        last_http_status = 0;
        continue;
      }
      co_return co_await ServeReplay(call, p, dep.model, out);
    }
    if (p.cfg->type == "sim") {
      if (call.api == providers::Api::kOpenAiResponses || call.api == providers::Api::kGeminiGenerate) {
        last_error = InvalidRequest("The sim provider does not serve this endpoint", "");
        last_http_status = 0;
        continue;
      }
      co_return co_await ServeSim(call, p, dep.model, out);
    }
    if (p.authorization.empty() && (p.cfg->type == "openai" || p.cfg->type == "anthropic" || p.cfg->type == "gemini" ||
                                    p.cfg->type == "azure")) {
      last_error = ProviderNotConfigured(p.cfg->name, "no API key; set api_key (e.g. ${PROVIDER_API_KEY})");
      last_http_status = 0;
      continue;
    }
    const providers::Api papi = ProviderApi(*p.cfg, call.api);
    const Bridge bridge = BridgeFor(call.api, papi);
    if (bridge == Bridge::kUnsupported) {
      last_error = InvalidRequest("Model '" + model.name + "' is served by provider '" + p.cfg->name + "' (type " +
                                      p.cfg->type + "), which cannot answer this endpoint",
                                  "model");
      last_http_status = 0;
      continue;
    }

    if (output_cap >= 0) {
      // OpenAI's own API wants max_completion_tokens (its reasoning models refuse
      // max_tokens); every OpenAI-compatible server understands max_tokens. A
      // field injected for an earlier deployment is replaced, not kept.
      if (cap_injected && call.api == providers::Api::kOpenAiChat) {
        call.body.RemoveMember("max_tokens");
        call.body.RemoveMember("max_completion_tokens");
      }
      SetOutputCap(call.api, call.body, output_cap, p.cfg->type == "openai" || p.cfg->type == "azure");
      call.body_modified = true;
    }
    // The upstream body: the client's bytes untouched whenever possible.
    std::string rewritten;
    bool use_raw = false;
    if (bridge == Bridge::kChatToAnthropic) {
      auto t = providers::ChatRequestToAnthropic(call.body, dep.model, cfg_.governance.default_max_tokens);
      if (!t.ok()) {
        const ApiError err = InvalidRequest(t.status().message(), "");
        co_return co_await SendError(call, err, out);
      }
      rewritten = std::move(*t);
    } else if (bridge == Bridge::kAnthropicToChat) {
      auto t = providers::AnthropicRequestToChat(call.body, dep.model);
      if (!t.ok()) {
        const ApiError err = InvalidRequest(t.status().message(), "");
        co_return co_await SendError(call, err, out);
      }
      rewritten = std::move(*t);
    } else if (papi == providers::Api::kGeminiGenerate) {
      use_raw = !call.body_modified;  // the model travels in the path
      if (!use_raw) rewritten = providers::Serialize(call.body);
    } else {
      const bool has_model = call.body.HasMember("model");
      const bool rewrite = (has_model && dep.model != call.row.requested_model) || inject_usage || call.body_modified;
      use_raw = !rewrite;
      if (rewrite) rewritten = providers::RewriteRequest(call.body, dep.model, inject_usage);
    }
    const std::string& payload = use_raw ? call.req.body() : rewritten;

    // Path and auth headers by provider type.
    std::string target = p.endpoint.url.path;
    if (p.cfg->type == "anthropic") {
      target += "/messages";
    } else if (p.cfg->type == "gemini") {
      target += "/models/" + dep.model + (call.stream ? ":streamGenerateContent?alt=sse" : ":generateContent");
    } else if (p.cfg->type == "azure") {
      // Azure's Responses API has no deployment segment: the deployment is the body's model.
      if (papi == providers::Api::kOpenAiResponses) target += std::string(OpenAiPath(papi)) + "?api-version=" + p.cfg->api_version;
      else target += "/deployments/" + dep.model + OpenAiPath(papi) + "?api-version=" + p.cfg->api_version;
    } else {
      target += OpenAiPath(papi);
    }

    for (int64_t attempt = 0; attempt <= p.cfg->max_retries; ++attempt) {
      if (attempt > 0) {
        ++call.row.retries;
        asio::steady_timer t(co_await asio::this_coro::executor,
                             std::chrono::milliseconds(p.cfg->retry_backoff_ms << std::min<int64_t>(attempt - 1, 10)));
        boost::system::error_code ec;
        co_await t.async_wait(asio::redirect_error(use_awaitable, ec));
      }
      http::RequestHead up(bhttp::verb::post, target);
      up.set(bhttp::field::content_type, "application/json");
      up.set(bhttp::field::user_agent, "tollgate/" TOLLGATE_VERSION);
      up.set(bhttp::field::accept, call.stream ? "text/event-stream" : "application/json");
      if (p.cfg->type == "anthropic") {
        if (!p.cfg->api_key.empty()) up.set("x-api-key", p.cfg->api_key);
        auto v = HeaderValue(call.req, "anthropic-version");
        up.set("anthropic-version", v.empty() ? std::string_view(p.cfg->api_version) : v);
        if (auto beta = HeaderValue(call.req, "anthropic-beta"); !beta.empty()) up.set("anthropic-beta", beta);
      } else if (p.cfg->type == "gemini") {
        if (!p.cfg->api_key.empty()) up.set("x-goog-api-key", p.cfg->api_key);
      } else if (p.cfg->type == "azure") {
        if (!p.cfg->api_key.empty()) up.set("api-key", p.cfg->api_key);
      } else {
        if (!p.authorization.empty()) up.set(bhttp::field::authorization, p.authorization);
        for (const char* h : {"openai-organization", "openai-project"}) {
          auto v = HeaderValue(call.req, h);
          if (!v.empty()) up.set(h, v);
        }
      }
      http::UpstreamCall ucall(*pools_[static_cast<size_t>(call.worker)], p.endpoint);
      Status st = co_await ucall.Start(up, payload);  // the body is sent from where it is
      if (!st.ok() && Cutting()) {
        const ApiError err = ShuttingDown();  // no other deployment is tried while shutting down
        co_return co_await SendError(call, err, out);
      }
      if (!st.ok()) {
        stats_.upstream_errors.fetch_add(1, std::memory_order_relaxed);
        last_http_status = 0;
        last_error = ucall.failure_kind() == http::FailureKind::kTimeout
                         ? UpstreamTimeout(p.cfg->name, st.message())
                         : UpstreamUnreachable(p.cfg->name, st.message());
        continue;
      }
      const int status = ucall.status();
      if (status == 429 || status >= 500) {
        stats_.upstream_errors.fetch_add(1, std::memory_order_relaxed);
        auto body = co_await ucall.ReadAll(1 << 20);
        ucall.Finish();
        last_http_status = status;
        last_http_body = body.ok() ? *body : std::string();
        auto ct = ucall.head().find(bhttp::field::content_type);
        last_http_ctype = ct == ucall.head().end() ? "application/json" : std::string(ct->value());
        last_error = ApiError{status, "upstream_error", status == 429 ? "upstream_rate_limited" : "upstream_5xx",
                      "Provider '" + p.cfg->name + "' answered HTTP " + std::to_string(status), ""};
        continue;
      }
      if (status >= 400) {
        // A client error upstream is the client's to see, unchanged.
        auto body = co_await ucall.ReadAll(1 << 20);
        ucall.Finish();
        call.row.status = status;
        call.row.error_class = "upstream_4xx";
        PriceAndRecord(call);
        bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(status), 11};
        auto ct = ucall.head().find(bhttp::field::content_type);
        res.set(bhttp::field::content_type, ct == ucall.head().end() ? "application/json" : std::string(ct->value()));
        for (const auto& f : ucall.head())
          if (ForwardableUpstreamHeader(f.name_string())) res.set(f.name_string(), f.value());
        SetIdHeaders(call, res);
        res.body() = body.ok() ? std::move(*body) : std::string();
        Status ws = co_await out.Write(res);
        co_return ws.ok();
      }
      auto ct = ucall.head().find(bhttp::field::content_type);
      bool is_sse = ct != ucall.head().end() && ct->value().find("text/event-stream") != std::string_view::npos;
      if (call.stream && is_sse) {
        std::unique_ptr<providers::StreamAdapter> adapter;
        if (bridge == Bridge::kChatToAnthropic)
          adapter = providers::MakeAnthropicToChatStream(call.row.requested_model, call.client_wants_usage);
        else if (bridge == Bridge::kAnthropicToChat)
          adapter = providers::MakeChatToAnthropicStream(call.row.requested_model);
        else if (papi == providers::Api::kAnthropicMessages)
          adapter = providers::MakeAnthropicPassthrough();
        else if (papi == providers::Api::kOpenAiResponses)
          adapter = providers::MakeResponsesPassthrough();
        else if (papi == providers::Api::kGeminiGenerate)
          adapter = providers::MakeGeminiPassthrough();
        else
          adapter = providers::MakeOpenAiPassthrough(inject_usage);
        co_return co_await RelayStream(call, ucall, *adapter, out);
      }
      co_return co_await RelayWhole(call, ucall, papi, bridge != Bridge::kPassthrough, out);
    }
  }
  // Every deployment failed before anything reached the client.
  if (last_http_status != 0) {
    call.row.status = last_http_status;
    call.row.error_class = last_error->code;
    PriceAndRecord(call);
    bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(last_http_status), 11};
    res.set(bhttp::field::content_type, last_http_ctype);
    SetIdHeaders(call, res);
    res.body() = last_http_body.empty() ? ErrorBodyFor(call.api, *last_error) : last_http_body;
    Status ws = co_await out.Write(res);
    co_return ws.ok();
  }
  if (!last_error) last_error = UpstreamUnreachable("?", "no deployment was tried");
  const ApiError failure = std::move(*last_error);
  co_return co_await SendError(call, failure, out);
}

void Gateway::ApplyMeter(Call& call, const providers::Meter& m) {
  if (!m.model.empty()) call.response_model = m.model;
  call.text_chars = m.text_chars;
  call.have_usage = m.have_usage;
  if (m.have_usage) {
    call.row.usage = m.usage;
  } else {
    // No usage from the provider: estimate, and say so in the ledger.
    call.row.usage = pricing::Usage{};
    call.row.usage.input = providers::EstimatePromptTokens(call.body);
    call.row.usage.output = providers::EstimateTokensFromChars(call.text_chars);
    call.row.estimated = true;
  }
}

awaitable<bool> Gateway::RelayWhole(Call& call, http::UpstreamCall& up, providers::Api provider_api, bool translate,
                                    http::ClientStream& out) {
  auto body = co_await up.ReadAll(kMaxUpstreamBody);
  if (!body.ok()) {
    stats_.upstream_errors.fetch_add(1, std::memory_order_relaxed);
    // Built as a named local: GCC 12 miscompiles class temporaries of a conditional
    // inside a co_await full-expression (a bad free in ~ApiError, issue 11).
    ApiError err;
    if (Cutting())
      err = ShuttingDown();
    else if (body.status().code() == StatusCode::kTimeout)
      err = UpstreamTimeout(call.row.provider, body.status().message());
    else
      err = UpstreamUnreachable(call.row.provider, body.status().message());
    co_return co_await SendError(call, err, out);
  }
  up.Finish();
  // A typical answer's DOM fits in the frame (rapidjson's default first chunk is a 64 KiB malloc).
  char doc_arena[2048];
  rapidjson::MemoryPoolAllocator<> doc_alloc{doc_arena, sizeof doc_arena};
  rapidjson::Document doc{&doc_alloc};
  const JsonParse doc_json = ParseJson(doc, *body);
  const bool parsed = doc_json.ok && doc.IsObject();
  providers::Meter meter;
  if (parsed) meter = providers::MeterResponse(provider_api, doc);
  ApplyMeter(call, meter);
  std::string client_body;
  if (translate && parsed) {
    auto t = provider_api == providers::Api::kAnthropicMessages
                 ? providers::AnthropicResponseToChat(doc, call.row.requested_model)
                 : providers::ChatResponseToAnthropic(doc, call.row.requested_model);
    if (!t.ok()) {
      call.row.status = 502;
      call.row.error_class = "translation_failed";
      PriceAndRecord(call);
      ApiError e{502, "upstream_error", "translation_failed",
                 "Could not translate the answer of provider '" + call.row.provider + "': " + t.status().message(), ""};
      bhttp::response<bhttp::string_body> res{bhttp::status::bad_gateway, 11};
      res.set(bhttp::field::content_type, "application/json");
      SetIdHeaders(call, res);
      res.body() = ErrorBodyFor(call.api, e);
      {
        const Status written = co_await out.Write(res);
        co_return written.ok();
      }
    }
    client_body = std::move(*t);
  } else {
    client_body = std::move(*body);
  }
  call.row.status = up.status();
  PriceAndRecord(call);
  http::ResponseHead res(static_cast<unsigned>(up.status()));  // built as text: no header map
  auto ct = up.head().find(bhttp::field::content_type);
  res.set(bhttp::field::content_type,
          translate || ct == up.head().end() ? std::string_view("application/json") : ct->value());
  for (const auto& f : up.head())
    if (ForwardableUpstreamHeader(f.name_string())) res.set(f.name_string(), f.value());
  SetIdHeaders(call, res);
  res.set("x-tollgate-cost-usd", call.cost_header);
  MaybeCache(call, client_body);
  Status st = co_await out.Write(res, client_body);
  co_return st.ok();
}

awaitable<bool> Gateway::RelayStream(Call& call, http::UpstreamCall& up, providers::StreamAdapter& adapter,
                                     http::ClientStream& out) {
  call.row.streamed = true;
  bhttp::response<bhttp::empty_body> head{static_cast<bhttp::status>(up.status()), 11};
  head.set(bhttp::field::content_type, "text/event-stream");
  head.set(bhttp::field::cache_control, "no-cache");
  for (const auto& f : up.head())
    if (ForwardableUpstreamHeader(f.name_string())) head.set(f.name_string(), f.value());
  SetIdHeaders(call, head);
  Status st = co_await out.StartChunked(head);
  bool client_gone = !st.ok();
  bool broken = false;
  std::string broken_reason;
  std::string pending, forward;
  char buf[16384];
  while (!client_gone) {
    Result<size_t> n = co_await up.ReadSome(buf, sizeof buf);
    if (!n.ok()) {
      broken = true;
      broken_reason = n.status().message();
      break;
    }
    if (*n == 0) break;
    pending.append(buf, *n);
    size_t pos = 0, sep = 0, end;
    while ((end = providers::FindSseEventEnd(pending, pos, &sep)) != std::string::npos) {
      adapter.OnEvent(std::string_view(pending.data() + pos, end - pos), &forward);
      pos = end + sep;
    }
    pending.erase(0, pos);
    if (!forward.empty()) {
      if (!call.row.ttft_ms) call.row.ttft_ms = static_cast<double>(MonotonicUs() - call.start_us) / 1000.0;
      st = co_await out.WriteChunk(forward);
      forward.clear();
      if (!st.ok()) client_gone = true;
    }
  }
  if (!client_gone && !broken) up.Finish();
  ApplyMeter(call, adapter.meter());
  if ((client_gone || broken || !adapter.meter().complete || adapter.meter().usage_provisional) &&
      call.have_usage) {
    // A cut stream's usage is provisional (Anthropic reports output_tokens: 1 in
    // message_start): bill at least what the text received implies.
    const int64_t seen = providers::EstimateTokensFromChars(call.text_chars);
    if (seen > call.row.usage.OutputTotal()) {
      call.row.usage.output = seen - call.row.usage.reasoning;
      call.row.estimated = true;
    }
  }
  call.row.status = up.status();
  std::string tail;
  if (client_gone) {
    call.row.status = 499;
    call.row.error_class = "client_disconnect";
    stats_.client_disconnects.fetch_add(1, std::memory_order_relaxed);
  } else if (broken && Cutting()) {
    // Shutdown cut the stream (Server::Stop): billed for what was delivered.
    call.row.error_class = "shutdown";
    adapter.Fail(ShuttingDown().message, &tail);
  } else if (broken || !adapter.meter().complete) {
    call.row.error_class = "stream_broken";
    stats_.streams_broken.fetch_add(1, std::memory_order_relaxed);
    if (broken_reason.empty()) broken_reason = "upstream ended the stream before its final event";
    adapter.Fail("Provider '" + call.row.provider + "' stream broke: " + broken_reason, &tail);
  } else {
    adapter.Finish(&tail);
  }
  PriceAndRecord(call);
  if (client_gone) co_return false;
  MaybeCache(call, tail);
  tail += ": tollgate cost_usd=" + call.cost_header + " request_id=" + call.row.id + "\n\n";
  st = co_await out.WriteChunk(tail);
  if (st.ok()) st = co_await out.EndChunked();
  co_return st.ok() && call.row.error_class.empty();
}

awaitable<bool> Gateway::ServeSim(Call& call, const ProviderRuntime& p, const std::string& model,
                                  http::ClientStream& out) {
  const config::ProviderConfig& cfg = *p.cfg;
  auto exec = co_await asio::this_coro::executor;
  boost::system::error_code ec;
  auto sleep_ms = [&](int64_t ms) -> awaitable<void> {
    if (ms <= 0) co_return;
    asio::steady_timer t(exec, std::chrono::milliseconds(ms));
    co_await t.async_wait(asio::redirect_error(use_awaitable, ec));
  };
  call.response_model = model;
  const std::string sim_id = "sim-" + call.row.id.substr(4);
  if (call.row.endpoint == "embeddings") {
    co_await sleep_ms(cfg.latency_ms);
    std::string body = providers::SimEmbeddingsResponse(model, call.body, &call.row.usage);
    call.row.status = 200;
    PriceAndRecord(call);
    bhttp::response<bhttp::string_body> res{bhttp::status::ok, 11};
    res.set(bhttp::field::content_type, "application/json");
    SetIdHeaders(call, res);
    res.set("x-tollgate-cost-usd", call.cost_header);
    res.set("x-tollgate-simulated", "true");
    res.body() = std::move(body);
    {
      const Status written = co_await out.Write(res);
      co_return written.ok();
    }
  }
  providers::SimAnswer a = providers::SimGenerate(cfg, call.body);
  const int64_t per_token_ms = std::max<int64_t>(1000 / cfg.tokens_per_second, 0);
  // An Anthropic client gets the simulated chat answer translated, like any OpenAI-family model.
  const bool to_anthropic = call.api == providers::Api::kAnthropicMessages;
  const bool chat = call.is_chat || to_anthropic;
  if (!call.stream) {
    co_await sleep_ms(cfg.latency_ms + per_token_ms * static_cast<int64_t>(a.pieces.size()));
    std::string body = providers::SimChatResponse(sim_id, model, a, chat);
    if (to_anthropic) {
      rapidjson::Document doc;
      ParseJson(doc, body);
      auto t = providers::ChatResponseToAnthropic(doc, call.row.requested_model);
      if (t.ok()) body = std::move(*t);
    }
    call.row.usage = a.usage;
    call.row.status = 200;
    PriceAndRecord(call);
    bhttp::response<bhttp::string_body> res{bhttp::status::ok, 11};
    res.set(bhttp::field::content_type, "application/json");
    SetIdHeaders(call, res);
    res.set("x-tollgate-cost-usd", call.cost_header);
    res.set("x-tollgate-simulated", "true");
    MaybeCache(call, body);
    res.body() = std::move(body);
    {
      const Status written = co_await out.Write(res);
      co_return written.ok();
    }
  }
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
  co_await sleep_ms(cfg.latency_ms);
  size_t sent = 0;
  std::string chunk;
  bool cut = false;
  for (size_t i = 0; i < a.pieces.size() && st.ok(); ++i) {
    if (i > 0) co_await sleep_ms(per_token_ms);
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
  if (p.cfg->type == "anthropic") {
    std::string payload = providers::RewriteRequest(call.body, dep.model, false);
    bhttp::request<bhttp::string_body> up{bhttp::verb::post, p.endpoint.url.path + "/messages/count_tokens", 11};
    up.set(bhttp::field::content_type, "application/json");
    if (!p.cfg->api_key.empty()) up.set("x-api-key", p.cfg->api_key);
    auto v = HeaderValue(call.req, "anthropic-version");
    up.set("anthropic-version", v.empty() ? std::string_view(p.cfg->api_version) : v);
    if (auto beta = HeaderValue(call.req, "anthropic-beta"); !beta.empty()) up.set("anthropic-beta", beta);
    up.keep_alive(true);
    up.body() = std::move(payload);
    http::UpstreamCall ucall(*pools_[static_cast<size_t>(call.worker)], p.endpoint);
    Status st = co_await ucall.Start(up);
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


// ---- Savings engine: cache, cascades, replay ------------------------------

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
  if (cfg_.cache.scope == "global") scope = "global";
  else if (cfg_.cache.scope == "project") scope = "project:" + call.row.project;
  else scope = "key:" + (call.row.key_id.empty() ? call.row.api_key : call.row.key_id);
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
          std::lock_guard<std::mutex> lock(semantic_mu_);
          if (semantic_) match = semantic_->Find(call.cache_scope, call.embedding, cfg_.cache.semantic_threshold);
        }
      } else {
        match = minhash_.Find(call.cache_scope, *text, cfg_.cache.minhash_threshold);
      }
      if (match) {
        std::string key;
        {
          std::lock_guard<std::mutex> lock(semantic_mu_);
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
        std::lock_guard<std::mutex> lock(semantic_mu_);
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
      rapidjson::Document d;
      const JsonParse d_json = ParseJson(d, *body);
      if (d_json.ok && d.IsObject()) {
        if (auto u = d.FindMember("usage"); u != d.MemberEnd() && u->value.IsObject()) {
          auto pt = u->value.FindMember("prompt_tokens");
          if (pt != u->value.MemberEnd() && pt->value.IsInt64()) {
            er.usage.input = pt->value.GetInt64();
            er.estimated = false;
          }
        }
        auto data = d.FindMember("data");
        if (data != d.MemberEnd() && data->value.IsArray() && !data->value.Empty() && data->value[0].IsObject()) {
          auto emb = data->value[0].FindMember("embedding");
          if (emb != data->value[0].MemberEnd() && emb->value.IsArray() && !emb->value.Empty()) {
            std::vector<float> v;
            v.reserve(emb->value.Size());
            bool ok = true;
            for (const auto& x : emb->value.GetArray()) {
              if (!x.IsNumber()) ok = false;
              else v.push_back(static_cast<float>(x.GetDouble()));
            }
            if (ok) result = std::move(v);
          }
        }
      }
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
        rapidjson::Value u(rapidjson::kObjectType);
        u.AddMember("prompt_tokens", call.row.usage.PromptTotal(), a);
        u.AddMember("completion_tokens", call.row.usage.OutputTotal(), a);
        u.AddMember("total_tokens", call.row.usage.Total(), a);
        d.AddMember("usage", u, a);
        StoreInCache(call, providers::Serialize(d));
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
    std::lock_guard<std::mutex> lock(semantic_mu_);
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

awaitable<bool> Gateway::SendAnswer(Call& call, const std::string& body, bool sse, std::string_view extra_name,
                                    std::string_view extra_value, http::ClientStream& out) {
  MaybeCache(call, body);
  if (!sse) {
    bhttp::response<bhttp::string_body> res{bhttp::status::ok, 11};
    res.set(bhttp::field::content_type, "application/json");
    SetIdHeaders(call, res);
    res.set("x-tollgate-cost-usd", call.cost_header);
    if (!extra_name.empty()) res.set(extra_name, extra_value);
    res.body() = body;
    {
      const Status written = co_await out.Write(res);
      co_return written.ok();
    }
  }
  bhttp::response<bhttp::empty_body> head{bhttp::status::ok, 11};
  head.set(bhttp::field::content_type, "text/event-stream");
  head.set(bhttp::field::cache_control, "no-cache");
  SetIdHeaders(call, head);
  if (!extra_name.empty()) head.set(extra_name, extra_value);
  Status st = co_await out.StartChunked(head);
  if (st.ok()) st = co_await out.WriteChunk(body);
  if (st.ok()) st = co_await out.WriteChunk(": tollgate cost_usd=" + call.cost_header + " request_id=" + call.row.id + "\n\n");
  if (st.ok()) st = co_await out.EndChunked();
  co_return st.ok();
}

void Gateway::Record(ledger::Row& row) {
  metrics_.Record(row);
  ledger_.Append(row);
}

awaitable<http::ClientStream> Gateway::SubRequest(Call& parent, const config::ModelConfig& model,
                                                  const std::string& body, ledger::Row* row) {
  http::Request req = parent.req;
  req.body() = body;
  Call sub(req);
  sub.start_us = MonotonicUs();
  sub.row = RowOnBehalfOf(parent.row);
  sub.row.endpoint = parent.row.endpoint;
  sub.row.requested_model = parent.row.requested_model;
  sub.is_chat = parent.is_chat;
  sub.api = parent.api;
  sub.worker = parent.worker;
  sub.authenticated = parent.authenticated;
  sub.principal = parent.principal;
  sub.baseline_model = parent.baseline_model;
  sub.defer_record = true;
  ParseJson(sub.body, req.body());  // the parent's body, already checked
  sub.body_modified = true;
  http::ClientStream capture;
  co_await Forward(sub, model, capture);
  *row = std::move(sub.row);
  co_return capture;
}

awaitable<bool> Gateway::RunCascade(Call& call, const config::ModelConfig& routed, http::ClientStream& out) {
  const config::CascadeConfig& cc = *routed.route->cascade;
  const std::vector<std::optional<router::CheckSpec>>& checks = cascade_checks_.at(routed.name);
  if (call.api != providers::Api::kOpenAiChat && call.api != providers::Api::kAnthropicMessages &&
      call.api != providers::Api::kOpenAiCompletions) {
    {
      const ApiError err =
          InvalidRequest("Cascade model '" + routed.name +
                             "' serves chat completions, completions and messages only",
                         "model");
      co_return co_await SendError(call, err, out);
    }
  }
  std::string reasons;
  const std::string prompt = providers::ReplayPromptOf(call.body);
  for (size_t i = 0; i + 1 < cc.steps.size(); ++i) {
    const config::ModelConfig& step = *models_.at(cc.steps[i]);
    rapidjson::Document d;
    d.CopyFrom(call.body, d.GetAllocator());
    d.RemoveMember("stream");
    d.RemoveMember("stream_options");
    if (auto m = d.FindMember("model"); m != d.MemberEnd()) m->value.SetString(step.name.c_str(), static_cast<rapidjson::SizeType>(step.name.size()), d.GetAllocator());
    ledger::Row srow;
    const std::string step_body = providers::Serialize(d);  // a named local across the co_await
    http::ClientStream cap = co_await SubRequest(call, step, step_body, &srow);
    bool pass = cap.captured_status() == 200;
    std::string reason = pass ? "" : "HTTP " + std::to_string(cap.captured_status());
    const std::string answer = pass ? AnswerText(call.api, cap.captured_body()) : std::string();
    for (size_t c = 0; pass && c < checks.size(); ++c) {
      if (checks[c]) {
        router::CheckResult r = router::RunCheck(*checks[c], answer);
        if (!r.pass) {
          pass = false;
          reason = cc.checks[c].type + ": " + r.reason;
        }
        continue;
      }
      // A judge model grades the answer from 0 to 10.
      const config::ModelConfig& judge = *models_.at(cc.judge_model);
      rapidjson::Document jd(rapidjson::kObjectType);
      auto& a = jd.GetAllocator();
      const std::string ask = "Question:\n" + prompt + "\n\nAnswer:\n" + answer +
                              "\n\nGrade the answer's correctness and completeness from 0 (wrong) to 10 (perfect). "
                              "Reply with the number only.";
      jd.AddMember("model", rapidjson::Value(judge.name.c_str(), a), a);
      jd.AddMember("max_tokens", 16, a);
      if (call.api == providers::Api::kOpenAiCompletions) {
        jd.AddMember("prompt", rapidjson::Value(ask.c_str(), static_cast<rapidjson::SizeType>(ask.size()), a), a);
      } else {
        rapidjson::Value msgs(rapidjson::kArrayType), m(rapidjson::kObjectType);
        m.AddMember("role", "user", a);
        m.AddMember("content", rapidjson::Value(ask.c_str(), static_cast<rapidjson::SizeType>(ask.size()), a), a);
        msgs.PushBack(m, a);
        jd.AddMember("messages", msgs, a);
      }
      ledger::Row jrow;
      const std::string judge_body = providers::Serialize(jd);
      http::ClientStream jcap = co_await SubRequest(call, judge, judge_body, &jrow);
      double score = -1;
      if (jcap.captured_status() == 200) {
        std::string g = AnswerText(call.api, jcap.captured_body());
        size_t k = g.find_first_of("0123456789");
        if (k != std::string::npos) score = std::strtod(g.c_str() + k, nullptr);
      }
      jrow.route = "cascade:judge(" + cc.steps[i] + ") score=" + std::to_string(score).substr(0, 4);
      jrow.savings_lever = "cascade";
      jrow.baseline_cost_usd = 0.0;  // pure overhead of the cascade
      Record(jrow);
      if (score < cc.checks[c].min_confidence) {
        pass = false;
        reason = "judge: score " + std::to_string(score).substr(0, 4) + " < " + std::to_string(cc.checks[c].min_confidence).substr(0, 4);
      }
    }
    srow.savings_lever = "cascade";
    if (!pass) {
      srow.route = "cascade:" + cc.steps[i] + " rejected (" + reason + ")";
      srow.baseline_cost_usd = 0.0;  // the rejected attempt is what the cascade cost extra
      Record(srow);
      reasons += (reasons.empty() ? "" : "; ") + cc.steps[i] + ": " + reason;
      stats_.cascade_escalations.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    srow.route = "cascade:" + cc.steps[i] + " accepted";
    srow.streamed = call.stream;  // the client receives it as it asked
    Record(srow);
    // The client gets this answer, under this row's id.
    call.row.id = srow.id;
    call.row.route = srow.route;
    call.row.status = 200;
    call.row.served_model = srow.served_model;
    call.row.usage = srow.usage;
    call.row.cost = srow.cost;
    call.row.cost_known = srow.cost_known;
    call.cost_header = srow.cost_known ? FormatUsd(srow.cost.Total()) : "unknown";
    const std::string& body = cap.captured_body();
    if (!call.stream) co_return co_await SendAnswer(call, body, false, {}, {}, out);
    auto sse = cache::ReplayAsSse(CacheApiName(call.api), body, call.client_wants_usage, call.row.id);
    if (!sse.ok()) {
      const ApiError e{502, "upstream_error", "cascade_replay_failed", sse.status().message(), ""};
      co_return co_await SendError(call, e, out);
    }
    call.row.streamed = true;
    co_return co_await SendAnswer(call, *sse, true, {}, {}, out);
  }
  // Every cheaper step was rejected: the last one answers, streamed as asked.
  const std::string& last = cc.steps.back();
  call.row.route = "cascade:" + last + " escalated (" + reasons + ")";
  call.row.savings_lever = "cascade";
  co_return co_await Forward(call, *models_.at(last), out);
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
