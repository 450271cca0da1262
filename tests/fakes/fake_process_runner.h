// A ProcessRunner that records every spec and answers from a script instead of starting
// processes. A scripted answer matches by argv prefix; unmatched commands exit 0 silently.
// A "blocking" answer waits until the run's cancellation fires (no sleeping).
#pragma once

#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "common/process/process_runner.h"
#include "common/base/cancellation.h"
#include "tests/fakes/rendezvous.h"

namespace cwb::testing {

class FakeProcessRunner final : public ProcessRunner {
 public:
  struct Answer {
    std::vector<std::string> argv_prefix;
    std::vector<std::string> output;
    int exit_code = 0;
    bool block_until_cancelled = false;
    int times = -1;  // how many runs it answers; -1: every
  };

  void Script(Answer answer) {
    std::lock_guard lock(mutex_);
    answers_.push_back(std::move(answer));
  }

  absl::StatusOr<ProcessExit> Run(const ProcessSpec& spec, const LineCallback& on_line,
                                  Cancellation* cancel) override {
    Answer answer;
    {
      std::lock_guard lock(mutex_);
      specs_.push_back(spec);
      calls_cv_.notify_all();
      for (Answer& candidate : answers_) {
        if (candidate.times == 0) continue;
        if (spec.argv.size() < candidate.argv_prefix.size() ||
            !std::equal(candidate.argv_prefix.begin(), candidate.argv_prefix.end(),
                        spec.argv.begin())) {
          continue;
        }
        if (candidate.times > 0) --candidate.times;
        answer = candidate;
        break;
      }
    }
    for (const std::string& line : answer.output) on_line(line);
    ProcessExit exit;
    exit.exit_code = answer.exit_code;
    if (answer.block_until_cancelled && cancel != nullptr) {
      cancel->Wait();
      exit.exit_code = 143;
      exit.cancelled = true;
    }
    return exit;
  }

  std::vector<ProcessSpec> specs() const {
    std::lock_guard lock(mutex_);
    return specs_;
  }
  // Each recorded argv joined by spaces, for readable expectations.
  std::vector<std::string> Commands() const {
    std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    for (const ProcessSpec& spec : specs_) out.push_back(absl::StrJoin(spec.argv, " "));
    return out;
  }
  // Blocks until a command starting with `prefix` has been run (a rendezvous, not a sleep);
  // false if none is within kRendezvousLimit.
  [[nodiscard]] bool WaitForCommand(const std::string& prefix) {
    std::unique_lock lock(mutex_);
    return calls_cv_.wait_for(lock, kRendezvousLimit, [&] {
      for (const ProcessSpec& spec : specs_) {
        if (absl::StrJoin(spec.argv, " ").starts_with(prefix)) return true;
      }
      return false;
    });
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable calls_cv_;
  std::vector<Answer> answers_;
  std::vector<ProcessSpec> specs_;
};

}  // namespace cwb::testing
