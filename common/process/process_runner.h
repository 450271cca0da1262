// Runs host processes: the seam between the agent's logic and the operating system. Production
// code uses BoostProcessRunner; unit tests use a recorder that checks argv and scripts results.
// Commands are argv vectors, never shell strings.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace cwb {

class Cancellation;

using ProcessLineCallback = std::function<void(std::string_view line)>;

struct ProcessSpec {
  std::vector<std::string> argv;  // argv[0] is looked up on PATH unless it contains '/'
  std::vector<std::pair<std::string, std::string>> env;  // added to (or replacing in) the agent's
  std::filesystem::path cwd;                              // empty: the agent's
  // After cancellation: SIGTERM, then SIGKILL once this grace has passed.
  std::chrono::milliseconds kill_grace{10000};
  // Called once the process has exited, before the rest of its output is read: kills what it
  // left running outside its process group (which would otherwise hold the output open). What is
  // left in its process group gets SIGKILL regardless, as a container's processes would.
  std::function<void()> after_exit;
  // Its stderr goes to /dev/null: for commands whose stdout is data to parse (a container list),
  // where a note on stderr (Debian's docker shim announces itself there) must not read as data.
  bool discard_stderr = false;
  // Set: stderr comes through a pipe of its own and its lines go here, each whole (a stderr line
  // is never spliced into a stdout line); empty: stderr merges with stdout into Run's `on_line`.
  // Called on Run's thread, interleaved with `on_line` in order of arrival.
  ProcessLineCallback on_stderr_line;
};

struct ProcessExit {
  int exit_code = -1;  // valid when signal == 0
  int signal = 0;      // the signal that ended the process, or 0
  bool cancelled = false;

  bool ok() const { return signal == 0 && exit_code == 0 && !cancelled; }
  std::string Describe() const;  // "exit 3", "killed by signal 9"
};

class ProcessRunner {
 public:
  using LineCallback = ProcessLineCallback;

  virtual ~ProcessRunner() = default;

  // Runs spec to completion. Each line of stdout and stderr (merged, in order of arrival, split
  // by LineSplitter; stderr apart where spec.on_stderr_line is set) goes to `on_line` on the
  // calling thread. `cancel` (may be null) stops the
  // process as described on ProcessSpec. Fails with NotFound when argv[0] cannot be started.
  virtual absl::StatusOr<ProcessExit> Run(const ProcessSpec& spec, const LineCallback& on_line,
                                          Cancellation* cancel) = 0;
};

// Runs spec and returns its whole output (for short commands such as `podman image exists`).
struct CapturedRun {
  ProcessExit exit;
  std::string output;  // lines joined with '\n'
};
absl::StatusOr<CapturedRun> RunAndCapture(ProcessRunner& runner, const ProcessSpec& spec,
                                          Cancellation* cancel = nullptr);

}  // namespace cwb
