#include "coordinator/access_policy.h"

#include <array>
#include <utility>

namespace cwb {
namespace {

constexpr std::array<std::pair<std::string_view, Role>, 16> kMethods = {{
    {"/cwb.v1.BuildService/SubmitBuild", Role::kSubmit},
    {"/cwb.v1.BuildService/ListBuilds", Role::kRead},
    {"/cwb.v1.BuildService/GetBuild", Role::kRead},
    {"/cwb.v1.BuildService/WatchBuild", Role::kRead},
    {"/cwb.v1.BuildService/StreamLog", Role::kRead},
    {"/cwb.v1.BuildService/DownloadArtifact", Role::kRead},
    {"/cwb.v1.BuildService/Cancel", Role::kSubmit},  // another's build needs admin
    {"/cwb.v1.BuildService/Retry", Role::kSubmit},   // likewise
    {"/cwb.v1.BuildService/ListAgents", Role::kRead},
    {"/cwb.v1.AgentService/Session", Role::kAgent},
    {"/cwb.v1.AgentService/UploadArtifact", Role::kAgent},
    {"/cwb.v1.AgentService/DownloadHeldWheel", Role::kAgent},
    {"/cwb.v1.AgentService/OpenCompileCache", Role::kAgent},
    {"/grpc.health.v1.Health/Check", Role::kPublic},
    {"/grpc.health.v1.Health/Watch", Role::kPublic},
    {"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", Role::kPublic},
}};

// Routes by prefix; the first that matches.
constexpr std::array<std::pair<std::string_view, Role>, 5> kRoutes = {{
    {"/api/", Role::kRead},
    {"/simple/", Role::kRead},
    {"/files/", Role::kRead},
    {"/metrics", Role::kRead},
    {"/", Role::kRead},  // the dashboard
}};

}  // namespace

Role RoleForMethod(std::string_view method) {
  for (const auto& [name, role] : kMethods) {
    if (name == method) return role;
  }
  return Role::kAdmin;
}

Role RoleForRoute(std::string_view path, const RouteOptions& options) {
  if (options.public_metrics && path == "/metrics") return Role::kPublic;
  for (const auto& [prefix, role] : kRoutes) {
    if (path.starts_with(prefix)) return role;
  }
  return Role::kAdmin;
}

}  // namespace cwb
