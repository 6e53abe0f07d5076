// Identify stage: who is asking (bearer fingerprint or virtual key, project,
// user, tags) and what (the parsed, type-checked body, the model, stream).
// Synchronous: it only reads the request and the immutable key snapshot.
#include "gateway/agent_identity.h"
#include "gateway/call.h"

namespace tollgate::gateway {

namespace {

constexpr size_t kMaxHeaderValue = 256;
constexpr size_t kMaxTags = 32;

bool Printable(std::string_view s) {
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f) return false;
  return true;
}

// "a, b,,c" -> "a,b,c"; nullopt when there are more than kMaxTags.
std::optional<std::string> JoinTags(std::string_view tags) {
  std::string joined;
  size_t count = 0;
  size_t pos = 0;
  while (pos <= tags.size() && !tags.empty()) {
    const size_t comma = tags.find(',', pos);
    std::string_view t = Trim(tags.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos));
    if (!t.empty()) {
      joined += (joined.empty() ? "" : ",") + std::string(t);
      ++count;
    }
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  if (count > kMaxTags) return std::nullopt;
  return joined;
}

std::string Clipped(std::string_view s) { return std::string(s.substr(0, kMaxHeaderValue)); }
std::string Clipped(const rapidjson::Value& s) {
  return Clipped(std::string_view(s.GetString(), s.GetStringLength()));
}

}  // namespace

std::optional<ApiError> Gateway::Identify(Call& call, http::PreError pre) {
  if (std::optional<ApiError> e = IdentifyClient(call)) return e;
  if (pre == http::PreError::kBodyTooLarge) return TooLarge(cfg_.server.max_body_bytes);
  return ReadBody(call);
}

std::optional<ApiError> Gateway::IdentifyClient(Call& call) {
  const http::Request& req = call.req;
  // The bearer secret itself is never stored or logged.
  const std::string_view bearer = BearerToken(req);
  if (!bearer.empty()) call.row.api_key = "key_" + Sha256Hex(bearer).substr(0, 12);
  const std::string_view project = Trim(HeaderValue(req, "x-tollgate-project"));
  const std::string_view user = Trim(HeaderValue(req, "x-tollgate-user"));
  const std::string_view tags = HeaderValue(req, "x-tollgate-tags");
  const std::string_view session = Trim(HeaderValue(req, "x-tollgate-session"));
  for (auto [name, v, limit] : {std::tuple{"x-tollgate-project", project, kMaxHeaderValue},
                                std::tuple{"x-tollgate-user", user, kMaxHeaderValue},
                                std::tuple{"x-tollgate-session", session, kMaxHeaderValue},
                                std::tuple{"x-tollgate-tags", tags, kMaxHeaderValue * 8}}) {
    if (v.size() <= limit && Printable(v)) continue;
    return ApiError{400, "invalid_request_error", "invalid_header",
                    std::string("Header ") + name + " must be printable text of at most " +
                        std::to_string(kMaxHeaderValue) + " characters",
                    name};
  }
  call.row.project = std::string(project);
  call.row.user = std::string(user);  // the body's user (ReadBody) only where no header named one
  call.row.session = std::string(session);
  if (call.row.session.empty()) {
    // Codex names its session in a header of its own; a malformed one is ignored, not refused.
    const std::string_view codex = Trim(HeaderValue(req, "session_id"));
    if (codex.size() <= kMaxHeaderValue && Printable(codex)) call.row.session = std::string(codex);
  }
  std::optional<std::string> joined = JoinTags(tags);
  if (!joined) return InvalidRequest("At most 32 tags are allowed in x-tollgate-tags", "x-tollgate-tags");
  call.row.tags = std::move(*joined);
  if (!governor_.auth_enabled()) return std::nullopt;
  if (auto denial = governor_.Authenticate(bearer, &call.principal)) return FromDenial(*denial);
  call.authenticated = true;
  const governance::Principal& p = call.principal;
  call.row.key_id = p.key_id;
  call.row.api_key = p.key_id;
  call.row.team = p.team;
  // What the key says about its owner is authoritative over request headers.
  if (!p.project.empty()) call.row.project = p.project;
  for (const auto& t : p.tags) call.row.tags += (call.row.tags.empty() ? "" : ",") + t;
  return std::nullopt;
}

std::optional<ApiError> Gateway::ReadBody(Call& call) {
  const JsonParse parsed = ParseJson(call.body, call.req.body());
  if (!parsed.ok) return InvalidJson("Invalid JSON in request body " + JsonErrorMessage(parsed));
  if (!call.body.IsObject()) return InvalidJson("Request body must be a JSON object");
  if (call.api != providers::Api::kGeminiGenerate) {  // Gemini names the model in the path
    auto model = call.body.FindMember("model");
    if (model == call.body.MemberEnd() || !model->value.IsString() || model->value.GetStringLength() == 0)
      return InvalidRequest("'model' is required and must be a non-empty string", "model");
    call.row.requested_model.assign(model->value.GetString(), model->value.GetStringLength());
  }
  if (std::optional<ApiError> bad = CheckRequestBody(call.api, call.body)) return bad;
  const bool user_named = !call.row.user.empty();
  if (!user_named) {
    if (auto u = call.body.FindMember("user"); u != call.body.MemberEnd() && u->value.IsString())
      call.row.user = Clipped(u->value);
  }
  if (auto md = call.body.FindMember("metadata");
      md != call.body.MemberEnd() && md->value.IsObject()) {
    auto uid = md->value.FindMember("user_id");
    if (uid != md->value.MemberEnd() && uid->value.IsString()) {
      // Claude Code: the device or account is the user, and the session is recorded apart.
      const AgentIdentity agent =
          ParseAgentUserId(std::string_view(uid->value.GetString(), uid->value.GetStringLength()));
      if (!user_named) call.row.user = Clipped(agent.user);
      if (call.row.session.empty()) call.row.session = Clipped(agent.session);
    }
  }
  if (call.authenticated && !call.principal.user.empty()) call.row.user = call.principal.user;
  if (call.api == providers::Api::kOpenAiEmbeddings || call.api == providers::Api::kGeminiGenerate)
    return std::nullopt;
  if (auto s = call.body.FindMember("stream"); s != call.body.MemberEnd()) {
    if (!s->value.IsBool() && !s->value.IsNull()) return InvalidRequest("'stream' must be a boolean", "stream");
    call.stream = s->value.IsBool() && s->value.GetBool();
  }
  if (auto so = call.body.FindMember("stream_options"); so != call.body.MemberEnd() && so->value.IsObject()) {
    auto iu = so->value.FindMember("include_usage");
    call.client_wants_usage = iu != so->value.MemberEnd() && iu->value.IsBool() && iu->value.GetBool();
  }
  return std::nullopt;
}

}  // namespace tollgate::gateway
