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
  std::vector<Deployment> deployments;
};

struct Config {
  std::string source;  // file path, or "<embedded>"
  ServerConfig server;
  LedgerConfig ledger;
  PricingConfig pricing;
  AuthConfig auth;
  GovernanceConfig governance;
  std::vector<BudgetConfig> budgets;
  std::vector<ModelRateLimit> rate_limits;
  std::vector<ProviderConfig> providers;
  std::vector<ModelConfig> models;
  std::vector<std::string> warnings;  // e.g. environment variables that were unset

  const ProviderConfig* FindProvider(const std::string& name) const;
};

// Parses YAML text. `source` names the file in error messages.
// Returns InvalidArgument with "source:line:col: error: ... (fix: ...)".
Result<Config> ParseConfig(const std::string& yaml_text, const std::string& source);
// Reads and parses a file; "-" is not accepted. NotFound if unreadable.
Result<Config> LoadConfigFile(const std::string& path);
// The bundled example config compiled into the binary.
Result<Config> LoadEmbeddedConfig();
// Markdown reference of every setting, generated from settings.h.
std::string SettingsReferenceMarkdown();

}  // namespace tollgate::config
