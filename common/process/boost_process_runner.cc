#include "common/process/boost_process_runner.h"

#include <signal.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>
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

void BoostProcessRunner::ReadLines(int out_fd, int err_fd, const LineCallback& on_line,
                                   const LineCallback& on_stderr_line) const {
  LineSplitter out_lines(max_line_bytes_, on_line);
  LineSplitter err_lines(max_line_bytes_, on_stderr_line ? on_stderr_line : on_line);
  std::array<pollfd, 2> fds = {pollfd{out_fd, POLLIN, 0}, pollfd{err_fd, POLLIN, 0}};
  std::array<LineSplitter*, 2> splitters = {&out_lines, &err_lines};
  std::array<char, 65536> buffer;
  int open_fds = err_fd >= 0 ? 2 : 1;
  while (open_fds > 0) {
    if (::poll(fds.data(), static_cast<nfds_t>(fds.size()), -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      const ssize_t n = ::read(fds[i].fd, buffer.data(), buffer.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {  // end of this stream (or an error reading it)
        ::close(fds[i].fd);
        fds[i].fd = -1;  // poll ignores negative descriptors
        --open_fds;
        continue;
      }
      splitters[i]->Feed(std::string_view(buffer.data(), static_cast<size_t>(n)));
    }
  }
  for (pollfd& fd : fds) {
    if (fd.fd >= 0) ::close(fd.fd);
  }
  out_lines.Finish();
  err_lines.Finish();
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

  // The output pipes are close-on-exec from their creation (pipe2): a process another thread
  // starts meanwhile must not inherit a write end, or this output would not end until that one's
  // does. (The child gets its own copies as stdout and stderr through dup2, which clears the flag.)
  // stderr shares stdout's pipe unless the caller wants its lines apart.
  const bool split_stderr = static_cast<bool>(spec.on_stderr_line) && !spec.discard_stderr;
  int out_fds[2];
  int err_fds[2] = {-1, -1};
  if (::pipe2(out_fds, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe2: ", std::strerror(errno)));
  }
  if (split_stderr && ::pipe2(err_fds, O_CLOEXEC) != 0) {
    ::close(out_fds[0]);
    ::close(out_fds[1]);
    return absl::InternalError(absl::StrCat("pipe2: ", std::strerror(errno)));
  }
  std::error_code error;
  // The child leads its own process group, so signals reach everything it started (a shell's
  // children would otherwise keep running and hold the output pipe open). Its stdout and stderr
  // are set here, after fork: the output pipe, stderr's own pipe or /dev/null as asked.
  const bool discard_stderr = spec.discard_stderr;
  const int out_write = out_fds[1], err_write = err_fds[1];
  auto setup = bp::extend::on_exec_setup = [=](auto&) {
    ::setpgid(0, 0);
    ::dup2(out_write, STDOUT_FILENO);
    if (discard_stderr) {
      const int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
      if (null >= 0) ::dup2(null, STDERR_FILENO);
    } else {
      ::dup2(err_write >= 0 ? err_write : out_write, STDERR_FILENO);
    }
  };
  const std::string cwd = spec.cwd.empty() ? "." : spec.cwd.string();
  bp::child child(exe, bp::args = args, bp::std_in < bp::null, env, bp::start_dir = cwd, setup, error);
  ::close(out_fds[1]);  // the child has its copies: the reads end when it (and its own) exit
  if (split_stderr) ::close(err_fds[1]);
  if (error) {
    ::close(out_fds[0]);
    if (split_stderr) ::close(err_fds[0]);
    return absl::NotFoundError(absl::StrCat("cannot start ", spec.argv[0], ": ", error.message()));
  }

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

  ReadLines(out_fds[0], split_stderr ? err_fds[0] : -1, on_line, spec.on_stderr_line);
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
