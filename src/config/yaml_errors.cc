#include "config/yaml_errors.h"

#include <sstream>

namespace tollgate::config {

Status YamlErrors::Error(const YAML::Node& node, const std::string& message, const std::string& fix) const {
  int line = 0, col = 0;
  if (node.IsDefined() && node.Mark().line >= 0) {
    line = node.Mark().line + 1;
    col = node.Mark().column + 1;
  }
  return ErrorAt(line, col, message, fix);
}

Status YamlErrors::ErrorAt(int line, int col, const std::string& message, const std::string& fix) const {
  std::ostringstream os;
  os << source_ << ":" << line << ":" << col << ": error: " << message;
  if (!fix.empty()) os << " (fix: " << fix << ")";
  return Status::InvalidArgument(os.str());
}

Status YamlErrors::CheckKeys(const YAML::Node& map, const std::set<std::string>& allowed,
                             const std::string& where) const {
  if (!map.IsMap()) return Error(map, where + " must be a mapping", "write key: value pairs under it");
  std::set<std::string> seen;
  for (const auto& kv : map) {
    std::string k = kv.first.Scalar();
    if (!allowed.count(k)) {
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      return Error(kv.first, "unknown key '" + k + "' in " + where, "valid keys are: " + list);
    }
    // YAML readers keep one of two equal keys and drop the other without a
    // word; a second `server:` or `api_key:` is always a mistake.
    if (!seen.insert(k).second)
      return Error(kv.first, "duplicate key '" + k + "' in " + where + " (only one of them would be used)",
                   "merge the two '" + k + "' entries into one");
  }
  return Status::Ok();
}

Result<YAML::Node> YamlErrors::Load(const std::string& text) const {
  try {
    return YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    return ErrorAt(e.mark.line + 1, e.mark.column + 1, "invalid YAML: " + e.msg,
                   "check indentation and quoting on this line");
  } catch (const YAML::Exception& e) {
    return ErrorAt(0, 0, std::string("invalid YAML: ") + e.what(), "check the file is YAML");
  }
}

}  // namespace tollgate::config
