#include "common/process/boost_process_runner.h"

#include <signal.h>
#include <fcntl.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <boost/process.hpp>
#include <boost/process/extend.hpp>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/process/line_splitter.h"
#include "common/base/cancellation.h"

namespace cwb {

namespace bp = boost::process;

std::string ProcessExit::Describe() const {
  if (signal != 0) return absl::StrCat("killed by signal ", signal);
  return absl::StrCat("exit ", exit_code);
}

absl::StatusOr<CapturedRun> RunAndCapture(ProcessRunner& runner, const ProcessSpec& spec,
                                          Cancellation* cancel) {
  std::vector<std::string> lines;
  absl::StatusOr<ProcessExit> exit =
      runner.Run(spec, [&](std::string_view line) { lines.emplace_back(line); }, cancel);
  if (!exit.ok()) return exit.status();
  return CapturedRun{*exit, absl::StrJoin(lines, "\n")};
}

absl::StatusOr<ProcessExit> BoostProcessRunner::Run(const ProcessSpec& spec,
                                                    const LineCallback& on_line,
                                                    Cancellation* cancel) {
  if (spec.argv.empty()) return absl::InvalidArgumentError("empty argv");
  boost::filesystem::path exe = spec.argv[0];
  if (spec.argv[0].find('/') == std::string::npos) {
    exe = bp::search_path(spec.argv[0]);
    if (exe.empty()) {
      return absl::NotFoundError(absl::StrCat("'", spec.argv[0], "' was not found on PATH"));
    }
  }
  bp::environment env = boost::this_process::environment();
  for (const auto& [name, value] : spec.env) env[name] = value;
  const std::vector<std::string> args(spec.argv.begin() + 1, spec.argv.end());

  // The output pipe is close-on-exec from its creation (pipe2): a process another thread starts
  // meanwhile must not inherit its write end, or this output would not end until that one's does.
  // (The child gets its own copy as stdout and stderr through dup2, which clears the flag.)
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe2: ", std::strerror(errno)));
  }
  bp::pipe pipe(fds[0], fds[1]);
  std::error_code error;
  // The child leads its own process group, so signals reach everything it started (a shell's
  // children would otherwise keep running and hold the output pipe open).
  // After the pipe is its stdout and stderr: stderr to /dev/null when asked.
  const bool discard_stderr = spec.discard_stderr;
  auto own_group = bp::extend::on_exec_setup = [discard_stderr](auto&) {
    ::setpgid(0, 0);
    if (!discard_stderr) return;
    const int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (null >= 0) ::dup2(null, STDERR_FILENO);
  };
  const std::string cwd = spec.cwd.empty() ? "." : spec.cwd.string();
  bp::child child(exe, bp::args = args, (bp::std_out & bp::std_err) > pipe,
                  bp::std_in < bp::null, env, bp::start_dir = cwd, own_group, error);
  if (error) {
    return absl::NotFoundError(absl::StrCat("cannot start ", spec.argv[0], ": ", error.message()));
  }
  bp::ipstream output(std::move(pipe));  // the write end was closed here once the child started

  // Cancellation: SIGTERM, then SIGKILL after the grace unless the process has exited. The child
  // is reaped only after `exited` fires, so its pid cannot be reused while we may signal it.
  Cancellation exited;
  std::thread killer;
  const pid_t pid = child.id();
  if (cancel != nullptr) {
    killer = std::thread([&, pid] {
      WaitForAny(*cancel, exited);
      if (exited.cancelled()) return;
      ::kill(-pid, SIGTERM);
      if (clock_.SleepUntil(clock_.SteadyNow() + spec.kill_grace, &exited)) ::kill(-pid, SIGKILL);
    });
  }

  // The exit is noticed while the output is still being read: what the process left running
  // (its group, and what `after_exit` knows of) is killed then, so the output reaches its end.
  std::thread waiter([&, pid] {
    siginfo_t info{};
    while (::waitid(P_PID, pid, &info, WEXITED | WNOWAIT) != 0 && errno == EINTR) {
    }
    ::kill(-pid, SIGKILL);  // not reaped yet: the group id cannot have been reused
    if (spec.after_exit) spec.after_exit();
    exited.Cancel("exited");
  });

  LineSplitter splitter(max_line_bytes_, on_line);
  std::array<char, 65536> buffer;
  std::streambuf* in = output.rdbuf();
  while (in->sgetc() != std::char_traits<char>::eof()) {
    const std::streamsize n = in->sgetn(buffer.data(), std::min<std::streamsize>(
                                                           buffer.size(), in->in_avail()));
    if (n <= 0) break;
    splitter.Feed(std::string_view(buffer.data(), static_cast<size_t>(n)));
  }
  splitter.Finish();
  // The waiter has seen the exit (without reaping); stop the killer, then reap.
  waiter.join();
  if (killer.joinable()) killer.join();
  child.wait(error);

  ProcessExit result;
  const int status = child.native_exit_code();
  if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
  } else {
    result.exit_code = WEXITSTATUS(status);
  }
  result.cancelled = cancel != nullptr && cancel->cancelled();
  return result;
}

}  // namespace cwb
