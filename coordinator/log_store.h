// Task logs on the coordinator's disk, one append-only file per task
// (<dir>/<build>/<task>.log; every attempt appends), with waiting for growth so `logs -f` and
// StreamLog follow without polling. A task's log stops growing at `max_bytes_per_task`, with one
// line saying where it was cut. Text is stored as it came (control sequences included).
// Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cwb/v1/state.pb.h"

namespace cwb {

class LogStore {
 public:
  LogStore(std::filesystem::path dir, uint64_t max_bytes_per_task)
      : dir_(std::move(dir)), max_bytes_per_task_(max_bytes_per_task) {}

  // Appends lines as "<time> [<source>] <text>\n".
  absl::Status Append(const std::string& build, const std::string& task,
                      const std::vector<v1::LogLine>& lines);
  // Up to `max_bytes` from `offset` (empty at the end).
  absl::StatusOr<std::string> Read(const std::string& build, const std::string& task,
                                   uint64_t offset, size_t max_bytes) const;
  // Waits until the log is longer than `offset`, Wake() is called, or `timeout` passes.
  void WaitForGrowth(const std::string& build, const std::string& task, uint64_t offset,
                     std::chrono::milliseconds timeout);
  // Wakes every waiter (a task ended, or the server stops).
  void Wake();

  std::filesystem::path PathOf(const std::string& build, const std::string& task) const {
    return dir_ / build / (task + ".log");
  }

 private:
  uint64_t SizeLocked(const std::string& key, const std::filesystem::path& path) const;

  const std::filesystem::path dir_;
  const uint64_t max_bytes_per_task_;
  mutable std::mutex mutex_;
  std::condition_variable grew_;
  mutable std::map<std::string, uint64_t> sizes_;
  std::set<std::string> cut_;  // logs that reached the limit
  uint64_t wake_generation_ = 0;
};

}  // namespace cwb
