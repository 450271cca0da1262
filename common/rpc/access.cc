#include "common/rpc/access.h"

#include <array>

#include "absl/strings/str_cat.h"
#include "common/base/digest.h"

namespace cwb {
namespace {

constexpr std::array<std::pair<Role, std::string_view>, 5> kRoleNames = {
    {{Role::kPublic, "public"}, {Role::kAgent, "agent"}, {Role::kRead, "read"}, {Role::kSubmit, "submit"},
     {Role::kAdmin, "admin"}}};

bool IsClientRole(Role role) { return role == Role::kRead || role == Role::kSubmit || role == Role::kAdmin; }

}  // namespace

std::string_view RoleName(Role role) {
  for (const auto& [r, name] : kRoleNames) {
    if (r == role) return name;
  }
  return "?";
}

std::optional<Role> ParseRole(std::string_view name) {
  for (const auto& [role, n] : kRoleNames) {
    if (n == name) return role;
  }
  return std::nullopt;
}

bool Allows(Role held, Role needed) {
  if (needed == Role::kPublic || held == needed) return true;
  return IsClientRole(held) && IsClientRole(needed) && static_cast<int>(held) >= static_cast<int>(needed);
}

absl::Status TokenRing::Add(const std::string& token, Principal principal) {
  if (token.empty()) return absl::InvalidArgumentError(absl::StrCat("the token of ", principal.name, " is empty"));
  if (principal.role == Role::kPublic) {
    return absl::InvalidArgumentError(absl::StrCat("the token of ", principal.name, " has no role"));
  }
  if (Find(token)) return absl::InvalidArgumentError(absl::StrCat("the token of ", principal.name, " is given twice"));
  entries_.push_back({token, std::move(principal)});
  return absl::OkStatus();
}

std::optional<Principal> TokenRing::Find(std::string_view token) const {
  std::optional<Principal> found;
  for (const Entry& entry : entries_) {  // every entry is compared, found or not
    if (SecretsEqual(token, entry.token)) found = entry.principal;
  }
  return found;
}

bool TokenRing::Guards(Role role) const {
  for (const Entry& entry : entries_) {
    if (role == Role::kAgent ? entry.principal.role == Role::kAgent : IsClientRole(entry.principal.role)) return true;
  }
  return false;
}

absl::StatusOr<Principal> Authorize(const TokenRing& ring, Role needed, std::string_view bearer, std::string_view what) {
  if (needed == Role::kPublic) return Principal{"anonymous", Role::kPublic};
  if (!ring.Guards(needed)) return Principal{"anonymous", needed == Role::kAgent ? Role::kAgent : Role::kAdmin};
  std::optional<Principal> principal = bearer.empty() ? std::nullopt : ring.Find(bearer);
  if (!principal) return absl::UnauthenticatedError("authorization: a valid bearer token is required");
  if (!Allows(principal->role, needed)) {
    return absl::PermissionDeniedError(absl::StrCat("authorization: ", principal->name, "'s token has the ",
                                                    std::string(RoleName(principal->role)), " role; ",
                                                    std::string(what), " needs ", std::string(RoleName(needed))));
  }
  return *principal;
}

absl::StatusOr<TokenFlag> ParseTokenFlag(std::string_view flag) {
  const size_t colon = flag.find(':'), equals = flag.find('=');
  if (colon == std::string_view::npos || equals == std::string_view::npos || colon > equals || colon == 0 ||
      equals + 1 == flag.size()) {
    return absl::InvalidArgumentError(absl::StrCat("--token ", std::string(flag), ": expected NAME:ROLE=FILE"));
  }
  std::optional<Role> role = ParseRole(flag.substr(colon + 1, equals - colon - 1));
  if (!role || *role == Role::kPublic) {
    return absl::InvalidArgumentError(
        absl::StrCat("--token ", std::string(flag), ": the role is one of agent, read, submit, admin"));
  }
  return TokenFlag{std::string(flag.substr(0, colon)), *role, std::string(flag.substr(equals + 1))};
}

}  // namespace cwb
