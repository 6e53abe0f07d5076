#include "config/config.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "common/embedded.h"

namespace tollgate::config {
namespace {

bool ValidBaseUrlPrefix(const std::string& url) {
  return (url.rfind("http://", 0) == 0 && url.size() > 7) || (url.rfind("https://", 0) == 0 && url.size() > 8);
}

// Collects the first error with its position; parsing stops at the first one.
class Parser {
 public:
  explicit Parser(std::string source) : source_(std::move(source)) {}

  Status Error(const YAML::Node& node, const std::string& message, const std::string& fix) const {
    int line = 0, col = 0;
    if (node.IsDefined() && node.Mark().line >= 0) {
      line = node.Mark().line + 1;
      col = node.Mark().column + 1;
    }
    return ErrorAt(line, col, message, fix);
  }
  Status ErrorAt(int line, int col, const std::string& message, const std::string& fix) const {
    std::ostringstream os;
    os << source_ << ":" << line << ":" << col << ": error: " << message;
    if (!fix.empty()) os << " (fix: " << fix << ")";
    return Status::InvalidArgument(os.str());
  }

  // Replaces ${VAR} and ${VAR:-default} with environment values.
  std::string ExpandEnv(const std::string& in, std::vector<std::string>* warnings) const {
    std::string out;
    size_t i = 0;
    while (i < in.size()) {
      if (in[i] == '$' && i + 1 < in.size() && in[i + 1] == '{') {
        size_t end = in.find('}', i);
        if (end != std::string::npos) {
          std::string expr = in.substr(i + 2, end - i - 2);
          std::string def;
          size_t dash = expr.find(":-");
          if (dash != std::string::npos) {
            def = expr.substr(dash + 2);
            expr = expr.substr(0, dash);
          }
          const char* v = std::getenv(expr.c_str());
          if (v != nullptr && *v != '\0') {
            out += v;
          } else {
            out += def;
            if (def.empty()) warnings->push_back("environment variable " + expr + " is not set");
          }
          i = end + 1;
          continue;
        }
      }
      out.push_back(in[i++]);
    }
    return out;
  }

  Status Read(const YAML::Node& node, const std::string& key, std::string* out,
              std::vector<std::string>* warnings) const {
    if (!node.IsScalar()) return Error(node, "'" + key + "' must be a string", "write it as key: value");
    *out = ExpandEnv(node.Scalar(), warnings);
    return Status::Ok();
  }
  Status Read(const YAML::Node& node, const std::string& key, int64_t* out,
              std::vector<std::string>*) const {
    if (!node.IsScalar()) return Error(node, "'" + key + "' must be an integer", "write a whole number");
    try {
      *out = node.as<int64_t>();
    } catch (const YAML::Exception&) {
      return Error(node, "'" + key + "' must be an integer, got '" + node.Scalar() + "'",
                   "write a whole number such as 100");
    }
    if (*out < 0) return Error(node, "'" + key + "' must not be negative", "use a value >= 0");
    return Status::Ok();
  }
  Status Read(const YAML::Node& node, const std::string& key, bool* out, std::vector<std::string>*) const {
    if (!node.IsScalar()) return Error(node, "'" + key + "' must be true or false", "write true or false");
    try {
      *out = node.as<bool>();
    } catch (const YAML::Exception&) {
      return Error(node, "'" + key + "' must be true or false, got '" + node.Scalar() + "'", "write true or false");
    }
    return Status::Ok();
  }
  Status ReadDouble(const YAML::Node& node, const std::string& key, std::optional<double>* out) const {
    if (!node.IsScalar()) return Error(node, "'" + key + "' must be a number", "write a number such as 2.5");
    try {
      double v = node.as<double>();
      if (v < 0) return Error(node, "'" + key + "' must not be negative", "use a price >= 0");
      *out = v;
    } catch (const YAML::Exception&) {
      return Error(node, "'" + key + "' must be a number, got '" + node.Scalar() + "'",
                   "write a number such as 2.5 (USD per million tokens)");
    }
    return Status::Ok();
  }

  Status CheckKeys(const YAML::Node& map, const std::set<std::string>& allowed,
                   const std::string& where) const {
    if (!map.IsMap()) return Error(map, where + " must be a mapping", "write key: value pairs under it");
    for (const auto& kv : map) {
      std::string k = kv.first.Scalar();
      if (!allowed.count(k)) {
        std::string list;
        for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
        return Error(kv.first, "unknown key '" + k + "' in " + where, "valid keys are: " + list);
      }
    }
    return Status::Ok();
  }

