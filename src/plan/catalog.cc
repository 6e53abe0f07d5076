#include "plan/catalog.h"

#include <cstdio>
#include <cstdlib>

#include "common/embedded.h"
#include "common/json.h"
#include "common/util.h"

namespace tollgate::plan {
namespace {

double Number(const rapidjson::Value& obj, const char* key) {
  const rapidjson::Value* v = Member(obj, key);
  return v && v->IsNumber() ? v->GetDouble() : -1;
}

// A dated range {low, high, as_of, source, estimate}; false when low <= 0 or high < low.
bool ReadRange(const rapidjson::Value& v, PriceRange* out) {
  out->low = Number(v, "low");
  out->high = Number(v, "high");
  out->as_of = std::string(Str(Member(v, "as_of")));
  out->source = std::string(Str(Member(v, "source")));
  const rapidjson::Value* est = Member(v, "estimate");
  out->estimate = est && est->IsBool() && est->GetBool();
  return out->low > 0 && out->high >= out->low;
}

Status Missing(const std::string& where, const char* key) {
  return Status::InvalidArgument("gpus.json: " + where + " has no number '" + key + "'");
}

}  // namespace

double GpuSpec::TflopsFor(const std::string& precision) const {
  auto it = dense_tflops.find(precision);
  if (it != dense_tflops.end()) return it->second;
  it = dense_tflops.find("bf16");
  return it == dense_tflops.end() ? 0 : it->second;
}

const GpuSpec* Catalog::FindGpu(std::string_view name) const {
  for (const auto& g : gpus)
    if (ToLower(g.name) == ToLower(name)) return &g;
  return nullptr;
}

const Quantization* Catalog::FindQuantization(std::string_view name) const {
  for (const auto& q : quantizations)
    if (q.name == ToLower(name)) return &q;
  return nullptr;
}

Result<Catalog> ParseCatalog(std::string_view json) {
  rapidjson::Document doc;
  JsonParse p = ParseJson(doc, json);
  if (!p.ok) return Status::InvalidArgument("gpus.json: " + JsonErrorMessage(p));
  Catalog c;
  c.version = std::string(Str(Member(doc, "catalog_version")));
  const rapidjson::Value* gpus = Member(doc, "gpus");
  if (!gpus || !gpus->IsArray()) return Status::InvalidArgument("gpus.json: no 'gpus' array");
  for (const auto& g : gpus->GetArray()) {
    GpuSpec s;
    s.name = std::string(Str(Member(g, "name")));
    s.variant = std::string(Str(Member(g, "variant")));
    s.source = std::string(Str(Member(g, "source")));
    for (const char* key : {"memory_gb", "bandwidth_gbs", "power_w"})
      if (Number(g, key) <= 0) return Missing("gpu '" + s.name + "'", key);
    s.memory_gb = Number(g, "memory_gb");
    s.bandwidth_gbs = Number(g, "bandwidth_gbs");
    s.power_w = Number(g, "power_w");
    if (const rapidjson::Value* t = Member(g, "dense_tflops"); t && t->IsObject())
      for (const auto& m : t->GetObject())
        if (m.value.IsNumber()) s.dense_tflops[m.name.GetString()] = m.value.GetDouble();
    const rapidjson::Value* price = Member(g, "usd_per_hour");
    if (!price || !ReadRange(*price, &s.price)) return Missing("gpu '" + s.name + "' usd_per_hour", "low/high");
    if (const rapidjson::Value* bought = Member(g, "purchase_usd"); bought && !ReadRange(*bought, &s.purchase))
      return Missing("gpu '" + s.name + "' purchase_usd", "low/high");
    c.gpus.push_back(std::move(s));
  }
  if (const rapidjson::Value* pts = Member(doc, "throughput_points"); pts && pts->IsArray()) {
    for (const auto& v : pts->GetArray()) {
      ThroughputPoint t;
      t.model = std::string(Str(Member(v, "model")));
      t.quantization = std::string(Str(Member(v, "quantization")));
      t.gpu = std::string(Str(Member(v, "gpu")));
      t.source = std::string(Str(Member(v, "source")));
      t.gpus = static_cast<int64_t>(Number(v, "gpus"));
      t.input_tokens = static_cast<int64_t>(Number(v, "input_tokens"));
      t.output_tokens = static_cast<int64_t>(Number(v, "output_tokens"));
      t.output_tokens_per_s = Number(v, "output_tokens_per_s");
      if (t.gpus <= 0 || t.output_tokens <= 0 || t.output_tokens_per_s <= 0)
        return Missing("throughput point '" + t.model + "'", "gpus/output_tokens/output_tokens_per_s");
      c.points.push_back(std::move(t));
    }
  }
  if (const rapidjson::Value* qs = Member(doc, "quantizations"); qs && qs->IsArray()) {
    for (const auto& v : qs->GetArray()) {
      Quantization q;
      q.name = std::string(Str(Member(v, "name")));
      q.compute = std::string(Str(Member(v, "compute")));
      q.source = std::string(Str(Member(v, "source")));
      q.bits_per_weight = Number(v, "bits_per_weight");
      if (q.bits_per_weight <= 0) return Missing("quantization '" + q.name + "'", "bits_per_weight");
      c.quantizations.push_back(std::move(q));
    }
  }
  if (const rapidjson::Value* ms = Member(doc, "models"); ms && ms->IsArray()) {
    for (const auto& v : ms->GetArray()) {
      CatalogModel m;
      m.name = std::string(Str(Member(v, "name")));
      m.quantization = std::string(Str(Member(v, "quantization")));
      m.source = std::string(Str(Member(v, "source")));
      m.parameters_billion = Number(v, "parameters_billion");
      m.active_parameters_billion = Member(v, "active_parameters_billion") ? Number(v, "active_parameters_billion")
                                                                           : m.parameters_billion;
      m.layers = static_cast<int>(Number(v, "layers"));
      m.kv_heads = static_cast<int>(Number(v, "kv_heads"));
      m.head_dim = static_cast<int>(Number(v, "head_dim"));
      if (m.parameters_billion <= 0 || m.active_parameters_billion <= 0 || m.layers <= 0 || m.kv_heads <= 0 ||
          m.head_dim <= 0)
        return Missing("model '" + m.name + "'", "parameters_billion/layers/kv_heads/head_dim");
      if (!c.FindQuantization(m.quantization))
        return Status::InvalidArgument("gpus.json: model '" + m.name + "' has an unknown quantization");
      c.models.push_back(std::move(m));
    }
  }
  return c;
}

const Catalog& BuiltinCatalog() {
  static const Catalog* catalog = [] {
    auto c = ParseCatalog(EmbeddedFile("gpus.json"));
    // The embedded file is checked by the unit tests; a broken one is a build bug.
    if (!c.ok()) {
      std::fprintf(stderr, "internal error: %s\n", c.status().message().c_str());
      std::abort();
    }
    return new Catalog(std::move(c).value());
  }();
  return *catalog;
}

}  // namespace tollgate::plan
