#include "router/checks.h"

// GCC 12 reports a false -Wmaybe-uninitialized inside <regex>'s std::function
// moves when built with -O1 and the sanitizers (CI's build); not our code.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <rapidjson/document.h>
#include <rapidjson/schema.h>
#include <rapidjson/stringbuffer.h>

#include <charconv>
#include <cmath>
#include <regex>

#include "common/json.h"
#include "common/util.h"

namespace tollgate::router {
namespace {

// Lowercase phrases that open or make up a refusal. Matched anywhere in the
// first 300 characters: refusals come first, and a long answer that later says
// "I cannot guarantee..." is still an answer.
constexpr std::string_view kRefusalPhrases[] = {
    "i can't",          "i cannot help",   "i cannot assist", "i cannot provide", "i can not",
    "i'm unable to",    "i am unable to",  "as an ai",        "i'm sorry, but",   "i am sorry, but",
    "i apologize, but", "i won't be able", "i'm not able to", "i am not able to", "i cannot answer",
    "i cannot fulfill", "i must decline",  "i'm afraid i can",
};

std::string_view FencedBlock(std::string_view text) {
  size_t open = text.find("```");
  if (open == std::string_view::npos) return text;
  size_t body = text.find('\n', open);
  if (body == std::string_view::npos) return text;
  ++body;
  size_t close = text.find("```", body);
  if (close == std::string_view::npos) return text;
  return text.substr(body, close - body);
}

int64_t CodePoints(std::string_view s) {
  int64_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

std::optional<double> ParseDouble(std::string_view s) {
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

CheckResult JsonSchemaCheck(const CheckSpec& spec, std::string_view answer) {
  rapidjson::Document schema_doc;
  const JsonParse schema_doc_json = ParseJson(schema_doc, spec.json_schema);
  if (!schema_doc_json.ok) return {false, "schema is not valid JSON"};
  rapidjson::SchemaDocument schema(schema_doc);
  std::string_view body = Trim(answer);
  if (body.empty() || (body.front() != '{' && body.front() != '[')) body = Trim(FencedBlock(answer));
  rapidjson::Document doc;
  const JsonParse doc_json = ParseJson(doc, body);
  if (!doc_json.ok)
    return {false, std::string("answer is not JSON: ") + doc_json.message};
  rapidjson::SchemaValidator validator(schema);
  if (!doc.Accept(validator)) {
    rapidjson::StringBuffer where;
    validator.GetInvalidDocumentPointer().StringifyUriFragment(where);
    return {false, std::string("schema violation: '") + validator.GetInvalidSchemaKeyword() + "' at " +
                       where.GetString()};
  }
  return {true, "ok"};
}

CheckResult RefusalCheck(std::string_view answer) {
  std::string head = ToLower(Trim(answer).substr(0, 300));
  // Curly apostrophes read as straight ones.
  for (size_t p; (p = head.find("\xE2\x80\x99")) != std::string::npos;) head.replace(p, 3, "'");
  for (std::string_view phrase : kRefusalPhrases)
    if (head.find(phrase) != std::string::npos) return {false, "refusal: \"" + std::string(phrase) + "\""};
  return {true, "ok"};
}

CheckResult ConfidenceCheck(const CheckSpec& spec, std::string_view answer) {
  static const std::regex kStated(R"(confidence(?:\s+(?:level|score))?\s*(?:[:=]|is)\s*([0-9]+(?:\.[0-9]+)?)\s*(%?))",
                                  std::regex::icase);
  std::match_results<std::string_view::const_iterator> m;
  if (!std::regex_search(answer.begin(), answer.end(), m, kStated)) return {false, "no stated confidence"};
  auto v = ParseDouble(std::string_view(&*m[1].first, m[1].length()));
  if (!v) return {false, "unreadable confidence"};
  double c = *v;
  if (m[2].length() > 0 || c > 1) c /= 100;
  char buf[64];
  std::snprintf(buf, sizeof buf, "confidence %.3g", c);
  if (c < spec.min_confidence) return {false, std::string(buf) + " below " + std::to_string(spec.min_confidence)};
  return {true, buf};
}

CheckResult RegexCheck(const CheckSpec& spec, std::string_view answer) {
  try {
    const std::regex re(spec.regex, std::regex::ECMAScript);
    if (std::regex_search(answer.begin(), answer.end(), re)) return {true, "ok"};
    return {false, "no match for /" + spec.regex + "/"};
  } catch (const std::regex_error& e) {
    return {false, std::string("bad regex: ") + e.what()};
  }
}

}  // namespace

CheckResult RunCheck(const CheckSpec& spec, std::string_view answer_text) {
  switch (spec.kind) {
    case CheckKind::kJsonSchema:
      return JsonSchemaCheck(spec, answer_text);
    case CheckKind::kLength: {
      const int64_t n = CodePoints(answer_text);
      if (n < spec.min_chars) return {false, std::to_string(n) + " chars < " + std::to_string(spec.min_chars)};
      if (spec.max_chars > 0 && n > spec.max_chars)
        return {false, std::to_string(n) + " chars > " + std::to_string(spec.max_chars)};
      return {true, "ok"};
    }
    case CheckKind::kRefusal:
      return RefusalCheck(answer_text);
    case CheckKind::kConfidence:
      return ConfidenceCheck(spec, answer_text);
    case CheckKind::kRegex:
      return RegexCheck(spec, answer_text);
  }
  return {false, "unknown check kind"};
}

Result<CheckSpec> ParseCheckSpec(std::string_view text) {
  const size_t colon = text.find(':');
  const std::string_view kind = Trim(text.substr(0, colon));
  const std::string_view arg = colon == std::string_view::npos ? std::string_view() : text.substr(colon + 1);
  CheckSpec spec{CheckKind::kRefusal};
  if (kind == "refusal") {
    spec.kind = CheckKind::kRefusal;
  } else if (kind == "length") {
    spec.kind = CheckKind::kLength;
    const size_t dots = arg.find("..");
    if (dots == std::string_view::npos) return Status::InvalidArgument("length check wants MIN..MAX, got '" + std::string(arg) + "'");
    for (auto [part, out] : {std::pair{Trim(arg.substr(0, dots)), &spec.min_chars},
                             std::pair{Trim(arg.substr(dots + 2)), &spec.max_chars}}) {
      if (part.empty()) continue;
      auto [p, ec] = std::from_chars(part.data(), part.data() + part.size(), *out);
      if (ec != std::errc() || p != part.data() + part.size() || *out < 0)
        return Status::InvalidArgument("length check: '" + std::string(part) + "' is not a non-negative integer");
    }
    if (spec.max_chars > 0 && spec.max_chars < spec.min_chars)
      return Status::InvalidArgument("length check: MAX is below MIN");
  } else if (kind == "confidence") {
    spec.kind = CheckKind::kConfidence;
    std::string_view a = Trim(arg);
    const bool percent = !a.empty() && a.back() == '%';
    if (percent) a.remove_suffix(1);
    auto v = ParseDouble(Trim(a));
    if (!v) return Status::InvalidArgument("confidence check: '" + std::string(arg) + "' is not a number");
    spec.min_confidence = percent ? *v / 100 : *v;
    if (spec.min_confidence < 0 || spec.min_confidence > 1)
      return Status::InvalidArgument("confidence check: threshold must be in [0, 1] or [0%, 100%]");
  } else if (kind == "regex") {
    spec.kind = CheckKind::kRegex;
    spec.regex = std::string(arg);
    try {
      std::regex re(spec.regex, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      return Status::InvalidArgument("regex check: /" + spec.regex + "/ does not compile: " + e.what());
    }
  } else if (kind == "json_schema") {
    spec.kind = CheckKind::kJsonSchema;
    spec.json_schema = std::string(arg);
    rapidjson::Document d;
    const JsonParse d_json = ParseJson(d, spec.json_schema);
    if (!d_json.ok || !d.IsObject())
      return Status::InvalidArgument("json_schema check: the schema is not a JSON object");
  } else {
    return Status::InvalidArgument("unknown check '" + std::string(kind) +
                                   "' (want json_schema, length, refusal, confidence or regex)");
  }
  return spec;
}

}  // namespace tollgate::router
