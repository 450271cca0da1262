// Finds why a step failed in its output, so a failure says "fatal error: torch/extension.h: No
// such file or directory" and not only "the build command exited with status 1". Fed every log
// line of an attempt; keeps the first few lines that look like a cause, per step (the image
// build, the build, the smoke test), in two ranks: specific ones (a compiler's or nvcc's
// "file:line: error:", the linker's "undefined reference", a Python exception, setuptools'
// "configuration error:", apt's "E:") before generic ones (pip's "ERROR:", "error:", an
// engine's "Error:"). Memory is bounded: a few short lines per step, whatever the log's size.
// Not thread-safe (LogSink calls it under its lock).
#pragma once

#include <array>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace cwb {

class FailureCauseFinder {
 public:
  static constexpr size_t kLinesKept = 3;      // per step and rank
  static constexpr size_t kMaxLineChars = 240;
  static constexpr size_t kMaxCauseChars = 600;

  // A line of the log from `source` ("build", "build:err", "image", "test:err", ...). Lines of
  // cwb's own and of git are not causes (their failures say what happened themselves).
  void Add(std::string_view source, std::string_view text);

  // The cause of the failure of `step` ("image", "build" or "test"): the lines of its best rank,
  // joined with " | ", at most kMaxCauseChars; empty when nothing looked like one.
  std::string Cause(std::string_view step) const;

 private:
  struct Candidates {
    std::array<std::vector<std::string>, 2> by_rank;  // 0: specific, 1: generic
  };
  std::map<std::string, Candidates, std::less<>> steps_;
};

// The first `n` bytes of `text`, shortened to end on a whole UTF-8 character, with "..." when cut.
std::string Shorten(std::string_view text, size_t n);

// `message` followed by ": <cause>" when there is one.
std::string WithCause(std::string message, const std::string& cause);

}  // namespace cwb
