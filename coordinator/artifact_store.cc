#include "coordinator/artifact_store.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/base/atomic_file.h"

namespace cwb {
namespace {

absl::Status IoError(std::string_view what, const std::filesystem::path& path, int error) {
  std::string message = absl::StrCat(std::string(what), " ", path.string(), ": ", std::strerror(error));
  if (error == ENOSPC || error == EDQUOT) return absl::ResourceExhaustedError(message);
  return absl::InternalError(message);
}

}  // namespace

absl::Status ArtifactUpload::Write(std::string data) {
  if (file_ == nullptr) return absl::FailedPreconditionError("upload already closed");
  if (written_ + data.size() > declared_size_ || written_ + data.size() > limit_) {
    return absl::InvalidArgumentError(absl::StrCat(
        "upload larger than ", std::min(declared_size_, limit_), " bytes (declared ",
        declared_size_, ", limit ", limit_, ")"));
  }
  written_ += data.size();
  return file_->Add(std::move(data));
}

absl::StatusOr<std::filesystem::path> ArtifactUpload::Commit(const std::string& expected_sha256) {
  if (file_ == nullptr) return absl::FailedPreconditionError("upload already closed");
  std::unique_ptr<StreamingFile> file = std::move(file_);
  if (absl::Status s = file->Drain(); !s.ok()) return s;
  if (file->size() != declared_size_) {
    return absl::InvalidArgumentError(
        absl::StrCat("upload ended after ", file->size(), " of ", declared_size_, " bytes"));
  }
  const std::string actual = file->Sha256Hex();
  if (actual != expected_sha256) {
    return absl::InvalidArgumentError(absl::StrCat("sha256 mismatch: the upload hashes to ", actual,
                                                   ", the agent said ", expected_sha256));
  }
  if (absl::Status s = file->Commit(); !s.ok()) return s;
  return final_;
}

absl::StatusOr<std::unique_ptr<ArtifactUpload>> ArtifactStore::BeginUpload(
    const std::string& attempt_id, const std::string& filename, uint64_t declared_size) {
  if (declared_size > max_upload_bytes_) {
    return absl::InvalidArgumentError(absl::StrCat("upload of ", declared_size,
                                                   " bytes exceeds the limit of ",
                                                   max_upload_bytes_, " bytes"));
  }
  const std::filesystem::path dir = root_ / "uploads" / attempt_id;
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) return IoError("cannot create", dir, error.value());
  const std::filesystem::path final_path = dir / filename;
  absl::StatusOr<std::unique_ptr<StreamingFile>> file = StreamingFile::Create(final_path);
  if (!file.ok()) return file.status();
  return std::unique_ptr<ArtifactUpload>(
      new ArtifactUpload(*std::move(file), final_path, declared_size, max_upload_bytes_));
}

absl::StatusOr<std::filesystem::path> ArtifactStore::Publish(const std::filesystem::path& uploaded,
                                                             const std::string& build_id,
                                                             const std::filesystem::path& relative) {
  const std::filesystem::path destination = BuildDir(build_id) / relative;
  std::error_code error;
  if (std::filesystem::exists(destination, error)) {
    absl::StatusOr<std::string> existing = Sha256File(destination);
    absl::StatusOr<std::string> incoming = Sha256File(uploaded);
    if (existing.ok() && incoming.ok() && *existing == *incoming) {
      std::filesystem::remove(uploaded, error);
      return destination;
    }
    return absl::AlreadyExistsError(absl::StrCat(
        relative.string(), " already holds a different wheel of this build: two variants built "
        "wheels with the same name (give them distinct versions, e.g. a local version label "
        "such as +cu121torch2.4)"));
  }
  std::filesystem::create_directories(destination.parent_path(), error);
  if (error) return IoError("cannot create", destination.parent_path(), error.value());
  if (absl::Status s = CommitTempFile(uploaded, destination); !s.ok()) return s;
  return destination;
}

absl::Status ArtifactStore::Share(const std::string& from, const std::filesystem::path& relative,
                                  const std::string& to, std::set<std::filesystem::path>* synced) {
  const std::filesystem::path source = BuildDir(from) / relative;
  const std::filesystem::path destination = BuildDir(to) / relative;
  std::error_code error;
  if (!std::filesystem::is_regular_file(source, error)) {
    return absl::NotFoundError(absl::StrCat(source.string(), " is gone"));
  }
  std::filesystem::create_directories(destination.parent_path(), error);
  if (error) return IoError("cannot create", destination.parent_path(), error.value());
  if (::link(source.c_str(), destination.c_str()) != 0) {
    const int link_error = errno;
    if (link_error == EEXIST) {
      absl::StatusOr<std::string> existing = Sha256File(destination);
      absl::StatusOr<std::string> wanted = Sha256File(source);
      if (existing.ok() && wanted.ok() && *existing == *wanted) return absl::OkStatus();
      return absl::AlreadyExistsError(absl::StrCat(relative.string(), " already holds a different wheel"));
    }
    if (link_error != EXDEV && link_error != EPERM && link_error != EMLINK) {
      return IoError("cannot link", destination, link_error);
    }
    const std::filesystem::path temp = TempPathFor(destination);
    std::filesystem::copy_file(source, temp, error);
    if (error) return IoError("cannot copy to", temp, error.value());
    if (absl::Status s = CommitTempFile(temp, destination); !s.ok()) return s;
  }
  synced->insert(destination.parent_path());
  return absl::OkStatus();
}

absl::Status ArtifactStore::SyncDirectories(const std::set<std::filesystem::path>& dirs) {
  for (const std::filesystem::path& dir : dirs) {
    if (absl::Status s = SyncDirectory(dir); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::filesystem::path> ArtifactStore::Hold(const std::filesystem::path& uploaded,
                                                          const std::string& attempt_id, const std::string& filename) {
  const std::filesystem::path destination = HeldPath(attempt_id, filename);
  std::error_code error;
  std::filesystem::create_directories(destination.parent_path(), error);
  if (error) return IoError("cannot create", destination.parent_path(), error.value());
  if (absl::Status s = CommitTempFile(uploaded, destination); !s.ok()) return s;
  return destination;
}

void ArtifactStore::DiscardHeld(const std::string& attempt_id) {
  std::error_code ignored;
  if (!attempt_id.empty()) std::filesystem::remove_all(root_ / "held" / attempt_id, ignored);
}

void ArtifactStore::DiscardUploads(const std::string& attempt_id) {
  std::error_code ignored;
  std::filesystem::remove_all(root_ / "uploads" / attempt_id, ignored);
}

}  // namespace cwb
