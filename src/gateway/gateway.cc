#include "gateway/gateway.h"

#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <mutex>
#include <sstream>
#include <unordered_set>

#include "common/log.h"
#include "common/util.h"
#include "gateway/admin.h"
#include "gateway/errors.h"
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
  std::string n = ToLower(name);
  return n == "x-request-id" || n == "request-id" || n.rfind("openai-", 0) == 0 || n.rfind("x-ratelimit-", 0) == 0 ||
         n.rfind("anthropic-ratelimit-", 0) == 0 || n == "retry-after";
}

}  // namespace

// Everything one request accumulates on its way through the pipeline.
struct Gateway::Call {
  http::Request& req;
  ledger::Row row;
  int64_t start_us = 0;
  rapidjson::Document body;
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
  explicit Call(http::Request& r) : req(r) {}
};

Result<std::unique_ptr<Gateway>> Gateway::Create(const config::Config& cfg, const pricing::PriceCatalog& prices,
                                                 ledger::Ledger& ledger, governance::Governor& governor) {
  std::unique_ptr<Gateway> g(new Gateway(cfg, prices, ledger, governor));
  for (const auto& p : cfg.providers) {
    ProviderRuntime rt;
    rt.cfg = &p;
    if (p.type != "sim") {
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
    w.String(m.deployments.front().provider.c_str());
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  g->models_json_.assign(sb.GetString(), sb.GetSize());
  return g;
}

void Gateway::AttachWorkers(http::Server& server) {
  pools_.clear();
  for (int i = 0; i < server.workers(); ++i)
    pools_.push_back(std::make_unique<http::UpstreamPool>(server.worker_context(i)));
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
  res.set("x-tollgate-request-id", call.row.id);
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
  if (price) {
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
  if (call.admission.active) {
    governor_.Settle(call.admission, row.cost_known ? row.cost.Total() : 0.0, row.usage.Total());
    row.reserved_usd = call.admission.reserved_usd;
    for (const auto& slot : call.admission.slots) row.charges.push_back({slot.budget_id, slot.window_start_ms});
    call.admission.active = false;
  }
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
  os << "# HELP tollgate_cache_hits_total Responses served from tollgate's cache (no cache is configured yet).\n"
        "# TYPE tollgate_cache_hits_total counter\ntollgate_cache_hits_total 0\n";
  auto c = [&](const char* name, const char* help, const std::atomic<uint64_t>& v) {
    os << "# HELP " << name << " " << help << "\n# TYPE " << name << " counter\n" << name << " " << v.load() << "\n";
  };
  c("tollgate_bad_client_input_total", "Requests refused for malformed input.", stats_.bad_client_input);
  c("tollgate_client_disconnects_total", "Streams the client abandoned.", stats_.client_disconnects);
  c("tollgate_streams_broken_total", "Streams the upstream broke.", stats_.streams_broken);
  c("tollgate_unknown_price_total", "Requests whose model has no known price.", stats_.unknown_price);
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
    co_return (co_await out.Write(res)).ok();
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
      co_return (co_await out.Write(res)).ok();
    }
  }
  if (path == "/v1/models" || path == "/models") {
    if (governor_.auth_enabled()) {
      governance::Principal who;
      if (auto denial = governor_.Authenticate(BearerToken(req), &who))
        co_return co_await SendJson(denial->status, ErrorBody(FromDenial(*denial)), out);
    }
    if (method != bhttp::verb::get) {
      co_return co_await SendJson(405, ErrorBody(MethodNotAllowed(req.method_string(), path)), out);
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
    co_return co_await SendJson(404, ErrorBody(NotFoundPath(path)), out);
  }
  if (method != bhttp::verb::post) {
    stats_.bad_client_input.fetch_add(1, std::memory_order_relaxed);
    co_return co_await SendJson(405, ErrorBodyFor(api, MethodNotAllowed(req.method_string(), path)), out);
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
      co_return co_await SendError(call, InvalidRequest("At most 32 tags are allowed in x-tollgate-tags", "x-tollgate-tags"), out);
    }
    call.row.tags = std::move(joined);
  }

  if (governor_.auth_enabled()) {
    auto denial = governor_.Authenticate(bearer, &call.principal);
    if (denial) {
      stats_.bad_client_input.fetch_add(1, std::memory_order_relaxed);
      co_return co_await SendError(call, FromDenial(*denial), out);
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
    co_await SendError(call, TooLarge(cfg_.server.max_body_bytes), out);
    co_return false;
  }

  const std::string& raw = req.body();
  call.body.Parse(raw.data(), raw.size());
  if (call.body.HasParseError()) {
    stats_.bad_client_input.fetch_add(1, std::memory_order_relaxed);
    co_return co_await SendError(
        call,
        InvalidJson("Invalid JSON in request body at offset " + std::to_string(call.body.GetErrorOffset()) + ": " +
                    rapidjson::GetParseError_En(call.body.GetParseError())),
        out);
  }
  if (!call.body.IsObject()) {
    stats_.bad_client_input.fetch_add(1, std::memory_order_relaxed);
    co_return co_await SendError(call, InvalidJson("Request body must be a JSON object"), out);
  }
  if (api == providers::Api::kGeminiGenerate) {
    call.row.requested_model = gemini_model;
    call.stream = gemini_stream;
  } else {
    auto model_it = call.body.FindMember("model");
    if (model_it == call.body.MemberEnd() || !model_it->value.IsString() || model_it->value.GetStringLength() == 0) {
      stats_.bad_client_input.fetch_add(1, std::memory_order_relaxed);
      co_return co_await SendError(call, InvalidRequest("'model' is required and must be a non-empty string", "model"), out);
    }
    call.row.requested_model.assign(model_it->value.GetString(), model_it->value.GetStringLength());
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
        co_return co_await SendError(call, InvalidRequest("'stream' must be a boolean", "stream"), out);
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
  if (call.row.endpoint != "embeddings") {
    f.max_output_tokens = cfg_.governance.default_max_tokens;
    for (const char* k : {"max_completion_tokens", "max_tokens"}) {
      auto it = call.body.FindMember(k);
      if (it != call.body.MemberEnd() && it->value.IsInt64() && it->value.GetInt64() > 0) {
        f.max_output_tokens = it->value.GetInt64();
        break;
      }
    }
  }
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

awaitable<bool> Gateway::Proxy(Call& call, http::ClientStream& out) {
  auto mit = models_.find(call.row.requested_model);
  if (mit == models_.end()) {
    stats_.bad_client_input.fetch_add(1, std::memory_order_relaxed);
    co_return co_await SendError(call, ModelNotFound(call.row.requested_model, model_names_), out);
  }
  const config::ModelConfig& model = *mit->second;
  if (call.authenticated) {
    if (auto denial = governor_.CheckModel(call.principal, model.name)) co_return co_await SendError(call, FromDenial(*denial), out);
  }
  const governance::Principal* principal = call.authenticated ? &call.principal : nullptr;
  if (governor_.Active(principal)) {
    if (auto denial = governor_.Admit(principal, BudgetFacts(call, model), &call.admission))
      co_return co_await SendError(call, FromDenial(*denial), out);
  }
  if (call.admission.clamped_max_tokens >= 0) {
    // The budget can pay for fewer output tokens than asked: lower the cap.
    const char* field = call.body.HasMember("max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
    auto& alloc = call.body.GetAllocator();
    if (auto it = call.body.FindMember(field); it != call.body.MemberEnd()) it->value.SetInt64(call.admission.clamped_max_tokens);
    else call.body.AddMember(rapidjson::StringRef(field), rapidjson::Value(call.admission.clamped_max_tokens), alloc);
    call.body_modified = true;
  }

  // The last failure, answered if every deployment fails.
  ApiError last_error = UpstreamUnreachable("?", "no deployment was tried");
  int last_http_status = 0;
  std::string last_http_body, last_http_ctype;
  const bool openai_stream = call.api == providers::Api::kOpenAiChat || call.api == providers::Api::kOpenAiCompletions;
  const bool inject_usage = call.stream && openai_stream && !call.client_wants_usage;

  for (size_t d = 0; d < model.deployments.size(); ++d) {
    const config::Deployment& dep = model.deployments[d];
    const ProviderRuntime& p = providers_.at(dep.provider);
    if (d > 0) ++call.row.fallbacks;
    call.row.provider = p.cfg->name;
    call.row.served_model = dep.model;
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

    // The upstream body: the client's bytes untouched whenever possible.
    std::string rewritten;
    bool use_raw = false;
    if (bridge == Bridge::kChatToAnthropic) {
      auto t = providers::ChatRequestToAnthropic(call.body, dep.model, cfg_.governance.default_max_tokens);
      if (!t.ok()) co_return co_await SendError(call, InvalidRequest(t.status().message(), ""), out);
      rewritten = std::move(*t);
    } else if (bridge == Bridge::kAnthropicToChat) {
      auto t = providers::AnthropicRequestToChat(call.body, dep.model);
      if (!t.ok()) co_return co_await SendError(call, InvalidRequest(t.status().message(), ""), out);
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
      bhttp::request<bhttp::string_body> up{bhttp::verb::post, target, 11};
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
      up.keep_alive(true);
      up.body() = payload;
      http::UpstreamCall ucall(*pools_[static_cast<size_t>(call.worker)], p.endpoint);
      Status st = co_await ucall.Start(up);
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
        last_error = {status, "upstream_error", status == 429 ? "upstream_rate_limited" : "upstream_5xx",
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
        res.set("x-tollgate-request-id", call.row.id);
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
    call.row.error_class = last_error.code;
    PriceAndRecord(call);
    bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(last_http_status), 11};
    res.set(bhttp::field::content_type, last_http_ctype);
    res.set("x-tollgate-request-id", call.row.id);
    res.body() = last_http_body.empty() ? ErrorBodyFor(call.api, last_error) : last_http_body;
    Status ws = co_await out.Write(res);
    co_return ws.ok();
  }
  co_return co_await SendError(call, last_error, out);
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
    co_return co_await SendError(
        call,
        body.status().code() == StatusCode::kTimeout ? UpstreamTimeout(call.row.provider, body.status().message())
                                                     : UpstreamUnreachable(call.row.provider, body.status().message()),
        out);
  }
  up.Finish();
  rapidjson::Document doc;
  doc.Parse(body->data(), body->size());
  const bool parsed = !doc.HasParseError() && doc.IsObject();
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
      res.set("x-tollgate-request-id", call.row.id);
      res.body() = ErrorBodyFor(call.api, e);
      co_return (co_await out.Write(res)).ok();
    }
    client_body = std::move(*t);
  } else {
    client_body = std::move(*body);
  }
  call.row.status = up.status();
  PriceAndRecord(call);
  bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(up.status()), 11};
  auto ct = up.head().find(bhttp::field::content_type);
  res.set(bhttp::field::content_type,
          translate || ct == up.head().end() ? "application/json" : std::string(ct->value()));
  for (const auto& f : up.head())
    if (ForwardableUpstreamHeader(f.name_string())) res.set(f.name_string(), f.value());
  res.set("x-tollgate-request-id", call.row.id);
  res.set("x-tollgate-cost-usd", call.cost_header);
  res.body() = std::move(client_body);
  Status st = co_await out.Write(res);
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
  head.set("x-tollgate-request-id", call.row.id);
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
  if ((client_gone || broken || !adapter.meter().complete) && call.have_usage) {
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
    res.set("x-tollgate-request-id", call.row.id);
    res.set("x-tollgate-cost-usd", call.cost_header);
    res.set("x-tollgate-simulated", "true");
    res.body() = std::move(body);
    co_return (co_await out.Write(res)).ok();
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
      doc.Parse(body.data(), body.size());
      auto t = providers::ChatResponseToAnthropic(doc, call.row.requested_model);
      if (t.ok()) body = std::move(*t);
    }
    call.row.usage = a.usage;
    call.row.status = 200;
    PriceAndRecord(call);
    bhttp::response<bhttp::string_body> res{bhttp::status::ok, 11};
    res.set(bhttp::field::content_type, "application/json");
    res.set("x-tollgate-request-id", call.row.id);
    res.set("x-tollgate-cost-usd", call.cost_header);
    res.set("x-tollgate-simulated", "true");
    res.body() = std::move(body);
    co_return (co_await out.Write(res)).ok();
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
  head.set("x-tollgate-request-id", call.row.id);
  head.set("x-tollgate-simulated", "true");
  Status st = co_await out.StartChunked(head);
  co_await sleep_ms(cfg.latency_ms);
  size_t sent = 0;
  std::string chunk;
  for (size_t i = 0; i < a.pieces.size() && st.ok(); ++i) {
    if (i > 0) co_await sleep_ms(per_token_ms);
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
  PriceAndRecord(call);
  std::string tail;
  if (adapter) {
    emit("data: " + providers::SimUsageChunk(sim_id, model, a.usage, chat), &tail);
    adapter->Finish(&tail);
  } else {
    if (call.client_wants_usage) tail += "data: " + providers::SimUsageChunk(sim_id, model, a.usage, chat) + "\n\n";
    tail += "data: [DONE]\n\n";
  }
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
    co_return co_await SendJson(e.status, ErrorBodyFor(call.api, e), out);
  }
  const config::Deployment& dep = mit->second->deployments.front();
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
      co_return co_await SendJson(e.status, ErrorBodyFor(call.api, e), out);
    }
    auto body = co_await ucall.ReadAll(1 << 20);
    ucall.Finish();
    bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(ucall.status()), 11};
    res.set(bhttp::field::content_type, "application/json");
    res.body() = body.ok() ? std::move(*body) : std::string();
    co_return (co_await out.Write(res)).ok();
  }
  // Other providers have no such endpoint: answer with tollgate's own estimate.
  co_return co_await SendJson(
      200, "{\"input_tokens\":" + std::to_string(providers::EstimatePromptTokens(call.body)) + "}", out);
}

}  // namespace tollgate::gateway
