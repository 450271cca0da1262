// The coordinator's access policy: the one table of which role each gRPC method and HTTP route
// needs (common/rpc/access.h has the roles). Every call passes it before its handler runs
// (MakeAuthorizingCredentials for gRPC, WebService for HTTP); a method or route not in the table
// needs the admin role. Who owns a build (cancel and retry of one's own) is decided by the
// coordinator from the caller the table let in.
#pragma once

#include <string_view>

#include "common/rpc/access.h"

namespace cwb {

// "/cwb.v1.BuildService/SubmitBuild" -> submit, ...
Role RoleForMethod(std::string_view method);
// What the operator may open beyond the table.
struct RouteOptions {
  bool public_metrics = false;  // /metrics without a token (Prometheus scrapes)
};

// "/", "/api/...", "/simple/...", "/files/...", "/metrics" -> read; /metrics public when the
// options say so.
Role RoleForRoute(std::string_view path, const RouteOptions& options = {});

}  // namespace cwb
