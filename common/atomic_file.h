// Files that appear only complete: written to a temporary name in the same directory, fsynced,
// renamed over the target, and the directory fsynced. A crash leaves either the old file or the
// new one, plus at worst a stray "*.cwb-tmp-*" file that never has the final name.
#pragma once

#include <filesystem>
#include <string_view>

#include "absl/status/status.h"

namespace cwb {

// Writes `contents` to `path` atomically, creating parent directories.
absl::Status WriteFileAtomically(const std::filesystem::path& path, std::string_view contents);

// Makes `temp` (already written and closed) durable and renames it to `path`; fsyncs the
// directory. On failure `temp` is removed.
absl::Status CommitTempFile(const std::filesystem::path& temp, const std::filesystem::path& path);

// fsyncs a directory, making the entries created or renamed in it durable.
absl::Status SyncDirectory(const std::filesystem::path& dir);

// A temporary name beside `path` that no other writer uses.
std::filesystem::path TempPathFor(const std::filesystem::path& path);

}  // namespace cwb
