// Fetches one stored wheel from the coordinator into a file: DownloadArtifact's chunks are written
// to a temporary name beside `destination` and hashed as they arrive; only a file whose size and
// sha256 match the artifact's is fsynced and renamed into place, so a wheelhouse never holds a
// partial or corrupt wheel. Used by `cwb fetch` and the artifact benchmark.
#pragma once

#include <filesystem>
#include <string>

#include "absl/status/status.h"
#include "client/connection.h"

namespace cwb {

absl::Status DownloadWheel(CoordinatorConnection& connection, const std::string& build_id,
                           const std::string& task_id, const v1::ArtifactInfo& artifact,
                           const std::filesystem::path& destination);

}  // namespace cwb
