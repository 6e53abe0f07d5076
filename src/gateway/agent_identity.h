// Who a coding agent says it is. Claude Code names its device or account and
// its session in the Messages body's metadata.user_id; tollgate splits that
// into the ledger's user and session instead of storing it whole as the user.
// Pure functions of their input; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace tollgate::gateway {

struct AgentIdentity {
  std::string user;     // the account, else the device, else the value as given
  std::string session;  // empty when the value names none
};

// Reads Claude Code's metadata.user_id in either of its forms:
//   2.x: a JSON object as a string, {"device_id":…,"account_uuid":…,"session_id":…};
//   1.x: "user_<device>_account_<account uuid, may be empty>_session_<session uuid>".
// Never fails: any other value (not JSON, JSON of another shape, fields of other
// types) is the user as given, with no session, as before tollgate read it.
AgentIdentity ParseAgentUserId(std::string_view user_id);

}  // namespace tollgate::gateway
