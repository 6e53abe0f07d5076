// Loader for the RouterBench per-prompt outcome tables (docs/EVALUATION.md):
// one row per prompt with, for each of N models, its score, its recorded answer
// and the dollar cost of that call. Used offline to train and evaluate the
// learned router (learned_router.h); never on the request path.
// Pure functions over immutable values; safe to call from any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace tollgate::router {

// One model's recorded outcome on one prompt.
struct ModelOutcome {
  double score = 0;      // 1 correct, 0 wrong, in-between for partial credit; a blank cell reads 0
  std::string response;  // the answer text, decoded from its Python list repr
  double cost_usd = 0;   // dollar cost of that call, at the benchmark's prices
};

struct Sample {
  std::string sample_id, prompt /*decoded plain text*/, eval_name, oracle_model;
  std::vector<ModelOutcome> outcomes;  // index = Dataset::models
};

struct Dataset {
  std::vector<std::string> models;
  std::vector<Sample> samples;
  // Index of `name` in `models`, or -1 if absent.
  int ModelIndex(std::string_view name) const;
};

// Parses one RFC-4180 CSV document into rows of fields (quoted fields may hold
// newlines and doubled quotes). `source` names the input in errors.
// Errors: InvalidArgument "source:line: what" for an unterminated quote or a
// stray quote inside an unquoted field; `line` is the 1-based physical line.
Result<std::vector<std::vector<std::string>>> ParseCsv(std::string_view text, const std::string& source);

// Decodes a Python list-of-strings repr such as "['a\\nb', \"it's\"]" into its
// plain text (elements joined by "\n"; escapes \n \t \r \\ \' \" \xNN \uNNNN
// \UNNNNNNNN decoded, the latter to UTF-8). Text that is not such a repr is
// returned unchanged.
std::string DecodePythonStringList(std::string_view repr);

// Loads one RouterBench CSV: a leading unnamed index column, then sample_id,
// prompt, eval_name, one score column per model, `<model>|model_response`,
// `<model>|total_cost` and oracle_model_to_route_to (in any order).
// Errors: IoError if the file cannot be read; InvalidArgument "file:line: what"
// for malformed CSV, a missing column, a row of the wrong width or a number
// that does not parse.
Result<Dataset> LoadRouterBench(const std::string& csv_path);

// Loads and concatenates several files. Errors: as LoadRouterBench, and
// InvalidArgument if the files do not name the same models (order may differ;
// the first file's order wins).
Result<Dataset> LoadRouterBenchFiles(const std::vector<std::string>& paths);

}  // namespace tollgate::router
