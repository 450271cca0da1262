#include "agent/watchdog.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/attempt_cgroup.h"
#include "agent/host_runtime.h"

namespace cwb {
namespace {

namespace fs = std::filesystem;

// How long before `now` the file was last written; nullopt when it is gone.
std::optional<std::chrono::seconds> Age(const fs::path& file, Clock::WallTime now) {
  std::error_code error;
  const fs::file_time_type written = fs::last_write_time(file, error);
  if (error) return std::nullopt;
  return std::chrono::duration_cast<std::chrono::seconds>(now - std::chrono::file_clock::to_sys(written));
}

// Removes the stopped build's cgroup once it has emptied; what happened, for the report.
std::string RemoveCgroup(const WatchdogOptions& options, Clock& clock) {
  absl::StatusOr<AttemptCgroup::Version> version = AttemptCgroup::Detect(options.cgroup_root);
  if (!version.ok()) return std::string(version.status().message());
  const absl::Status removed = AttemptCgroup(options.cgroup_root, *version, options.cgroup)
                                   .RemoveOnceEmpty(clock, kCgroupEmptiesWithin, kCgroupRetryEvery);
  return removed.ok() ? "removed cgroup " + options.cgroup : std::string(removed.message());
}

}  // namespace

int RunWatchdog(const WatchdogOptions& options, Clock& clock, ProcessRunner& runner, std::ostream& report) {
  std::chrono::seconds age{0};
  while (true) {
    std::optional<std::chrono::seconds> seen = Age(options.alive, clock.WallNow());
    if (!seen) return 0;  // the attempt ended; its agent removed the file
    age = *seen;
    if (age > options.stale) break;
    clock.SleepUntil(clock.SteadyNow() + options.poll, nullptr);
  }
  report << "cwb watchdog: " << options.alive.string() << " untouched for " << age.count()
         << "s (its agent is gone)";
  int code = 0;
  if (!options.host_run.empty()) {
    KillHostRun(options.host_run);
    report << "; killed host run " << options.host_run;
  } else if (!options.stop_command.empty()) {
    absl::StatusOr<ProcessExit> stopped = runner.Run({options.stop_command}, [](std::string_view) {}, nullptr);
    code = stopped.ok() && stopped->ok() ? 0 : 1;
    report << "; " << absl::StrJoin(options.stop_command, " ") << ": "
           << (!stopped.ok() ? std::string(stopped.status().message()) : stopped->Describe());
  }
  std::error_code ignored;
  for (const fs::path& dir : options.remove) {
    if (fs::remove_all(dir, ignored) > 0) report << "; removed " << dir.string();
  }
  if (!options.cgroup.empty()) report << "; " << RemoveCgroup(options, clock);
  fs::remove(options.alive, ignored);
  report << std::endl;
  return code;
}

std::vector<std::string> WatchdogArgs(const WatchdogOptions& options) {
  std::vector<std::string> args = {"watchdog", "--alive", options.alive.string(), "--stale",
                                   std::to_string(options.stale.count()), "--poll", std::to_string(options.poll.count())};
  if (!options.log.empty()) args.insert(args.end(), {"--log", options.log.string()});
  for (const fs::path& dir : options.remove) args.insert(args.end(), {"--remove", dir.string()});
  if (!options.host_run.empty()) args.insert(args.end(), {"--host-run", options.host_run});
  if (!options.cgroup.empty()) {
    args.insert(args.end(), {"--cgroup", options.cgroup, "--cgroup-root", options.cgroup_root.string()});
  }
  if (!options.stop_command.empty()) {
    args.push_back("--");
    args.insert(args.end(), options.stop_command.begin(), options.stop_command.end());
  }
  return args;
}

absl::Status SpawnDetached(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  const pid_t child = ::fork();
  if (child < 0) return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  if (child == 0) {
    // A session of its own, then a grandchild that init adopts: nothing waits for it here.
    ::setsid();
    if (::fork() != 0) ::_exit(0);
    const int null = ::open("/dev/null", O_RDWR);
    if (null >= 0) {
      ::dup2(null, 0);
      ::dup2(null, 1);
      ::dup2(null, 2);
    }
    for (int fd = 3; fd < 1024; ++fd) ::close(fd);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  return absl::OkStatus();
}

}  // namespace cwb
