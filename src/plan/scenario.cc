#include "plan/scenario.h"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "config/yaml_errors.h"

namespace tollgate::plan {
namespace {

// What a number may be.
enum class Range { kPositive, kNonNegative, kFraction /* (0, 1] */ };

// Reads the scenario's numbers, each with the hint its errors give as the fix.
class Reader : public config::YamlErrors {
 public:
  using YamlErrors::YamlErrors;

  // `map[key]`, which must be there.
  Status Need(const YAML::Node& map, const std::string& section, const char* key, const char* hint, Range range,
              double* out) const {
    if (!map[key]) return Error(map, section + ": missing '" + key + "'", std::string("add ") + key + ": " + hint);
    return Number(map[key], section + "." + key, hint, range, out);
  }
  // `map[key]` if there; `out` keeps its default otherwise.
  Status Maybe(const YAML::Node& map, const std::string& section, const char* key, const char* hint, Range range,
               double* out) const {
    return map[key] ? Number(map[key], section + "." + key, hint, range, out) : Status::Ok();
  }
  Status Maybe(const YAML::Node& map, const std::string& section, const char* key, const char* hint, Range range,
               std::optional<double>* out) const {
    if (!map[key]) return Status::Ok();
    double v = 0;
    TG_RETURN_IF_ERROR(Number(map[key], section + "." + key, hint, range, &v));
    *out = v;
    return Status::Ok();
  }
  // A whole number (layers, tokens, users, GPUs).
  template <class Int>
  Status NeedInt(const YAML::Node& map, const std::string& section, const char* key, const char* hint,
                 Int* out) const {
    double v = 0;
    TG_RETURN_IF_ERROR(Need(map, section, key, hint, Range::kPositive, &v));
    return Whole(map[key], section + "." + key, hint, v, out);
  }
  template <class Int>
  Status Whole(const YAML::Node& node, const std::string& name, const char* hint, double v, Int* out) const {
    if (v != std::floor(v) || v > 1e15)
      return Error(node, "'" + name + "' must be a whole number, got '" + node.Scalar() + "'",
                   std::string("write ") + hint);
    *out = static_cast<Int>(v);
    return Status::Ok();
  }
  Status String(const YAML::Node& map, const std::string& section, const char* key, std::string* out) const {
    if (!map[key]) return Status::Ok();
    if (!map[key].IsScalar())
      return Error(map[key], "'" + section + "." + key + "' must be a string", "write it as key: value");
    *out = map[key].Scalar();
    return Status::Ok();
  }
  // A number or a list of them (model lifetimes).
  Status Numbers(const YAML::Node& node, const std::string& name, const char* hint, std::vector<double>* out) const {
    out->clear();
    if (node.IsScalar()) {
      out->push_back(0);
      return Number(node, name, hint, Range::kPositive, &out->back());
    }
    if (!node.IsSequence() || node.size() == 0)
      return Error(node, "'" + name + "' must be a number or a list of numbers", std::string("write ") + hint);
    for (const auto& item : node) {
      out->push_back(0);
      TG_RETURN_IF_ERROR(Number(item, name, hint, Range::kPositive, &out->back()));
    }
    return Status::Ok();
  }
  Status Section(const YAML::Node& root, const char* name, const std::set<std::string>& keys, const char* hint,
                 YAML::Node* out) const {
    if (!root[name]) return Error(root, std::string("missing section '") + name + "'", hint);
    *out = root[name];
    return CheckKeys(*out, keys, std::string("'") + name + "'");
  }

