#include "ledger/state_store.h"

namespace tollgate::ledger {

const char* WindowName(Window w) { return config::BudgetWindowName(w); }

std::optional<Window> ParseWindow(std::string_view s) {
  if (std::optional<Window> w = config::ParseBudgetWindow(s)) return w;
  if (s == "day") return Window::kDaily;
  if (s == "week") return Window::kWeekly;
  if (s == "month") return Window::kMonthly;
  if (s == "total") return Window::kLifetime;
  return std::nullopt;
}

}  // namespace tollgate::ledger
