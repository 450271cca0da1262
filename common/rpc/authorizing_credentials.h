// Authorization of every gRPC call in one place, before its handler runs: a gRPC auth metadata
// processor on the server's transport credentials (plaintext or TLS) reads the call's method
// (":path") and bearer token, asks the server's policy which role the method needs, and decides
// with Authorize. A refused call ends there with UNAUTHENTICATED or PERMISSION_DENIED; an
// accepted one carries its principal in its auth context (CallerOf), and its token is consumed,
// so no handler sees it.
#pragma once

#include <functional>
#include <memory>
#include <string_view>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "common/rpc/access.h"
#include "common/rpc/auth.h"

namespace cwb {

// The role a method needs ("/cwb.v1.BuildService/SubmitBuild"); called for every call, on gRPC's
// threads, so it must be quick and thread-safe.
using MethodPolicy = std::function<Role(std::string_view method)>;

// Told of each refused call (its method and why), on gRPC's threads; may be empty.
using RefusalObserver = std::function<void(std::string_view method, const absl::Status& why)>;

// Server credentials (TLS when tls.cert_file is set, mutual TLS with a client CA, else plaintext),
// authorizing every call against `tokens` and `policy`.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeAuthorizingCredentials(
    const ServerTlsOptions& tls, std::shared_ptr<const TokenRing> tokens, MethodPolicy policy,
    RefusalObserver on_refused = {});

// The principal the processor accepted for this call.
Principal CallerOf(const grpc::ServerContextBase& context);

}  // namespace cwb
