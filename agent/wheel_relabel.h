// Rewrites a built wheel's name and .dist-info: its local version label, and its platform tag.
// Gives a built wheel a local version label, as prebuilt CUDA wheels carry their variant:
// flash_attn-2.6.3-cp312-cp312-linux_x86_64.whl becomes
// flash_attn-2.6.3+cu124torch2.5-cp312-cp312-linux_x86_64.whl. The archive is rewritten, not just
// renamed: the .dist-info (and .data) directory gets the new version, METADATA's Version says it,
// and RECORD lists every renamed path with the new sha256 and size where the content changed, so
// pip installs it and `pip list` shows the label. Other entries are copied still compressed.
// The caller (BuildPipeline) runs it on each wheel a task built, before the smoke test.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace cwb {

// The version with `label` added: "2.6.3" -> "2.6.3+cu124"; a version that already has a local
// label keeps it and gets the new one after a '.' ("2.6.3+git1" -> "2.6.3+git1.cu124"); one
// whose local label already ends with `label` is returned as it is.
std::string LabelledVersion(const std::string& version, const std::string& label);

// Writes the labelled wheel beside `wheel` (complete or not at all: temp, fsync, rename) and
// removes the original; returns the new path, or `wheel` itself when its version already carries
// the label. Fails with InvalidArgument, leaving `wheel` as it was, when the label is not a valid
// local version label or the archive is not a well-formed wheel (no single .dist-info with
// METADATA and RECORD, or a METADATA version that differs from the file name's).
absl::StatusOr<std::filesystem::path> RelabelWheel(const std::filesystem::path& wheel,
                                                   const std::string& label);

// Gives the wheel platform tag `platform_tag` ("manylinux_2_17_x86_64"), the release gate's retag:
// the file name and every Tag line of WHEEL say it, RECORD has WHEEL's new sha256 and size. Written
// as RelabelWheel writes (the original removed); `wheel` itself when it already has that tag.
absl::StatusOr<std::filesystem::path> RetagWheel(const std::filesystem::path& wheel, const std::string& platform_tag);

}  // namespace cwb
