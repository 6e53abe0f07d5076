// The closed sets of values the config, the CLI and the admin API spell as
// words: budget scopes and windows, routing strategies, cache scopes and
// provider types. Each
// is an enum, parsed from its one spelling and named back here and nowhere
// else; code past parsing compares enums. Config structs keep the spelling
// the user wrote (it is what error messages and `config show` echo).
// Stateless; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tollgate::config {

// Whose spending a budget limits: everyone's, or one key's, user's, project's or team's.
enum class BudgetScope { kGlobal, kKey, kUser, kProject, kTeam };
// nullopt for anything but global, key, user, project or team.
std::optional<BudgetScope> ParseBudgetScope(std::string_view s);
const char* BudgetScopeName(BudgetScope s);
// Every scope's name, in declaration order (CLI choices).
std::vector<std::string> BudgetScopeNames();

// The calendar window a budget's spend is counted over (in governance.timezone).
enum class BudgetWindow { kDaily, kWeekly, kMonthly, kLifetime };
// nullopt for anything but daily, weekly, monthly or lifetime.
std::optional<BudgetWindow> ParseBudgetWindow(std::string_view s);
const char* BudgetWindowName(BudgetWindow w);
// Every window's name, in declaration order (CLI choices).
std::vector<std::string> BudgetWindowNames();

// How a model's deployments are ordered (routing/deployment_order.h).
enum class RoutingStrategy { kFallback, kWeighted, kLeastLatency, kCheapest };
// nullopt for anything but fallback, weighted, least_latency or cheapest.
std::optional<RoutingStrategy> ParseRoutingStrategy(std::string_view s);

// Who shares exact and semantic cache entries (cache.scope).
enum class CacheScope { kKey, kProject, kGlobal };
// nullopt for anything but key, project or global.
std::optional<CacheScope> ParseCacheScope(std::string_view s);

// What the gateway does with governed requests while the shared counters
// (counters.url) cannot be reached.
enum class CountersPolicy { kFailClosed, kFailOpen };
// nullopt for anything but fail_closed or fail_open.
std::optional<CountersPolicy> ParseCountersPolicy(std::string_view s);

// A provider `type:` and what config checks and fills in for it. What the
// type does is providers::ProviderType's, registered under the same name;
// the names and defaults live here because providers depend on config.
struct ProviderTypeInfo {
  const char* name;
  const char* default_base_url = nullptr;     // filled in when base_url is empty
  const char* default_api_version = nullptr;  // filled in when api_version is empty
  const char* base_url_fix = nullptr;         // base_url is required: the fix an error names
  bool in_process = false;                    // sim, replay: no base_url, no connection
  bool needs_dataset = false;                 // replay: the recorded answers it serves
};
// The type named `name`, or nullptr.
const ProviderTypeInfo* FindProviderTypeInfo(std::string_view name);
// "openai, openai-compatible, …, sim or replay": every type, for error messages.
std::string ProviderTypeList();

}  // namespace tollgate::config
