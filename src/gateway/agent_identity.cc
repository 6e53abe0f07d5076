#include "gateway/agent_identity.h"

#include "common/json.h"

namespace tollgate::gateway {

namespace {

// "user_<device>_account_<account>_session_<session>" (Claude Code 1.x). The
// device is hex, the account and session UUIDs, so none holds the separators.
bool ParseLegacy(std::string_view v, AgentIdentity* out) {
  constexpr std::string_view kUser = "user_", kAccount = "_account_", kSession = "_session_";
  if (v.substr(0, kUser.size()) != kUser) return false;
  const size_t account = v.find(kAccount, kUser.size());
  if (account == std::string_view::npos) return false;
  const size_t session = v.find(kSession, account + kAccount.size());
  if (session == std::string_view::npos) return false;
  const std::string_view device = v.substr(kUser.size(), account - kUser.size());
  const std::string_view acct =
      v.substr(account + kAccount.size(), session - account - kAccount.size());
  const std::string_view sess = v.substr(session + kSession.size());
  if (device.empty() && acct.empty()) return false;
  out->user = std::string(acct.empty() ? device : acct);
  out->session = std::string(sess);
  return true;
}

bool ParseJsonForm(std::string_view v, AgentIdentity* out) {
  if (v.empty() || v.front() != '{') return false;
  rapidjson::Document doc;
  if (!ParseJson(doc, v).ok || !doc.IsObject()) return false;
  const std::string_view account = Str(Member(doc, "account_uuid"));
  const std::string_view device = Str(Member(doc, "device_id"));
  const std::string_view session = Str(Member(doc, "session_id"));
  if (account.empty() && device.empty() && session.empty()) return false;
  out->user = std::string(!account.empty() ? account : !device.empty() ? device : v);
  out->session = std::string(session);
  return true;
}

}  // namespace

AgentIdentity ParseAgentUserId(std::string_view user_id) {
  AgentIdentity id;
  if (ParseJsonForm(user_id, &id) || ParseLegacy(user_id, &id)) return id;
  id.user = std::string(user_id);
  return id;
}

}  // namespace tollgate::gateway
