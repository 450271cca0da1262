// Task logs on the coordinator's disk, one append-only file per task
// (<dir>/<build>/<task>.log; every attempt appends), with waiting for growth so `logs -f` and
// StreamLog follow without polling. Each attempt may write `max_bytes_per_attempt`: the first half
// goes into the log as it comes; past it the attempt's latest lines are kept in two tail files
// used in turn (<task>.log.tail0/1, each up to a quarter of the limit), and when the attempt ends
// (or the next one starts) a line saying how much was left out is appended, then those tail
// lines: a long build's log keeps its beginning and its end, where the error usually is. Text is
// stored as it came (control sequences included). Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cwb/v1/state.pb.h"

namespace cwb {

class LogStore {
 public:
  LogStore(std::filesystem::path dir, uint64_t max_bytes_per_attempt)
      : dir_(std::move(dir)), max_bytes_per_attempt_(max_bytes_per_attempt) {}

  // Appends an attempt's lines as "<time> [<source>] <text>\n". Lines of another attempt than
  // the last one of the task first end the earlier one's log (its tail goes in).
  absl::Status Append(const std::string& build, const std::string& task, const std::string& attempt,
                      const std::vector<v1::LogLine>& lines);
  // The attempt ended: its tail, if it had one, goes into the log.
  void EndAttempt(const std::string& build, const std::string& task, const std::string& attempt);
  // Up to `max_bytes` from `offset` (empty at the end).
  absl::StatusOr<std::string> Read(const std::string& build, const std::string& task,
                                   uint64_t offset, size_t max_bytes) const;
  // The most lines a tail may ask for (`cwb logs --tail`, the dashboard's `?tail=`).
  static constexpr uint64_t kMaxTailLines = 100000;

  // Where the last `lines` lines of the log begin (0 when it has no more than that); read from
  // the end backwards, so a long log costs what its tail does.
  absl::StatusOr<uint64_t> TailOffset(const std::string& build, const std::string& task, uint64_t lines) const;
  // Waits until the log is longer than `offset`, Wake() is called, or `timeout` passes.
  void WaitForGrowth(const std::string& build, const std::string& task, uint64_t offset,
                     std::chrono::milliseconds timeout);
  // Wakes every waiter (a task ended, or the server stops).
  void Wake();

  std::filesystem::path PathOf(const std::string& build, const std::string& task) const {
    return PathIn(dir_, build, task);
  }
  // Where a store kept in `dir` has the log of `task` of `build`.
  static std::filesystem::path PathIn(const std::filesystem::path& dir, const std::string& build,
                                      const std::string& task) {
    return dir / build / (task + ".log");
  }

 private:
  // What the log holds of the attempt writing it now.
  struct AttemptLog {
    std::string attempt;
    uint64_t head_bytes = 0;       // written into the log
    bool cut = false;              // past the head: lines go to the tail files
    uint64_t left_out = 0;         // bytes that fell out of the tail files
    int tail = 0;                  // the tail file written now (0 or 1)
    uint64_t tail_bytes[2] = {0, 0};
  };
  uint64_t SizeLocked(const std::string& key, const std::filesystem::path& path) const;
  // Appends `text` to the log (under mutex_).
  absl::Status WriteLocked(const std::string& key, const std::filesystem::path& path, const std::string& text);
  // Puts the attempt's tail into the log and removes the tail files (under mutex_).
  void EndLocked(const std::string& key, const std::filesystem::path& path, AttemptLog& log);
  std::filesystem::path TailPath(const std::filesystem::path& path, int index) const;

  const std::filesystem::path dir_;
  const uint64_t max_bytes_per_attempt_;
  mutable std::mutex mutex_;
  std::condition_variable grew_;
  mutable std::map<std::string, uint64_t> sizes_;
  std::map<std::string, AttemptLog> attempts_;  // by build/task
  uint64_t wake_generation_ = 0;
};

}  // namespace cwb
