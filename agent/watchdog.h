// The watchdog of one attempt: a process of its own, outside the agent's process group, started
// when the attempt's build starts, so that a build whose agent died (SIGKILL, a crash, the machine's
// OOM killer) does not build on to its end beside the attempt that replaced it. The agent touches
// the attempt's alive file every few seconds and removes it when the attempt ends; the watchdog
// looks at it every `poll`: gone, it exits; older than `stale`, it stops the build (the engine's
// remove command for a container, or a kill of every process of a host-runtime run), removes the
// attempt's workspace and, once its processes have exited, its cgroup, and exits.
#pragma once

#include <chrono>
#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/base/clock.h"
#include "common/process/process_runner.h"

namespace cwb {

// How often the agent touches an attempt's alive file, and how old the file may grow before the
// watchdog stops the build: a dead agent's build stops within stale + poll (+ the stop itself).
inline constexpr std::chrono::seconds kAliveTouchEvery{5};
inline constexpr std::chrono::seconds kAliveStaleAfter{20};
// How long the watchdog waits for a stopped build's cgroup to empty (its processes to exit, the
// engine's monitor too) before it reports the cgroup as left behind; it retries every
// kCgroupRetryEvery.
inline constexpr std::chrono::seconds kCgroupEmptiesWithin{10};
inline constexpr std::chrono::milliseconds kCgroupRetryEvery{200};

struct WatchdogOptions {
  std::filesystem::path alive;                // the attempt's alive file
  std::chrono::seconds stale = kAliveStaleAfter;
  std::chrono::seconds poll{2};
  std::vector<std::string> stop_command;      // run to stop a container (its engine's rm --force)
  std::string host_run;                       // or: the host-runtime run whose processes to kill
  std::vector<std::filesystem::path> remove;  // the attempt's workspace and artifacts
  // The attempt's cgroup ("/cwb/<agent>/<attempt>" below `cgroup_root`), removed once what ran in
  // it has exited (within kCgroupEmptiesWithin); "" when its build has none.
  std::string cgroup;
  std::filesystem::path cgroup_root = "/sys/fs/cgroup";
  std::filesystem::path log;                  // where the command reports what it stopped
};

// Watches until the alive file is gone (0) or stale (the build stopped, 0; 1 when the stop
// command failed). The file's age is measured on `clock`'s wall time, and the waits are on it;
// what it stopped and removed is reported on `report`.
int RunWatchdog(const WatchdogOptions& options, Clock& clock, ProcessRunner& runner, std::ostream& report);

// The arguments of `<binary> watchdog` that RunWatchdog reads back (ParseWatchdogArgs).
std::vector<std::string> WatchdogArgs(const WatchdogOptions& options);

// Starts `argv` as a process of its own session, not a child of this one (it outlives the
// caller, and no signal to the caller's process group reaches it).
absl::Status SpawnDetached(const std::vector<std::string>& argv);

}  // namespace cwb
