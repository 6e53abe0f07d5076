#include "ledger/state_store.h"

namespace tollgate::ledger {

const char* WindowName(Window w) {
  switch (w) {
    case Window::kDaily:
      return "daily";
    case Window::kWeekly:
      return "weekly";
    case Window::kMonthly:
      return "monthly";
    case Window::kLifetime:
      return "lifetime";
  }
  return "daily";
}

std::optional<Window> ParseWindow(std::string_view s) {
  if (s == "daily" || s == "day") return Window::kDaily;
  if (s == "weekly" || s == "week") return Window::kWeekly;
  if (s == "monthly" || s == "month") return Window::kMonthly;
  if (s == "lifetime" || s == "total") return Window::kLifetime;
  return std::nullopt;
}

}  // namespace tollgate::ledger
