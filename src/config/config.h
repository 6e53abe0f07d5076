// Config: the YAML file tollgate runs from, parsed and validated once at
// start-up into an immutable Config. Per-request code reads only the built
// object. Errors name the file, line and column and say how to fix them.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "config/settings.h"

namespace tollgate::config {

#define TG_DECLARE_FIELD(name, type, def, doc) type name = def;

struct ServerConfig { TOLLGATE_SERVER_SETTINGS(TG_DECLARE_FIELD) };
struct LedgerConfig { TOLLGATE_LEDGER_SETTINGS(TG_DECLARE_FIELD) };
struct AuthConfig { TOLLGATE_AUTH_SETTINGS(TG_DECLARE_FIELD) };
struct GovernanceConfig { TOLLGATE_GOVERNANCE_SETTINGS(TG_DECLARE_FIELD) };
struct CountersConfig { TOLLGATE_COUNTERS_SETTINGS(TG_DECLARE_FIELD) };
struct CacheConfig { TOLLGATE_CACHE_SETTINGS(TG_DECLARE_FIELD) };
struct ProviderConfig {
  TOLLGATE_PROVIDER_SETTINGS(TG_DECLARE_FIELD)
  int line = 0;  // where it was declared, for later error messages
};

// A price given in config; unset fields fall back to the catalog's entry (or 0
// for a model the catalog does not know). USD per million tokens.
struct PriceOverride {
  std::string model;
  std::optional<double> input, cached_input, cache_write_5m, cache_write_1h, output, reasoning,
      batch_discount;
};

struct PricingConfig {
  TOLLGATE_PRICING_SETTINGS(TG_DECLARE_FIELD)
  std::vector<PriceOverride> overrides;
};
#undef TG_DECLARE_FIELD

struct Deployment {
  std::string provider;  // a ProviderConfig::name
  std::string model;     // model id sent to the provider
  int64_t weight = 1;    // share of traffic under strategy: weighted
};

// A routing rule of a virtual model: the first rule whose every condition
// holds sends the request to model `to`.
struct RouteRule {
  std::string name;
  std::optional<int64_t> min_prompt_tokens, max_prompt_tokens;
  std::vector<std::string> tags_any;    // any of these request tags
  std::optional<bool> has_tools, has_images;
  std::string regex;                    // ECMAScript, searched in the prompt text
  std::string to;                       // a (non-virtual) model name
};

// One acceptance check of a cascade step's answer.
struct CascadeCheck {
  std::string type;  // json_schema | length | refusal | confidence | regex | judge
  std::string json_schema, pattern;
  int64_t min_chars = 0, max_chars = 0;
  double min_confidence = 0;   // confidence: stated confidence; judge: score 0-10 / 10
};

struct CascadeConfig {
  std::vector<std::string> steps;    // models tried cheapest first; the last one is always accepted
  std::vector<CascadeCheck> checks;  // every check must pass to accept a step's answer
  std::string judge_model;           // for type: judge
};

struct LearnedRouteConfig {
  std::string model_file;            // written by `tollgate router train`
  std::optional<double> threshold;   // default: the file's calibrated threshold
  std::map<std::string, std::string> candidates;  // router model name -> tollgate model
};

// A virtual model: decides which real model serves each request.
struct RouteConfig {
  std::vector<RouteRule> rules;
  std::optional<LearnedRouteConfig> learned;
  std::optional<CascadeConfig> cascade;
  std::string default_model;  // when no rule matches (and no learned/cascade)
  std::string baseline;       // what the request would have used without tollgate (savings); default: the dearest target
};

// Budget-aware prompting (TALE-EP style): a token-budget hint and/or a max_tokens clamp.
struct BudgetHintConfig {
  int64_t max_tokens = 0;     // clamp max_tokens to at most this (0: no clamp)
  int64_t hint_tokens = 0;    // add "use at most N tokens" to the system prompt (0: no hint)
  std::string hint = "Be concise: answer in at most {budget} tokens.";
  double control_share = 0.1; // share of requests left unchanged, to measure the tokens saved
};

// A budget declared in config; synced into the state database at start-up.
struct BudgetConfig {
  std::string name, scope = "global", subject, model, window = "daily";
  std::optional<double> limit_usd, soft_limit_usd;
};

// Per-model rate limits (per-key limits live on the key). 0 = unlimited.
struct ModelRateLimit {
  std::string model;
  int64_t rpm = 0, tpm = 0;
  double usd_per_minute = 0;
};

struct ModelConfig {
  std::string name;  // what clients send as "model"
  std::vector<Deployment> deployments;  // empty for a virtual model (route)
  std::string strategy = "fallback";    // fallback | weighted | least_latency | cheapest
  int64_t latency_objective_ms = 0;     // cheapest: skip deployments slower than this (EWMA)
  std::optional<RouteConfig> route;
  std::optional<BudgetHintConfig> budget_hint;
  int line = 0;
};

struct Config {
  std::string source;  // file path, or "<embedded>"
  ServerConfig server;
  LedgerConfig ledger;
  PricingConfig pricing;
  AuthConfig auth;
  GovernanceConfig governance;
  CountersConfig counters;
  CacheConfig cache;
  std::vector<BudgetConfig> budgets;
  std::vector<ModelRateLimit> rate_limits;
  std::vector<ProviderConfig> providers;
  std::vector<ModelConfig> models;
  std::vector<std::string> warnings;  // e.g. environment variables that were unset

  const ProviderConfig* FindProvider(const std::string& name) const;
  const ModelConfig* FindModel(const std::string& name) const;
};

// Parses YAML text. `source` names the file in error messages.
// Returns InvalidArgument with "source:line:col: error: ... (fix: ...)".
// What a config must declare: the server needs providers and models; a tool
// that reads only some sections (`usage --config` reads pricing) does not.
struct ParseOptions {
  bool require_routes = true;  // providers: and models: sections
};
Result<Config> ParseConfig(const std::string& yaml_text, const std::string& source,
                           const ParseOptions& options = {});
// Reads and parses a file; "-" is not accepted. NotFound if unreadable.
Result<Config> LoadConfigFile(const std::string& path, const ParseOptions& options = {});
// The bundled example config compiled into the binary.
Result<Config> LoadEmbeddedConfig();
// Markdown reference of every setting, generated from settings.h.
std::string SettingsReferenceMarkdown();

}  // namespace tollgate::config
