// The agent's seam toward the coordinator. A CoordinatorLink opens sessions; a session carries the
// agent's messages (registration, heartbeats, status, logs) and the coordinator's (assignments,
// cancellations), and uploads wheels. GrpcCoordinatorLink (grpc_coordinator_link.h) is the real
// one; unit tests script their own.
#pragma once

#include <filesystem>
#include <memory>

#include "absl/status/statusor.h"
#include "agent/build_pipeline.h"
#include "common/base/cancellation.h"
#include "cwb/v1/agent.pb.h"

namespace cwb {

class CoordinatorSession {
 public:
  virtual ~CoordinatorSession() = default;
  // Sends a message; false once the session has ended. Thread-safe: one write at a time.
  virtual bool Send(const v1::AgentMessage& message) = 0;
  // Blocks for the coordinator's next message; false when the session has ended (the coordinator
  // went away, Close was called, or the `stop` given to Open fired). One reader.
  virtual bool Read(v1::CoordinatorMessage* message) = 0;
  // Uploads one wheel of an attempt. FailedPrecondition: the attempt is no longer current;
  // InvalidArgument or ResourceExhausted: the coordinator refused the wheel; anything else:
  // trouble on the way (try again in a later session). Thread-safe.
  virtual absl::Status Upload(const v1::Assignment& assignment, const BuiltWheel& wheel) = 0;
  // Downloads a held wheel of a TEST attempt (Assignment.held_wheels) to `destination`, checked
  // against its sha256. FailedPrecondition: the attempt is no longer current; anything else as
  // Upload's. Thread-safe.
  virtual absl::Status Download(const v1::Assignment& assignment, const v1::ArtifactInfo& wheel,
                                const std::filesystem::path& destination) = 0;
  // The compile cache's shared store for an attempt of this session (AgentService.OpenCompileCache),
  // its host filled in with the coordinator's when the coordinator leaves it empty; an access
  // without a backend when there is none. Thread-safe.
  virtual absl::StatusOr<v1::CompileCacheAccess> OpenCompileCache(const v1::Assignment& assignment) = 0;
  // Ends the session: Read returns false.
  virtual void Close() = 0;
};

class CoordinatorLink {
 public:
  virtual ~CoordinatorLink() = default;
  // Opens a session and registers with `hello`, waiting for the coordinator's ack (into `ack`).
  // Unauthenticated, PermissionDenied or InvalidArgument: the coordinator refused this agent;
  // anything else: it could not be reached. `stop` ends the session (or the wait for it).
  virtual absl::StatusOr<std::unique_ptr<CoordinatorSession>> Open(const v1::Register& hello, v1::RegisterAck* ack,
                                                                   Cancellation& stop) = 0;
};

}  // namespace cwb
