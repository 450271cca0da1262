// An agent's wheel transfers with the coordinator. UploadWheel sends one built wheel to the
// coordinator's store: an UploadArtifact stream of the header, the file in 1 MiB chunks read from
// disk as they go (one write in flight, so memory stays at one chunk whatever the wheel's size),
// and the sha256 last (used by the agent daemon and the artifact benchmark). DownloadHeldWheel
// fetches a wheel a TEST attempt smoke-tests, checked against its sha256.
#pragma once

#include <filesystem>
#include <string>

#include "absl/status/status.h"
#include "agent/build_pipeline.h"
#include "cwb/v1/agent.grpc.pb.h"

namespace cwb {

// `token`: the agent bearer token, empty for none; `session`: the RegisterAck's session secret of
// the session holding the attempt. The coordinator's answer as a status (FailedPrecondition: the
// attempt is no longer current; PermissionDenied: another session holds it; InvalidArgument:
// refused).
absl::Status UploadWheel(v1::AgentService::Stub& stub, const std::string& token, const std::string& session,
                         const v1::Assignment& assignment, const BuiltWheel& wheel);

// Writes held wheel `artifact` of the assignment's TEST attempt to `destination`. The
// coordinator's answer as a status (FailedPrecondition: the attempt is no longer current), or
// DataLoss when the bytes are not the wheel's.
absl::Status DownloadHeldWheel(v1::AgentService::Stub& stub, const std::string& token, const std::string& session,
                               const v1::Assignment& assignment, const v1::ArtifactInfo& artifact,
                               const std::filesystem::path& destination);

}  // namespace cwb
