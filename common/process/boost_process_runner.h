// ProcessRunner on Boost.Process: one child per Run, its stdout and stderr on one pipe read in
// bounded chunks. Thread-safe: Run may be called from several threads at once.
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
  Clock& clock_;
  const size_t max_line_bytes_;
};

}  // namespace cwb
