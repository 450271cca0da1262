// The cgroup one attempt's build runs in, below the agent's own (`/cwb/<agent>`). Every process of
// the build runs inside it (a container through the engine's --cgroup-parent, a host run by joining
// it before exec), so once the build has ended it tells the peak memory of the whole process tree
// (not ru_maxrss, which sees one process of many parallel nvcc), its CPU time, and whether the
// kernel's OOM killer struck inside it. Its memory limit (the agent's memory) holds the whole tree.
// cgroup v1 (the memory and cpuacct hierarchies, as on Debian 12 hosts) and v2 (unified, as on
// Ubuntu 24.04). Peaks count the page cache the build touched, as the kernel does. Cheap to copy.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/base/clock.h"

namespace cwb {

struct ResourceUse {
  uint64_t peak_memory_bytes = 0;
  uint64_t cpu_time_ns = 0;
  uint64_t oom_kills = 0;   // processes the OOM killer ended inside the cgroup (as the kernel counts them here)
  uint64_t limit_hits = 0;  // times its memory reached the limit (v1 memory.failcnt, v2 memory.events max)
};

// Whether a build that ended with `exit_code` under `limit_bytes` (0: none) ran out of memory: the
// OOM killer counted a kill in its cgroup, or it was SIGKILLed (137) after its memory reached the
// limit (cgroup v1 counts kills and failures in the victim's own cgroup, which the engine has
// removed by then; some kernels count neither).
bool RanOutOfMemory(const ResourceUse& use, int exit_code, uint64_t limit_bytes);

// "1.23 GiB", for memory in messages.
std::string FormatGiB(uint64_t bytes);
// "1.23 GiB of memory at most, 3m10s of CPU time".
std::string DescribeUse(const ResourceUse& use);

class AttemptCgroup {
 public:
  enum class Version { kV1, kV2 };

  // Which cgroup version is mounted at `fs_root` (/sys/fs/cgroup); NotFound when neither is (or
  // v1 without its memory and cpuacct hierarchies).
  static absl::StatusOr<Version> Detect(const std::filesystem::path& fs_root);

  // `path`: the cgroup below the hierarchies' roots, "/cwb/<agent>/<attempt>" (what an engine's
  // --cgroup-parent takes).
  AttemptCgroup(std::filesystem::path fs_root, Version version, std::string path)
      : fs_root_(std::move(fs_root)), version_(version), path_(std::move(path)) {}

  const std::string& path() const { return path_; }
  const std::filesystem::path& fs_root() const { return fs_root_; }
  Version version() const { return version_; }

  // Makes it (and the cgroups above it) in every hierarchy it is read from, with the memory
  // controller enabled on the way down (v2) and `memory_limit_bytes` (0: none) as the limit of
  // its tree, swap included where the kernel accounts swap. Fails naming the file it could not
  // write (no permission: an agent not run as root, or a read-only cgroupfs).
  absl::Status Create(uint64_t memory_limit_bytes) const;
  // The cgroup.procs files a process writes its pid into to join it (one per hierarchy).
  std::vector<std::filesystem::path> JoinFiles() const;

  // What the processes below it used, read from the kernel's counters (v1: memory.max_usage_in_bytes,
  // cpuacct.usage, memory.oom_control; v2: memory.peak, cpu.stat, memory.events).
  absl::StatusOr<ResourceUse> Read() const;
  // Removes it, and whatever the engine left below it, in every hierarchy; a cgroup that is not
  // there is fine. Fails while a process still runs in it.
  absl::Status Remove() const;
  // Remove(), tried again every `every` on `clock` while it fails, for up to `within`: the build's
  // processes (and the engine's monitor, which may outlive its container by a moment) exit first.
  absl::Status RemoveOnceEmpty(Clock& clock, std::chrono::milliseconds within, std::chrono::milliseconds every) const;

 private:
  // Where the cgroup is in the hierarchy of `controller` (v1), or in the unified one (v2).
  std::filesystem::path Dir(const std::string& controller) const;

  std::filesystem::path fs_root_;
  Version version_;
  std::string path_;
};

// Makes the agent's own cgroup `path` ("/cwb/<agent>") and removes the attempt cgroups an earlier
// run of it left below (it holds no attempt yet); how many it removed. Fails when the agent cannot
// make cgroups there (then builds are neither measured nor limited).
absl::StatusOr<int> PrepareAgentCgroup(const std::filesystem::path& fs_root, AttemptCgroup::Version version,
                                       const std::string& path);

}  // namespace cwb
