// Who may call what. A server holds a TokenRing: each token it accepts names a principal (who it
// is, for ownership and trust domains) and the principal's role. Its access policy (one table)
// says which role each gRPC method and HTTP route needs; Authorize decides one call from the two.
// Client roles nest (admin includes submit, submit includes read); the agent role stands alone.
// A side with no token at all (no client tokens, or no agent tokens) is open: its callers are
// anonymous with every role of that side.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace cwb {

enum class Role {
  kPublic,  // no token needed (health checks)
  kAgent,   // the agent API
  kRead,    // builds, logs, wheels, agents, the dashboard and index
  kSubmit,  // submitting builds, cancelling and retrying one's own
  kAdmin,   // cancelling and retrying anyone's
};

std::string_view RoleName(Role role);  // "public", "agent", "read", "submit", "admin"
std::optional<Role> ParseRole(std::string_view name);
// Whether a principal of role `held` may do what needs `needed`.
bool Allows(Role held, Role needed);

struct Principal {
  std::string name;  // "anonymous" on an open side
  Role role = Role::kPublic;
};

// The tokens a server accepts. Read-only once built, so thread-safe to share.
class TokenRing {
 public:
  // Accepts `token` for `principal`. An empty token, a public role, or a token given twice is an
  // error (a token that switched auth off, or one meaning two things, is never taken).
  absl::Status Add(const std::string& token, Principal principal);
  // The principal of `token` (compared in constant time with each), or nullopt.
  std::optional<Principal> Find(std::string_view token) const;
  // Whether calls needing `role` must carry a token: some token is of the agent role (for
  // kAgent) or of a client role (for the client roles).
  bool Guards(Role role) const;

 private:
  struct Entry {
    std::string token;
    Principal principal;
  };
  std::vector<Entry> entries_;
};

// Decides one call that needs `needed` and carries `bearer` (the token of an "Authorization:
// Bearer" header, or "" without one): its principal, or UNAUTHENTICATED (no or an unknown token)
// or PERMISSION_DENIED (a role that does not allow `what`).
absl::StatusOr<Principal> Authorize(const TokenRing& ring, Role needed, std::string_view bearer, std::string_view what);

// "NAME:ROLE=FILE" (a --token flag) split into its parts, or InvalidArgument saying what is wrong.
struct TokenFlag {
  std::string name;
  Role role;
  std::string file;
};
absl::StatusOr<TokenFlag> ParseTokenFlag(std::string_view flag);

}  // namespace cwb