 private:
  Status Number(const YAML::Node& node, const std::string& name, const char* hint, Range range, double* out) const {
    double v = 0;
    bool ok = node.IsScalar();
    if (ok) {
      try {
        v = node.as<double>();
      } catch (const YAML::Exception&) {
        ok = false;
      }
    }
    if (!ok || !std::isfinite(v))
      return Error(node, "'" + name + "' must be a number" + (node.IsScalar() ? ", got '" + node.Scalar() + "'" : ""),
                   std::string("write ") + hint);
    if (range == Range::kNonNegative && v < 0)
      return Error(node, "'" + name + "' must not be negative, got " + node.Scalar(), std::string("write ") + hint);
    if (range == Range::kPositive && v <= 0)
      return Error(node, "'" + name + "' must be greater than 0, got " + node.Scalar(), std::string("write ") + hint);
    if (range == Range::kFraction && (v <= 0 || v > 1))
      return Error(node, "'" + name + "' must be a share between 0 and 1, got " + node.Scalar(),
                   std::string("write ") + hint);
    *out = v;
    return Status::Ok();
  }
};

Where At(const YAML::Node& node) {
  if (!node.IsDefined() || node.Mark().line < 0) return {};
  return {node.Mark().line + 1, node.Mark().column + 1};
}

Status ParseModel(const Reader& r, const YAML::Node& root, const Catalog& catalog, Scenario* s) {
  YAML::Node m;
  TG_RETURN_IF_ERROR(r.Section(root, "model",
                               {"name", "parameters_billion", "active_parameters_billion", "layers", "kv_heads",
                                "head_dim", "bits_per_weight", "quantization", "kv_bits"},
                               "add a model: section (parameters_billion, layers, kv_heads, head_dim, quantization)",
                               &m));
  ModelSpec& model = s->model;
  s->model_where = At(m);
  TG_RETURN_IF_ERROR(r.String(m, "model", "name", &model.name));
  double billions = 0;
  TG_RETURN_IF_ERROR(r.Need(m, "model", "parameters_billion", "the total parameter count in billions, e.g. 405",
                            Range::kPositive, &billions));
  double active = billions;
  TG_RETURN_IF_ERROR(r.Maybe(m, "model", "active_parameters_billion",
                             "the parameters read per token in billions (MoE), e.g. 37", Range::kPositive, &active));
  if (active > billions)
    return r.Error(m["active_parameters_billion"], "'model.active_parameters_billion' is more than parameters_billion",
                   "write the parameters one token reads, at most the total");
  model.parameters = billions * 1e9;
  model.active_parameters = active * 1e9;
  TG_RETURN_IF_ERROR(r.NeedInt(m, "model", "layers", "the number of layers (num_hidden_layers), e.g. 126", &model.layers));
  TG_RETURN_IF_ERROR(r.NeedInt(m, "model", "kv_heads", "the KV heads (num_key_value_heads), e.g. 8", &model.kv_heads));
  TG_RETURN_IF_ERROR(r.NeedInt(m, "model", "head_dim", "the size of one head (hidden_size / num_attention_heads), e.g. 128",
                               &model.head_dim));
  TG_RETURN_IF_ERROR(r.String(m, "model", "quantization", &model.quantization));
  if (!model.quantization.empty()) {
    const Quantization* q = catalog.FindQuantization(model.quantization);
    if (!q) {
      std::string names;
      for (const auto& k : catalog.quantizations) names += (names.empty() ? "" : ", ") + k.name;
      return r.Error(m["quantization"], "unknown quantization '" + model.quantization + "'",
                     "use one of " + names + ", or give bits_per_weight");
    }
    model.bits_per_weight = q->bits_per_weight;
    model.compute = q->compute;
  }
  if (m["bits_per_weight"] || model.quantization.empty())
    TG_RETURN_IF_ERROR(r.Need(m, "model", "bits_per_weight", "the bits per weight, e.g. 8 for FP8, 16 for BF16",
                              Range::kPositive, &model.bits_per_weight));
  if (model.quantization.empty()) model.compute = model.bits_per_weight <= 8 ? "fp8" : "bf16";
  return r.Maybe(m, "model", "kv_bits", "the KV cache's bits per value, e.g. 16 (or 8 for an FP8 KV cache)",
                 Range::kPositive, &model.kv_bits);
}

Status ParseGpu(const Reader& r, const YAML::Node& root, const Catalog& catalog, Scenario* s) {
  GpuChoice& gpu = s->gpu;
  YAML::Node g = root["gpu"];
  if (g && g.IsScalar()) {  // gpu: H200, everything from the catalog
    YAML::Node named;
    named["name"] = g.Scalar();
    g = named;
  } else {
    TG_RETURN_IF_ERROR(r.Section(root, "gpu",
                                 {"name", "memory_gb", "bandwidth_gbs", "dense_tflops", "usd_per_hour",
                                  "usd_per_hour_range", "owned"},
                                 "add gpu: NAME (one of data/gpus.json) or a gpu: section", &g));
  }
  TG_RETURN_IF_ERROR(r.String(g, "gpu", "name", &gpu.name));
  const GpuSpec* spec = gpu.name.empty() ? nullptr : catalog.FindGpu(gpu.name);
  if (spec) gpu = GpuChoiceFrom(*spec, s->model.compute);
  const char* unknown = "the GPU is not in data/gpus.json, so give memory_gb, bandwidth_gbs and dense_tflops";
  if (!spec && !g["memory_gb"])
    return r.Error(root["gpu"], "unknown GPU '" + gpu.name + "' and no memory_gb", unknown);
  TG_RETURN_IF_ERROR(r.Maybe(g, "gpu", "memory_gb", "the memory of one GPU in GB, e.g. 141", Range::kPositive,
                             &gpu.memory_gb));
  TG_RETURN_IF_ERROR(r.Maybe(g, "gpu", "bandwidth_gbs", "the memory bandwidth of one GPU in GB/s, e.g. 4800",
                             Range::kPositive, &gpu.bandwidth_gbs));
  TG_RETURN_IF_ERROR(r.Maybe(g, "gpu", "dense_tflops", "dense TFLOPS at the model's precision, e.g. 1979",
                             Range::kPositive, &gpu.dense_tflops));
  if (gpu.bandwidth_gbs <= 0 || gpu.dense_tflops <= 0) return r.Error(g, "gpu: missing bandwidth_gbs or dense_tflops", unknown);
  TG_RETURN_IF_ERROR(r.Maybe(g, "gpu", "usd_per_hour", "the rental price of one GPU-hour in USD, e.g. 10.60",
                             Range::kPositive, &gpu.usd_per_hour));
  if (g["usd_per_hour_range"]) {
    std::vector<double> range;
    const char* hint = "[low, high] in USD per GPU-hour, e.g. [3.72, 10.60]";
    TG_RETURN_IF_ERROR(r.Numbers(g["usd_per_hour_range"], "gpu.usd_per_hour_range", hint, &range));
    if (range.size() != 2 || range[0] > range[1])
      return r.Error(g["usd_per_hour_range"], "'gpu.usd_per_hour_range' must be two prices, low first", hint);
    gpu.price_low = range[0];
    gpu.price_high = range[1];
    gpu.price_source = "the scenario";
  }
  if (const YAML::Node o = g["owned"]) {
    TG_RETURN_IF_ERROR(r.CheckKeys(o, {"purchase_usd", "lifetime_months", "power_w", "pue", "usd_per_kwh"}, "'gpu.owned'"));
    OwnedGpu owned;
    owned.power_w = spec ? spec->power_w : 0;
    TG_RETURN_IF_ERROR(r.Need(o, "gpu.owned", "purchase_usd", "the price of one GPU with its share of the server, e.g. 35000",
                              Range::kPositive, &owned.purchase_usd));
    TG_RETURN_IF_ERROR(r.Need(o, "gpu.owned", "lifetime_months", "the months it is written off over, e.g. 48",
                              Range::kPositive, &owned.lifetime_months));
    if (spec) {
      TG_RETURN_IF_ERROR(r.Maybe(o, "gpu.owned", "power_w", "the power of one GPU in watts, e.g. 700",
                                 Range::kNonNegative, &owned.power_w));
    } else {
      TG_RETURN_IF_ERROR(r.Need(o, "gpu.owned", "power_w", "the power of one GPU in watts, e.g. 700",
                                Range::kNonNegative, &owned.power_w));
    }
    TG_RETURN_IF_ERROR(r.Maybe(o, "gpu.owned", "pue", "the facility's PUE, e.g. 1.3", Range::kPositive, &owned.pue));
    TG_RETURN_IF_ERROR(r.Need(o, "gpu.owned", "usd_per_kwh", "the price of a kWh in USD, e.g. 0.10",
                              Range::kNonNegative, &owned.usd_per_kwh));
    gpu.owned = owned;
  }
  if (!gpu.usd_per_hour && !gpu.owned && gpu.price_high <= 0)
    return r.Error(g, "gpu: no price", "add usd_per_hour: PRICE (rented) or an owned: section");
  if (gpu.price_high <= 0 && gpu.usd_per_hour) gpu.price_low = gpu.price_high = *gpu.usd_per_hour;
  return Status::Ok();
}

Status ParseBusiness(const Reader& r, const YAML::Node& b, Scenario* s) {
  TG_RETURN_IF_ERROR(r.CheckKeys(
      b, {"monthly_users", "paying_share", "usd_per_paying_user", "training_usd", "model_lifetime_months"}, "'business'"));
  Business biz;
  TG_RETURN_IF_ERROR(r.Need(b, "business", "monthly_users", "the monthly users, e.g. 10000000", Range::kNonNegative,
                            &biz.monthly_users));
  TG_RETURN_IF_ERROR(r.Need(b, "business", "paying_share", "the share that pays, e.g. 0.8", Range::kFraction,
                            &biz.paying_share));
  TG_RETURN_IF_ERROR(r.Need(b, "business", "usd_per_paying_user", "USD per paying user per month, e.g. 25",
                            Range::kNonNegative, &biz.usd_per_paying_user));
  TG_RETURN_IF_ERROR(r.Maybe(b, "business", "training_usd", "the training cost in USD, e.g. 2e9", Range::kNonNegative,
                             &biz.training_usd));
  biz.lifetimes_months = {12};
  if (b["model_lifetime_months"])
    TG_RETURN_IF_ERROR(r.Numbers(b["model_lifetime_months"], "business.model_lifetime_months",
                                 "the months the model earns before it is replaced, e.g. [12, 36]",
                                 &biz.lifetimes_months));
  s->business = biz;
  return Status::Ok();
}

Status ParseRest(const Reader& r, const YAML::Node& root, Scenario* s) {
  if (const YAML::Node rep = root["replica"]) {
    TG_RETURN_IF_ERROR(r.CheckKeys(rep, {"gpus", "usable_memory_fraction"}, "'replica'"));
    if (rep["gpus"]) {
      TG_RETURN_IF_ERROR(r.NeedInt(rep, "replica", "gpus", "the GPUs of one replica, e.g. 8", &s->replica_gpus));
      s->replica_where = At(rep["gpus"]);
    }
    TG_RETURN_IF_ERROR(r.Maybe(rep, "replica", "usable_memory_fraction",
                               "the share of GPU memory left for weights and KV cache, e.g. 0.9", Range::kFraction,
                               &s->usable_memory_fraction));
  }
  YAML::Node t;
  TG_RETURN_IF_ERROR(r.Section(root, "throughput",
                               {"measured_tokens_per_s", "roofline_efficiency", "input_tokens", "output_tokens"},
                               "add a throughput: section (input_tokens, output_tokens, measured_tokens_per_s)", &t));
  TG_RETURN_IF_ERROR(r.Maybe(t, "throughput", "measured_tokens_per_s",
                             "the output tokens/s one replica was measured at, e.g. 506", Range::kPositive,
                             &s->measured_tokens_per_s));
  TG_RETURN_IF_ERROR(r.Maybe(t, "throughput", "roofline_efficiency",
                             "the share of the roofline bound reached, e.g. 0.4", Range::kFraction,
                             &s->roofline_efficiency));
  TG_RETURN_IF_ERROR(r.NeedInt(t, "throughput", "input_tokens", "the input tokens of a request, e.g. 2048",
                               &s->input_tokens));
  TG_RETURN_IF_ERROR(r.NeedInt(t, "throughput", "output_tokens", "the output tokens of a request, e.g. 128",
                               &s->output_tokens));
  YAML::Node l;
  TG_RETURN_IF_ERROR(r.Section(root, "load", {"tokens_per_s_per_user", "active_users", "utilization"},
                               "add a load: section (tokens_per_s_per_user, active_users)", &l));
  TG_RETURN_IF_ERROR(r.Need(l, "load", "tokens_per_s_per_user", "the output speed each active user gets, e.g. 10",
                            Range::kPositive, &s->tokens_per_s_per_user));
  TG_RETURN_IF_ERROR(r.NeedInt(l, "load", "active_users", "the active concurrent users at peak, e.g. 100000",
                               &s->active_users));
  TG_RETURN_IF_ERROR(r.Maybe(l, "load", "utilization", "the share of capacity that serves tokens on average, e.g. 0.5",
                             Range::kFraction, &s->utilization));
  if (const YAML::Node a = root["api"]) {
    TG_RETURN_IF_ERROR(r.CheckKeys(a, {"name", "usd_per_mtok_input", "usd_per_mtok_output"}, "'api'"));
    Api api;
    TG_RETURN_IF_ERROR(r.String(a, "api", "name", &api.name));
    TG_RETURN_IF_ERROR(r.Need(a, "api", "usd_per_mtok_input", "USD per million input tokens, e.g. 3",
                              Range::kNonNegative, &api.usd_per_mtok_input));
    TG_RETURN_IF_ERROR(r.Need(a, "api", "usd_per_mtok_output", "USD per million output tokens, e.g. 15",
                              Range::kNonNegative, &api.usd_per_mtok_output));
    s->api = api;
  }
  if (const YAML::Node b = root["business"]) TG_RETURN_IF_ERROR(ParseBusiness(r, b, s));
  if (const YAML::Node sens = root["sensitivity"]) {
    TG_RETURN_IF_ERROR(r.CheckKeys(sens, {"lifetimes_months", "price_steps"}, "'sensitivity'"));
    if (sens["lifetimes_months"])
      TG_RETURN_IF_ERROR(r.Numbers(sens["lifetimes_months"], "sensitivity.lifetimes_months",
                                   "a list of months, e.g. [6, 12, 24, 48]", &s->sensitivity_lifetimes));
    if (sens["price_steps"]) {
      double steps = 0;
      TG_RETURN_IF_ERROR(r.Need(sens, "sensitivity", "price_steps", "the prices swept, e.g. 5", Range::kPositive, &steps));
      TG_RETURN_IF_ERROR(r.Whole(sens["price_steps"], "sensitivity.price_steps", "a whole number, e.g. 5", steps,
                                 &s->sensitivity_price_steps));
    }
  }
  return Status::Ok();
}

}  // namespace

ModelSpec ModelSpecFrom(const CatalogModel& m, const Catalog& catalog) {
  ModelSpec model;
  model.name = m.name;
  model.parameters = m.parameters_billion * 1e9;
  model.active_parameters = m.active_parameters_billion * 1e9;
  model.layers = m.layers;
  model.kv_heads = m.kv_heads;
  model.head_dim = m.head_dim;
  model.quantization = m.quantization;
  if (const Quantization* q = catalog.FindQuantization(m.quantization)) {
    model.bits_per_weight = q->bits_per_weight;
    model.compute = q->compute;
  }
  return model;
}

GpuChoice GpuChoiceFrom(const GpuSpec& spec, const std::string& compute) {
  GpuChoice gpu;
  gpu.name = spec.name;
  gpu.memory_gb = spec.memory_gb;
  gpu.bandwidth_gbs = spec.bandwidth_gbs;
  gpu.dense_tflops = spec.TflopsFor(compute);
  gpu.price_low = spec.price.low;
  gpu.price_high = spec.price.high;
  gpu.price_source = spec.price.source + (spec.price.estimate ? " (estimate)" : "");
  return gpu;
}

Result<Scenario> ParseScenario(const std::string& yaml_text, const std::string& source, const Catalog& catalog) {
  Reader r(source);
  TG_ASSIGN_OR_RETURN(YAML::Node root, r.Load(yaml_text));
  if (!root.IsDefined() || root.IsNull())
    return r.ErrorAt(1, 1, "the scenario is empty", "start from examples/plan/llama-405b.yaml");
  Scenario s;
  s.source = source;
  try {
    TG_RETURN_IF_ERROR(r.CheckKeys(root, {"title", "model", "gpu", "replica", "throughput", "load", "api", "business",
                                          "sensitivity"},
                                   "the top level"));
    TG_RETURN_IF_ERROR(r.String(root, "", "title", &s.title));
    TG_RETURN_IF_ERROR(ParseModel(r, root, catalog, &s));
    TG_RETURN_IF_ERROR(ParseGpu(r, root, catalog, &s));
    TG_RETURN_IF_ERROR(ParseRest(r, root, &s));
  } catch (const YAML::Exception& e) {
    return r.ErrorAt(e.mark.line + 1, e.mark.column + 1, std::string("invalid scenario: ") + e.msg,
                     "compare with examples/plan/llama-405b.yaml");
  }
  return s;
}

Result<Scenario> LoadScenarioFile(const std::string& path, const Catalog& catalog) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::NotFound(path + ":0:0: error: cannot read the scenario (fix: check the path)");
  std::stringstream ss;
  ss << f.rdbuf();
  return ParseScenario(ss.str(), path, catalog);
}

}  // namespace tollgate::plan
