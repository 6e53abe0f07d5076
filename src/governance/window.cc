#include "governance/window.h"

#include <climits>
#include <cstdlib>
#include <ctime>
#include <filesystem>

namespace tollgate::governance {

Status SetTimezone(const std::string& tz) {
  if (tz.empty() || tz == "UTC" || tz == "Etc/UTC") {
    setenv("TZ", "UTC", 1);
  } else {
    if (tz.find("..") != std::string::npos || !std::filesystem::exists("/usr/share/zoneinfo/" + tz))
      return Status::InvalidArgument("unknown timezone '" + tz + "' (use an IANA name such as Europe/Berlin)");
    setenv("TZ", tz.c_str(), 1);
  }
  tzset();
  return Status::Ok();
}

namespace {
std::tm Local(int64_t ms) {
  time_t t = static_cast<time_t>(ms / 1000);
  std::tm tm{};
  localtime_r(&t, &tm);
  return tm;
}
int64_t ToMs(std::tm tm) {
  tm.tm_isdst = -1;  // let mktime resolve DST at the boundary
  return static_cast<int64_t>(mktime(&tm)) * 1000;
}
}  // namespace

int64_t WindowStart(Window w, int64_t now_ms) {
  if (w == Window::kLifetime) return 0;
  std::tm tm = Local(now_ms);
  tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
  if (w == Window::kWeekly) tm.tm_mday -= (tm.tm_wday + 6) % 7;  // back to Monday
  if (w == Window::kMonthly) tm.tm_mday = 1;
  return ToMs(tm);
}

int64_t WindowEnd(Window w, int64_t now_ms) {
  if (w == Window::kLifetime) return INT64_MAX;
  std::tm tm = Local(WindowStart(w, now_ms));
  if (w == Window::kDaily) tm.tm_mday += 1;
  if (w == Window::kWeekly) tm.tm_mday += 7;
  if (w == Window::kMonthly) tm.tm_mon += 1;
  return ToMs(tm);
}

std::string FormatLocalTime(int64_t ms) {
  if (ms == INT64_MAX) return "never";
  std::tm tm = Local(ms);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S%z", &tm);
  return buf;
}

}  // namespace tollgate::governance
