// libzip's handles and errors as the agent's wheel code uses them (wheel_relabel.cc,
// wheel_members.cc): an archive closed without writing unless committed, entries named and read
// whole, every failure a status naming the archive.
#pragma once

#include <zip.h>

#include <filesystem>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace cwb {

struct ZipCloser {
  void operator()(zip_t* archive) const { zip_discard(archive); }
};
using ZipPtr = std::unique_ptr<zip_t, ZipCloser>;

absl::Status ZipError(zip_t* archive, const std::string& what, const std::filesystem::path& path);
// Opens `path` with libzip's `flags`; InvalidArgument naming it when it is no zip archive.
absl::StatusOr<ZipPtr> OpenZip(const std::filesystem::path& path, int flags);
// The name of entry `index`; "" when the archive has none for it.
std::string EntryName(zip_t* archive, zip_uint64_t index);
// Entry `index` whole, at most `max_bytes` (larger: InvalidArgument).
absl::StatusOr<std::string> ReadEntry(zip_t* archive, zip_uint64_t index, const std::filesystem::path& path,
                                      uint64_t max_bytes = uint64_t{1} << 30);

}  // namespace cwb
