// Where a task's log lines go: each line is timestamped and tagged with its source, appended to
// the task's log file and handed to a live callback (the coordinator stream). Memory is bounded:
// only the last `tail_lines` lines and a few likely failure causes are kept (for failure reports), and the file stops growing at
// `max_file_bytes` with a line saying where it was cut. Thread-safe.
#pragma once

#include <cstdio>
#include <deque>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/failure_cause.h"
#include "common/base/clock.h"

namespace cwb {

struct LogLine {
  Clock::WallTime time;
  // "cwb", "git", "image", "build", "test"; a process's stderr is marked "<source>:err".
  std::string source;
  std::string text;
};

// `text` with every occurrence of each non-empty secret replaced by "***".
std::string MaskSecrets(std::string text, const std::vector<std::string>& secrets);

class LogSink {
 public:
  using Callback = std::function<void(const LogLine&)>;

  struct Options {
    size_t tail_lines = 50;
    uint64_t max_file_bytes = 256ull << 20;
    std::vector<std::string> secrets;  // each occurrence is written and passed on as "***"
  };

  // Opens (truncating) `path`. `callback` may be empty.
  static absl::StatusOr<std::unique_ptr<LogSink>> Open(const std::filesystem::path& path,
                                                       Clock& clock, Callback callback,
                                                       Options options);
  ~LogSink();

  void Write(std::string_view source, std::string_view text);
  // A callback for ProcessRunner/ContainerRuntime tagged with `source`; StderrFrom's lines are
  // tagged "<source>:err".
  std::function<void(std::string_view)> LinesFrom(std::string source);
  std::function<void(std::string_view)> StderrFrom(const std::string& source) { return LinesFrom(source + ":err"); }

  std::vector<std::string> Tail() const;
  // Why `step` ("image", "build", "test") failed, from its lines so far (FailureCauseFinder).
  std::string CauseOf(std::string_view step) const;
  const std::filesystem::path& path() const { return path_; }
  void Flush();

 private:
  LogSink(std::filesystem::path path, std::FILE* file, Clock& clock, Callback callback,
          Options options);

  const std::filesystem::path path_;
  std::FILE* file_;
  Clock& clock_;
  Callback callback_;
  const Options options_;
  mutable std::mutex mutex_;
  std::deque<std::string> tail_;
  FailureCauseFinder causes_;
  uint64_t bytes_written_ = 0;
  bool truncated_ = false;
};

}  // namespace cwb
