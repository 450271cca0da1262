// Files that appear only complete: written to a temporary name in the same directory, fsynced,
// renamed over the target, and the directory fsynced. A crash leaves either the old file or the
// new one, plus at worst a stray "*.cwb-tmp-*" file that never has the final name.
#pragma once

#include <filesystem>
#include <memory>
#include <string_view>

#include "absl/status/statusor.h"

namespace cwb {

// Writes `contents` to `path` atomically, creating parent directories.
absl::Status WriteFileAtomically(const std::filesystem::path& path, std::string_view contents);

// Makes `temp` (already written and closed) durable and renames it to `path`; fsyncs the
// directory. On failure `temp` is removed.
absl::Status CommitTempFile(const std::filesystem::path& temp, const std::filesystem::path& path);

// fsyncs a directory, making the entries created or renamed in it durable.
absl::Status SyncDirectory(const std::filesystem::path& dir);

// A large file written in chunks under a temporary name beside its final path, and made durable
// and renamed into place by Commit. Writeback of each few MiB starts as soon as they are written
// (and waits for the few before), so the disk works while the data still arrives, Commit's fsync
// has little left to do, and dirty memory stays bounded: a wheel lands at about the disk's own
// speed. The temporary file is removed unless committed. Not thread-safe.
class TempFileWriter {
 public:
  static absl::StatusOr<std::unique_ptr<TempFileWriter>> Create(const std::filesystem::path& path);
  ~TempFileWriter();
  TempFileWriter(const TempFileWriter&) = delete;
  TempFileWriter& operator=(const TempFileWriter&) = delete;

  // ResourceExhausted when the disk is full.
  absl::Status Write(std::string_view data);
  // fsync, rename to the final path, fsync the directory.
  absl::Status Commit();
  uint64_t size() const { return written_; }

 private:
  TempFileWriter(std::filesystem::path temp, std::filesystem::path path, int fd)
      : temp_(std::move(temp)), path_(std::move(path)), fd_(fd) {}

  const std::filesystem::path temp_, path_;
  int fd_;
  uint64_t written_ = 0;
  uint64_t flushed_ = 0;  // writeback started up to here
  bool committed_ = false;
};

// A temporary name beside `path` that no other writer uses.
std::filesystem::path TempPathFor(const std::filesystem::path& path);

}  // namespace cwb
