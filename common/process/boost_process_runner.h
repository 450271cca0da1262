// ProcessRunner on Boost.Process: one child per Run, its stdout and stderr on one pipe (or on two,
// polled together, where the spec wants stderr's lines apart) read in bounded chunks. Thread-safe: Run may be called from several threads at once.
#pragma once

#include "common/process/process_runner.h"
#include "common/base/clock.h"

namespace cwb {

class BoostProcessRunner final : public ProcessRunner {
 public:
  // Lines longer than max_line_bytes are delivered in pieces.
  explicit BoostProcessRunner(Clock& clock = SystemClock::Get(), size_t max_line_bytes = 16384)
      : clock_(clock), max_line_bytes_(max_line_bytes) {}

  absl::StatusOr<ProcessExit> Run(const ProcessSpec& spec, const LineCallback& on_line,
                                  Cancellation* cancel) override;

 private:
  // Reads `out_fd` (and `err_fd` unless it is -1) to their ends, closing them, lines to the
  // callbacks (stderr's to `on_stderr_line`, or to `on_line` where that is empty).
  void ReadLines(int out_fd, int err_fd, const LineCallback& on_line, const LineCallback& on_stderr_line) const;

  Clock& clock_;
  const size_t max_line_bytes_;
};

}  // namespace cwb
