#include "config/config.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "common/embedded.h"
#include "config/closed_sets.h"
#include "config/yaml_errors.h"

namespace tollgate::config {
namespace {

bool ValidBaseUrlPrefix(const std::string& url) {
  return (url.rfind("http://", 0) == 0 && url.size() > 7) || (url.rfind("https://", 0) == 0 && url.size() > 8);
}

// Collects the first error with its position; parsing stops at the first one.
class Parser : public YamlErrors {
 public:
  explicit Parser(std::string source) : YamlErrors(std::move(source)) {}

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
  Status Read(const YAML::Node& node, const std::string& key, double* out, std::vector<std::string>*) const {
    std::optional<double> v;
    TG_RETURN_IF_ERROR(ReadDouble(node, key, &v));
    *out = *v;
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
  if (out->max_connections < 1)
    return p.Error(node["max_connections"], "server.max_connections must be at least 1", "set max_connections: 4096");
  if (out->drain_timeout_ms < 0 || out->drain_timeout_ms > 3600000)
    return p.Error(node["drain_timeout_ms"], "server.drain_timeout_ms must be between 0 and 3600000",
                   "set drain_timeout_ms: 5000");
  return Status::Ok();
}

Status ParseLedger(const Parser& p, const YAML::Node& node, LedgerConfig* out,
                   std::vector<std::string>* warnings) {
  TG_RETURN_IF_ERROR(p.CheckKeys(node, {TOLLGATE_LEDGER_SETTINGS(TG_KEY_NAME)}, "ledger"));
  TOLLGATE_LEDGER_SETTINGS(TG_READ_FIELD)
  if (out->batch_size < 1) return p.Error(node["batch_size"], "ledger.batch_size must be >= 1", "set batch_size: 2048");
  const bool has_url = node["url"].IsDefined() && !node["url"].IsNull();
  if (has_url && node["path"].IsDefined() && !node["path"].IsNull())
    return p.Error(node["url"], "ledger.url and ledger.path are both set", "keep one: url: sqlite://PATH replaces path: PATH");
  if (!has_url) {
    if (out->path.empty()) return p.Error(node["path"], "ledger.path is empty", "set path: ./tollgate.db");
    out->url = out->path;  // a plain path is a SQLite file (ledger/storage.h)
    return Status::Ok();
  }
  // The backends ledger/storage.h opens; this is where a bad URL is named with its line.
  constexpr std::string_view kSqlite = "sqlite://";
  const size_t scheme_end = out->url.find("://");
  if (scheme_end == std::string::npos)
    return p.Error(node["url"], "ledger.url '" + out->url + "' has no scheme",
                   "write url: sqlite:///absolute/path.db or url: sqlite://relative/path.db");
  const std::string scheme = out->url.substr(0, scheme_end);
  if (scheme == "postgres" || scheme == "postgresql") {
    out->path.clear();  // no SQLite file: the database server holds the ledger
    return Status::Ok();
  }
  if (out->url.compare(0, kSqlite.size(), kSqlite) != 0)
    return p.Error(node["url"], "ledger.url has an unknown scheme '" + scheme + "'",
                   "write url: sqlite:///absolute/path.db, url: sqlite://relative/path.db or "
                   "url: postgres://user@host:port/db");
  if (out->url.size() == kSqlite.size())
    return p.Error(node["url"], "ledger.url names no file", "write url: sqlite://./tollgate.db");
  out->path = out->url.substr(kSqlite.size());
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

Status ParseCounters(const Parser& p, const YAML::Node& node, CountersConfig* out,
                     std::vector<std::string>* warnings) {
  TG_RETURN_IF_ERROR(p.CheckKeys(node, {TOLLGATE_COUNTERS_SETTINGS(TG_KEY_NAME)}, "counters"));
  TOLLGATE_COUNTERS_SETTINGS(TG_READ_FIELD)
  if (!out->url.empty() && out->url.rfind("redis://", 0) != 0)
    return p.Error(node["url"], "counters.url must be a redis:// URL",
                   "write url: redis://127.0.0.1:6379, or remove it to keep the counters in this process");
  if (!ParseCountersPolicy(out->policy))
    return p.Error(node["policy"], "counters.policy must be fail_closed or fail_open", "set policy: fail_closed");
  if (out->replicas < 1 || out->replicas > 10000)
    return p.Error(node["replicas"], "counters.replicas must be between 1 and 10000",
                   "set replicas to the number of tollgate replicas sharing the counters");
  if (out->timeout_ms < 1 || out->timeout_ms > 60000)
    return p.Error(node["timeout_ms"], "counters.timeout_ms must be between 1 and 60000", "set timeout_ms: 250");
  if (out->reservation_ttl_ms < 1000)
    return p.Error(node["reservation_ttl_ms"], "counters.reservation_ttl_ms must be at least 1000",
                   "set it above your longest request, e.g. reservation_ttl_ms: 900000");
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

Status ParseCache(const Parser& p, const YAML::Node& node, CacheConfig* out, std::vector<std::string>* warnings) {
  TG_RETURN_IF_ERROR(p.CheckKeys(node, {TOLLGATE_CACHE_SETTINGS(TG_KEY_NAME)}, "cache"));
  TOLLGATE_CACHE_SETTINGS(TG_READ_FIELD)
  if (!ParseCacheScope(out->scope))
    return p.Error(node["scope"], "cache.scope must be key, project or global", "set scope: key");
  if (out->default_mode != "on" && out->default_mode != "off")
    return p.Error(node["default_mode"], "cache.default_mode must be on or off", "set default_mode: on");
  if (out->temperature_policy != "bypass" && out->temperature_policy != "cache")
    return p.Error(node["temperature_policy"], "cache.temperature_policy must be bypass or cache",
                   "set temperature_policy: bypass");
  for (auto [k, v] : {std::pair{"semantic_threshold", out->semantic_threshold},
                      std::pair{"minhash_threshold", out->minhash_threshold}}) {
    if (v <= 0 || v > 1) return p.Error(node[k], std::string("cache.") + k + " must be in (0, 1]", "use e.g. 0.9");
  }
  if (!out->embeddings_url.empty() && !ValidBaseUrlPrefix(out->embeddings_url))
    return p.Error(node["embeddings_url"], "cache.embeddings_url must be an http:// or https:// URL",
                   "write embeddings_url: http://127.0.0.1:8080/v1");
  if (out->max_entries < 1) return p.Error(node["max_entries"], "cache.max_entries must be >= 1", "set max_entries: 10000");
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
    const std::optional<BudgetScope> scope = ParseBudgetScope(b.scope);
    if (!scope)
      return p.Error(item["scope"], "budget '" + b.name + "' has unknown scope '" + b.scope + "'",
                     "use scope: global, key, user, project or team");
    if (*scope != BudgetScope::kGlobal && b.subject.empty())
      return p.Error(item, "budget '" + b.name + "' needs a subject", "add subject: the " + b.scope + " it limits");
    if (!ParseBudgetWindow(b.window))
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
    const ProviderTypeInfo* type = FindProviderTypeInfo(pc.type);
    if (type == nullptr)
      return p.Error(item["type"].IsDefined() ? item["type"] : item,
                     "provider '" + pc.name + "' has unknown type '" + pc.type + "'",
                     "use type: " + ProviderTypeList());
    if (type->needs_dataset && pc.dataset.empty())
      return p.Error(item, pc.type + " provider '" + pc.name + "' needs dataset",
                     "add dataset: path/to/test.csv (routerbench format; several comma-separated)");
    if (type->default_base_url && pc.base_url.empty()) pc.base_url = type->default_base_url;
    if (type->default_api_version && pc.api_version.empty()) pc.api_version = type->default_api_version;
    if (type->base_url_fix && pc.base_url.empty())
      return p.Error(item, "provider '" + pc.name + "' of type " + pc.type + " needs base_url", type->base_url_fix);
    if (!type->in_process && !ValidBaseUrl(pc.base_url))
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

Status ReadStringList(const Parser& p, const YAML::Node& node, const std::string& key, std::vector<std::string>* out) {
  if (!node.IsSequence()) return p.Error(node, "'" + key + "' must be a list", "write " + key + ": [a, b]");
  for (const auto& v : node) {
    if (!v.IsScalar() || v.Scalar().empty()) return p.Error(v, "'" + key + "' items must be names", "write " + key + ": [a, b]");
    out->push_back(v.Scalar());
  }
  return Status::Ok();
}

// A YAML value as JSON: plain scalars that read as numbers, booleans or null
// become those; quoted scalars stay strings.
void YamlToJson(const YAML::Node& n, rapidjson::Value& out, rapidjson::Document::AllocatorType& a) {
  if (n.IsMap()) {
    out.SetObject();
    for (const auto& kv : n) {
      rapidjson::Value v;
      YamlToJson(kv.second, v, a);
      out.AddMember(rapidjson::Value(kv.first.Scalar().c_str(), a), v, a);
    }
  } else if (n.IsSequence()) {
    out.SetArray();
    for (const auto& item : n) {
      rapidjson::Value v;
      YamlToJson(item, v, a);
      out.PushBack(v, a);
    }
  } else if (n.IsScalar()) {
    const std::string& t = n.Scalar();
    const bool plain = n.Tag() != "!";  // yaml-cpp tags quoted scalars "!"
    int64_t i = 0;
    double d = 0;
    bool b = false;
    if (plain && (t == "null" || t == "~")) out.SetNull();
    else if (plain && YAML::convert<int64_t>::decode(n, i)) out.SetInt64(i);
    else if (plain && YAML::convert<double>::decode(n, d)) out.SetDouble(d);
    else if (plain && YAML::convert<bool>::decode(n, b)) out.SetBool(b);
    else out.SetString(t.c_str(), a);
  } else {
    out.SetNull();
  }
}

Status ParseCascade(const Parser& p, const YAML::Node& node, CascadeConfig* c) {
  TG_RETURN_IF_ERROR(p.CheckKeys(node, {"steps", "checks", "judge_model"}, "cascade"));
  if (!node["steps"].IsDefined()) return p.Error(node, "cascade has no steps", "add steps: [cheap-model, strong-model]");
  TG_RETURN_IF_ERROR(ReadStringList(p, node["steps"], "steps", &c->steps));
  if (c->steps.size() < 2) return p.Error(node["steps"], "a cascade needs at least two steps", "list the cheap model, then the strong one");
  if (node["judge_model"].IsDefined()) c->judge_model = node["judge_model"].Scalar();
  const YAML::Node& checks = node["checks"];
  if (!checks.IsDefined() || !checks.IsSequence() || checks.size() == 0)
    return p.Error(node, "cascade has no checks", "add checks: [{type: refusal}]");
  for (const auto& item : checks) {
    TG_RETURN_IF_ERROR(p.CheckKeys(item, {"type", "json_schema", "pattern", "min_chars", "max_chars", "min_confidence", "min_score"},
                                   "cascade check"));
    CascadeCheck ck;
    if (!item["type"].IsDefined()) return p.Error(item, "cascade check has no type", "add type: refusal");
    ck.type = item["type"].Scalar();
    std::vector<std::string> w;
    if (item["pattern"].IsDefined()) TG_RETURN_IF_ERROR(p.Read(item["pattern"], "pattern", &ck.pattern, &w));
    if (item["min_chars"].IsDefined()) TG_RETURN_IF_ERROR(p.Read(item["min_chars"], "min_chars", &ck.min_chars, &w));
    if (item["max_chars"].IsDefined()) TG_RETURN_IF_ERROR(p.Read(item["max_chars"], "max_chars", &ck.max_chars, &w));
    for (const char* k : {"min_confidence", "min_score"})
      if (item[k].IsDefined()) TG_RETURN_IF_ERROR(p.Read(item[k], k, &ck.min_confidence, &w));
    if (item["json_schema"].IsDefined()) {
      // Either a JSON string or a YAML mapping, stored as JSON text.
      if (item["json_schema"].IsScalar()) {
        ck.json_schema = item["json_schema"].Scalar();
      } else {
        rapidjson::Document d;
        YamlToJson(item["json_schema"], d, d.GetAllocator());
        rapidjson::StringBuffer sb;
        rapidjson::Writer<rapidjson::StringBuffer> w(sb);
        d.Accept(w);
        ck.json_schema.assign(sb.GetString(), sb.GetSize());
      }
    }
    if (ck.type == "json_schema" && ck.json_schema.empty())
      return p.Error(item, "json_schema check needs json_schema", "add json_schema: {type: object, required: [answer]}");
    if (ck.type == "regex") {
      if (ck.pattern.empty()) return p.Error(item, "regex check needs pattern", "add pattern: '^[ABCD]$'");
      try {
        std::regex re(ck.pattern);
      } catch (const std::regex_error& e) {
        return p.Error(item["pattern"], std::string("invalid regex: ") + e.what(), "fix the pattern (ECMAScript syntax)");
      }
    }
    if (ck.type == "judge" && c->judge_model.empty())
      return p.Error(item, "a judge check needs the cascade's judge_model", "add judge_model: NAME to the cascade");
    if (ck.type != "json_schema" && ck.type != "length" && ck.type != "refusal" && ck.type != "confidence" &&
        ck.type != "regex" && ck.type != "judge")
      return p.Error(item["type"], "unknown cascade check type '" + ck.type + "'",
                     "use json_schema, length, refusal, confidence, regex or judge");
    c->checks.push_back(std::move(ck));
  }
  return Status::Ok();
}

Status ParseRoute(const Parser& p, const YAML::Node& node, RouteConfig* r, std::vector<std::string>* warnings) {
  TG_RETURN_IF_ERROR(p.CheckKeys(node, {"rules", "learned", "cascade", "default", "baseline"}, "route"));
  if (node["default"].IsDefined()) TG_RETURN_IF_ERROR(p.Read(node["default"], "default", &r->default_model, warnings));
  if (node["baseline"].IsDefined()) TG_RETURN_IF_ERROR(p.Read(node["baseline"], "baseline", &r->baseline, warnings));
  if (const YAML::Node& rules = node["rules"]; rules.IsDefined()) {
    if (!rules.IsSequence()) return p.Error(rules, "route.rules must be a list", "write '- when: {...}' items");
    for (const auto& item : rules) {
      TG_RETURN_IF_ERROR(p.CheckKeys(item, {"name", "when", "to"}, "route rule"));
      RouteRule rule;
      if (item["name"].IsDefined()) rule.name = item["name"].Scalar();
      if (!item["to"].IsDefined() || !item["to"].IsScalar())
        return p.Error(item, "route rule has no target", "add to: MODEL");
      rule.to = item["to"].Scalar();
      const YAML::Node& when = item["when"];
      if (!when.IsDefined()) return p.Error(item, "route rule has no conditions", "add when: {min_prompt_tokens: 2000}");
      TG_RETURN_IF_ERROR(p.CheckKeys(when, {"min_prompt_tokens", "max_prompt_tokens", "tags_any", "has_tools", "has_images", "regex"},
                                     "route rule when"));
      for (auto [k, dst] : {std::pair{"min_prompt_tokens", &rule.min_prompt_tokens},
                            std::pair{"max_prompt_tokens", &rule.max_prompt_tokens}}) {
        if (when[k].IsDefined()) {
          int64_t v = 0;
          TG_RETURN_IF_ERROR(p.Read(when[k], k, &v, warnings));
          *dst = v;
        }
      }
      for (auto [k, dst] : {std::pair{"has_tools", &rule.has_tools}, std::pair{"has_images", &rule.has_images}}) {
        if (when[k].IsDefined()) {
          bool v = false;
          TG_RETURN_IF_ERROR(p.Read(when[k], k, &v, warnings));
          *dst = v;
        }
      }
      if (when["tags_any"].IsDefined()) TG_RETURN_IF_ERROR(ReadStringList(p, when["tags_any"], "tags_any", &rule.tags_any));
      if (when["regex"].IsDefined()) {
        TG_RETURN_IF_ERROR(p.Read(when["regex"], "regex", &rule.regex, warnings));
        try {
          std::regex re(rule.regex.rfind("(?i)", 0) == 0 ? rule.regex.substr(4) : rule.regex);
        } catch (const std::regex_error& e) {
          return p.Error(when["regex"], std::string("invalid regex: ") + e.what(), "fix the pattern (ECMAScript syntax)");
        }
      }
      r->rules.push_back(std::move(rule));
    }
  }
  if (const YAML::Node& l = node["learned"]; l.IsDefined()) {
    TG_RETURN_IF_ERROR(p.CheckKeys(l, {"model_file", "threshold", "candidates"}, "route.learned"));
    LearnedRouteConfig lc;
    if (!l["model_file"].IsDefined()) return p.Error(l, "route.learned needs model_file", "run `tollgate router train` and set model_file: router.json");
    TG_RETURN_IF_ERROR(p.Read(l["model_file"], "model_file", &lc.model_file, warnings));
    if (l["threshold"].IsDefined()) {
      double t = 0;
      TG_RETURN_IF_ERROR(p.Read(l["threshold"], "threshold", &t, warnings));
      lc.threshold = t;
    }
    const YAML::Node& c = l["candidates"];
    if (!c.IsDefined() || !c.IsMap() || c.size() < 2)
      return p.Error(l, "route.learned needs candidates", "map router model names to tollgate models: {gpt-4-1106-preview: big, mistralai/mistral-7b-chat: small}");
    for (const auto& kv : c) lc.candidates[kv.first.Scalar()] = kv.second.Scalar();
    r->learned = std::move(lc);
  }
  if (const YAML::Node& c = node["cascade"]; c.IsDefined()) {
    CascadeConfig cc;
    TG_RETURN_IF_ERROR(ParseCascade(p, c, &cc));
    r->cascade = std::move(cc);
  }
  if (r->rules.empty() && !r->learned && !r->cascade && r->default_model.empty())
    return p.Error(node, "route decides nothing", "add rules, learned, cascade or default");
  return Status::Ok();
}

Status ParseBudgetHint(const Parser& p, const YAML::Node& node, BudgetHintConfig* b, std::vector<std::string>* warnings) {
  TG_RETURN_IF_ERROR(p.CheckKeys(node, {"max_tokens", "hint_tokens", "hint", "control_share"}, "budget_hint"));
  if (node["max_tokens"].IsDefined()) TG_RETURN_IF_ERROR(p.Read(node["max_tokens"], "max_tokens", &b->max_tokens, warnings));
  if (node["hint_tokens"].IsDefined()) TG_RETURN_IF_ERROR(p.Read(node["hint_tokens"], "hint_tokens", &b->hint_tokens, warnings));
  if (node["hint"].IsDefined()) TG_RETURN_IF_ERROR(p.Read(node["hint"], "hint", &b->hint, warnings));
  if (node["control_share"].IsDefined()) TG_RETURN_IF_ERROR(p.Read(node["control_share"], "control_share", &b->control_share, warnings));
  if (b->control_share >= 1) return p.Error(node["control_share"], "control_share must be below 1", "use e.g. 0.1");
  if (b->max_tokens == 0 && b->hint_tokens == 0)
    return p.Error(node, "budget_hint does nothing", "set max_tokens and/or hint_tokens");
  if (b->hint_tokens > 0 && b->hint.find("{budget}") == std::string::npos)
    return p.Error(node["hint"], "budget_hint.hint must contain {budget}", "e.g. hint: 'Use at most {budget} tokens.'");
  return Status::Ok();
}

Status ParseModels(const Parser& p, const YAML::Node& node, Config* cfg) {
  if (!node.IsSequence())
    return p.Error(node, "models must be a list", "write '- name: NAME' items under models:");
  std::set<std::string> names;
  std::vector<YAML::Node> items;
  for (const auto& item : node) {
    TG_RETURN_IF_ERROR(p.CheckKeys(item, {"name", "deployments", "strategy", "latency_objective_ms", "route", "budget_hint"}, "model"));
    ModelConfig mc;
    mc.line = item.Mark().line + 1;
    if (!item["name"].IsDefined() || !item["name"].IsScalar() || item["name"].Scalar().empty())
      return p.Error(item, "model has no name", "add name: NAME (what clients send as model)");
    mc.name = item["name"].Scalar();
    if (!names.insert(mc.name).second)
      return p.Error(item["name"], "duplicate model name '" + mc.name + "'", "give each model a unique name");
    if (item["strategy"].IsDefined()) TG_RETURN_IF_ERROR(p.Read(item["strategy"], "strategy", &mc.strategy, &cfg->warnings));
    if (!ParseRoutingStrategy(mc.strategy))
      return p.Error(item["strategy"], "unknown strategy '" + mc.strategy + "'", "use fallback, weighted, least_latency or cheapest");
    if (item["latency_objective_ms"].IsDefined())
      TG_RETURN_IF_ERROR(p.Read(item["latency_objective_ms"], "latency_objective_ms", &mc.latency_objective_ms, &cfg->warnings));
    if (item["budget_hint"].IsDefined()) {
      BudgetHintConfig b;
      TG_RETURN_IF_ERROR(ParseBudgetHint(p, item["budget_hint"], &b, &cfg->warnings));
      mc.budget_hint = std::move(b);
    }
    YAML::Node deps = item["deployments"];
    if (item["route"].IsDefined()) {
      if (deps.IsDefined())
        return p.Error(item, "model '" + mc.name + "' has both route and deployments",
                       "a routed (virtual) model sends requests to other models: remove deployments");
      RouteConfig r;
      TG_RETURN_IF_ERROR(ParseRoute(p, item["route"], &r, &cfg->warnings));
      mc.route = std::move(r);
      items.push_back(item);
      cfg->models.push_back(std::move(mc));
      continue;
    }
    if (!deps.IsDefined() || !deps.IsSequence() || deps.size() == 0)
      return p.Error(item, "model '" + mc.name + "' has no deployments",
                     "add deployments: [{provider: NAME, model: PROVIDER_MODEL}] (or route: to make it a routed model)");
    for (const auto& d : deps) {
      TG_RETURN_IF_ERROR(p.CheckKeys(d, {"provider", "model", "weight"}, "deployment"));
      Deployment dep;
      if (!d["provider"].IsDefined() || !d["provider"].IsScalar())
        return p.Error(d, "deployment has no provider", "add provider: NAME");
      dep.provider = d["provider"].Scalar();
      if (cfg->FindProvider(dep.provider) == nullptr)
        return p.Error(d["provider"], "deployment of '" + mc.name + "' names unknown provider '" + dep.provider + "'",
                       "declare it under providers: or fix the name");
      dep.model = d["model"].IsDefined() && d["model"].IsScalar() ? d["model"].Scalar() : mc.name;
      if (d["weight"].IsDefined()) TG_RETURN_IF_ERROR(p.Read(d["weight"], "weight", &dep.weight, &cfg->warnings));
      mc.deployments.push_back(std::move(dep));
    }
    items.push_back(item);
    cfg->models.push_back(std::move(mc));
  }
  // Routes may only name real (non-routed) models, so routing never loops.
  for (size_t i = 0; i < cfg->models.size(); ++i) {
    const ModelConfig& mc = cfg->models[i];
    if (!mc.route) continue;
    const YAML::Node& route = items[i]["route"];
    auto check = [&](const std::string& target, const YAML::Node& where) -> Status {
      const ModelConfig* t = cfg->FindModel(target);
      if (t == nullptr)
        return p.Error(where, "route of '" + mc.name + "' names unknown model '" + target + "'", "declare it under models: or fix the name");
      if (t->route) return p.Error(where, "route of '" + mc.name + "' names routed model '" + target + "'", "route to models with deployments");
      return Status::Ok();
    };
    const RouteConfig& r = *mc.route;
    size_t k = 0;
    for (const auto& rule : r.rules) TG_RETURN_IF_ERROR(check(rule.to, route["rules"][k++]["to"]));
    if (!r.default_model.empty()) TG_RETURN_IF_ERROR(check(r.default_model, route["default"]));
    if (!r.baseline.empty()) TG_RETURN_IF_ERROR(check(r.baseline, route["baseline"]));
    if (r.cascade) {
      for (const auto& s : r.cascade->steps) TG_RETURN_IF_ERROR(check(s, route["cascade"]["steps"]));
      if (!r.cascade->judge_model.empty()) TG_RETURN_IF_ERROR(check(r.cascade->judge_model, route["cascade"]["judge_model"]));
    }
    if (r.learned)
      for (const auto& [rm, target] : r.learned->candidates) TG_RETURN_IF_ERROR(check(target, route["learned"]["candidates"]));
    if (!r.cascade && !r.learned && r.default_model.empty())
      return p.Error(route, "route of '" + mc.name + "' has no default", "add default: MODEL for requests no rule matches");
  }
  return Status::Ok();
}

}  // namespace

const ModelConfig* Config::FindModel(const std::string& name) const {
  for (const auto& m : models)
    if (m.name == name) return &m;
  return nullptr;
}

const ProviderConfig* Config::FindProvider(const std::string& name) const {
  for (const auto& p : providers)
    if (p.name == name) return &p;
  return nullptr;
}

Result<Config> ParseConfig(const std::string& yaml_text, const std::string& source, const ParseOptions& options) {
  Parser p(source);
  TG_ASSIGN_OR_RETURN(YAML::Node root, p.Load(yaml_text));
  Config cfg;
  cfg.source = source;
  if (root.IsNull()) return p.ErrorAt(1, 1, "config is empty", "start from config/tollgate.yaml");
  try {
    TG_RETURN_IF_ERROR(p.CheckKeys(root, {"server", "ledger", "pricing", "auth", "governance", "counters", "budgets", "rate_limits",
                                          "providers", "models", "cache"}, "the top level"));
    if (root["cache"]) TG_RETURN_IF_ERROR(ParseCache(p, root["cache"], &cfg.cache, &cfg.warnings));
    if (root["auth"]) TG_RETURN_IF_ERROR(ParseAuth(p, root["auth"], &cfg.auth, &cfg.warnings));
    if (root["governance"]) TG_RETURN_IF_ERROR(ParseGovernance(p, root["governance"], &cfg.governance, &cfg.warnings));
    if (root["counters"]) TG_RETURN_IF_ERROR(ParseCounters(p, root["counters"], &cfg.counters, &cfg.warnings));
    if (root["budgets"]) TG_RETURN_IF_ERROR(ParseBudgets(p, root["budgets"], &cfg));
    if (root["rate_limits"]) TG_RETURN_IF_ERROR(ParseRateLimits(p, root["rate_limits"], &cfg));
    if (root["server"]) TG_RETURN_IF_ERROR(ParseServer(p, root["server"], &cfg.server, &cfg.warnings));
    if (root["ledger"]) TG_RETURN_IF_ERROR(ParseLedger(p, root["ledger"], &cfg.ledger, &cfg.warnings));
    if (cfg.ledger.url.empty()) cfg.ledger.url = cfg.ledger.path;  // no ledger section: the default file
    if (root["pricing"]) TG_RETURN_IF_ERROR(ParsePricing(p, root["pricing"], &cfg.pricing, &cfg.warnings));
    if (!root["providers"] && options.require_routes)
      return p.ErrorAt(1, 1, "no providers: section", "declare at least one provider");
    if (root["providers"]) TG_RETURN_IF_ERROR(ParseProviders(p, root["providers"], &cfg));
    if (!root["models"] && options.require_routes)
      return p.ErrorAt(1, 1, "no models: section", "declare at least one model");
    if (root["models"]) TG_RETURN_IF_ERROR(ParseModels(p, root["models"], &cfg));
  } catch (const YAML::Exception& e) {
    return p.ErrorAt(e.mark.line + 1, e.mark.column + 1, std::string("invalid config: ") + e.msg,
                     "compare with config/tollgate.yaml");
  }
  return cfg;
}

Result<Config> LoadConfigFile(const std::string& path, const ParseOptions& options) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::NotFound(path + ":0:0: error: cannot read config file (fix: check the path)");
  std::stringstream ss;
  ss << f.rdbuf();
  return ParseConfig(ss.str(), path, options);
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
    return t == "std::string" ? "string" : t == "bool" ? "boolean" : t == "double" ? "number" : "integer";
  };
  auto def_to_string = [](auto v) {
    if constexpr (std::is_same_v<decltype(v), bool>) return std::string(v ? "true" : "false");
    else if constexpr (std::is_floating_point_v<decltype(v)>) {
      std::ostringstream d;
      d << v;
      return d.str();
    } else if constexpr (std::is_arithmetic_v<decltype(v)>) return std::to_string(v);
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
  header("counters");
  TOLLGATE_COUNTERS_SETTINGS(TG_DOC_ROW)
  header("cache");
  TOLLGATE_CACHE_SETTINGS(TG_DOC_ROW)
  header("providers[]");
  TOLLGATE_PROVIDER_SETTINGS(TG_DOC_ROW)
  os << "\n### `models[]`\n\n| key | type | default | description |\n|---|---|---|---|\n"
        "| `name` | string | — | Model name clients send. |\n"
        "| `deployments` | list | — | `{provider, model}` pairs tried in order: each is retried up to "
        "its provider's max_retries, then the next one is used. `model` defaults to `name`; `weight` (default 1) "
        "is the share under strategy weighted. |\n"
        "| `strategy` | string | `fallback` | fallback (in order), weighted (random by weight), least_latency "
        "(lowest observed latency first), cheapest (cheapest price first, skipping deployments whose observed "
        "latency is over latency_objective_ms). The rest stay as fallbacks. |\n"
        "| `latency_objective_ms` | integer | `0` | strategy cheapest: latency objective (0: none). |\n"
        "| `route` | mapping | — | Makes this a routed (virtual) model, with no deployments: `rules` (list of "
        "`{name, when: {min_prompt_tokens, max_prompt_tokens, tags_any, has_tools, has_images, regex}, to: MODEL}`, "
        "first match wins; regex is ECMAScript, a leading `(?i)` makes it case-insensitive), `learned: {model_file, threshold, candidates: {ROUTER_MODEL: MODEL}}`, "
        "`cascade: {steps: [CHEAP, ..., STRONG], checks: [{type: json_schema|length|refusal|confidence|regex|judge, "
        "json_schema, pattern, min_chars, max_chars, min_confidence, min_score}], judge_model}`, `default: MODEL`, "
        "`baseline: MODEL` (what savings are measured against; default: the dearest target). |\n"
        "| `budget_hint` | mapping | — | Budget-aware prompting: `{max_tokens: N (clamp), hint_tokens: N, hint: "
        "'... {budget} ...', control_share: 0.1}`; control_share of requests are left unchanged to measure the "
        "output tokens saved. |\n";
#undef TG_DOC_ROW
  os << "\nStrings may contain `${VAR}` or `${VAR:-default}`, replaced from the environment.\n";
  return os.str();
}

}  // namespace tollgate::config
