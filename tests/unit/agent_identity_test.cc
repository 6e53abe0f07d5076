// Claude Code's metadata.user_id split into user and session (issue 19), and
// every other shape left as the user it always was.
#include "gateway/agent_identity.h"

#include <gtest/gtest.h>

namespace tollgate::gateway {
namespace {

TEST(AgentIdentity, ClaudeCodeJson) {
  AgentIdentity id =
      ParseAgentUserId(R"({"device_id":"d0e1f2","account_uuid":"acct-7","session_id":"sess-42"})");
  EXPECT_EQ(id.user, "acct-7");
  EXPECT_EQ(id.session, "sess-42");
  // No account (an API-key login): the device is the user.
  id = ParseAgentUserId(R"({"device_id":"d0e1f2","account_uuid":"","session_id":"s"})");
  EXPECT_EQ(id.user, "d0e1f2");
  EXPECT_EQ(id.session, "s");
}

TEST(AgentIdentity, ClaudeCodeLegacyString) {
  AgentIdentity id = ParseAgentUserId("user_abc123_account_0f1e-22_session_9a8b-77");
  EXPECT_EQ(id.user, "0f1e-22");
  EXPECT_EQ(id.session, "9a8b-77");
  id = ParseAgentUserId("user_abc123_account__session_9a8b-77");
  EXPECT_EQ(id.user, "abc123");
  EXPECT_EQ(id.session, "9a8b-77");
}

TEST(AgentIdentity, AnyOtherShapeIsTheUserAsGiven) {
  const char* as_is[] = {
      "alice",
      "",
      "{",
      "{not json",
      R"({"device_id":5,"session_id":null})",
      R"({"other":"x"})",
      R"(["device_id"])",
      R"("quoted")",
      "user_x_account_y",
      "user__account__session_s",
      R"({"device_id":{"nested":[1,2,{"session_id":"s"}]}})",
  };
  for (const char* v : as_is) {
    SCOPED_TRACE(v);
    const AgentIdentity id = ParseAgentUserId(v);
    EXPECT_EQ(id.user, v);
    EXPECT_EQ(id.session, "");
  }
  // A session alone: no user to name but the value itself.
  const std::string only = R"({"session_id":"s1"})";
  AgentIdentity id = ParseAgentUserId(only);
  EXPECT_EQ(id.user, only);
  EXPECT_EQ(id.session, "s1");
  // Deep nesting is refused by the parse, never a crash.
  std::string deep(10000, '[');
  id = ParseAgentUserId("{\"a\":" + deep);
  EXPECT_EQ(id.session, "");
}

}  // namespace
}  // namespace tollgate::gateway
