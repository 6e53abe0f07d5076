// Pricing: the versioned price catalog (data/prices.json, schema in
// docs/pricing.md) merged with a LiteLLM price file and config overrides, and
// the cost arithmetic over disjoint token classes. A PriceCatalog is built once
// at start-up and is immutable afterwards, so lookups need no locking.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "config/config.h"

namespace tollgate::pricing {

// Token counts by billing class. The classes are disjoint: a token is counted in
// exactly one of them, so their sum is the request's total.
struct Usage {
  int64_t input = 0;           // uncached input tokens
  int64_t cache_read = 0;      // input tokens read from the provider's prompt cache
  int64_t cache_write_5m = 0;  // input tokens written to a 5-minute cache
  int64_t cache_write_1h = 0;  // input tokens written to a 1-hour cache
  int64_t output = 0;          // output tokens, reasoning excluded
  int64_t reasoning = 0;       // reasoning ("thinking") output tokens
  int64_t PromptTotal() const { return input + cache_read + cache_write_5m + cache_write_1h; }
  int64_t OutputTotal() const { return output + reasoning; }
  int64_t Total() const { return PromptTotal() + OutputTotal(); }
};

// USD per million tokens for each class. A class a model does not bill
// separately holds the price it is billed at (e.g. reasoning = output).
struct Rates {
  double input = 0, cached_input = 0, cache_write_5m = 0, cache_write_1h = 0, output = 0,
         reasoning = 0;
};

struct Tier {
  int64_t above_input_tokens = 0;  // applies when PromptTotal() > this
  Rates rates;
};

struct ModelPrice {
  std::string provider;
  std::string model;
  std::string effective_from;  // YYYY-MM-DD
  std::string mode;            // chat | completion | embedding
  Rates rates;
  std::vector<Tier> tiers;     // ascending by above_input_tokens
  double batch_discount = 0;   // fraction off with a batch API
  std::string source;          // "catalog", "litellm" or "config"
};

struct Cost {
  double input = 0, cache_read = 0, cache_write = 0, output = 0, reasoning = 0;
  double Total() const { return input + cache_read + cache_write + output + reasoning; }
};

// Prices `usage` at `price`; `batch` applies the batch discount.
Cost ComputeCost(const ModelPrice& price, const Usage& usage, bool batch = false);

class PriceCatalog {
 public:
  // Builds the catalog: the embedded one (or pricing.catalog_file), then the
  // LiteLLM file, then config overrides, each overriding the previous.
  // `today` ("YYYY-MM-DD") selects the newest entry already in effect.
  // Errors: InvalidArgument naming the file and the bad entry; NotFound for an
  // unreadable file.
  static Result<std::unique_ptr<PriceCatalog>> Build(const config::PricingConfig& cfg,
                                                     const std::string& today);
  // Parses a catalog in tollgate's schema; exposed for tests.
  static Result<std::unique_ptr<PriceCatalog>> FromCatalogJson(std::string_view json,
                                                               const std::string& source,
                                                               const std::string& today);

  // Finds the price for a model id: exact id or alias, then without a
  // "provider/" prefix, then without a trailing date snapshot suffix.
  // Returns nullptr when the price is unknown.
  const ModelPrice* Find(std::string_view model) const;

  const std::string& version() const { return version_; }
  // Every entry, in load order (catalog, LiteLLM, overrides).
  std::vector<const ModelPrice*> All() const {
    std::vector<const ModelPrice*> out;
    for (const auto& p : prices_) out.push_back(p.get());
    return out;
  }
  size_t size() const { return prices_.size(); }

  // Merges a LiteLLM model_prices_and_context_window.json document.
  Status MergeLiteLlm(std::string_view json, const std::string& source);
  // Applies one config override (creates the model if unknown).
  void ApplyOverride(const config::PriceOverride& o);

 private:
  const ModelPrice* FindExact(std::string_view model) const;
  std::string version_;
  std::vector<std::unique_ptr<ModelPrice>> prices_;
  std::unordered_map<std::string, const ModelPrice*> by_name_;  // ids and aliases
};

}  // namespace tollgate::pricing
