// Cascades: cheap steps run as captured sub-requests through Forward, each
// answer checked before the next, stronger step is tried.
#include "gateway/call.h"

namespace tollgate::gateway {

using asio::awaitable;
using asio::use_awaitable;

namespace {

// The text of an answer in the client's API shape, for cascade checks.
std::string AnswerText(providers::Api api, const std::string& body) {
  rapidjson::Document d;
  const JsonParse d_json = ParseJson(d, body);
  std::string out;
  if (!d_json.ok || !d.IsObject()) return out;
  if (api == providers::Api::kAnthropicMessages) {
    auto c = d.FindMember("content");
    if (c != d.MemberEnd() && c->value.IsArray())
      for (const auto& b : c->value.GetArray()) {
        auto t = b.IsObject() ? b.FindMember("text") : b.MemberEnd();
        if (b.IsObject() && t != b.MemberEnd() && t->value.IsString()) out.append(t->value.GetString(), t->value.GetStringLength());
      }
    return out;
  }
  auto ch = d.FindMember("choices");
  if (ch == d.MemberEnd() || !ch->value.IsArray() || ch->value.Empty() || !ch->value[0].IsObject()) return out;
  const auto& c0 = ch->value[0];
  if (auto m = c0.FindMember("message"); m != c0.MemberEnd() && m->value.IsObject()) {
    auto t = m->value.FindMember("content");
    if (t != m->value.MemberEnd() && t->value.IsString()) out.assign(t->value.GetString(), t->value.GetStringLength());
    // A tool call is an answer too: check its arguments.
    auto tc = m->value.FindMember("tool_calls");
    if (out.empty() && tc != m->value.MemberEnd() && tc->value.IsArray() && !tc->value.Empty()) out = Serialize(tc->value);
  } else if (auto t = c0.FindMember("text"); t != c0.MemberEnd() && t->value.IsString()) {
    out.assign(t->value.GetString(), t->value.GetStringLength());
  }
  return out;
}

}  // namespace

awaitable<http::ClientStream> Gateway::SubRequest(Call& parent, const config::ModelConfig& model,
                                                  const std::string& body, ledger::Row* row) {
  http::Request req = parent.req;
  req.body() = body;
  Call sub(req, this);
  sub.start_us = MonotonicUs();
  sub.row = RowOnBehalfOf(parent.row);
  sub.row.endpoint = parent.row.endpoint;
  sub.row.requested_model = parent.row.requested_model;
  sub.is_chat = parent.is_chat;
  sub.api = parent.api;
  sub.worker = parent.worker;
  sub.authenticated = parent.authenticated;
  sub.principal = parent.principal;
  sub.baseline_model = parent.baseline_model;
  sub.defer_record = true;
  ParseJson(sub.body, req.body());  // the parent's body, already checked
  sub.body_modified = true;
  http::ClientStream capture;
  co_await Forward(sub, model, capture);
  *row = std::move(sub.row);
  co_return capture;
}

awaitable<bool> Gateway::RunCascade(Call& call, const config::ModelConfig& routed, http::ClientStream& out) {
  const config::CascadeConfig& cc = *routed.route->cascade;
  if (call.api != providers::Api::kOpenAiChat && call.api != providers::Api::kAnthropicMessages &&
      call.api != providers::Api::kOpenAiCompletions) {
    const ApiError err = InvalidRequest(
        "Cascade model '" + routed.name + "' serves chat completions, completions and messages only", "model");
    co_return co_await SendError(call, err, out);
  }
  std::string reasons;
  for (size_t i = 0; i + 1 < cc.steps.size(); ++i) {
    const config::ModelConfig& step = *models_.at(cc.steps[i]);
    rapidjson::Document d;
    d.CopyFrom(call.body, d.GetAllocator());
    d.RemoveMember("stream");
    d.RemoveMember("stream_options");
    if (auto m = d.FindMember("model"); m != d.MemberEnd())
      m->value.SetString(step.name.c_str(), static_cast<rapidjson::SizeType>(step.name.size()), d.GetAllocator());
    ledger::Row srow;
    const std::string step_body = Serialize(d);  // a named local across the co_await
    http::ClientStream cap = co_await SubRequest(call, step, step_body, &srow);
    std::string reason;
    const bool pass = co_await StepAccepted(call, routed, i, cap, &reason);
    srow.savings_lever = "cascade";
    if (pass) co_return co_await SendAccepted(call, srow, cap.captured_body(), cc.steps[i], out);
    srow.route = "cascade:" + cc.steps[i] + " rejected (" + reason + ")";
    srow.baseline_cost_usd = 0.0;  // the rejected attempt is what the cascade cost extra
    Record(srow);
    reasons += (reasons.empty() ? "" : "; ") + cc.steps[i] + ": " + reason;
    stats_.cascade_escalations.fetch_add(1, std::memory_order_relaxed);
  }
  // Every cheaper step was rejected: the last one answers, streamed as asked.
  const std::string& last = cc.steps.back();
  call.row.route = "cascade:" + last + " escalated (" + reasons + ")";
  call.row.savings_lever = "cascade";
  co_return co_await Forward(call, *models_.at(last), out);
}

awaitable<bool> Gateway::StepAccepted(Call& call, const config::ModelConfig& routed, size_t i,
                                      const http::ClientStream& cap, std::string* reason) {
  const config::CascadeConfig& cc = *routed.route->cascade;
  const std::vector<std::optional<router::CheckSpec>>& checks = cascade_checks_.at(routed.name);
  if (cap.captured_status() != 200) {
    *reason = "HTTP " + std::to_string(cap.captured_status());
    co_return false;
  }
  const std::string answer = AnswerText(call.api, cap.captured_body());
  for (size_t c = 0; c < checks.size(); ++c) {
    if (checks[c]) {
      const router::CheckResult r = router::RunCheck(*checks[c], answer);
      if (r.pass) continue;
      *reason = cc.checks[c].type + ": " + r.reason;
      co_return false;
    }
    const double score = co_await JudgeScore(call, cc, cc.steps[i], answer);
    if (score < cc.checks[c].min_confidence) {
      *reason = "judge: score " + std::to_string(score).substr(0, 4) + " < " +
                std::to_string(cc.checks[c].min_confidence).substr(0, 4);
      co_return false;
    }
  }
  co_return true;
}

awaitable<double> Gateway::JudgeScore(Call& call, const config::CascadeConfig& cc, const std::string& step,
                                      const std::string& answer) {
  // A judge model grades the answer from 0 to 10; its call is a row of its own.
  const config::ModelConfig& judge = *models_.at(cc.judge_model);
  rapidjson::Document jd(rapidjson::kObjectType);
  auto& a = jd.GetAllocator();
  const std::string ask = "Question:\n" + providers::ReplayPromptOf(call.body) + "\n\nAnswer:\n" + answer +
                          "\n\nGrade the answer's correctness and completeness from 0 (wrong) to 10 (perfect). "
                          "Reply with the number only.";
  jd.AddMember("model", rapidjson::Value(judge.name.c_str(), a), a);
  jd.AddMember("max_tokens", 16, a);
  if (call.api == providers::Api::kOpenAiCompletions) {
    jd.AddMember("prompt", rapidjson::Value(ask.c_str(), static_cast<rapidjson::SizeType>(ask.size()), a), a);
  } else {
    rapidjson::Value msgs(rapidjson::kArrayType), m(rapidjson::kObjectType);
    m.AddMember("role", "user", a);
    m.AddMember("content", rapidjson::Value(ask.c_str(), static_cast<rapidjson::SizeType>(ask.size()), a), a);
    msgs.PushBack(m, a);
    jd.AddMember("messages", msgs, a);
  }
  ledger::Row jrow;
  const std::string judge_body = Serialize(jd);
  http::ClientStream jcap = co_await SubRequest(call, judge, judge_body, &jrow);
  double score = -1;
  if (jcap.captured_status() == 200) {
    const std::string g = AnswerText(call.api, jcap.captured_body());
    const size_t k = g.find_first_of("0123456789");
    if (k != std::string::npos) score = std::strtod(g.c_str() + k, nullptr);
  }
  jrow.route = "cascade:judge(" + step + ") score=" + std::to_string(score).substr(0, 4);
  jrow.savings_lever = "cascade";
  jrow.baseline_cost_usd = 0.0;  // pure overhead of the cascade
  Record(jrow);
  co_return score;
}

awaitable<bool> Gateway::SendAccepted(Call& call, ledger::Row& srow, const std::string& body,
                                      const std::string& step, http::ClientStream& out) {
  srow.route = "cascade:" + step + " accepted";
  srow.streamed = call.stream;  // the client receives it as it asked
  Record(srow);
  // The client gets this answer, under this row's id.
  call.row.id = srow.id;
  call.row.route = srow.route;
  call.row.status = 200;
  call.row.served_model = srow.served_model;
  call.row.usage = srow.usage;
  call.row.cost = srow.cost;
  call.row.cost_known = srow.cost_known;
  call.cost_header = srow.cost_known ? FormatUsd(srow.cost.Total()) : "unknown";
  call.recorded = true;  // the accepted step's row (just recorded) is the client's
  if (!call.stream) co_return co_await SendAnswer(call, body, false, {}, {}, out);
  auto sse = cache::ReplayAsSse(CacheApiName(call.api), body, call.client_wants_usage, call.row.id);
  if (!sse.ok()) {
    const ApiError e{502, "upstream_error", "cascade_replay_failed", sse.status().message(), ""};
    co_return co_await SendError(call, e, out);
  }
  call.row.streamed = true;
  co_return co_await SendAnswer(call, *sse, true, {}, {}, out);
}

}  // namespace tollgate::gateway
