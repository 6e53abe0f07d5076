#include "ledger/columns.h"

#include "common/util.h"

namespace tollgate::ledger {

// clang-format off
const std::array<const char*, kRowColumnCount> kRowColumns = {
    // v1
    "id", "ts_start_ms", "ts_end_ms", "endpoint", "api_key", "user", "project", "tags",
    "requested_model", "served_model", "provider", "status", "error_class",
    "input_tokens", "cache_read_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens",
    "output_tokens", "reasoning_tokens",
    "input_cost_usd", "cache_read_cost_usd", "cache_write_cost_usd", "output_cost_usd",
    "reasoning_cost_usd", "cost_usd",
    "latency_ms", "ttft_ms", "streamed", "estimated", "retries", "fallbacks", "price_version",
    // v2
    "key_id", "team", "reserved_usd",
    // v3
    "baseline_model", "baseline_cost_usd", "cache", "route", "savings_lever",
    "output_tokens_saved", "quality",
    // v4
    "session"};
// clang-format on

std::array<Value, kRowColumnCount> RowValues(const Row& r) {
  std::array<Value, kRowColumnCount> v;
  size_t i = 0;
  auto text = [&](const std::string& s) { v[i++] = Value::Text(s); };
  auto text_or_null = [&](const std::string& s) {
    v[i++] = s.empty() ? Value::Null() : Value::Text(s);
  };
  auto real_or_null = [&](std::optional<double> d) {
    v[i++] = d ? Value::Real(*d) : Value::Null();
  };
  auto integer = [&](int64_t n) { v[i++] = Value::Integer(n); };
  text(r.id);
  integer(r.ts_start_ms);
  integer(r.ts_end_ms);
  text(r.endpoint);
  for (const std::string* s :
       {&r.api_key, &r.user, &r.project, &r.tags, &r.requested_model, &r.served_model, &r.provider})
    text_or_null(*s);
  integer(r.status);
  text_or_null(r.error_class);
  for (int64_t n : {r.usage.input, r.usage.cache_read, r.usage.cache_write_5m,
                    r.usage.cache_write_1h, r.usage.output, r.usage.reasoning})
    integer(n);
  for (double d :
       {r.cost.input, r.cost.cache_read, r.cost.cache_write, r.cost.output, r.cost.reasoning})
    real_or_null(r.cost_known ? std::optional<double>(d) : std::nullopt);
  real_or_null(r.cost_known ? std::optional<double>(r.cost.Total()) : std::nullopt);
  v[i++] = Value::Real(r.latency_ms);
  real_or_null(r.ttft_ms);
  integer(r.streamed ? 1 : 0);
  integer(r.estimated ? 1 : 0);
  integer(r.retries);
  integer(r.fallbacks);
  text_or_null(r.price_version);
  text_or_null(r.key_id);
  text_or_null(r.team);
  real_or_null(r.reserved_usd > 0 ? std::optional<double>(r.reserved_usd) : std::nullopt);
  text_or_null(r.baseline_model);
  real_or_null(r.baseline_cost_usd);
  text_or_null(r.cache);
  text_or_null(r.route);
  text_or_null(r.savings_lever);
  integer(r.output_tokens_saved);
  real_or_null(r.quality);
  text_or_null(r.session);
  return v;
}

const Value* Record::Find(std::string_view name) const {
  for (size_t i = 0; i < names.size() && i < values.size(); ++i)
    if (names[i] == name) return &values[i];
  return nullptr;
}

std::vector<std::string> SplitListColumn(std::string_view v) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= v.size() && !v.empty()) {
    size_t c = v.find(',', pos);
    std::string_view part =
        Trim(v.substr(pos, c == std::string_view::npos ? std::string_view::npos : c - pos));
    if (!part.empty()) out.emplace_back(part);
    if (c == std::string_view::npos) break;
    pos = c + 1;
  }
  return out;
}

}  // namespace tollgate::ledger
