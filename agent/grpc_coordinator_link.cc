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

class GrpcSession final : public CoordinatorSession {
 public:
  GrpcSession(std::shared_ptr<grpc::Channel> channel, std::string token)
      : stub_(v1::AgentService::NewStub(channel)), token_(std::move(token)) {
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
  void Close() override { context_.TryCancel(); }

 private:
  std::unique_ptr<v1::AgentService::Stub> stub_;
  const std::string token_;
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
                                                 options_.token);
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
