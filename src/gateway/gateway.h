// The request pipeline: route -> parse -> identify the client -> resolve the
// model -> try deployments (retry, then fall back) -> relay the answer (whole
// or SSE, chunk by chunk) -> price it -> queue its ledger row. See
// docs/ARCHITECTURE.md for the life of one request.
// Thread safety: one Gateway serves every worker. Everything it holds is
// immutable after construction except the per-worker upstream pools, each of
// which is touched only by its own worker thread, and atomic counters.
#pragma once

#include <atomic>
#include <memory>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "cache/exact_cache.h"
#include "cache/minhash.h"
#include "cache/semantic_index.h"
#include "common/mutex.h"
#include "config/config.h"
#include "dashboard/dashboard.h"
#include "gateway/access_log.h"
#include "gateway/errors.h"
#include "gateway/metrics.h"
#include "governance/governor.h"
#include "http/server.h"
#include "http/upstream.h"
#include "ledger/ledger.h"
#include "pricing/catalog.h"
#include "providers/adapter.h"
#include "providers/provider.h"
#include "providers/replay.h"
#include "providers/sim.h"
#include "router/checks.h"
#include "router/learned_router.h"
#include "routing/budget_hint.h"
#include "routing/deployment_order.h"
#include "routing/route_rules.h"

namespace tollgate::gateway {

// Counters for things that go wrong, bumped on the request path; their names
// and help text are in metrics.h's list (TOLLGATE_GATEWAY_COUNTERS).
struct GatewayStats {
#define TOLLGATE_COUNTER_FIELD(field, name, help) std::atomic<uint64_t> field{0};
  TOLLGATE_GATEWAY_COUNTERS(TOLLGATE_COUNTER_FIELD)
#undef TOLLGATE_COUNTER_FIELD
  // Exported together as tollgate_cache_hits_total{match="exact"|"semantic"}.
  std::atomic<uint64_t> cache_hits{0};
  std::atomic<uint64_t> semantic_hits{0};
};

struct ProviderRuntime {
  const config::ProviderConfig* cfg = nullptr;
  const providers::ProviderType* type = nullptr;  // from the registry, by cfg->type
  http::Endpoint endpoint;  // unused for sim
};

class Gateway {
 public:
  struct Call;  // per-request state, defined in call.h
  // `cfg`, `prices` and `ledger` must outlive the Gateway.
  static Result<std::unique_ptr<Gateway>> Create(const config::Config& cfg, const pricing::PriceCatalog& prices,
                                                 ledger::Ledger& ledger, governance::Governor& governor);
  // Serves the web dashboard for paths nothing else claims (optional).
  void AttachDashboard(dashboard::Dashboard* d) { dashboard_ = d; }
  // Creates the per-worker upstream pools; call once the server knows its workers.
  void AttachWorkers(http::Server& server);
  // Drops the pooled upstream connections; call after the server stopped and
  // before it is destroyed (the connections belong to its event loops).
  void DetachWorkers() { pools_.clear(); }
  // Flushes the cache to disk; call at shutdown, after the server stopped.
  Status Close();
  // The http::Handler. Never throws; always answers or records a disconnect.
  boost::asio::awaitable<bool> Handle(int worker, http::Request& req, http::PreError pre, http::ClientStream& out);
  const GatewayStats& stats() const { return stats_; }

 private:
  Gateway(const config::Config& cfg, const pricing::PriceCatalog& prices, ledger::Ledger& ledger,
          governance::Governor& governor)
      : cfg_(cfg), prices_(prices), ledger_(ledger), governor_(governor), metrics_(cfg) {}
  std::string RenderMetrics();
  // True once the server is cutting in-flight requests at shutdown.
  bool Cutting() const { return server_ != nullptr && server_->cutting(); }
  // Fills the budget facts (upper bounds and prices) for a model's request.
  governance::RequestFacts BudgetFacts(const Call& call, const config::ModelConfig& model) const;
  // Upper bound on the request's input tokens: exact (tokenizer) for text-only
  // OpenAI-encoded requests, the body's byte count otherwise.
  int64_t InputTokensBound(const Call& call, const config::ModelConfig& model) const;

