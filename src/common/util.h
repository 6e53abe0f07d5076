// Small dependency-free helpers shared by every component: clocks, ids,
// hashing and number formatting. All functions are thread-safe.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tollgate {

// Wall-clock milliseconds since the Unix epoch.
int64_t NowUnixMs();
// Monotonic clock in microseconds, for latency measurement.
int64_t MonotonicUs();
// A new request id: "req_" followed by 24 lowercase hex characters (96 random bits).
std::string NewRequestId();
// Lowercase hex SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);
// Formats a dollar amount with up to 10 decimals and no trailing zeros ("0.00042").
std::string FormatUsd(double usd);
// Parses "YYYY-MM-DD" (UTC midnight) into Unix ms.
std::optional<int64_t> ParseDateUtcMs(std::string_view date);
// Formats Unix ms as "YYYY-MM-DD" (UTC).
std::string FormatDateUtc(int64_t unix_ms);
// ASCII lowercase copy.
std::string ToLower(std::string_view s);
// Trims ASCII whitespace on both ends.
std::string_view Trim(std::string_view s);
// `s` with every byte that is not part of a well-formed UTF-8 sequence
// (overlongs, surrogates and code points past U+10FFFF included) replaced by
// U+FFFD, so text echoed from a client can go into a JSON body.
std::string ToValidUtf8(std::string_view s);

}  // namespace tollgate
