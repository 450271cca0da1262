#include "common/rpc/wheel_receive.h"

#include "absl/strings/str_cat.h"
#include "common/base/streaming_file.h"
#include "common/rpc/grpc_status.h"

namespace cwb {

absl::Status ReceiveWheel(grpc::ClientContext& context, grpc::ClientReader<v1::ArtifactChunk>& reader,
                          const v1::ArtifactInfo& artifact, const std::filesystem::path& destination) {
  namespace fs = std::filesystem;
  std::error_code error;
  fs::create_directories(destination.parent_path(), error);
  absl::StatusOr<std::unique_ptr<StreamingFile>> file = StreamingFile::Create(destination);
  if (!file.ok()) {
    context.TryCancel();
    reader.Finish();
    return file.status();
  }
  std::string announced;
  absl::Status written;
  v1::ArtifactChunk chunk;
  while (reader.Read(&chunk)) {
    if (!chunk.sha256().empty()) announced = chunk.sha256();
    if (written.ok()) written = (*file)->Add(std::move(*chunk.mutable_data()));
    if (!written.ok()) context.TryCancel();  // the disk failed: stop the transfer
  }
  absl::Status status = FromGrpcStatus(reader.Finish());
  if (written.ok()) written = (*file)->Drain();
  if (!written.ok()) return written;
  if (!status.ok()) return status;
  const std::string digest = (*file)->Sha256Hex();
  if (digest != artifact.sha256() || (!announced.empty() && announced != digest) ||
      (*file)->size() != artifact.size_bytes()) {
    return absl::DataLossError(absl::StrCat(artifact.filename(), ": downloaded sha256 ", digest,
                                            " does not match ", artifact.sha256()));
  }
  return (*file)->Commit();
}

}  // namespace cwb
