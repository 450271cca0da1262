#include "common/base/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace cwb {
namespace {

// TempFileWriter starts writeback every this many bytes.
constexpr uint64_t kWritebackWindow = 8ull << 20;

absl::Status Errno(std::string_view what, const std::filesystem::path& path) {
  const int error = errno;
  std::string message = absl::StrCat(std::string(what), " ", path.string(), ": ", std::strerror(error));
  if (error == ENOSPC || error == EDQUOT) return absl::ResourceExhaustedError(message);
  return absl::InternalError(message);
}

absl::Status SyncFile(const std::filesystem::path& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return Errno("cannot open", path);
  const bool ok = ::fsync(fd) == 0;
  absl::Status status = ok ? absl::OkStatus() : Errno("cannot fsync", path);
  ::close(fd);
  return status;
}

}  // namespace

std::filesystem::path TempPathFor(const std::filesystem::path& path) {
  static std::atomic<unsigned> counter{0};
  return path.parent_path() /
         absl::StrCat(".", path.filename().string(), ".cwb-tmp-", ::getpid(), "-", counter++);
}

absl::Status CommitTempFile(const std::filesystem::path& temp, const std::filesystem::path& path) {
  absl::Status status = SyncFile(temp, O_RDONLY);
  if (status.ok() && ::rename(temp.c_str(), path.c_str()) != 0) status = Errno("cannot rename to", path);
  if (!status.ok()) {
    std::error_code ignored;
    std::filesystem::remove(temp, ignored);
    return status;
  }
  return SyncDirectory(path.parent_path().empty() ? "." : path.parent_path());
}

absl::Status SyncDirectory(const std::filesystem::path& dir) { return SyncFile(dir, O_RDONLY | O_DIRECTORY); }

absl::StatusOr<std::unique_ptr<TempFileWriter>> TempFileWriter::Create(const std::filesystem::path& path) {
  const std::filesystem::path temp = TempPathFor(path);
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("cannot create", temp);
  return std::unique_ptr<TempFileWriter>(new TempFileWriter(temp, path, fd));
}

TempFileWriter::~TempFileWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) {
    std::error_code ignored;
    std::filesystem::remove(temp_, ignored);
  }
}

absl::Status TempFileWriter::Write(std::string_view data) {
  if (fd_ < 0) return absl::FailedPreconditionError(absl::StrCat(temp_.string(), " is already closed"));
  for (size_t done = 0; done < data.size();) {
    const ssize_t n = ::write(fd_, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("cannot write", temp_);
    }
    done += static_cast<size_t>(n);
  }
  written_ += data.size();
  if (written_ - flushed_ >= kWritebackWindow) {
    // Start writing this window back without waiting for it.
    ::sync_file_range(fd_, static_cast<off_t>(flushed_), static_cast<off_t>(written_ - flushed_),
                      SYNC_FILE_RANGE_WRITE);
    flushed_ = written_;
  }
  return absl::OkStatus();
}

absl::Status TempFileWriter::Commit() {
  if (fd_ < 0) return absl::FailedPreconditionError(absl::StrCat(temp_.string(), " is already closed"));
  absl::Status status = ::fsync(fd_) == 0 ? absl::OkStatus() : Errno("cannot fsync", temp_);
  if (::close(fd_) != 0 && status.ok()) status = Errno("cannot close", temp_);
  fd_ = -1;
  if (status.ok() && ::rename(temp_.c_str(), path_.c_str()) != 0) status = Errno("cannot rename to", path_);
  if (!status.ok()) return status;
  committed_ = true;
  return SyncDirectory(path_.parent_path().empty() ? "." : path_.parent_path());
}

absl::Status WriteFileAtomically(const std::filesystem::path& path, std::string_view contents) {
  std::error_code error;
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), error);
  if (error) {
    return absl::InternalError(
        absl::StrCat("cannot create ", path.parent_path().string(), ": ", error.message()));
  }
  const std::filesystem::path temp = TempPathFor(path);
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("cannot create", temp);
  size_t written = 0;
  while (written < contents.size()) {
    const ssize_t n = ::write(fd, contents.data() + written, contents.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      absl::Status status = Errno("cannot write", temp);
      ::close(fd);
      std::filesystem::remove(temp, error);
      return status;
    }
    written += static_cast<size_t>(n);
  }
  if (::close(fd) != 0) {
    absl::Status status = Errno("cannot close", temp);
    std::filesystem::remove(temp, error);
    return status;
  }
  return CommitTempFile(temp, path);
}

}  // namespace cwb
