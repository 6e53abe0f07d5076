#include "pricing/catalog.h"

#include <rapidjson/document.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

#include "common/json.h"
#include "common/embedded.h"

namespace tollgate::pricing {
namespace {

double Num(const rapidjson::Value& obj, const char* key, double fallback) {
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || !it->value.IsNumber()) return fallback;
  return it->value.GetDouble();
}

std::string Str(const rapidjson::Value& obj, const char* key) {
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || !it->value.IsString()) return {};
  return it->value.GetString();
}

// Fills class rates, letting classes not billed separately inherit. For a tier,
// `base` holds the entry's rates; reasoning without a price of its own in the
// entry (`base_reasoning` false) follows the tier's output price.
Rates ReadRates(const rapidjson::Value& v, const Rates* base, bool base_reasoning = false) {
  Rates r;
  r.input = Num(v, "input", base ? base->input : 0);
  r.output = Num(v, "output", base ? base->output : 0);
  r.cached_input = Num(v, "cached_input", base ? base->cached_input : r.input);
  r.cache_write_5m = Num(v, "cache_write_5m", base ? base->cache_write_5m : r.input);
  r.cache_write_1h = Num(v, "cache_write_1h", base ? base->cache_write_1h : r.cache_write_5m);
  r.reasoning = Num(v, "reasoning", base && base_reasoning ? base->reasoning : r.output);
  return r;
}

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::NotFound("cannot read " + path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Strips a trailing snapshot date: "-2024-08-06" or "-20240806".
std::string StripDateSuffix(std::string_view m) {
  auto all_digits = [](std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (m.size() > 11 && m[m.size() - 11] == '-' && m[m.size() - 6] == '-' && m[m.size() - 3] == '-' &&
      all_digits(m.substr(m.size() - 10, 4)))
    return std::string(m.substr(0, m.size() - 11));
  if (m.size() > 9 && m[m.size() - 9] == '-' && all_digits(m.substr(m.size() - 8)))
    return std::string(m.substr(0, m.size() - 9));
  return std::string(m);
}

}  // namespace

Cost ComputeCost(const ModelPrice& price, const Usage& usage, bool batch) {
  const Rates* r = &price.rates;
  for (const auto& t : price.tiers)
    if (usage.PromptTotal() > t.above_input_tokens) r = &t.rates;
  const double m = 1e-6 * (batch ? (1.0 - price.batch_discount) : 1.0);
  Cost c;
  c.input = static_cast<double>(usage.input) * r->input * m;
  c.cache_read = static_cast<double>(usage.cache_read) * r->cached_input * m;
  c.cache_write = (static_cast<double>(usage.cache_write_5m) * r->cache_write_5m +
                   static_cast<double>(usage.cache_write_1h) * r->cache_write_1h) * m;
  c.output = static_cast<double>(usage.output) * r->output * m;
  c.reasoning = static_cast<double>(usage.reasoning) * r->reasoning * m;
  return c;
}

Result<std::unique_ptr<PriceCatalog>> PriceCatalog::FromCatalogJson(std::string_view json,
                                                                    const std::string& source,
                                                                    const std::string& today) {
  rapidjson::Document doc;
  const JsonParse doc_json = ParseJson(doc, json);
  if (!doc_json.ok)
    return Status::InvalidArgument(source + ": invalid JSON at offset " + std::to_string(doc_json.offset) +
                                   ": " + doc_json.message);
  if (!doc.IsObject() || !doc.HasMember("models") || !doc["models"].IsArray())
    return Status::InvalidArgument(source + ": expected an object with a \"models\" array (see docs/pricing.md)");
  auto cat = std::make_unique<PriceCatalog>();
  cat->version_ = Str(doc, "catalog_version");
  // For each model id keep the newest entry whose effective_from <= today.
  std::map<std::string, std::unique_ptr<ModelPrice>> chosen;
  std::map<std::string, std::vector<std::string>> aliases;
  size_t index = 0;
  for (const auto& e : doc["models"].GetArray()) {
    ++index;
    if (!e.IsObject() || Str(e, "model").empty() || !e.HasMember("input") || !e.HasMember("output"))
      return Status::InvalidArgument(source + ": models[" + std::to_string(index - 1) +
                                     "] needs model, input and output");
    auto p = std::make_unique<ModelPrice>();
    p->provider = Str(e, "provider");
    p->model = Str(e, "model");
    p->effective_from = Str(e, "effective_from");
    p->mode = Str(e, "mode");
    p->rates = ReadRates(e, nullptr);
    p->batch_discount = Num(e, "batch_discount", 0);
    p->source = "catalog";
    if (auto t = e.FindMember("tiers"); t != e.MemberEnd() && t->value.IsArray()) {
      for (const auto& tv : t->value.GetArray()) {
        Tier tier;
        tier.above_input_tokens = static_cast<int64_t>(Num(tv, "above_input_tokens", 0));
        tier.rates = ReadRates(tv, &p->rates, e.HasMember("reasoning"));
        p->tiers.push_back(tier);
      }
      std::sort(p->tiers.begin(), p->tiers.end(),
                [](const Tier& a, const Tier& b) { return a.above_input_tokens < b.above_input_tokens; });
    }
    if (!p->effective_from.empty() && p->effective_from > today) continue;  // not yet in effect
    std::string key = p->provider + "/" + p->model;
    auto& slot = chosen[key];
    if (slot && slot->effective_from > p->effective_from) continue;
    if (auto a = e.FindMember("aliases"); a != e.MemberEnd() && a->value.IsArray())
      for (const auto& av : a->value.GetArray())
        if (av.IsString()) aliases[key].push_back(av.GetString());
    slot = std::move(p);
  }
  for (auto& [key, p] : chosen) {
    const ModelPrice* raw = p.get();
    // The first provider listed for a bare model id wins; "provider/model" is always unique.
    cat->by_name_.emplace(raw->model, raw);
    cat->by_name_[key] = raw;
    for (const auto& a : aliases[key]) cat->by_name_.emplace(a, raw);
    cat->prices_.push_back(std::move(p));
  }
  return cat;
}

Status PriceCatalog::MergeLiteLlm(std::string_view json, const std::string& source) {
  rapidjson::Document doc;
  const JsonParse doc_json = ParseJson(doc, json);
  if (!doc_json.ok)
    return Status::InvalidArgument(source + ": invalid JSON at offset " + std::to_string(doc_json.offset) +
                                   ": " + doc_json.message);
  if (!doc.IsObject()) return Status::InvalidArgument(source + ": expected a JSON object of model entries");
  for (auto it = doc.MemberBegin(); it != doc.MemberEnd(); ++it) {
    const auto& v = it->value;
    if (!v.IsObject() || !v.HasMember("input_cost_per_token")) continue;  // e.g. "sample_spec"
    auto p = std::make_unique<ModelPrice>();
    p->model = it->name.GetString();
    p->provider = Str(v, "litellm_provider");
    p->mode = Str(v, "mode");
    p->source = "litellm";
    Rates& r = p->rates;
    r.input = Num(v, "input_cost_per_token", 0) * 1e6;
    r.output = Num(v, "output_cost_per_token", 0) * 1e6;
    r.cached_input = Num(v, "cache_read_input_token_cost", r.input / 1e6) * 1e6;
    r.cache_write_5m = Num(v, "cache_creation_input_token_cost", r.input / 1e6) * 1e6;
    r.cache_write_1h = Num(v, "cache_creation_input_token_cost_above_1hr", r.cache_write_5m / 1e6) * 1e6;
    r.reasoning = Num(v, "output_cost_per_reasoning_token", r.output / 1e6) * 1e6;
    if (v.HasMember("input_cost_per_token_above_200k_tokens")) {
      Tier t;
      t.above_input_tokens = 200000;
      t.rates = r;
      t.rates.input = Num(v, "input_cost_per_token_above_200k_tokens", 0) * 1e6;
      t.rates.output = Num(v, "output_cost_per_token_above_200k_tokens", r.output / 1e6) * 1e6;
      t.rates.reasoning = t.rates.output;
      t.rates.cached_input = Num(v, "cache_read_input_token_cost_above_200k_tokens", r.cached_input / 1e6) * 1e6;
      t.rates.cache_write_5m =
          Num(v, "cache_creation_input_token_cost_above_200k_tokens", r.cache_write_5m / 1e6) * 1e6;
      p->tiers.push_back(t);
    }
    if (v.HasMember("input_cost_per_token_batches") && r.input > 0)
      p->batch_discount = 1.0 - Num(v, "input_cost_per_token_batches", 0) * 1e6 / r.input;
    const ModelPrice* raw = p.get();
    by_name_[raw->model] = raw;
    if (!raw->provider.empty()) by_name_[raw->provider + "/" + raw->model] = raw;
    prices_.push_back(std::move(p));
  }
  return Status::Ok();
}

void PriceCatalog::ApplyOverride(const config::PriceOverride& o) {
  const ModelPrice* existing = FindExact(o.model);
  auto p = std::make_unique<ModelPrice>(existing ? *existing : ModelPrice{});
  p->model = o.model;
  p->source = "config";
  Rates& r = p->rates;
  if (o.input) r.input = *o.input;
  if (o.output) r.output = *o.output;
  r.cached_input = o.cached_input.value_or(existing ? r.cached_input : r.input);
  r.cache_write_5m = o.cache_write_5m.value_or(existing ? r.cache_write_5m : r.input);
  r.cache_write_1h = o.cache_write_1h.value_or(existing ? r.cache_write_1h : r.input);
  r.reasoning = o.reasoning.value_or(existing && !o.output ? r.reasoning : r.output);
  if (o.batch_discount) p->batch_discount = *o.batch_discount;
  // A flat override replaces long-context tiers unless it only touched non-base fields.
  if (o.input || o.output) p->tiers.clear();
  const ModelPrice* raw = p.get();
  by_name_[o.model] = raw;
  prices_.push_back(std::move(p));
}

const ModelPrice* PriceCatalog::FindExact(std::string_view model) const {
  auto it = by_name_.find(std::string(model));
  return it == by_name_.end() ? nullptr : it->second;
}

const ModelPrice* PriceCatalog::Find(std::string_view model) const {
  if (const ModelPrice* p = FindExact(model)) return p;
  std::string_view bare = model;
  if (auto slash = model.rfind('/'); slash != std::string_view::npos) {
    bare = model.substr(slash + 1);
    if (const ModelPrice* p = FindExact(bare)) return p;
  }
  std::string undated = StripDateSuffix(bare);
  if (undated != bare) return FindExact(undated);
  return nullptr;
}

Result<std::unique_ptr<PriceCatalog>> PriceCatalog::Build(const config::PricingConfig& cfg,
                                                          const std::string& today) {
  std::string json;
  std::string source = "<embedded prices.json>";
  if (!cfg.catalog_file.empty()) {
    TG_ASSIGN_OR_RETURN(json, ReadFile(cfg.catalog_file));
    source = cfg.catalog_file;
  } else {
    json = std::string(EmbeddedFile("prices.json"));
  }
  TG_ASSIGN_OR_RETURN(std::unique_ptr<PriceCatalog> cat, FromCatalogJson(json, source, today));
  if (!cfg.litellm_file.empty()) {
    TG_ASSIGN_OR_RETURN(std::string lj, ReadFile(cfg.litellm_file));
    TG_RETURN_IF_ERROR(cat->MergeLiteLlm(lj, cfg.litellm_file));
  }
  for (const auto& o : cfg.overrides) cat->ApplyOverride(o);
  return cat;
}

}  // namespace tollgate::pricing
