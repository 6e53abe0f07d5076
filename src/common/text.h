// Plain-text formatting for what people read: thousands separators, dollars,
// joined lists and aligned tables (`tollgate report`, `tollgate usage`, the
// governance commands and budget messages). Stateless; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tollgate {

// 1234567 -> "1,234,567" (negative numbers keep their sign in front).
std::string WithThousands(int64_t v);

// Dollars to four decimals ("12.3400"), as budget messages and tables show them.
std::string FourDecimals(double usd);

// `v` formatted with a printf format that takes one double ("%.1f").
std::string FormatNumber(const char* printf_format, double v);

// The items with `sep` between them ("" for none).
std::string Join(const std::vector<std::string>& items, std::string_view sep);

// A CSV field, quoted (RFC 4180) when it holds a comma, a quote or a line break.
std::string CsvField(std::string_view v);

// `rows` as a table: every column as wide as its widest cell, two spaces
// apart; the first `left_columns` columns left-aligned, the others right-aligned;
// trailing spaces trimmed; a rule of dashes above the last row (the total).
// REQUIRES: at least one row, and no row wider than the first.
std::string AlignedTable(const std::vector<std::vector<std::string>>& rows, size_t left_columns);

}  // namespace tollgate
