#include "client/wheel_download.h"

#include "common/rpc/wheel_receive.h"

namespace cwb {

absl::Status DownloadWheel(CoordinatorConnection& connection, const std::string& build_id,
                           const std::string& task_id, const v1::ArtifactInfo& artifact,
                           const std::filesystem::path& destination) {
  v1::DownloadArtifactRequest request;
  request.set_build_id(build_id);
  request.set_task_id(task_id);
  request.set_filename(artifact.filename());
  auto context = connection.Context(std::chrono::seconds(3600));
  std::unique_ptr<grpc::ClientReader<v1::ArtifactChunk>> reader =
      connection.stub().DownloadArtifact(context.get(), request);
  return ReceiveWheel(*context, *reader, artifact, destination);
}

}  // namespace cwb
