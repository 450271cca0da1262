#include "agent/wheel_upload.h"

#include <fstream>

#include "common/rpc/grpc_status.h"
#include "common/rpc/wheel_receive.h"
#include "common/rpc/wire.h"

namespace cwb {

absl::Status UploadWheel(v1::AgentService::Stub& stub, const std::string& token, const std::string& session,
                         const v1::Assignment& assignment, const BuiltWheel& wheel) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::hours(1));
  AddBearerToken(context, token);
  v1::ArtifactInfo response;
  std::unique_ptr<grpc::ClientWriter<v1::UploadChunk>> writer = stub.UploadArtifact(&context, &response);
  v1::UploadChunk chunk;
  v1::UploadHeader* header = chunk.mutable_header();
  header->set_build_id(assignment.build_id());
  header->set_task_id(assignment.spec().id());
  header->set_attempt_id(assignment.attempt_id());
  header->set_filename(wheel.filename);
  header->set_size_bytes(wheel.size);
  header->set_session(session);
  bool ok = writer->Write(chunk);
  std::ifstream in(wheel.path, std::ios::binary);
  std::string& data = *chunk.mutable_data();  // reused: the file is read straight into it
  while (ok && in) {
    data.resize(kChunkBytes);
    in.read(data.data(), static_cast<std::streamsize>(data.size()));
    const size_t n = static_cast<size_t>(in.gcount());
    if (n == 0) break;
    data.resize(n);
    ok = writer->Write(chunk);
  }
  if (ok) {
    chunk.Clear();
    chunk.set_sha256(wheel.sha256);
    writer->Write(chunk);
  }
  writer->WritesDone();
  return FromGrpcStatus(writer->Finish());
}

absl::Status DownloadHeldWheel(v1::AgentService::Stub& stub, const std::string& token, const std::string& session,
                               const v1::Assignment& assignment, const v1::ArtifactInfo& artifact,
                               const std::filesystem::path& destination) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::hours(1));
  AddBearerToken(context, token);
  v1::DownloadHeldWheelRequest request;
  request.set_build_id(assignment.build_id());
  request.set_task_id(assignment.spec().id());
  request.set_attempt_id(assignment.attempt_id());
  request.set_filename(artifact.filename());
  request.set_session(session);
  std::unique_ptr<grpc::ClientReader<v1::ArtifactChunk>> reader = stub.DownloadHeldWheel(&context, request);
  return ReceiveWheel(context, *reader, artifact, destination);
}

}  // namespace cwb
