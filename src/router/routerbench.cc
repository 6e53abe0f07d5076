#include "router/routerbench.h"

#include <charconv>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

namespace tollgate::router {
namespace {

void AppendUtf8(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x110000) {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

bool ParseHex(std::string_view s, uint32_t& v) {
  v = 0;
  for (char c : s) {
    v <<= 4;
    if (c >= '0' && c <= '9') v |= c - '0';
    else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
    else return false;
  }
  return true;
}

// Decodes one Python string literal body starting after its opening quote at
// s[i]; on success leaves i after the closing quote.
bool DecodePyString(std::string_view s, size_t& i, char quote, std::string& out) {
  while (i < s.size()) {
    char c = s[i++];
    if (c == quote) return true;
    if (c != '\\') {
      out.push_back(c);
      continue;
    }
    if (i >= s.size()) return false;
    char e = s[i++];
    size_t hex_len = 0;
    switch (e) {
      case 'n': out.push_back('\n'); break;
      case 't': out.push_back('\t'); break;
      case 'r': out.push_back('\r'); break;
      case '0': out.push_back('\0'); break;
      case 'a': out.push_back('\a'); break;
      case 'b': out.push_back('\b'); break;
      case 'f': out.push_back('\f'); break;
      case 'v': out.push_back('\v'); break;
      case '\\': out.push_back('\\'); break;
      case '\'': out.push_back('\''); break;
      case '"': out.push_back('"'); break;
      case '\n': break;  // line continuation
      case 'x': hex_len = 2; break;
      case 'u': hex_len = 4; break;
      case 'U': hex_len = 8; break;
      default:  // Python keeps unknown escapes verbatim.
        out.push_back('\\');
        out.push_back(e);
    }
    if (hex_len) {
      uint32_t cp = 0;
      if (i + hex_len > s.size() || !ParseHex(s.substr(i, hex_len), cp)) return false;
      i += hex_len;
      AppendUtf8(cp, out);
    }
  }
  return false;
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

Result<double> ParseNumber(const std::string& field, const std::string& where) {
  std::string_view s = field;
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  if (s.empty()) return 0.0;  // RouterBench leaves a few scores blank: the call failed.
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || !std::isfinite(v))
    return Status::InvalidArgument(where + ": not a number: '" + std::string(s.substr(0, 40)) + "'");
  return v;
}

}  // namespace

int Dataset::ModelIndex(std::string_view name) const {
  for (size_t i = 0; i < models.size(); ++i)
    if (models[i] == name) return static_cast<int>(i);
  return -1;
}

Result<std::vector<std::vector<std::string>>> ParseCsv(std::string_view text, const std::string& source) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  size_t i = 0;
  int line = 1;
  bool field_started = false;  // distinguishes "a," (two fields) from "" at end of input
  auto end_field = [&] {
    row.push_back(std::move(field));
    field.clear();
    field_started = false;
  };
  auto end_row = [&] {
    end_field();
    rows.push_back(std::move(row));
    row.clear();
  };
  if (text.size() >= 3 && text.substr(0, 3) == "\xEF\xBB\xBF") i = 3;  // UTF-8 BOM
  while (i < text.size()) {
    char c = text[i];
    if (c == '"' && !field_started) {
      const int open_line = line;
      ++i;
      bool closed = false;
      while (i < text.size()) {
        char q = text[i++];
        if (q == '"') {
          if (i < text.size() && text[i] == '"') {
            field.push_back('"');
            ++i;
          } else {
            closed = true;
            break;
          }
        } else {
          if (q == '\n') ++line;
          field.push_back(q);
        }
      }
      if (!closed) return Status::InvalidArgument(source + ":" + std::to_string(open_line) + ": unterminated quoted field");
      field_started = true;
      if (i < text.size() && text[i] != ',' && text[i] != '\n' && text[i] != '\r')
        return Status::InvalidArgument(source + ":" + std::to_string(line) + ": text after a closing quote");
      continue;
    }
    if (c == ',') {
      end_field();
      ++i;
      continue;
    }
    if (c == '\r' || c == '\n') {
      end_row();
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      ++i;
      ++line;
      continue;
    }
    if (c == '"') return Status::InvalidArgument(source + ":" + std::to_string(line) + ": quote inside an unquoted field");
    field.push_back(c);
    field_started = true;
    ++i;
  }
  if (field_started || !row.empty()) end_row();
  return rows;
}

std::string DecodePythonStringList(std::string_view repr) {
  size_t i = 0;
  while (i < repr.size() && IsSpace(repr[i])) ++i;
  if (i >= repr.size() || repr[i] != '[') return std::string(repr);
  ++i;
  std::string out;
  bool first = true;
  for (;;) {
    while (i < repr.size() && IsSpace(repr[i])) ++i;
    if (i >= repr.size()) return std::string(repr);
    if (repr[i] == ']') break;
    if (!first) {
      if (repr[i] != ',') return std::string(repr);
      ++i;
      while (i < repr.size() && IsSpace(repr[i])) ++i;
      if (i < repr.size() && repr[i] == ']') break;  // trailing comma
    }
    if (i >= repr.size() || (repr[i] != '\'' && repr[i] != '"')) return std::string(repr);
    const char quote = repr[i++];
    if (!first) out.push_back('\n');
    if (!DecodePyString(repr, i, quote, out)) return std::string(repr);
    first = false;
  }
  ++i;
  while (i < repr.size() && IsSpace(repr[i])) ++i;
  if (i != repr.size()) return std::string(repr);
  return out;
}

Result<Dataset> LoadRouterBench(const std::string& csv_path) {
  std::ifstream f(csv_path, std::ios::binary);
  if (!f) return Status::IoError("cannot read " + csv_path);
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string text = ss.str();
  TG_ASSIGN_OR_RETURN(auto rows, ParseCsv(text, csv_path));
  if (rows.empty()) return Status::InvalidArgument(csv_path + ":1: empty file");
  const std::vector<std::string>& header = rows[0];
  std::map<std::string, size_t> col;
  for (size_t c = 0; c < header.size(); ++c) col[header[c]] = c;
  auto need = [&](const std::string& name) -> Result<size_t> {
    auto it = col.find(name);
    if (it == col.end()) return Status::InvalidArgument(csv_path + ":1: missing column '" + name + "'");
    return it->second;
  };
  TG_ASSIGN_OR_RETURN(size_t c_id, need("sample_id"));
  TG_ASSIGN_OR_RETURN(size_t c_prompt, need("prompt"));
  TG_ASSIGN_OR_RETURN(size_t c_eval, need("eval_name"));
  TG_ASSIGN_OR_RETURN(size_t c_oracle, need("oracle_model_to_route_to"));
  Dataset ds;
  struct ModelCols {
    size_t score, response, cost;
  };
  std::vector<ModelCols> mcols;
  // A model is any column with a matching "|total_cost" column; header order.
  for (size_t c = 0; c < header.size(); ++c) {
    const std::string& h = header[c];
    if (h.empty() || h.find('|') != std::string::npos || c == c_id || c == c_prompt || c == c_eval || c == c_oracle)
      continue;
    TG_ASSIGN_OR_RETURN(size_t c_resp, need(h + "|model_response"));
    TG_ASSIGN_OR_RETURN(size_t c_cost, need(h + "|total_cost"));
    ds.models.push_back(h);
    mcols.push_back({c, c_resp, c_cost});
  }
  if (ds.models.empty()) return Status::InvalidArgument(csv_path + ":1: no model score columns");
  // Row r's physical line: count newlines as we go (fields may span lines).
  int line = 1 + 1;  // header assumed on one line; corrected below for multi-line headers
  for (const auto& h : header)
    for (char ch : h) line += ch == '\n';
  ds.samples.reserve(rows.size() - 1);
  for (size_t r = 1; r < rows.size(); ++r) {
    const auto& row = rows[r];
    const std::string where = csv_path + ":" + std::to_string(line);
    int row_lines = 1;
    for (const auto& fld : row)
      for (char ch : fld) row_lines += ch == '\n';
    if (row.size() == 1 && row[0].empty()) {  // blank line
      line += row_lines;
      continue;
    }
    if (row.size() != header.size())
      return Status::InvalidArgument(where + ": expected " + std::to_string(header.size()) + " fields, got " +
                                     std::to_string(row.size()));
    Sample s;
    s.sample_id = row[c_id];
    s.prompt = DecodePythonStringList(row[c_prompt]);
    s.eval_name = row[c_eval];
    s.oracle_model = row[c_oracle];
    s.outcomes.resize(ds.models.size());
    for (size_t m = 0; m < mcols.size(); ++m) {
      TG_ASSIGN_OR_RETURN(s.outcomes[m].score, ParseNumber(row[mcols[m].score], where + ": " + ds.models[m]));
      TG_ASSIGN_OR_RETURN(s.outcomes[m].cost_usd,
                          ParseNumber(row[mcols[m].cost], where + ": " + ds.models[m] + "|total_cost"));
      s.outcomes[m].response = DecodePythonStringList(row[mcols[m].response]);
    }
    ds.samples.push_back(std::move(s));
    line += row_lines;
  }
  return ds;
}

Result<Dataset> LoadRouterBenchFiles(const std::vector<std::string>& paths) {
  if (paths.empty()) return Status::InvalidArgument("no dataset files given");
  Dataset all;
  for (size_t p = 0; p < paths.size(); ++p) {
    TG_ASSIGN_OR_RETURN(Dataset ds, LoadRouterBench(paths[p]));
    if (p == 0) {
      all = std::move(ds);
      continue;
    }
    if (ds.models.size() != all.models.size())
      return Status::InvalidArgument(paths[p] + ": has " + std::to_string(ds.models.size()) + " models, " + paths[0] +
                                     " has " + std::to_string(all.models.size()));
    std::vector<int> map(all.models.size());
    for (size_t m = 0; m < all.models.size(); ++m) {
      map[m] = ds.ModelIndex(all.models[m]);
      if (map[m] < 0) return Status::InvalidArgument(paths[p] + ": lacks model '" + all.models[m] + "'");
    }
    for (Sample& s : ds.samples) {
      std::vector<ModelOutcome> reordered(all.models.size());
      for (size_t m = 0; m < all.models.size(); ++m) reordered[m] = std::move(s.outcomes[map[m]]);
      s.outcomes = std::move(reordered);
      all.samples.push_back(std::move(s));
    }
  }
  return all;
}

}  // namespace tollgate::router