  // Routing (gateway.cc): the answers that are not the API pipeline.
  boost::asio::awaitable<bool> ServeAdmin(http::Request& req, std::string_view path, std::string_view query,
                                          http::ClientStream& out);
  // nullopt: the dashboard does not claim the path.
  boost::asio::awaitable<std::optional<bool>> ServeDashboard(http::Request& req, std::string_view path,
                                                             std::string_view query, http::ClientStream& out);
  // Handle without the access log: the routing of one request. `access` (null
  // when the log is off) receives the API request's ledger row.
  boost::asio::awaitable<bool> Route(int worker, http::Request& req, http::PreError pre,
                                     http::ClientStream& out, AccessEntry* access);
  boost::asio::awaitable<bool> ServeModels(http::Request& req, std::string_view path, http::ClientStream& out);
  boost::asio::awaitable<bool> SendText(int status, std::string_view content_type, const std::string& body,
                                        http::ClientStream& out);
  // Identify stage (identify.cc): the client's identity, then the body. The
  // first problem found is returned (a 4xx); nothing is sent.
  std::optional<ApiError> Identify(Call& call, http::PreError pre);
  std::optional<ApiError> IdentifyClient(Call& call);
  std::optional<ApiError> ReadBody(Call& call);

  boost::asio::awaitable<bool> Proxy(Call& call, http::ClientStream& out);
  // A routed model's real model (rules, then the learned router, then the
  // default), or nullptr when its cascade is to run. Sets call.row.route.
  const config::ModelConfig* ChooseRoute(Call& call, const config::ModelConfig& routed);
  // The learned router's pick, or nullptr when no candidate clears the threshold.
  const config::ModelConfig* LearnedTarget(Call& call, const config::ModelConfig& routed);
  // Govern stage (govern.cc): reserve the worst case on every budget, or the denial.
  // Awaits the counter store (at once when it is the in-process one).
  boost::asio::awaitable<std::optional<ApiError>> Admit(Call& call, const config::ModelConfig& model);
  // Forward stage (forward.cc): admission, then the deployments of a real
  // (non-routed) model in order until one answers.
  struct Failure;
  boost::asio::awaitable<bool> Forward(Call& call, const config::ModelConfig& model, http::ClientStream& out);
  // One deployment, with its retries: the answer sent (true/false: keep the
  // connection), or nullopt with `failure` set (try the next one).
  boost::asio::awaitable<std::optional<bool>> TryDeployment(Call& call, const config::ModelConfig& model, size_t d,
                                                            Failure& failure, http::ClientStream& out);
  // One upstream attempt; same contract as TryDeployment.
  boost::asio::awaitable<std::optional<bool>> Attempt(Call& call, const ProviderRuntime& p, providers::Api papi,
                                                      providers::Bridge bridge, const std::string& target,
                                                      const std::string& payload, Failure& failure,
                                                      http::ClientStream& out);
  void ApplyOutputCap(Call& call, const providers::ProviderType& type);
  // The upstream body (*use_raw: the client's bytes as they are), or a 400 when it cannot be translated.
  std::optional<ApiError> UpstreamBody(Call& call, const config::Deployment& dep, providers::Api papi,
                                       providers::Bridge bridge, std::string* rewritten, bool* use_raw);
  // Every deployment failed before anything reached the client.
  boost::asio::awaitable<bool> SendFailure(Call& call, const Failure& failure, http::ClientStream& out);
  // An upstream 4xx: the client's to see, unchanged.
  boost::asio::awaitable<bool> RelayUpstreamError(Call& call, http::UpstreamCall& up, http::ClientStream& out);
  boost::asio::awaitable<bool> RunCascade(Call& call, const config::ModelConfig& routed, http::ClientStream& out);
  // Whether cascade step i's captured answer passes every check (*reason: why not).
  boost::asio::awaitable<bool> StepAccepted(Call& call, const config::ModelConfig& routed, size_t i,
                                            const http::ClientStream& cap, std::string* reason);
  // The judge model's 0-10 grade of `answer` (-1 when it gave none); records the judge's row.
  boost::asio::awaitable<double> JudgeScore(Call& call, const config::CascadeConfig& cc, const std::string& step,
                                            const std::string& answer);
  // Sends an accepted step's answer to the client, under the step's row.
  boost::asio::awaitable<bool> SendAccepted(Call& call, ledger::Row& srow, const std::string& body,
                                            const std::string& step, http::ClientStream& out);
  // Runs `body` (the client's API shape) against `model` as a non-streamed
  // sub-request whose ledger row is returned unrecorded in *row.
  boost::asio::awaitable<http::ClientStream> SubRequest(Call& parent, const config::ModelConfig& model,
                                                        const std::string& body, ledger::Row* row);
  boost::asio::awaitable<bool> ServeReplay(Call& call, const ProviderRuntime& p, const std::string& model,
                                           http::ClientStream& out);
  boost::asio::awaitable<bool> ServeCached(Call& call, const cache::Entry& e, const char* kind, http::ClientStream& out);
  // Cache lookup (exact, then semantic); sets call.cache_* for storing a miss.
  boost::asio::awaitable<std::optional<cache::Entry>> LookupCache(Call& call, const char** kind);
  boost::asio::awaitable<std::optional<std::vector<float>>> Embed(Call& call, const std::string& text);
  void StoreInCache(Call& call, const std::string& body);
  // Indexes a cache entry's text (MinHash) or vector (HNSW) under `scope`. REQUIRES: semantic_mu_ held.
  void IndexSemanticLocked(const std::string& scope, const std::string& text, const std::vector<float>& embedding,
                           const std::string& key) REQUIRES(semantic_mu_);
  // Stores a cacheable miss just before its last bytes go out, so the next
  // request finds it: `final_part` is the whole body, or a stream's last events.
  void MaybeCache(Call& call, const std::string& final_part);
  // A 200 answer tollgate composed (cache hit, accepted cascade step, replay):
  // whole JSON, or `body` as SSE events followed by the cost trailer.
  boost::asio::awaitable<bool> SendAnswer(Call& call, const std::string& body, bool sse, std::string_view extra_name,
                                          std::string_view extra_value, http::ClientStream& out);
  boost::asio::awaitable<bool> ServeSim(Call& call, const ProviderRuntime& p, const std::string& model,
                                        http::ClientStream& out);
  boost::asio::awaitable<bool> StreamSim(Call& call, const config::ProviderConfig& cfg, const std::string& model,
                                         const providers::SimAnswer& a, bool chat, bool to_anthropic,
                                         http::ClientStream& out);
  boost::asio::awaitable<bool> RelayStream(Call& call, http::UpstreamCall& up, providers::StreamAdapter& adapter,
                                           http::ClientStream& out);
  boost::asio::awaitable<bool> RelayWhole(Call& call, http::UpstreamCall& up, providers::Api provider_api,
                                          bool translate, http::ClientStream& out);
  boost::asio::awaitable<bool> CountTokens(Call& call, http::ClientStream& out);
  // Takes usage from the provider's meter, or estimates it (and marks the row estimated).
  void ApplyMeter(Call& call, const providers::Meter& m);
  boost::asio::awaitable<bool> SendError(Call& call, const ApiError& e, http::ClientStream& out);
  boost::asio::awaitable<bool> SendJson(int status, const std::string& body, http::ClientStream& out);
  // Prices the call and queues its ledger row; only the first call per request
  // does anything (Call::recorded).
  void PriceAndRecord(Call& call);
  // Records a call that ended without an answer (Call's destructor).
  void RecordAbandoned(Call& call);
  void Record(ledger::Row& row);
  Status InitSavings();  // builds the savings engine from config (Create)  // appends a finished sub-request's row

