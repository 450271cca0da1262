// Roles, tokens and the decision for one call, without a server.
#include "common/rpc/access.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cwb {
namespace {

TEST(AccessTest, ClientRolesNestAndTheAgentRoleStandsAlone) {
  EXPECT_TRUE(Allows(Role::kAdmin, Role::kRead));
  EXPECT_TRUE(Allows(Role::kSubmit, Role::kRead));
  EXPECT_FALSE(Allows(Role::kRead, Role::kSubmit));
  EXPECT_FALSE(Allows(Role::kSubmit, Role::kAdmin));
  EXPECT_FALSE(Allows(Role::kAdmin, Role::kAgent));
  EXPECT_FALSE(Allows(Role::kAgent, Role::kRead));
  EXPECT_TRUE(Allows(Role::kAgent, Role::kPublic));
  for (Role role : {Role::kPublic, Role::kAgent, Role::kRead, Role::kSubmit, Role::kAdmin}) {
    EXPECT_EQ(ParseRole(RoleName(role)), role);
  }
  EXPECT_FALSE(ParseRole("root").has_value());
}

TEST(AccessTest, ATokenThatWouldSwitchAuthOffOrMeanTwoThingsIsRefused) {
  TokenRing ring;
  EXPECT_TRUE(absl::IsInvalidArgument(ring.Add("", {"ci", Role::kSubmit})));
  EXPECT_TRUE(absl::IsInvalidArgument(ring.Add("x", {"ci", Role::kPublic})));
  ASSERT_TRUE(ring.Add("x", {"ci", Role::kSubmit}).ok());
  EXPECT_TRUE(absl::IsInvalidArgument(ring.Add("x", {"agent", Role::kAgent})));
}

TEST(AccessTest, ASideWithoutTokensIsOpenAndOneWithTokensWantsTheRightOne) {
  TokenRing ring;
  ASSERT_TRUE(ring.Add("agent-secret", {"agent", Role::kAgent}).ok());
  // No client token: clients are anonymous admins; agents need theirs.
  absl::StatusOr<Principal> open = Authorize(ring, Role::kSubmit, "", "SubmitBuild");
  ASSERT_TRUE(open.ok());
  EXPECT_EQ(open->name, "anonymous");
  EXPECT_EQ(open->role, Role::kAdmin);
  EXPECT_TRUE(absl::IsUnauthenticated(Authorize(ring, Role::kAgent, "", "Session").status()));
  EXPECT_TRUE(absl::IsUnauthenticated(Authorize(ring, Role::kAgent, "wrong", "Session").status()));
  EXPECT_EQ(Authorize(ring, Role::kAgent, "agent-secret", "Session")->name, "agent");

  ASSERT_TRUE(ring.Add("read-secret", {"grafana", Role::kRead}).ok());
  EXPECT_TRUE(absl::IsUnauthenticated(Authorize(ring, Role::kRead, "", "ListBuilds").status()));
  EXPECT_EQ(Authorize(ring, Role::kRead, "read-secret", "ListBuilds")->name, "grafana");
  absl::Status denied = Authorize(ring, Role::kSubmit, "read-secret", "SubmitBuild").status();
  EXPECT_TRUE(absl::IsPermissionDenied(denied));
  EXPECT_EQ(denied.message(), "authorization: grafana's token has the read role; SubmitBuild needs submit");
  EXPECT_TRUE(absl::IsPermissionDenied(Authorize(ring, Role::kRead, "agent-secret", "ListBuilds").status()));
  EXPECT_TRUE(Authorize(ring, Role::kPublic, "", "Check").ok());
}

TEST(AccessTest, TokenFlagsNameThePrincipalTheRoleAndTheFile) {
  absl::StatusOr<TokenFlag> flag = ParseTokenFlag("ci:submit=/etc/cwb/ci.token");
  ASSERT_TRUE(flag.ok()) << flag.status();
  EXPECT_EQ(flag->name, "ci");
  EXPECT_EQ(flag->role, Role::kSubmit);
  EXPECT_EQ(flag->file, "/etc/cwb/ci.token");
  for (const char* bad : {"ci=/x", ":submit=/x", "ci:submit=", "ci:root=/x", "ci:public=/x", "ci=x:submit"}) {
    EXPECT_TRUE(absl::IsInvalidArgument(ParseTokenFlag(bad).status())) << bad;
  }
}

}  // namespace
}  // namespace cwb
