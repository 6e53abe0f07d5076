// Where a YAML file went wrong, in the one form every YAML reader of tollgate
// reports it: "source:line:col: error: message (fix: what to change)". Used by
// the config parser and by `tollgate plan`'s scenario parser, so both point at
// the line the way an editor does. Stateless after construction; thread-safe.
#pragma once

#include <yaml-cpp/yaml.h>

#include <set>
#include <string>

#include "common/status.h"

namespace tollgate::config {

class YamlErrors {
 public:
  explicit YamlErrors(std::string source) : source_(std::move(source)) {}

  // InvalidArgument at `node`'s position (0:0 when the node has none, as a
  // missing key has); `fix` may be empty.
  Status Error(const YAML::Node& node, const std::string& message, const std::string& fix) const;
  // InvalidArgument at a 1-based line and column.
  Status ErrorAt(int line, int col, const std::string& message, const std::string& fix) const;
  // InvalidArgument at the first key of `map` not in `allowed` (naming the
  // valid ones), or when `map` is not a mapping; `where` names it ("the top level").
  Status CheckKeys(const YAML::Node& map, const std::set<std::string>& allowed, const std::string& where) const;
  // Parses `text`; a syntax error is reported at its line and column.
  Result<YAML::Node> Load(const std::string& text) const;
  const std::string& source() const { return source_; }

 private:
  std::string source_;
};

}  // namespace tollgate::config
