#include "routing/budget_hint.h"

#include <algorithm>

namespace tollgate::routing {
namespace {

std::string HintText(const config::BudgetHintConfig& cfg) {
  std::string s = cfg.hint;
  size_t p = s.find("{budget}");
  if (p != std::string::npos) s.replace(p, 8, std::to_string(cfg.hint_tokens));
  return s;
}

void AddChatHint(rapidjson::Document& body, const std::string& hint) {
  auto& a = body.GetAllocator();
  auto msgs = body.FindMember("messages");
  if (msgs == body.MemberEnd() || !msgs->value.IsArray()) return;
  auto& arr = msgs->value;
  if (!arr.Empty() && arr[0].IsObject()) {
    auto role = arr[0].FindMember("role");
    auto content = arr[0].FindMember("content");
    if (role != arr[0].MemberEnd() && role->value.IsString() &&
        (std::string_view(role->value.GetString()) == "system" ||
         std::string_view(role->value.GetString()) == "developer") &&
        content != arr[0].MemberEnd() && content->value.IsString()) {
      std::string joined =
          std::string(content->value.GetString(), content->value.GetStringLength()) + "\n\n" + hint;
      content->value.SetString(joined.data(), static_cast<rapidjson::SizeType>(joined.size()), a);
      return;
    }
  }
  rapidjson::Value sys(rapidjson::kObjectType);
  sys.AddMember("role", "system", a);
  sys.AddMember("content",
                rapidjson::Value(hint.data(), static_cast<rapidjson::SizeType>(hint.size()), a), a);
  // Prepend: rapidjson has no insert, so rebuild the array.
  rapidjson::Value next(rapidjson::kArrayType);
  next.PushBack(sys, a);
  for (auto& m : arr.GetArray()) next.PushBack(m, a);
  arr = next;
}

void AddAnthropicHint(rapidjson::Document& body, const std::string& hint) {
  auto& a = body.GetAllocator();
  auto sys = body.FindMember("system");
  if (sys == body.MemberEnd()) {
    body.AddMember("system",
                   rapidjson::Value(hint.data(), static_cast<rapidjson::SizeType>(hint.size()), a),
                   a);
  } else if (sys->value.IsString()) {
    std::string joined =
        std::string(sys->value.GetString(), sys->value.GetStringLength()) + "\n\n" + hint;
    sys->value.SetString(joined.data(), static_cast<rapidjson::SizeType>(joined.size()), a);
  } else if (sys->value.IsArray()) {
    rapidjson::Value block(rapidjson::kObjectType);
    block.AddMember("type", "text", a);
    block.AddMember(
        "text", rapidjson::Value(hint.data(), static_cast<rapidjson::SizeType>(hint.size()), a), a);
    sys->value.PushBack(block, a);
  }
}

}  // namespace

HintDecision ApplyBudgetHint(const config::BudgetHintConfig& cfg, providers::Api api,
                             rapidjson::Document& body, double random01) {
  HintDecision d;
  const bool chat = api == providers::Api::kOpenAiChat;
  const bool anthropic = api == providers::Api::kAnthropicMessages;
  if (!body.IsObject() || !(chat || anthropic || api == providers::Api::kOpenAiCompletions))
    return d;
  if (random01 < cfg.control_share) {
    d.control = true;
    return d;
  }
  if (cfg.hint_tokens > 0 && (chat || anthropic)) {
    if (chat)
      AddChatHint(body, HintText(cfg));
    else
      AddAnthropicHint(body, HintText(cfg));
    d.hinted = true;
  }
  if (cfg.max_tokens > 0) {
    auto& a = body.GetAllocator();
    const char* field =
        body.HasMember("max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
    auto it = body.FindMember(field);
    if (it == body.MemberEnd()) {
      body.AddMember(rapidjson::StringRef(field), rapidjson::Value(cfg.max_tokens), a);
      d.clamped = true;
    } else if (!it->value.IsInt64() || it->value.GetInt64() > cfg.max_tokens) {
      it->value.SetInt64(cfg.max_tokens);
      d.clamped = true;
    }
  }
  return d;
}

void BudgetHints::RecordControl(const std::string& model, int64_t output_tokens) {
  MutexLock lock(&mu_);
  Mean& m = control_[model];
  m.sum += static_cast<double>(output_tokens);
  ++m.n;
}

int64_t BudgetHints::Saved(const std::string& model, int64_t output_tokens) const {
  MutexLock lock(&mu_);
  auto it = control_.find(model);
  if (it == control_.end() || it->second.n == 0) return 0;
  double mean = it->second.sum / static_cast<double>(it->second.n);
  return std::max<int64_t>(0, static_cast<int64_t>(mean + 0.5) - output_tokens);
}

}  // namespace tollgate::routing
