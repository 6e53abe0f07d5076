#include "common/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>

namespace tollgate::log {
namespace {
std::atomic<int> g_level{static_cast<int>(Level::kInfo)};
}

void SetLevel(Level level) { g_level.store(static_cast<int>(level)); }
bool Enabled(Level level) { return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed); }

void Write(Level level, std::string_view message) {
  if (!Enabled(level)) return;
  static const char* kNames[] = {"debug", "info", "warn", "error"};
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char ts[32];
  std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
  std::string line;
  line.reserve(message.size() + 48);
  line.append(ts).append(" ").append(kNames[static_cast<int>(level)]).append(" ");
  line.append(message).push_back('\n');
  std::fwrite(line.data(), 1, line.size(), stderr);
}
}  // namespace tollgate::log
