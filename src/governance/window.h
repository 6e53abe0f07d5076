// Calendar budget windows (day, ISO week from Monday, month, lifetime) in the
// configured timezone. SetTimezone() must be called once at start-up, before
// other threads run (it sets TZ for the process); the rest is thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "governance/store.h"

namespace tollgate::governance {

// Sets the process timezone (an IANA name such as "Europe/Berlin" or "UTC").
// InvalidArgument if the zone is unknown to the system's tzdata.
Status SetTimezone(const std::string& tz);
// Start of the window containing `now_ms` (0 for lifetime).
int64_t WindowStart(Window w, int64_t now_ms);
// When the window containing `now_ms` resets (INT64_MAX for lifetime).
int64_t WindowEnd(Window w, int64_t now_ms);
// "2026-11-24T00:00:00+01:00"-style local time of `ms`.
std::string FormatLocalTime(int64_t ms);

}  // namespace tollgate::governance
