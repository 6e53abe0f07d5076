#include "common/text.h"

#include <algorithm>
#include <cstdio>

namespace tollgate {

std::string WithThousands(int64_t v) {
  std::string s = std::to_string(v);
  int start = v < 0 ? 1 : 0;
  for (int i = static_cast<int>(s.size()) - 3; i > start; i -= 3) s.insert(static_cast<size_t>(i), ",");
  return s;
}

std::string FormatNumber(const char* printf_format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, printf_format, v);
  return buf;
}

std::string FourDecimals(double usd) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", usd);
  return buf;
}

std::string Join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (const auto& s : items) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

std::string CsvField(std::string_view v) {
  if (v.find_first_of(",\"\n\r") == std::string_view::npos) return std::string(v);
  std::string q = "\"";
  for (char c : v) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

std::string AlignedTable(const std::vector<std::vector<std::string>>& rows, size_t left_columns) {
  std::vector<size_t> width(rows[0].size(), 0);
  for (const auto& row : rows)
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  std::string out;
  for (size_t k = 0; k < rows.size(); ++k) {
    if (k + 1 == rows.size()) {
      size_t total_width = 0;
      for (size_t w : width) total_width += w + 2;
      out.append(total_width - 2, '-').append("\n");
    }
    std::string line;
    for (size_t i = 0; i < rows[k].size(); ++i) {
      const std::string& c = rows[k][i];
      const std::string pad(width[i] - c.size(), ' ');
      if (i > 0) line += "  ";
      line += i < left_columns ? c + pad : pad + c;
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out.append(line).append("\n");
  }
  return out;
}

}  // namespace tollgate
