// The gateway's front: construction from config, the per-worker pools, and
// Handle, which routes a request to the health, metrics, admin and dashboard
// answers or to the API pipeline (identify -> govern -> save -> forward ->
// relay -> record; docs/ARCHITECTURE.md).
#include "gateway/gateway.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cmath>
#include <sstream>

#include "gateway/admin.h"
#include "gateway/call.h"

namespace tollgate::gateway {

using asio::awaitable;
using asio::use_awaitable;

namespace {

// Paths the gateway itself answers (everything else may be the dashboard's).
bool IsApiPath(std::string_view path) {
  return path.rfind("/v1/", 0) == 0 || path.rfind("/v1beta/", 0) == 0 || path == "/chat/completions" ||
         path == "/completions" || path == "/embeddings" || path == "/responses" || path == "/models";
}

// HEAD is GET without the body (the server drops it: http::ClientStream::SetHeadOnly), so
// whatever answers GET answers HEAD the same way. Claude Code sends `HEAD /` at start.
std::string_view ReadMethod(const http::Request& req) {
  if (req.method() == bhttp::verb::head) return "GET";
  return std::string_view(req.method_string().data(), req.method_string().size());
}

// The acceptance checks of a cascade, in order; a judge check is nullopt (the
// gateway grades it with the judge model).
std::vector<std::optional<router::CheckSpec>> CascadeCheckSpecs(const config::CascadeConfig& cascade) {
  std::vector<std::optional<router::CheckSpec>> specs;
  for (const auto& c : cascade.checks) {
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
  return specs;
}

// The dearest model a route can send to (by its first deployment's blended price).
std::string DearestTarget(const config::RouteConfig& route, const pricing::PriceCatalog& prices,
                          const std::unordered_map<std::string, const config::ModelConfig*>& models) {
  std::vector<std::string> targets;
  for (const auto& r : route.rules) targets.push_back(r.to);
  if (!route.default_model.empty()) targets.push_back(route.default_model);
  if (route.cascade) targets.insert(targets.end(), route.cascade->steps.begin(), route.cascade->steps.end());
  if (route.learned)
    for (const auto& [rm, tg] : route.learned->candidates) targets.push_back(tg);
  std::string baseline;
  double best = -2;
  for (const auto& t : targets) {
    double price = routing::BlendedPrice(prices, models.at(t)->deployments.front());
    if (price > best) {
      best = price;
      baseline = t;
    }
  }
  return baseline;
}

}  // namespace

Result<std::unique_ptr<Gateway>> Gateway::Create(const config::Config& cfg, const pricing::PriceCatalog& prices,
                                                 ledger::Ledger& ledger, governance::Governor& governor) {
  std::unique_ptr<Gateway> g(new Gateway(cfg, prices, ledger, governor));
  if (!cfg.server.access_log.empty()) {
    TG_ASSIGN_OR_RETURN(g->access_log_, AccessLog::Open(cfg.server.access_log));
  }
  for (const auto& p : cfg.providers) {
    ProviderRuntime rt;
    rt.cfg = &p;
    rt.type = providers::FindProviderType(p.type);
    if (rt.type == nullptr)  // config validation knows the same names
      return Status::InvalidArgument(cfg.source + ":" + std::to_string(p.line) + ": error: provider '" + p.name +
                                     "' has unknown type '" + p.type + "'");
    if (!rt.type->in_process()) {
      TG_ASSIGN_OR_RETURN(rt.endpoint.url, http::ParseUrl(p.base_url));
      rt.endpoint.pool_key = p.name;
      rt.endpoint.connect_timeout_ms = p.connect_timeout_ms;
      rt.endpoint.first_byte_timeout_ms = p.first_byte_timeout_ms;
      rt.endpoint.idle_timeout_ms = p.idle_timeout_ms;
      rt.endpoint.max_idle = static_cast<size_t>(p.max_idle_connections);
      if (rt.endpoint.url.tls) {
        TG_ASSIGN_OR_RETURN(rt.endpoint.tls, http::MakeTlsContext(p.ca_file));
      }
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
    if (route.cascade) cascade_checks_[m.name] = CascadeCheckSpecs(*route.cascade);
    // The baseline: configured, or the dearest model the route can send to.
    baseline_[m.name] = route.baseline.empty() ? DearestTarget(route, prices_, models_) : route.baseline;
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
    MutexLock lock(&semantic_mu_);
    cache_->ForEach([&](const std::string& key, const cache::Entry& e) {
      semantic_mu_.AssertHeld();  // ForEach calls back here, under the lock taken above
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

std::string Gateway::RenderMetrics() {
  std::ostringstream os;
  // A metric with one unlabelled sample.
  auto single = [&](Metric id, auto value) { os << MetricHeader(id) << MetricName(id) << " " << value << "\n"; };
  const auto budgets = governor_.BudgetStatus();
  // Prometheus spells an unknown value NaN (the shared counters unreachable).
  auto usd = [](double v) {
    std::ostringstream s;
    if (std::isnan(v)) s << "NaN";
    else s << v;
    return s.str();
  };
  os << MetricHeader(Metric::kBudgetRemaining);
  for (const auto& [b, spent] : budgets) {
    if (!b.limit_usd) continue;
    os << MetricName(Metric::kBudgetRemaining) << "{budget=\"" << b.name << "\"} " << usd(*b.limit_usd - spent) << "\n";
  }
  os << MetricHeader(Metric::kBudgetSpent);
  for (const auto& [b, spent] : budgets)
    os << MetricName(Metric::kBudgetSpent) << "{budget=\"" << b.name << "\"} " << usd(spent) << "\n";
  const char* hits = MetricName(Metric::kCacheHits);
  os << MetricHeader(Metric::kCacheHits) << hits << "{match=\"exact\"} " << stats_.cache_hits.load() << "\n"
     << hits << "{match=\"semantic\"} " << stats_.semantic_hits.load() << "\n";
  if (cache_) {
    const cache::ExactCache::Stats cs = cache_->stats();
    single(Metric::kCacheEntries, cs.entries);
    single(Metric::kCacheBytes, cs.bytes);
    single(Metric::kCacheEvictions, cs.evictions);
  }
  auto c = [&](const char* name, const char* help, const std::atomic<uint64_t>& v) {
    os << "# HELP " << name << " " << help << "\n# TYPE " << name << " counter\n" << name << " " << v.load() << "\n";
  };
#define TOLLGATE_RENDER_COUNTER(field, name, help) c(name, help, stats_.field);
  TOLLGATE_GATEWAY_COUNTERS(TOLLGATE_RENDER_COUNTER)
#undef TOLLGATE_RENDER_COUNTER
  single(Metric::kLedgerFailedRows, ledger_.failed_rows());
  single(Metric::kLedgerSpooledRows, ledger_.spooled_rows());
  const governance::CounterHealth ch = governor_.counters().Health();
  single(Metric::kCountersUp, ch.up ? 1 : 0);
  single(Metric::kCountersPending, ch.pending);
  single(Metric::kCountersLocal, ch.local_admissions);
  single(Metric::kCountersRefused, ch.refused_unavailable);
  return metrics_.Render(os.str());
}

namespace {

// What an API path asks for: the endpoint (the ledger's name for it) and the client's API.
struct Endpoint {
  std::string name;
  providers::Api api = providers::Api::kOpenAiChat;
  std::string gemini_model;  // Gemini's native API names the model in the path
  bool gemini_stream = false;
  bool count_tokens = false;
};

// The API endpoint `path` names, or nullopt (a 404).
std::optional<Endpoint> ResolveEndpoint(std::string_view path) {
  using providers::Api;
  if (path == "/v1/chat/completions" || path == "/chat/completions") return Endpoint{"chat.completions", Api::kOpenAiChat};
  if (path == "/v1/completions" || path == "/completions") return Endpoint{"completions", Api::kOpenAiCompletions};
  if (path == "/v1/embeddings" || path == "/embeddings") return Endpoint{"embeddings", Api::kOpenAiEmbeddings};
  if (path == "/v1/responses" || path == "/responses") return Endpoint{"responses", Api::kOpenAiResponses};
  if (path == "/v1/messages") return Endpoint{"messages", Api::kAnthropicMessages};
  if (path == "/v1/messages/count_tokens") {
    Endpoint ep{"messages.count_tokens", Api::kAnthropicMessages};
    ep.count_tokens = true;
    return ep;
  }
  if (path.rfind("/v1beta/models/", 0) == 0 || path.rfind("/v1/models/", 0) == 0) {
    // Gemini's native API: /v1beta/models/{model}:generateContent or :streamGenerateContent.
    std::string_view rest = path.substr(path.find("/models/") + 8);
    const size_t colon = rest.rfind(':');
    if (colon == std::string_view::npos || colon == 0) return std::nullopt;
    const std::string_view verb = rest.substr(colon + 1);
    if (verb != "generateContent" && verb != "streamGenerateContent") return std::nullopt;
    Endpoint ep{"gemini.generate", Api::kGeminiGenerate};
    ep.gemini_model = std::string(rest.substr(0, colon));
    ep.gemini_stream = verb == "streamGenerateContent";
    return ep;
  }
  return std::nullopt;
}

}  // namespace

awaitable<bool> Gateway::Handle(int worker, http::Request& req, http::PreError pre, http::ClientStream& out) {
  if (!access_log_) co_return co_await Route(worker, req, pre, out, nullptr);
  AccessEntry entry;
  entry.start_us = MonotonicUs();
  entry.method = std::string(req.method_string());
  const std::string_view target(req.target().data(), req.target().size());
  entry.path = ToValidUtf8(target.substr(0, target.find('?')));  // a query may carry a key
  const bool keep = co_await Route(worker, req, pre, out, &entry);
  entry.status = out.sent_status();
  access_log_->Append(FormatAccessLine(entry, NowUnixMs(), MonotonicUs()));
  co_return keep;
}

awaitable<bool> Gateway::Route(int worker, http::Request& req, http::PreError pre,
                               http::ClientStream& out, AccessEntry* access) {
  stats_.requests.fetch_add(1, std::memory_order_relaxed);
  std::string_view target(req.target().data(), req.target().size());
  std::string_view path = target.substr(0, target.find('?'));
  std::string_view query = target.size() > path.size() ? target.substr(path.size() + 1) : std::string_view();
  if (path == "/healthz") co_return co_await SendJson(200, R"({"status":"ok"})", out);
  if (path == "/metrics") {
    // Budget spend may come from Redis: read it off the worker's loop.
    auto worker_exec = co_await asio::this_coro::executor;
    co_await asio::post(blocking_.get_executor(), use_awaitable);
    const std::string metrics = RenderMetrics();
    co_await asio::post(worker_exec, use_awaitable);
    co_return co_await SendText(200, "text/plain; version=0.0.4", metrics, out);
  }
  if (path.rfind("/admin/", 0) == 0) co_return co_await ServeAdmin(req, path, query, out);
  if (dashboard_ && !IsApiPath(path)) {
    std::optional<bool> served = co_await ServeDashboard(req, path, query, out);
    if (served) co_return *served;
  }
  if (path == "/v1/models" || path == "/models") co_return co_await ServeModels(req, path, out);
  const std::optional<Endpoint> ep = ResolveEndpoint(path);
  if (!ep) {
    stats_.bad_client_input.fetch_add(1, std::memory_order_relaxed);
    const std::string err_body = ErrorBody(NotFoundPath(path));
    co_return co_await SendJson(404, err_body, out);
  }
  if (req.method() != bhttp::verb::post) {
    stats_.bad_client_input.fetch_add(1, std::memory_order_relaxed);
    const std::string err_body = ErrorBodyFor(ep->api, MethodNotAllowed(req.method_string(), path));
    co_return co_await SendJson(405, err_body, out);
  }

  // The API pipeline: identify -> (count tokens) -> govern, save, forward, relay, record.
  Call call(req, this);
  call.access = access;
  call.start_us = MonotonicUs();
  call.row.id = NewRequestId();
  call.row.ts_start_ms = NowUnixMs();
  call.row.endpoint = ep->name;
  call.is_chat = ep->name == "chat.completions";
  call.api = ep->api;
  call.worker = worker;
  call.row.requested_model = ep->gemini_model;
  call.stream = ep->gemini_stream;
  if (std::optional<ApiError> bad = Identify(call, pre)) {
    stats_.bad_client_input.fetch_add(1, std::memory_order_relaxed);
    const ApiError err = std::move(*bad);
    const bool sent = co_await SendError(call, err, out);
    co_return sent && pre == http::PreError::kNone;  // an unread body leaves the connection unusable
  }
  if (ep->count_tokens) co_return co_await CountTokens(call, out);
  co_return co_await Proxy(call, out);
}

awaitable<bool> Gateway::SendText(int status, std::string_view content_type, const std::string& body,
                                  http::ClientStream& out) {
  bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(status), 11};
  res.set(bhttp::field::content_type, content_type);
  res.body() = body;
  const Status written = co_await out.Write(res);
  co_return written.ok();
}

awaitable<bool> Gateway::ServeAdmin(http::Request& req, std::string_view path, std::string_view query,
                                    http::ClientStream& out) {
  // SQLite work: hop to the blocking pool and back, so the worker's loop keeps serving.
  auto worker_exec = co_await asio::this_coro::executor;
  co_await asio::post(blocking_.get_executor(), use_awaitable);
  AdminResponse r = HandleAdmin(governor_, req.method_string(), path, query, BearerToken(req), req.body());
  co_await asio::post(worker_exec, use_awaitable);
  co_return co_await SendJson(r.status, r.body, out);
}

awaitable<std::optional<bool>> Gateway::ServeDashboard(http::Request& req, std::string_view path,
                                                       std::string_view query, http::ClientStream& out) {
  auto worker_exec = co_await asio::this_coro::executor;
  co_await asio::post(blocking_.get_executor(), use_awaitable);
  std::optional<dashboard::Response> r =
      dashboard_->Handle(ReadMethod(req), path, query, HeaderValue(req, "authorization"));
  co_await asio::post(worker_exec, use_awaitable);
  if (!r) co_return std::nullopt;
  bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(r->status), 11};
  res.set(bhttp::field::content_type, r->content_type);
  for (const auto& [k, v] : r->headers) res.set(k, v);
  res.body() = std::move(r->body);
  const Status written = co_await out.Write(res);
  co_return written.ok();
}

awaitable<bool> Gateway::ServeModels(http::Request& req, std::string_view path, http::ClientStream& out) {
  if (governor_.auth_enabled()) {
    governance::Principal who;
    if (auto denial = governor_.Authenticate(BearerToken(req), &who)) {
      const std::string err_body = ErrorBody(FromDenial(*denial));
      co_return co_await SendJson(denial->status, err_body, out);
    }
  }
  if (ReadMethod(req) != "GET") {
    const std::string err_body = ErrorBody(MethodNotAllowed(req.method_string(), path));
    co_return co_await SendJson(405, err_body, out);
  }
  co_return co_await SendJson(200, models_json_, out);
}

double Gateway::Random01() {
  MutexLock lock(&rng_mu_);
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
}

Status Gateway::Close() {
  if (access_log_) access_log_->Flush();
  if (cache_) return cache_->Close();
  return Status::Ok();
}

}  // namespace tollgate::gateway
