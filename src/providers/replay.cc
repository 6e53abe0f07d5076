#include "providers/replay.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "common/util.h"
#include "providers/openai_wire.h"

namespace tollgate::providers {
namespace {

std::string_view TrimView(std::string_view s) {
  while (!s.empty() &&
         (s.front() == ' ' || s.front() == '\n' || s.front() == '\t' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\n' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

void AppendContent(const rapidjson::Value& content, std::string* out) {
  if (content.IsString()) {
    if (!out->empty()) out->push_back('\n');
    out->append(content.GetString(), content.GetStringLength());
  } else if (content.IsArray()) {
    for (const auto& part : content.GetArray()) {
      if (!part.IsObject()) continue;
      auto t = part.FindMember("text");
      if (t != part.MemberEnd() && t->value.IsString()) AppendContent(t->value, out);
    }
  }
}

}  // namespace

Result<std::shared_ptr<const ReplayData>> ReplayData::Load(
    const std::string& comma_separated_paths) {
  std::vector<std::string> paths;
  size_t pos = 0;
  while (pos <= comma_separated_paths.size()) {
    size_t comma = comma_separated_paths.find(',', pos);
    if (comma == std::string::npos) comma = comma_separated_paths.size();
    std::string_view p = TrimView(std::string_view(comma_separated_paths).substr(pos, comma - pos));
    if (!p.empty()) paths.emplace_back(p);
    pos = comma + 1;
  }
  auto data = std::make_shared<ReplayData>();
  TG_ASSIGN_OR_RETURN(data->data_, router::LoadRouterBenchFiles(paths));
  for (size_t i = 0; i < data->data_.samples.size(); ++i)
    data->by_prompt_.emplace(std::string(TrimView(data->data_.samples[i].prompt)), i);
  return std::shared_ptr<const ReplayData>(std::move(data));
}

std::optional<ReplayAnswer> ReplayData::Find(std::string_view prompt,
                                             std::string_view model) const {
  int m = data_.ModelIndex(model);
  if (m < 0) return std::nullopt;
  auto it = by_prompt_.find(std::string(TrimView(prompt)));
  if (it == by_prompt_.end()) return std::nullopt;
  const router::ModelOutcome& o = data_.samples[it->second].outcomes[static_cast<size_t>(m)];
  return ReplayAnswer{o.response, o.score, o.cost_usd};
}

std::string ReplayPromptOf(const rapidjson::Value& body) {
  std::string out;
  if (!body.IsObject()) return out;
  if (auto msgs = body.FindMember("messages"); msgs != body.MemberEnd() && msgs->value.IsArray()) {
    for (const auto& m : msgs->value.GetArray()) {
      if (!m.IsObject()) continue;
      auto role = m.FindMember("role");
      auto content = m.FindMember("content");
      if (role == m.MemberEnd() || !role->value.IsString() ||
          std::string_view(role->value.GetString()) != "user" || content == m.MemberEnd())
        continue;
      AppendContent(content->value, &out);
    }
    return out;
  }
  if (auto p = body.FindMember("prompt"); p != body.MemberEnd() && p->value.IsString())
    AppendContent(p->value, &out);
  return out;
}

std::string ReplayChatResponse(const std::string& id, const std::string& model,
                               const std::string& text, int64_t prompt_tokens,
                               int64_t completion_tokens) {
  CompletionBody b;
  b.id = id;
  b.model = model;
  b.text = text;
  b.created = NowUnixMs() / 1000;
  b.prompt_tokens = prompt_tokens;
  b.completion_tokens = completion_tokens;
  return WriteCompletionBody(b);
}

}  // namespace tollgate::providers
