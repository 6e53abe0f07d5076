#include "config/closed_sets.h"

#include <array>
#include <iterator>
#include <utility>

namespace tollgate::config {
namespace {

// One table per set: each value with its spelling.
constexpr std::array<std::pair<BudgetScope, const char*>, 5> kBudgetScopes = {{
    {BudgetScope::kGlobal, "global"},
    {BudgetScope::kKey, "key"},
    {BudgetScope::kUser, "user"},
    {BudgetScope::kProject, "project"},
    {BudgetScope::kTeam, "team"},
}};
constexpr std::array<std::pair<BudgetWindow, const char*>, 4> kBudgetWindows = {{
    {BudgetWindow::kDaily, "daily"},
    {BudgetWindow::kWeekly, "weekly"},
    {BudgetWindow::kMonthly, "monthly"},
    {BudgetWindow::kLifetime, "lifetime"},
}};
constexpr std::array<std::pair<RoutingStrategy, const char*>, 4> kRoutingStrategies = {{
    {RoutingStrategy::kFallback, "fallback"},
    {RoutingStrategy::kWeighted, "weighted"},
    {RoutingStrategy::kLeastLatency, "least_latency"},
    {RoutingStrategy::kCheapest, "cheapest"},
}};
constexpr std::array<std::pair<CacheScope, const char*>, 3> kCacheScopes = {{
    {CacheScope::kKey, "key"},
    {CacheScope::kProject, "project"},
    {CacheScope::kGlobal, "global"},
}};
constexpr std::array<std::pair<CountersPolicy, const char*>, 2> kCountersPolicies = {{
    {CountersPolicy::kFailClosed, "fail_closed"},
    {CountersPolicy::kFailOpen, "fail_open"},
}};

constexpr ProviderTypeInfo kProviderTypes[] = {
    {"openai", "https://api.openai.com/v1"},
    {"openai-compatible", nullptr, nullptr, "add base_url: http://127.0.0.1:8000/v1"},
    {"azure", nullptr, "2024-10-21", "add base_url: https://RESOURCE.openai.azure.com/openai"},
    {"anthropic", "https://api.anthropic.com/v1", "2023-06-01"},
    {"gemini", "https://generativelanguage.googleapis.com/v1beta"},
    {"sim", nullptr, nullptr, nullptr, /*in_process=*/true},
    {"replay", nullptr, nullptr, nullptr, /*in_process=*/true, /*needs_dataset=*/true},
};

template <class E, size_t N>
std::optional<E> Parse(const std::array<std::pair<E, const char*>, N>& table, std::string_view s) {
  for (const auto& [value, name] : table)
    if (s == name) return value;
  return std::nullopt;
}

template <class E, size_t N>
const char* Name(const std::array<std::pair<E, const char*>, N>& table, E e) {
  for (const auto& [value, name] : table)
    if (value == e) return name;
  return table[0].second;  // unreachable: every enumerator is in its table
}

template <class E, size_t N>
std::vector<std::string> Names(const std::array<std::pair<E, const char*>, N>& table) {
  std::vector<std::string> out;
  for (const auto& entry : table) out.push_back(entry.second);
  return out;
}

}  // namespace

std::optional<BudgetScope> ParseBudgetScope(std::string_view s) { return Parse(kBudgetScopes, s); }
const char* BudgetScopeName(BudgetScope s) { return Name(kBudgetScopes, s); }
std::vector<std::string> BudgetScopeNames() { return Names(kBudgetScopes); }

std::optional<BudgetWindow> ParseBudgetWindow(std::string_view s) { return Parse(kBudgetWindows, s); }
const char* BudgetWindowName(BudgetWindow w) { return Name(kBudgetWindows, w); }
std::vector<std::string> BudgetWindowNames() { return Names(kBudgetWindows); }

std::optional<RoutingStrategy> ParseRoutingStrategy(std::string_view s) { return Parse(kRoutingStrategies, s); }

std::optional<CacheScope> ParseCacheScope(std::string_view s) { return Parse(kCacheScopes, s); }

std::optional<CountersPolicy> ParseCountersPolicy(std::string_view s) { return Parse(kCountersPolicies, s); }

const ProviderTypeInfo* FindProviderTypeInfo(std::string_view name) {
  for (const ProviderTypeInfo& t : kProviderTypes)
    if (name == t.name) return &t;
  return nullptr;
}

std::string ProviderTypeList() {
  std::string out;
  const size_t n = std::size(kProviderTypes);
  for (size_t i = 0; i < n; ++i) out += std::string(i == 0 ? "" : i + 1 == n ? " or " : ", ") + kProviderTypes[i].name;
  return out;
}

}  // namespace tollgate::config
