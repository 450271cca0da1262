#include "client/wheelhouse_manifest.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/base/atomic_file.h"
#include "common/rpc/coverage.h"
#include "common/base/status_macros.h"
#include "common/rpc/task_proto.h"
#include "common/rpc/task_state.h"

namespace cwb {
namespace {

namespace fs = std::filesystem;

// An exclusive flock on a file beside the manifest, for the scope's lifetime.
class ManifestLock {
 public:
  static absl::StatusOr<ManifestLock> Take(const fs::path& wheelhouse) {
    const fs::path path = wheelhouse / ".cwb-results.lock";
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 || ::flock(fd, LOCK_EX) != 0) {
      const std::string error = std::strerror(errno);
      if (fd >= 0) ::close(fd);
      return absl::InternalError(absl::StrCat("cannot lock ", path.string(), ": ", error));
    }
    return ManifestLock(fd);
  }
  ManifestLock(ManifestLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  ~ManifestLock() {
    if (fd_ >= 0) ::close(fd_);  // releases the lock
  }

 private:
  explicit ManifestLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace

absl::StatusOr<v1::WheelhouseManifest> ReadWheelhouseManifest(const fs::path& wheelhouse) {
  v1::WheelhouseManifest manifest;
  std::ifstream in(wheelhouse / kWheelhouseManifest);
  if (!in) return manifest;
  std::stringstream text;
  text << in.rdbuf();
  if (absl::Status s = FromJson(text.str(), &manifest); !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat((wheelhouse / kWheelhouseManifest).string(), ": not a cwb results manifest: ", s.message()));
  }
  return manifest;
}

absl::Status RecordWheelhouseResults(const fs::path& wheelhouse,
                                     const google::protobuf::RepeatedPtrField<v1::TaskInfo>& results) {
  std::error_code error;
  fs::create_directories(wheelhouse, error);
  if (error) return absl::InternalError(absl::StrCat("cannot create ", wheelhouse.string(), ": ", error.message()));
  ASSIGN_OR_RETURN(ManifestLock lock, ManifestLock::Take(wheelhouse));
  ASSIGN_OR_RETURN(v1::WheelhouseManifest manifest, ReadWheelhouseManifest(wheelhouse));
  std::map<std::string, v1::TaskInfo> cells;  // by cell, in a stable order
  for (v1::TaskInfo& task : *manifest.mutable_tasks()) cells[CellKey(task.spec())] = std::move(task);
  for (const v1::TaskInfo& task : results) {
    if (!IsTerminal(task.state())) continue;
    v1::TaskInfo& entry = cells[CellKey(task.spec())];
    entry = task;
    entry.clear_waiting_reason();
  }
  v1::WheelhouseManifest updated;
  for (auto& [key, task] : cells) *updated.add_tasks() = std::move(task);
  return WriteFileAtomically(wheelhouse / kWheelhouseManifest, ToJson(updated) + "\n");
}

}  // namespace cwb
