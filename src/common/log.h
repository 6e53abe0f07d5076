// Minimal leveled logging to stderr. Thread-safe: each line is written with one
// fwrite call. Never pass secrets (API keys) to these functions.
#pragma once
#include <string_view>

namespace tollgate::log {
enum class Level { kDebug = 0, kInfo, kWarn, kError };
void SetLevel(Level level);
bool Enabled(Level level);
void Write(Level level, std::string_view message);
inline void Info(std::string_view m) { Write(Level::kInfo, m); }
inline void Warn(std::string_view m) { Write(Level::kWarn, m); }
inline void Error(std::string_view m) { Write(Level::kError, m); }
}  // namespace tollgate::log
