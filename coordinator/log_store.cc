#include "coordinator/log_store.h"

#include <cerrno>
#include <cstring>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/base/clock.h"

namespace cwb {

uint64_t LogStore::SizeLocked(const std::string& key, const std::filesystem::path& path) const {
  auto it = sizes_.find(key);
  if (it != sizes_.end()) return it->second;
  std::error_code error;
  const uint64_t size = std::filesystem::exists(path, error) ? std::filesystem::file_size(path, error) : 0;
  sizes_[key] = size;
  return size;
}

absl::Status LogStore::Append(const std::string& build, const std::string& task,
                              const std::vector<v1::LogLine>& lines) {
  std::string text;
  for (const v1::LogLine& line : lines) {
    absl::StrAppend(&text,
                    FormatTimestamp(Clock::WallTime(std::chrono::milliseconds(line.time_ms()))),
                    " [", line.source(), "] ", line.text(), "\n");
  }
  const std::filesystem::path path = PathOf(build, task);
  const std::string key = absl::StrCat(build, "/", task);
  {
    std::lock_guard lock(mutex_);
    if (cut_.count(key)) return absl::OkStatus();
    const uint64_t size = SizeLocked(key, path);
    if (size + text.size() > max_bytes_per_task_) {
      cut_.insert(key);
      text = absl::StrCat(
          FormatTimestamp(Clock::WallTime(std::chrono::milliseconds(
              lines.empty() ? 0 : lines.back().time_ms()))),
          " [cwb] log cut here: it reached the limit of ", max_bytes_per_task_, " bytes\n");
    }
    std::error_code error;
    std::filesystem::create_directories(path.parent_path(), error);
    std::ofstream out(path, std::ios::app | std::ios::binary);
    out << text;
    out.flush();
    if (!out) {
      return absl::ResourceExhaustedError(
          absl::StrCat("cannot append to ", path.string(), ": ", std::strerror(errno)));
    }
    sizes_[key] = size + text.size();
  }
  grew_.notify_all();
  return absl::OkStatus();
}

absl::StatusOr<std::string> LogStore::Read(const std::string& build, const std::string& task,
                                           uint64_t offset, size_t max_bytes) const {
  std::ifstream in(PathOf(build, task), std::ios::binary);
  if (!in) return std::string();
  in.seekg(static_cast<std::streamoff>(offset));
  std::string data(max_bytes, '\0');
  in.read(data.data(), static_cast<std::streamsize>(max_bytes));
  data.resize(static_cast<size_t>(in.gcount()));
  return data;
}

void LogStore::WaitForGrowth(const std::string& build, const std::string& task, uint64_t offset,
                             std::chrono::milliseconds timeout) {
  const std::string key = absl::StrCat(build, "/", task);
  const std::filesystem::path path = PathOf(build, task);
  std::unique_lock lock(mutex_);
  const uint64_t generation = wake_generation_;
  grew_.wait_for(lock, timeout, [&] {
    return SizeLocked(key, path) > offset || wake_generation_ != generation;
  });
}

void LogStore::Wake() {
  {
    std::lock_guard lock(mutex_);
    ++wake_generation_;
  }
  grew_.notify_all();
}

}  // namespace cwb
