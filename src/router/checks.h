// Acceptance checks a cascade runs on a cheap model's answer before deciding
// whether to escalate to a stronger model: JSON schema, length, refusal,
// stated confidence and regex. Pure functions over the answer text (no I/O);
// thread-safe. Checks never throw: a bad regex or schema fails the check.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace tollgate::router {

enum class CheckKind { kJsonSchema, kLength, kRefusal, kConfidence, kRegex };

struct CheckSpec {
  CheckKind kind;
  std::string json_schema;          // kJsonSchema: a JSON Schema document (draft-04 as rapidjson supports)
  int64_t min_chars = 0, max_chars = 0;  // kLength: in Unicode code points; max_chars 0 = no upper bound
  double min_confidence = 0;        // kConfidence: in [0, 1]
  std::string regex;                // kRegex: ECMAScript, searched in the whole answer
};

// Parses a check written as one string:
//   "json_schema:{...schema...}"  "length:MIN..MAX" (either side may be empty)
//   "refusal"  "confidence:0.8" (or "80%")  "regex:PATTERN"
// Errors: InvalidArgument naming the problem (unknown kind, bad number, a regex
// or schema that does not compile).
Result<CheckSpec> ParseCheckSpec(std::string_view text);

struct CheckResult {
  bool pass = false;
  std::string reason;  // why it failed, or what passed ("ok", "confidence 0.9")
};

// kJsonSchema: the answer (or the first ```json / ``` fenced block in it) parses
//   as JSON and validates against the schema.
// kLength: min_chars <= code points <= max_chars (max 0 = unbounded).
// kRefusal: passes when the answer does NOT read as a refusal ("I can't",
//   "I cannot help", "As an AI", "I'm sorry, but", ...).
// kConfidence: the answer states "confidence: 0.85" or "Confidence: 85%" and the
//   value is >= min_confidence; no stated confidence fails.
// kRegex: std::regex_search finds the pattern.
CheckResult RunCheck(const CheckSpec& spec, std::string_view answer_text);

}  // namespace tollgate::router