  const config::Config& cfg_;
  const pricing::PriceCatalog& prices_;
  ledger::Ledger& ledger_;
  governance::Governor& governor_;
  std::unordered_map<std::string, ProviderRuntime> providers_;
  std::unordered_map<std::string, const config::ModelConfig*> models_;
  std::string model_names_;   // "a, b, c" for error messages
  std::string models_json_;   // GET /v1/models body
  std::vector<std::unique_ptr<http::UpstreamPool>> pools_;  // index = worker
  GatewayStats stats_;
  Metrics metrics_;
  dashboard::Dashboard* dashboard_ = nullptr;
  const http::Server* server_ = nullptr;  // set by AttachWorkers
  // Savings engine (docs/ARCHITECTURE.md, "Savings").
  std::unique_ptr<AccessLog> access_log_;  // server.access_log; null when off
  std::unique_ptr<cache::ExactCache> cache_;
  cache::MinHashIndex minhash_;
  Mutex semantic_mu_;
  std::unique_ptr<cache::SemanticIndex> semantic_ GUARDED_BY(semantic_mu_);  // created on the first vector
  std::unordered_map<uint64_t, std::string> semantic_keys_ GUARDED_BY(semantic_mu_);
  std::atomic<uint64_t> next_semantic_id_{1};
  http::Endpoint embeddings_;
  std::string embeddings_auth_;
  std::unique_ptr<routing::LatencyStats> latency_;
  routing::BudgetHints hints_;
  std::unordered_map<std::string, std::unique_ptr<routing::RouteRules>> rules_;   // by routed model
  std::unordered_map<std::string, router::LearnedRouter> learned_;               // by routed model
  std::unordered_map<std::string, std::vector<std::optional<router::CheckSpec>>> cascade_checks_;  // by routed model; nullopt = judge
  std::unordered_map<std::string, std::shared_ptr<const providers::ReplayData>> replay_;  // by provider
  std::unordered_map<std::string, std::string> baseline_;  // routed model -> baseline model
  Mutex rng_mu_;
  std::mt19937_64 rng_ GUARDED_BY(rng_mu_){std::random_device{}()};
  double Random01();
  // Work that blocks on SQLite (admin API, dashboard) runs here, not on a worker's loop.
  boost::asio::thread_pool blocking_{2};
};

}  // namespace tollgate::gateway
