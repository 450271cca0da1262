#include "agent/grpc_coordinator_link.h"

#include <mutex>

#include <grpcpp/grpcpp.h>

#include "agent/wheel_upload.h"
#include "common/rpc/grpc_status.h"
#include "common/rpc/wire.h"
#include "cwb/v1/agent.grpc.pb.h"

namespace cwb {
namespace {

using Stream = grpc::ClientReaderWriter<v1::AgentMessage, v1::CoordinatorMessage>;

// The host of a gRPC target ("host:port", "[::1]:port", "dns:///host:port"), brackets kept.
std::string HostOf(std::string target) {
  if (const size_t scheme = target.find(":///"); scheme != std::string::npos) target = target.substr(scheme + 4);
  const size_t colon = target.rfind(':');
  if (colon == std::string::npos || target.find(']', colon) != std::string::npos) return target;
  return target.substr(0, colon);
}

class GrpcSession final : public CoordinatorSession {
 public:
  GrpcSession(std::shared_ptr<grpc::Channel> channel, std::string token, std::string coordinator_host)
      : stub_(v1::AgentService::NewStub(channel)), token_(std::move(token)),
        coordinator_host_(std::move(coordinator_host)) {
    AddBearerToken(context_, token_);
  }
  ~GrpcSession() override {
    on_stop_.Reset();
    context_.TryCancel();
    if (stream_) stream_->Finish();
  }

  // Starts the stream, registers and reads the ack.
  absl::Status Register(const v1::Register& hello, v1::RegisterAck* ack, Cancellation& stop) {
    on_stop_ = stop.Subscribe([this] { context_.TryCancel(); });
    stream_ = stub_->Session(&context_);
    v1::AgentMessage message;
    *message.mutable_register_() = hello;
    v1::CoordinatorMessage reply;
    if (stream_->Write(message) && stream_->Read(&reply) && reply.has_ack()) {
      *ack = reply.ack();
      session_ = ack->session();
      return absl::OkStatus();
    }
    grpc::Status status = stream_->Finish();
    stream_.reset();
    if (status.ok()) return absl::UnavailableError("the coordinator ended the session before acknowledging it");
    return FromGrpcStatus(status);
  }

  bool Send(const v1::AgentMessage& message) override {
    std::lock_guard lock(write_mutex_);
    return stream_->Write(message);
  }
  bool Read(v1::CoordinatorMessage* message) override { return stream_->Read(message); }
  absl::Status Upload(const v1::Assignment& assignment, const BuiltWheel& wheel) override {
    return UploadWheel(*stub_, token_, session_, assignment, wheel);
  }
  absl::Status Download(const v1::Assignment& assignment, const v1::ArtifactInfo& wheel,
                        const std::filesystem::path& destination) override {
    return DownloadHeldWheel(*stub_, token_, session_, assignment, wheel, destination);
  }
  absl::StatusOr<v1::CompileCacheAccess> OpenCompileCache(const v1::Assignment& assignment) override {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    AddBearerToken(context, token_);
    v1::OpenCompileCacheRequest request;
    request.set_build_id(assignment.build_id());
    request.set_task_id(assignment.spec().id());
    request.set_attempt_id(assignment.attempt_id());
    request.set_session(session_);
    v1::CompileCacheAccess access;
    if (absl::Status s = FromGrpcStatus(stub_->OpenCompileCache(&context, request, &access)); !s.ok()) return s;
    if (!access.backend().empty() && access.host().empty()) access.set_host(coordinator_host_);
    return access;
  }
  void Close() override { context_.TryCancel(); }

 private:
  std::unique_ptr<v1::AgentService::Stub> stub_;
  const std::string token_;
  std::string coordinator_host_;  // the host of the address the agent dials
  std::string session_;  // the ack's: uploads carry it
  grpc::ClientContext context_;
  std::unique_ptr<Stream> stream_;
  std::mutex write_mutex_;  // one write in flight
  Cancellation::Subscription on_stop_;
};

class GrpcCoordinatorLink final : public CoordinatorLink {
 public:
  GrpcCoordinatorLink(GrpcLinkOptions options, std::shared_ptr<grpc::ChannelCredentials> credentials)
      : options_(std::move(options)), credentials_(std::move(credentials)) {}

  absl::StatusOr<std::unique_ptr<CoordinatorSession>> Open(const v1::Register& hello, v1::RegisterAck* ack,
                                                           Cancellation& stop) override {
    auto session = std::make_unique<GrpcSession>(grpc::CreateChannel(options_.coordinator, credentials_),
                                                 options_.token, HostOf(options_.coordinator));
    if (absl::Status s = session->Register(hello, ack, stop); !s.ok()) return s;
    return session;
  }

 private:
  const GrpcLinkOptions options_;
  const std::shared_ptr<grpc::ChannelCredentials> credentials_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<CoordinatorLink>> MakeGrpcCoordinatorLink(GrpcLinkOptions options) {
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials = MakeChannelCredentials(options.tls);
  if (!credentials.ok()) return credentials.status();
  return std::make_unique<GrpcCoordinatorLink>(std::move(options), *std::move(credentials));
}

}  // namespace cwb