 private:
  std::string source_;
};

#define TG_KEY_NAME(name, type, def, doc) #name,
#define TG_READ_FIELD(name, type, def, doc)                                        \
  if (auto n = node[#name]; n.IsDefined() && !n.IsNull()) {                        \
    TG_RETURN_IF_ERROR(p.Read(n, #name, &out->name, warnings));                    \
  }

Status ParseServer(const Parser& p, const YAML::Node& node, ServerConfig* out,
                   std::vector<std::string>* warnings) {
  TG_RETURN_IF_ERROR(p.CheckKeys(node, {TOLLGATE_SERVER_SETTINGS(TG_KEY_NAME)}, "server"));
  TOLLGATE_SERVER_SETTINGS(TG_READ_FIELD)
  if (out->threads < 1 || out->threads > 64)
    return p.Error(node["threads"], "server.threads must be between 1 and 64", "set threads: 2");
  if (out->max_body_bytes < 1024)
    return p.Error(node["max_body_bytes"], "server.max_body_bytes is too small", "use at least 1024");
  return Status::Ok();
}

Status ParseLedger(const Parser& p, const YAML::Node& node, LedgerConfig* out,
                   std::vector<std::string>* warnings) {
  TG_RETURN_IF_ERROR(p.CheckKeys(node, {TOLLGATE_LEDGER_SETTINGS(TG_KEY_NAME)}, "ledger"));
  TOLLGATE_LEDGER_SETTINGS(TG_READ_FIELD)
  if (out->batch_size < 1) return p.Error(node["batch_size"], "ledger.batch_size must be >= 1", "set batch_size: 2048");
  if (out->path.empty()) return p.Error(node["path"], "ledger.path is empty", "set path: ./tollgate.db");
  return Status::Ok();
}

Status ParsePricing(const Parser& p, const YAML::Node& node, PricingConfig* out,
                    std::vector<std::string>* warnings) {
  std::set<std::string> keys = {TOLLGATE_PRICING_SETTINGS(TG_KEY_NAME) "overrides"};
  TG_RETURN_IF_ERROR(p.CheckKeys(node, keys, "pricing"));
  TOLLGATE_PRICING_SETTINGS(TG_READ_FIELD)
  YAML::Node ov = node["overrides"];
  if (!ov.IsDefined() || ov.IsNull()) return Status::Ok();
  if (!ov.IsSequence())
    return p.Error(ov, "pricing.overrides must be a list", "write '- model: NAME' items under it");
  for (const auto& item : ov) {
    TG_RETURN_IF_ERROR(p.CheckKeys(item,
                                   {"model", "input", "cached_input", "cache_write_5m", "cache_write_1h",
                                    "output", "reasoning", "batch_discount"},
                                   "pricing.overrides item"));
    PriceOverride o;
    if (!item["model"].IsDefined() || !item["model"].IsScalar() || item["model"].Scalar().empty())
      return p.Error(item, "price override has no model", "add model: NAME");
    o.model = item["model"].Scalar();
    struct F { const char* k; std::optional<double>* v; };
    for (F f : {F{"input", &o.input}, F{"cached_input", &o.cached_input},
                F{"cache_write_5m", &o.cache_write_5m}, F{"cache_write_1h", &o.cache_write_1h},
                F{"output", &o.output}, F{"reasoning", &o.reasoning},
                F{"batch_discount", &o.batch_discount}}) {
      if (item[f.k].IsDefined()) TG_RETURN_IF_ERROR(p.ReadDouble(item[f.k], f.k, f.v));
    }
    out->overrides.push_back(std::move(o));
  }
  return Status::Ok();
}

Status ParseAuth(const Parser& p, const YAML::Node& node, AuthConfig* out, std::vector<std::string>* warnings) {
  TG_RETURN_IF_ERROR(p.CheckKeys(node, {TOLLGATE_AUTH_SETTINGS(TG_KEY_NAME)}, "auth"));
  TOLLGATE_AUTH_SETTINGS(TG_READ_FIELD)
  if (!out->master_key.empty() && out->master_key.size() < 16)
    return p.Error(node["master_key"], "auth.master_key is shorter than 16 characters",
                   "use a long random secret, e.g. from `openssl rand -hex 24`");
  return Status::Ok();
}

Status ParseGovernance(const Parser& p, const YAML::Node& node, GovernanceConfig* out,
                       std::vector<std::string>* warnings) {
  TG_RETURN_IF_ERROR(p.CheckKeys(node, {TOLLGATE_GOVERNANCE_SETTINGS(TG_KEY_NAME)}, "governance"));
  TOLLGATE_GOVERNANCE_SETTINGS(TG_READ_FIELD)
  if (out->default_max_tokens < 1)
    return p.Error(node["default_max_tokens"], "governance.default_max_tokens must be >= 1", "set default_max_tokens: 4096");
  if (!out->alert_webhook.empty() && !ValidBaseUrlPrefix(out->alert_webhook))
    return p.Error(node["alert_webhook"], "governance.alert_webhook must be an http:// or https:// URL",
                   "write alert_webhook: https://hooks.example/tollgate");
  return Status::Ok();
}

Status ParseBudgets(const Parser& p, const YAML::Node& node, Config* cfg) {
  if (!node.IsSequence()) return p.Error(node, "budgets must be a list", "write '- name: NAME' items under budgets:");
  for (const auto& item : node) {
    TG_RETURN_IF_ERROR(p.CheckKeys(item, {"name", "scope", "subject", "model", "window", "limit_usd", "soft_limit_usd"},
                                   "budget"));
    BudgetConfig b;
    for (auto [k, dst] : {std::pair{"name", &b.name}, std::pair{"scope", &b.scope}, std::pair{"subject", &b.subject},
                          std::pair{"model", &b.model}, std::pair{"window", &b.window}}) {
      if (item[k].IsDefined() && !item[k].IsNull()) TG_RETURN_IF_ERROR(p.Read(item[k], k, dst, &cfg->warnings));
    }
    if (item["limit_usd"].IsDefined()) TG_RETURN_IF_ERROR(p.ReadDouble(item["limit_usd"], "limit_usd", &b.limit_usd));
    if (item["soft_limit_usd"].IsDefined())
      TG_RETURN_IF_ERROR(p.ReadDouble(item["soft_limit_usd"], "soft_limit_usd", &b.soft_limit_usd));
    if (b.name.empty()) return p.Error(item, "budget has no name", "add name: NAME");
    if (b.scope != "global" && b.scope != "key" && b.scope != "user" && b.scope != "project" && b.scope != "team")
      return p.Error(item["scope"], "budget '" + b.name + "' has unknown scope '" + b.scope + "'",
                     "use scope: global, key, user, project or team");
    if (b.scope != "global" && b.subject.empty())
      return p.Error(item, "budget '" + b.name + "' needs a subject", "add subject: the " + b.scope + " it limits");
    if (b.window != "daily" && b.window != "weekly" && b.window != "monthly" && b.window != "lifetime")
      return p.Error(item["window"], "budget '" + b.name + "' has unknown window '" + b.window + "'",
                     "use window: daily, weekly, monthly or lifetime");
    if (!b.limit_usd && !b.soft_limit_usd)
      return p.Error(item, "budget '" + b.name + "' has no limit", "add limit_usd and/or soft_limit_usd");
    if (b.limit_usd && b.soft_limit_usd && *b.soft_limit_usd > *b.limit_usd)
      return p.Error(item["soft_limit_usd"], "soft_limit_usd is above limit_usd", "make the soft limit the lower one");
    cfg->budgets.push_back(std::move(b));
  }
  return Status::Ok();
}

Status ParseRateLimits(const Parser& p, const YAML::Node& node, Config* cfg) {
  if (!node.IsSequence()) return p.Error(node, "rate_limits must be a list", "write '- model: NAME' items under rate_limits:");
  for (const auto& item : node) {
    TG_RETURN_IF_ERROR(p.CheckKeys(item, {"model", "rpm", "tpm", "usd_per_minute"}, "rate limit"));
    ModelRateLimit r;
    if (!item["model"].IsDefined() || !item["model"].IsScalar())
      return p.Error(item, "rate limit has no model", "add model: NAME");
    r.model = item["model"].Scalar();
    if (item["rpm"].IsDefined()) TG_RETURN_IF_ERROR(p.Read(item["rpm"], "rpm", &r.rpm, &cfg->warnings));
    if (item["tpm"].IsDefined()) TG_RETURN_IF_ERROR(p.Read(item["tpm"], "tpm", &r.tpm, &cfg->warnings));
    std::optional<double> usd;
    if (item["usd_per_minute"].IsDefined()) TG_RETURN_IF_ERROR(p.ReadDouble(item["usd_per_minute"], "usd_per_minute", &usd));
    r.usd_per_minute = usd.value_or(0);
    cfg->rate_limits.push_back(std::move(r));
  }
  return Status::Ok();
}

bool ValidBaseUrl(const std::string& url) {
  auto rest = [&](size_t n) { return url.size() > n; };
  if (url.rfind("http://", 0) == 0) return rest(7);
  if (url.rfind("https://", 0) == 0) return rest(8);
  return false;
}

Status ParseProviders(const Parser& p, const YAML::Node& node, Config* cfg) {
  if (!node.IsSequence())
    return p.Error(node, "providers must be a list", "write '- name: NAME' items under providers:");
  std::set<std::string> names;
  for (const auto& item : node) {
    ProviderConfig pc;
    pc.line = item.Mark().line + 1;
    auto* out = &pc;
    auto* warnings = &cfg->warnings;
    TG_RETURN_IF_ERROR(p.CheckKeys(item, {TOLLGATE_PROVIDER_SETTINGS(TG_KEY_NAME)}, "provider"));
    const YAML::Node& n0 = item;
    {
      const YAML::Node& node = n0;  // TG_READ_FIELD reads from `node`
      TOLLGATE_PROVIDER_SETTINGS(TG_READ_FIELD)
    }
    if (pc.name.empty()) return p.Error(item, "provider has no name", "add name: NAME");
    if (!names.insert(pc.name).second)
      return p.Error(item["name"], "duplicate provider name '" + pc.name + "'", "give each provider a unique name");
    if (pc.type != "openai" && pc.type != "openai-compatible" && pc.type != "sim" && pc.type != "anthropic" &&
        pc.type != "gemini" && pc.type != "azure")
      return p.Error(item["type"].IsDefined() ? item["type"] : item,
                     "provider '" + pc.name + "' has unknown type '" + pc.type + "'",
                     "use type: openai, openai-compatible, azure, anthropic, gemini or sim");
    if (pc.type == "openai" && pc.base_url.empty()) pc.base_url = "https://api.openai.com/v1";
    if (pc.type == "anthropic" && pc.base_url.empty()) pc.base_url = "https://api.anthropic.com/v1";
    if (pc.type == "gemini" && pc.base_url.empty()) pc.base_url = "https://generativelanguage.googleapis.com/v1beta";
    if (pc.type == "anthropic" && pc.api_version.empty()) pc.api_version = "2023-06-01";
    if (pc.type == "azure" && pc.api_version.empty()) pc.api_version = "2024-10-21";
    if ((pc.type == "openai-compatible" || pc.type == "azure") && pc.base_url.empty())
      return p.Error(item, "provider '" + pc.name + "' of type " + pc.type + " needs base_url",
                     pc.type == "azure" ? "add base_url: https://RESOURCE.openai.azure.com/openai"
                                        : "add base_url: http://127.0.0.1:8000/v1");
    if (pc.type != "sim" && !ValidBaseUrl(pc.base_url))
      return p.Error(item["base_url"], "provider '" + pc.name + "' has invalid base_url '" + pc.base_url + "'",
                     "use http://host:port/path or https://host/path");
    while (!pc.base_url.empty() && pc.base_url.back() == '/') pc.base_url.pop_back();
    if (!pc.ca_file.empty()) {
      std::ifstream f(pc.ca_file);
      if (!f) return p.Error(item["ca_file"], "cannot read ca_file '" + pc.ca_file + "'", "point ca_file at a readable PEM file");
    }
    if (pc.type == "sim" && pc.tokens_per_second < 1)
      return p.Error(item["tokens_per_second"], "tokens_per_second must be >= 1", "set tokens_per_second: 200");
    cfg->providers.push_back(std::move(pc));
  }
  return Status::Ok();
}

Status ParseModels(const Parser& p, const YAML::Node& node, Config* cfg) {
  if (!node.IsSequence())
    return p.Error(node, "models must be a list", "write '- name: NAME' items under models:");
  std::set<std::string> names;
  for (const auto& item : node) {
    TG_RETURN_IF_ERROR(p.CheckKeys(item, {"name", "deployments"}, "model"));
    ModelConfig mc;
    if (!item["name"].IsDefined() || !item["name"].IsScalar() || item["name"].Scalar().empty())
      return p.Error(item, "model has no name", "add name: NAME (what clients send as model)");
    mc.name = item["name"].Scalar();
    if (!names.insert(mc.name).second)
      return p.Error(item["name"], "duplicate model name '" + mc.name + "'", "give each model a unique name");
    YAML::Node deps = item["deployments"];
    if (!deps.IsDefined() || !deps.IsSequence() || deps.size() == 0)
      return p.Error(item, "model '" + mc.name + "' has no deployments",
                     "add deployments: [{provider: NAME, model: PROVIDER_MODEL}]");
    for (const auto& d : deps) {
      TG_RETURN_IF_ERROR(p.CheckKeys(d, {"provider", "model"}, "deployment"));
      Deployment dep;
      if (!d["provider"].IsDefined() || !d["provider"].IsScalar())
        return p.Error(d, "deployment has no provider", "add provider: NAME");
      dep.provider = d["provider"].Scalar();
      if (cfg->FindProvider(dep.provider) == nullptr)
        return p.Error(d["provider"], "deployment of '" + mc.name + "' names unknown provider '" + dep.provider + "'",
                       "declare it under providers: or fix the name");
      dep.model = d["model"].IsDefined() && d["model"].IsScalar() ? d["model"].Scalar() : mc.name;
      mc.deployments.push_back(std::move(dep));
    }
    cfg->models.push_back(std::move(mc));
  }
  return Status::Ok();
}

}  // namespace

const ProviderConfig* Config::FindProvider(const std::string& name) const {
  for (const auto& p : providers)
    if (p.name == name) return &p;
  return nullptr;
}

Result<Config> ParseConfig(const std::string& yaml_text, const std::string& source) {
  Parser p(source);
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::ParserException& e) {
    return p.ErrorAt(e.mark.line + 1, e.mark.column + 1, "invalid YAML: " + e.msg,
                     "check indentation and quoting on this line");
  } catch (const YAML::Exception& e) {
    return p.ErrorAt(0, 0, std::string("invalid YAML: ") + e.what(), "check the file is YAML");
  }
  Config cfg;
  cfg.source = source;
  if (root.IsNull()) return p.ErrorAt(1, 1, "config is empty", "start from config/tollgate.yaml");
  try {
    TG_RETURN_IF_ERROR(p.CheckKeys(root, {"server", "ledger", "pricing", "auth", "governance", "budgets", "rate_limits",
                                          "providers", "models"}, "the top level"));
    if (root["auth"]) TG_RETURN_IF_ERROR(ParseAuth(p, root["auth"], &cfg.auth, &cfg.warnings));
    if (root["governance"]) TG_RETURN_IF_ERROR(ParseGovernance(p, root["governance"], &cfg.governance, &cfg.warnings));
    if (root["budgets"]) TG_RETURN_IF_ERROR(ParseBudgets(p, root["budgets"], &cfg));
    if (root["rate_limits"]) TG_RETURN_IF_ERROR(ParseRateLimits(p, root["rate_limits"], &cfg));
    if (root["server"]) TG_RETURN_IF_ERROR(ParseServer(p, root["server"], &cfg.server, &cfg.warnings));
    if (root["ledger"]) TG_RETURN_IF_ERROR(ParseLedger(p, root["ledger"], &cfg.ledger, &cfg.warnings));
    if (root["pricing"]) TG_RETURN_IF_ERROR(ParsePricing(p, root["pricing"], &cfg.pricing, &cfg.warnings));
    if (!root["providers"]) return p.ErrorAt(1, 1, "no providers: section", "declare at least one provider");
    TG_RETURN_IF_ERROR(ParseProviders(p, root["providers"], &cfg));
    if (!root["models"]) return p.ErrorAt(1, 1, "no models: section", "declare at least one model");
    TG_RETURN_IF_ERROR(ParseModels(p, root["models"], &cfg));
  } catch (const YAML::Exception& e) {
    return p.ErrorAt(e.mark.line + 1, e.mark.column + 1, std::string("invalid config: ") + e.msg,
                     "compare with config/tollgate.yaml");
  }
  return cfg;
}

Result<Config> LoadConfigFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::NotFound(path + ":0:0: error: cannot read config file (fix: check the path)");
  std::stringstream ss;
  ss << f.rdbuf();
  return ParseConfig(ss.str(), path);
}

Result<Config> LoadEmbeddedConfig() {
  return ParseConfig(std::string(EmbeddedFile("tollgate.yaml")), "<embedded tollgate.yaml>");
}

std::string SettingsReferenceMarkdown() {
  std::ostringstream os;
  auto row = [&](const char* name, const char* type, const std::string& def, const char* doc) {
    os << "| `" << name << "` | " << type << " | `" << def << "` | " << doc << " |\n";
  };
  auto header = [&](const char* section) {
    os << "\n### `" << section << "`\n\n| key | type | default | description |\n|---|---|---|---|\n";
  };
#define TG_DOC_ROW(name, type, def, doc) \
  row(#name, TypeName(#type), def_to_string(def), doc);
  auto TypeName = [](std::string_view t) {
    return t == "std::string" ? "string" : t == "bool" ? "boolean" : "integer";
  };
  auto def_to_string = [](auto v) {
    if constexpr (std::is_same_v<decltype(v), bool>) return std::string(v ? "true" : "false");
    else if constexpr (std::is_arithmetic_v<decltype(v)>) return std::to_string(v);
    else return std::string(v);
  };
  os << "# Configuration reference\n\nGenerated by `tollgate config docs` from src/config/settings.h.\n";
  header("server");
  TOLLGATE_SERVER_SETTINGS(TG_DOC_ROW)
  header("ledger");
  TOLLGATE_LEDGER_SETTINGS(TG_DOC_ROW)
  header("pricing");
  TOLLGATE_PRICING_SETTINGS(TG_DOC_ROW)
  os << "| `overrides` | list | `[]` | Price overrides: `{model, input, cached_input, cache_write_5m, "
        "cache_write_1h, output, reasoning, batch_discount}`, USD per million tokens. |\n";
  header("auth");
  TOLLGATE_AUTH_SETTINGS(TG_DOC_ROW)
  header("governance");
  TOLLGATE_GOVERNANCE_SETTINGS(TG_DOC_ROW)
  os << "\n### `budgets[]`\n\n| key | type | default | description |\n|---|---|---|---|\n"
        "| `name` | string | — | Unique budget name. |\n"
        "| `scope` | string | `global` | global, key, user, project or team. |\n"
        "| `subject` | string | — | The key id, user, project or team limited (not for global). |\n"
        "| `model` | string | — | Only requests for this model count (empty: all models). |\n"
        "| `window` | string | `daily` | daily, weekly, monthly (calendar, in governance.timezone) or lifetime. |\n"
        "| `limit_usd` | number | — | Hard limit: requests that could exceed it are refused (`budget_exceeded`). |\n"
        "| `soft_limit_usd` | number | — | Soft limit: crossing it logs a warning and calls governance.alert_webhook. |\n";
  os << "\n### `rate_limits[]`\n\n| key | type | default | description |\n|---|---|---|---|\n"
        "| `model` | string | — | Model name clients send. |\n"
        "| `rpm` | integer | `0` | Requests per minute (0 = unlimited). |\n"
        "| `tpm` | integer | `0` | Tokens per minute, counting reserved input + max output. |\n"
        "| `usd_per_minute` | number | `0` | Dollars per minute, counting worst-case reservations. |\n";
  header("providers[]");
  TOLLGATE_PROVIDER_SETTINGS(TG_DOC_ROW)
  os << "\n### `models[]`\n\n| key | type | default | description |\n|---|---|---|---|\n"
        "| `name` | string | — | Model name clients send. |\n"
        "| `deployments` | list | — | `{provider, model}` pairs tried in order: each is retried up to "
        "its provider's max_retries, then the next one is used. `model` defaults to `name`. |\n";
#undef TG_DOC_ROW
  os << "\nStrings may contain `${VAR}` or `${VAR:-default}`, replaced from the environment.\n";
  return os.str();
}

}  // namespace tollgate::config
