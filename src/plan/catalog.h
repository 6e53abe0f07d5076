// The GPU catalog of `tollgate plan` (data/gpus.json, embedded at build time):
// GPU specs with a dated rental price range, published throughput points and
// quantization factors, each entry with the public source it comes from.
// Parsed once; the parsed catalog is immutable and safe to share.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace tollgate::plan {

struct PriceRange {
  double low = 0, high = 0;  // USD per GPU-hour
  std::string as_of;         // the month it was read, "2026-05"
  std::string source;
  bool estimate = false;     // no public quote behind it
};

struct GpuSpec {
  std::string name;     // "H100"
  std::string variant;  // "H100 SXM5 80GB"
  double memory_gb = 0, bandwidth_gbs = 0, power_w = 0;
  std::map<std::string, double> dense_tflops;  // by precision: fp4, fp8, int8, bf16
  std::string source;
  PriceRange price;
  PriceRange purchase;  // USD per GPU bought (low = high = 0 when the catalog has none)
  // Dense TFLOPS at `precision`, or at bf16 when the GPU lacks it (0 if neither).
  double TflopsFor(const std::string& precision) const;
};

struct ThroughputPoint {
  std::string model, quantization, gpu, source;
  int64_t gpus = 0, input_tokens = 0, output_tokens = 0;
  double output_tokens_per_s = 0;
};

// A candidate open-weights model for `plan --from-ledger`: its size and the
// shape of its KV cache (from its config.json), at a catalog quantization.
struct CatalogModel {
  std::string name;
  double parameters_billion = 0, active_parameters_billion = 0;  // active = total for a dense model
  int layers = 0, kv_heads = 0, head_dim = 0;
  std::string quantization;  // a name of `quantizations`
  std::string source;
};

struct Quantization {
  std::string name;  // "fp8"
  double bits_per_weight = 0;
  std::string compute;  // the tensor-core precision it runs at
  std::string source;
};

struct Catalog {
  std::string version;
  std::vector<GpuSpec> gpus;
  std::vector<ThroughputPoint> points;
  std::vector<Quantization> quantizations;
  std::vector<CatalogModel> models;
  // Case-insensitive; nullptr when absent.
  const GpuSpec* FindGpu(std::string_view name) const;
  const Quantization* FindQuantization(std::string_view name) const;
};

// Parses a catalog in the format of data/gpus.json. InvalidArgument naming the
// entry when a field is missing or not a number.
Result<Catalog> ParseCatalog(std::string_view json);
// The catalog compiled into the binary (parsed on first use).
const Catalog& BuiltinCatalog();

}  // namespace tollgate::plan
