// gRPC adapters over Coordinator: each handler checks its request, calls the coordinator (with the
// caller the server's authorization let in, where the coordinator decides by it) and converts the
// status. Authorization itself is not here: it happens before any handler runs
// (MakeAuthorizingCredentials with access_policy.h). The client API is synchronous (long streams wait with short timeouts so a
// cancelled client or a stopping server ends them promptly); agents' sessions use the callback
// API.
#pragma once

#include <memory>

#include "coordinator/compile_cache_service.h"
#include "coordinator/coordinator.h"
#include "cwb/v1/agent.grpc.pb.h"
#include "cwb/v1/client.grpc.pb.h"

namespace cwb {

// GetBuild runs on the callback API with its messages on a protobuf arena (a build's view of ten
// thousand tasks is built without ten thousand allocations each); the rest is synchronous.
class BuildServiceImpl final : public v1::BuildService::WithCallbackMethod_GetBuild<v1::BuildService::Service> {
 public:
  explicit BuildServiceImpl(Coordinator& coordinator);
  ~BuildServiceImpl() override;

  grpc::Status SubmitBuild(grpc::ServerContext* context, const v1::SubmitBuildRequest* request,
                           v1::BuildInfo* response) override;
  grpc::Status ListBuilds(grpc::ServerContext* context, const v1::ListBuildsRequest*,
                          v1::ListBuildsResponse* response) override;
  grpc::ServerUnaryReactor* GetBuild(grpc::CallbackServerContext* context, const v1::GetBuildRequest* request,
                                     v1::BuildInfo* response) override;
  grpc::Status WatchBuild(grpc::ServerContext* context, const v1::WatchBuildRequest* request,
                          grpc::ServerWriter<v1::BuildEvent>* writer) override;
  grpc::Status StreamLog(grpc::ServerContext* context, const v1::StreamLogRequest* request,
                         grpc::ServerWriter<v1::LogChunk>* writer) override;
  grpc::Status DownloadArtifact(grpc::ServerContext* context,
                                const v1::DownloadArtifactRequest* request,
                                grpc::ServerWriter<v1::ArtifactChunk>* writer) override;
  grpc::Status Cancel(grpc::ServerContext* context, const v1::CancelRequest* request,
                      v1::CancelResponse* response) override;
  grpc::Status Retry(grpc::ServerContext* context, const v1::RetryRequest* request,
                     v1::RetryResponse* response) override;
  grpc::Status ListAgents(grpc::ServerContext* context, const v1::ListAgentsRequest*,
                          v1::ListAgentsResponse* response) override;

 private:
  class ArenaAllocator;
  Coordinator& coordinator_;
  std::unique_ptr<ArenaAllocator> get_build_allocator_;
};

// Session runs on gRPC's callback API (a thousand agents need no thread each); uploads are
// synchronous streams.
class AgentServiceImpl final : public v1::AgentService::WithCallbackMethod_Session<v1::AgentService::Service> {
 public:
  // `compile_cache`: the shared store, or null for none (builds use their agent's directory).
  AgentServiceImpl(Coordinator& coordinator, CompileCacheService* compile_cache)
      : coordinator_(coordinator), compile_cache_(compile_cache) {}

  grpc::ServerBidiReactor<v1::AgentMessage, v1::CoordinatorMessage>* Session(
      grpc::CallbackServerContext* context) override;
  grpc::Status UploadArtifact(grpc::ServerContext* context,
                              grpc::ServerReader<v1::UploadChunk>* reader,
                              v1::ArtifactInfo* response) override;
  grpc::Status DownloadHeldWheel(grpc::ServerContext* context, const v1::DownloadHeldWheelRequest* request,
                                 grpc::ServerWriter<v1::ArtifactChunk>* writer) override;
  grpc::Status OpenCompileCache(grpc::ServerContext* context, const v1::OpenCompileCacheRequest* request,
                                v1::CompileCacheAccess* response) override;

 private:
  Coordinator& coordinator_;
  CompileCacheService* compile_cache_;
};

}  // namespace cwb
