// The coordinator's wheel store. An upload streams into a temporary file under
// <root>/uploads/<attempt>/ (a StreamingFile: hashed and written while the next chunk arrives),
// its size bounded; only when the sha256 matches is it fsynced and renamed to its name, so a
// partial or corrupt upload is never visible. A BUILD attempt's files are held (held/<attempt>/)
// until the smoke test passes. When the attempt succeeds the files move (rename) into the build's wheelhouse:
//   <root>/builds/<build>/wheelhouse/py<VER>/cuda<VER>/<platform>/<wheel>
// Thread-safe: uploads are independent.
#pragma once

#include <filesystem>
#include <memory>
#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "common/base/streaming_file.h"

namespace cwb {

class ArtifactUpload {
 public:
  // Appends a chunk; fails (and the upload is dead) past the declared size or the store's limit,
  // or when the disk fails.
  absl::Status Write(std::string data);
  // Verifies size and digest, then makes the file durable under its final name.
  absl::StatusOr<std::filesystem::path> Commit(const std::string& expected_sha256);
  uint64_t size() const { return written_; }

 private:
  friend class ArtifactStore;
  ArtifactUpload(std::unique_ptr<StreamingFile> file, std::filesystem::path final_path,
                 uint64_t declared_size, uint64_t limit)
      : file_(std::move(file)), final_(std::move(final_path)), declared_size_(declared_size), limit_(limit) {}

  std::unique_ptr<StreamingFile> file_;  // null once closed; removes its file unless committed
  std::filesystem::path final_;
  uint64_t declared_size_, limit_;
  uint64_t written_ = 0;  // bytes accepted
};

class ArtifactStore {
 public:
  ArtifactStore(std::filesystem::path root, uint64_t max_upload_bytes)
      : root_(std::move(root)), max_upload_bytes_(max_upload_bytes) {}

  // Starts an upload of `filename` (already validated as a wheel name) for an attempt.
  absl::StatusOr<std::unique_ptr<ArtifactUpload>> BeginUpload(const std::string& attempt_id,
                                                              const std::string& filename,
                                                              uint64_t declared_size);
  // Moves a committed upload into the build's wheelhouse at `relative` (wheelhouse/...). A
  // different wheel already there is never replaced: AlreadyExists (two variants built wheels of
  // the same name); the same bytes again are fine.
  absl::StatusOr<std::filesystem::path> Publish(const std::filesystem::path& uploaded,
                                                const std::string& build_id,
                                                const std::filesystem::path& relative);
  // Gives build `to` the wheel build `from` has at `relative` (a hard link; a copy across
  // filesystems). The same bytes already there are fine; different ones are AlreadyExists. The
  // new directory entries are durable once SyncDirectories has run on what `synced` collects.
  absl::Status Share(const std::string& from, const std::filesystem::path& relative,
                     const std::string& to, std::set<std::filesystem::path>* synced);
  absl::Status SyncDirectories(const std::set<std::filesystem::path>& dirs);
  std::filesystem::path BuildDir(const std::string& build_id) const { return root_ / "builds" / build_id; }
  void DiscardUploads(const std::string& attempt_id);

  // Held wheels: a BUILD attempt's uploads kept, unpublished, until the task's smoke test passes
  // (then Publish moves them into the wheelhouse), under <root>/held/<attempt>/<wheel>.
  // Hold moves a committed upload there (durably: its directory is synced).
  absl::StatusOr<std::filesystem::path> Hold(const std::filesystem::path& uploaded, const std::string& attempt_id,
                                             const std::string& filename);
  std::filesystem::path HeldPath(const std::string& attempt_id, const std::string& filename) const {
    return root_ / "held" / attempt_id / filename;
  }
  std::filesystem::path HeldRoot() const { return root_ / "held"; }
  void DiscardHeld(const std::string& attempt_id);

 private:
  const std::filesystem::path root_;
  const uint64_t max_upload_bytes_;
};

}  // namespace cwb
