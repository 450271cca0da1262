// The CoordinatorLink over gRPC: each session is a Session stream on a channel of its own (made
// anew for each, so the agent's own backoff, not the channel's, decides how soon it tries again),
// with the agent's bearer token on every call; uploads go on that channel (wheel_upload.h).
#pragma once

#include <memory>
#include <string>

#include "agent/coordinator_link.h"
#include "common/rpc/auth.h"

namespace cwb {

struct GrpcLinkOptions {
  std::string coordinator;  // host:port
  std::string token;        // agent bearer token; empty: none
  ClientTlsOptions tls;     // the coordinator's CA (and a client certificate for mutual TLS)
};

// InvalidArgument when the TLS files cannot be read.
absl::StatusOr<std::unique_ptr<CoordinatorLink>> MakeGrpcCoordinatorLink(GrpcLinkOptions options);

}  // namespace cwb
