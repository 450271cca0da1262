#include "client/wheel_download.h"

#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/atomic_file.h"
#include "common/digest.h"
#include "common/grpc_status.h"

namespace cwb {

absl::Status DownloadWheel(CoordinatorConnection& connection, const std::string& build_id,
                           const std::string& task_id, const v1::ArtifactInfo& artifact,
                           const std::filesystem::path& destination) {
  namespace fs = std::filesystem;
  v1::DownloadArtifactRequest request;
  request.set_build_id(build_id);
  request.set_task_id(task_id);
  request.set_filename(artifact.filename());
  auto context = connection.Context(std::chrono::seconds(3600));
  std::unique_ptr<grpc::ClientReader<v1::ArtifactChunk>> reader =
      connection.stub().DownloadArtifact(context.get(), request);
  std::error_code error;
  fs::create_directories(destination.parent_path(), error);
  const fs::path temp = TempPathFor(destination);
  std::ofstream file(temp, std::ios::binary);
  Sha256 hasher;
  uint64_t size = 0;
  std::string announced;
  v1::ArtifactChunk chunk;
  while (reader->Read(&chunk)) {
    file.write(chunk.data().data(), static_cast<std::streamsize>(chunk.data().size()));
    hasher.Update(chunk.data());
    size += chunk.data().size();
    if (!chunk.sha256().empty()) announced = chunk.sha256();
  }
  file.close();
  absl::Status status = FromGrpcStatus(reader->Finish());
  const std::string digest = hasher.FinishHex();
  if (status.ok() && !file) status = absl::InternalError(absl::StrCat("cannot write ", temp.string()));
  if (status.ok() && (digest != artifact.sha256() || (!announced.empty() && announced != digest) ||
                      size != artifact.size_bytes())) {
    status = absl::DataLossError(absl::StrCat(artifact.filename(), ": downloaded sha256 ", digest,
                                              " does not match ", artifact.sha256()));
  }
  if (!status.ok()) {
    fs::remove(temp, error);
    return status;
  }
  return CommitTempFile(temp, destination);
}

}  // namespace cwb
