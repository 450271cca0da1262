// Receives a wheel streamed as ArtifactChunks (the client's DownloadArtifact, an agent's
// DownloadHeldWheel) into `destination`: hashed and written while the next chunk arrives, checked
// against the wheel's size and sha256, and only then given its name (nothing half-written is
// ever visible under it).
#pragma once

#include <filesystem>

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/proto_buffer_reader.h>
#include <grpcpp/support/sync_stream.h>
#include <grpcpp/impl/codegen/proto_utils.h>

#include "absl/status/status.h"
#include "cwb/v1/client.pb.h"
#include "cwb/v1/state.pb.h"

namespace cwb {

// Reads `reader` to its end (cancelling `context` when the disk fails) and finishes it. The
// server's error, a disk error, or DataLoss when the bytes are not the wheel's.
absl::Status ReceiveWheel(grpc::ClientContext& context, grpc::ClientReader<v1::ArtifactChunk>& reader,
                          const v1::ArtifactInfo& artifact, const std::filesystem::path& destination);

}  // namespace cwb
