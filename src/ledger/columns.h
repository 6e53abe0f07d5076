// The `requests` columns tollgate writes, in the ledger file's order
// (docs/ledger.md), and a Row's stored value for each. Shared by the SQLite
// writer (its INSERT) and the in-memory backend (its records), so that every
// backend stores the same values with the same NULLs.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "ledger/ledger.h"
#include "ledger/reader.h"

namespace tollgate::ledger {

inline constexpr size_t kRowColumnCount = 43;
extern const std::array<const char*, kRowColumnCount> kRowColumns;

// The row as stored: optional text is NULL when empty, the cost columns are
// NULL when the price is unknown, reserved_usd is NULL when nothing was
// reserved. Text values view into `r`, which must outlive them.
std::array<Value, kRowColumnCount> RowValues(const Row& r);

// A comma-separated list column (a key's tags and allowed models), as every
// backend stores it: the non-empty items, trimmed.
std::vector<std::string> SplitListColumn(std::string_view v);

}  // namespace tollgate::ledger
