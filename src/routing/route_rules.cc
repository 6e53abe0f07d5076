#include "routing/route_rules.h"

#include "tokenizer/request_text.h"
#include "tokenizer/tokenizer.h"

namespace tollgate::routing {
namespace {

bool PartIsImage(const rapidjson::Value& part) {
  if (!part.IsObject()) return false;
  auto t = part.FindMember("type");
  if (t == part.MemberEnd() || !t->value.IsString()) return false;
  std::string_view type(t->value.GetString(), t->value.GetStringLength());
  return type == "image_url" || type == "image" || type == "input_image";
}

}  // namespace

RequestFeatures ExtractFeatures(std::string_view raw_body, const rapidjson::Value& body,
                                std::string_view tags_csv) {
  RequestFeatures f;
  size_t pos = 0;
  while (pos < tags_csv.size()) {
    size_t comma = tags_csv.find(',', pos);
    if (comma == std::string_view::npos) comma = tags_csv.size();
    if (comma > pos) f.tags.emplace_back(tags_csv.substr(pos, comma - pos));
    pos = comma + 1;
  }
  if (!body.IsObject()) return f;
  for (const char* k : {"tools", "functions"}) {
    auto t = body.FindMember(k);
    if (t != body.MemberEnd() && t->value.IsArray() && !t->value.Empty()) f.has_tools = true;
  }
  if (auto msgs = body.FindMember("messages"); msgs != body.MemberEnd() && msgs->value.IsArray()) {
    for (const auto& m : msgs->value.GetArray()) {
      if (!m.IsObject()) continue;
      auto c = m.FindMember("content");
      if (c == m.MemberEnd() || !c->value.IsArray()) continue;
      for (const auto& part : c->value.GetArray())
        if (PartIsImage(part)) f.has_images = true;
    }
  }
  auto text = tokenizer::ExtractRequestText(raw_body);
  if (text.ok()) {
    for (const auto& p : text->parts) {
      if (!f.prompt_text.empty()) f.prompt_text += '\n';
      f.prompt_text += p;
    }
    auto tok = tokenizer::Tokenizer::Shared(tokenizer::Encoding::kO200kBase);
    if (tok.ok())
      f.prompt_tokens = static_cast<int64_t>((*tok)->Count(f.prompt_text)) + text->framing_tokens;
  }
  return f;
}

RouteRules::RouteRules(const std::vector<config::RouteRule>& rules) : rules_(rules) {
  for (const auto& r : rules_) {
    if (r.regex.empty())
      regex_.emplace_back();
    else if (r.regex.rfind("(?i)", 0) == 0)
      regex_.emplace_back(std::regex(
          r.regex.substr(4), std::regex::ECMAScript | std::regex::icase | std::regex::optimize));
    else
      regex_.emplace_back(std::regex(
          r.regex, std::regex::ECMAScript | std::regex::optimize));  // validated by config
  }
}

const config::RouteRule* RouteRules::Match(const RequestFeatures& f) const {
  for (size_t i = 0; i < rules_.size(); ++i) {
    const config::RouteRule& r = rules_[i];
    if (r.min_prompt_tokens && f.prompt_tokens < *r.min_prompt_tokens) continue;
    if (r.max_prompt_tokens && f.prompt_tokens > *r.max_prompt_tokens) continue;
    if (r.has_tools && *r.has_tools != f.has_tools) continue;
    if (r.has_images && *r.has_images != f.has_images) continue;
    if (!r.tags_any.empty()) {
      bool any = false;
      for (const auto& want : r.tags_any)
        for (const auto& have : f.tags) any = any || want == have;
      if (!any) continue;
    }
    if (regex_[i] && !std::regex_search(f.prompt_text, *regex_[i])) continue;
    return &r;
  }
  return nullptr;
}

std::string RouteRules::Describe(const config::RouteRule& r, size_t index) {
  return "rule:" + (r.name.empty() ? "#" + std::to_string(index + 1) : r.name);
}

}  // namespace tollgate::routing
