#include "agent/attempt_cgroup.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace cwb {
namespace {

namespace fs = std::filesystem;

absl::StatusOr<std::string> ReadSmallFile(const fs::path& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path.string()));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

absl::StatusOr<uint64_t> ReadNumber(const fs::path& path) {
  absl::StatusOr<std::string> text = ReadSmallFile(path);
  if (!text.ok()) return text.status();
  uint64_t value = 0;
  std::string trimmed = *text;
  while (!trimmed.empty() && (trimmed.back() == '\n' || trimmed.back() == ' ')) trimmed.pop_back();
  if (!absl::SimpleAtoi(trimmed, &value)) {
    return absl::DataLossError(absl::StrCat(path.string(), ": not a number: '", trimmed.substr(0, 40), "'"));
  }
  return value;
}

absl::Status WriteSmallFile(const fs::path& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  out.flush();
  if (!out) return absl::PermissionDeniedError(absl::StrCat("cannot write '", text, "' to ", path.string()));
  return absl::OkStatus();
}

// The value of `key` in a "key value" per line file (memory.events, cpu.stat, memory.oom_control);
// 0 when the kernel does not report it.
absl::StatusOr<uint64_t> ReadKeyed(const fs::path& path, const std::string& key) {
  absl::StatusOr<std::string> text = ReadSmallFile(path);
  if (!text.ok()) return text.status();
  std::istringstream lines(*text);
  std::string name;
  uint64_t value = 0;
  while (lines >> name >> value) {
    if (name == key) return value;
  }
  return uint64_t{0};
}

// rmdir of `dir` after its sub-cgroups (deepest first); absent is fine.
absl::Status RemoveDir(const fs::path& dir) {
  std::error_code error;
  if (!fs::is_directory(dir, error)) return absl::OkStatus();
  for (const fs::directory_entry& entry : fs::directory_iterator(dir, error)) {
    if (entry.is_directory(error) && !entry.is_symlink(error)) {
      if (absl::Status s = RemoveDir(entry.path()); !s.ok()) return s;
    }
  }
  // A cgroup's files are the kernel's: rmdir takes the directory with them.
  if (::rmdir(dir.c_str()) != 0 && errno != ENOENT) {
    return absl::FailedPreconditionError(absl::StrCat("cannot remove cgroup ", dir.string(), ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace

std::string FormatGiB(uint64_t bytes) {
  return absl::StrFormat("%.2f GiB", static_cast<double>(bytes) / (1ull << 30));
}

std::string DescribeUse(const ResourceUse& use) {
  const uint64_t cpu_s = use.cpu_time_ns / 1'000'000'000ull;
  std::string cpu = cpu_s < 60 ? absl::StrFormat("%.1fs", static_cast<double>(use.cpu_time_ns) / 1e9)
                               : absl::StrFormat("%dm%02ds", cpu_s / 60, cpu_s % 60);
  return absl::StrFormat("%s of memory at most, %s of CPU time%s", FormatGiB(use.peak_memory_bytes), cpu,
                         use.oom_kills > 0 ? absl::StrCat(", ", use.oom_kills, " process(es) killed out of memory") : "");
}

bool RanOutOfMemory(const ResourceUse& use, int exit_code, uint64_t limit_bytes) {
  if (use.oom_kills > 0) return true;
  if (exit_code != 128 + 9) return false;
  const uint64_t slack = std::max<uint64_t>(limit_bytes / 50, 4ull << 20);
  return use.limit_hits > 0 || (limit_bytes > 0 && use.peak_memory_bytes + slack >= limit_bytes);
}

absl::StatusOr<AttemptCgroup::Version> AttemptCgroup::Detect(const fs::path& fs_root) {
  std::error_code error;
  if (fs::exists(fs_root / "cgroup.controllers", error)) return Version::kV2;
  if (fs::exists(fs_root / "memory" / "memory.max_usage_in_bytes", error) &&
      fs::exists(fs_root / "cpuacct" / "cpuacct.usage", error)) {
    return Version::kV1;
  }
  return absl::NotFoundError(absl::StrCat("no cgroup v1 (memory and cpuacct) or v2 hierarchy at ", fs_root.string()));
}

fs::path AttemptCgroup::Dir(const std::string& controller) const {
  const fs::path relative = fs::path(path_).relative_path();
  return version_ == Version::kV2 ? fs_root_ / relative : fs_root_ / controller / relative;
}

absl::Status AttemptCgroup::Create(uint64_t memory_limit_bytes) const {
  const fs::path relative = fs::path(path_).relative_path();
  if (version_ == Version::kV1) {
    for (const char* controller : {"memory", "cpuacct"}) {
      std::error_code error;
      fs::create_directories(Dir(controller), error);
      if (error) {
        return absl::PermissionDeniedError(absl::StrCat("cannot create cgroup ", Dir(controller).string(), ": ",
                                                        error.message()));
      }
    }
    if (memory_limit_bytes == 0) return absl::OkStatus();
    const std::string limit = absl::StrCat(memory_limit_bytes);
    if (absl::Status s = WriteSmallFile(Dir("memory") / "memory.limit_in_bytes", limit); !s.ok()) return s;
    // Memory and swap together (only where the kernel accounts swap): the limit is not escaped by swapping.
    if (fs::exists(Dir("memory") / "memory.memsw.limit_in_bytes")) {
      return WriteSmallFile(Dir("memory") / "memory.memsw.limit_in_bytes", limit);
    }
    return absl::OkStatus();
  }
  // v2: a controller works in a cgroup only once its parent lists it in cgroup.subtree_control.
  fs::path dir = fs_root_;
  for (const fs::path& part : relative) {
    if (absl::Status s = WriteSmallFile(dir / "cgroup.subtree_control", "+memory"); !s.ok()) return s;
    dir /= part;
    std::error_code error;
    fs::create_directory(dir, error);
    if (error) return absl::PermissionDeniedError(absl::StrCat("cannot create cgroup ", dir.string(), ": ", error.message()));
  }
  if (memory_limit_bytes == 0) return absl::OkStatus();
  if (absl::Status s = WriteSmallFile(dir / "memory.max", absl::StrCat(memory_limit_bytes)); !s.ok()) return s;
  if (fs::exists(dir / "memory.swap.max")) return WriteSmallFile(dir / "memory.swap.max", "0");
  return absl::OkStatus();
}

std::vector<fs::path> AttemptCgroup::JoinFiles() const {
  if (version_ == Version::kV2) return {Dir("") / "cgroup.procs"};
  return {Dir("memory") / "cgroup.procs", Dir("cpuacct") / "cgroup.procs"};
}

absl::StatusOr<ResourceUse> AttemptCgroup::Read() const {
  ResourceUse use;
  if (version_ == Version::kV1) {
    absl::StatusOr<uint64_t> peak = ReadNumber(Dir("memory") / "memory.max_usage_in_bytes");
    absl::StatusOr<uint64_t> cpu = ReadNumber(Dir("cpuacct") / "cpuacct.usage");
    absl::StatusOr<uint64_t> ooms = ReadKeyed(Dir("memory") / "memory.oom_control", "oom_kill");
    absl::StatusOr<uint64_t> hits = ReadNumber(Dir("memory") / "memory.failcnt");
    if (!peak.ok()) return peak.status();
    if (!cpu.ok()) return cpu.status();
    use.peak_memory_bytes = *peak;
    use.cpu_time_ns = *cpu;
    use.oom_kills = ooms.ok() ? *ooms : 0;
    use.limit_hits = hits.ok() ? *hits : 0;
    return use;
  }
  absl::StatusOr<uint64_t> peak = ReadNumber(Dir("") / "memory.peak");
  absl::StatusOr<uint64_t> cpu_us = ReadKeyed(Dir("") / "cpu.stat", "usage_usec");
  absl::StatusOr<uint64_t> ooms = ReadKeyed(Dir("") / "memory.events", "oom_kill");
  absl::StatusOr<uint64_t> hits = ReadKeyed(Dir("") / "memory.events", "max");
  if (!peak.ok()) return peak.status();
  if (!cpu_us.ok()) return cpu_us.status();
  use.peak_memory_bytes = *peak;
  use.cpu_time_ns = *cpu_us * 1000;
  use.oom_kills = ooms.ok() ? *ooms : 0;
  use.limit_hits = hits.ok() ? *hits : 0;
  return use;
}

absl::Status AttemptCgroup::Remove() const {
  if (version_ == Version::kV2) return RemoveDir(Dir(""));
  std::error_code error;
  for (const fs::directory_entry& hierarchy : fs::directory_iterator(fs_root_, error)) {
    if (!hierarchy.is_directory(error) || hierarchy.is_symlink(error)) continue;  // cpu,cpuacct links
    if (absl::Status s = RemoveDir(hierarchy.path() / fs::path(path_).relative_path()); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status AttemptCgroup::RemoveOnceEmpty(Clock& clock, std::chrono::milliseconds within,
                                            std::chrono::milliseconds every) const {
  const Clock::SteadyTime deadline = clock.SteadyNow() + within;
  absl::Status removed = Remove();
  while (!removed.ok() && clock.SteadyNow() < deadline) {
    clock.SleepUntil(std::min<Clock::SteadyTime>(clock.SteadyNow() + every, deadline), nullptr);
    removed = Remove();
  }
  return removed;
}

absl::StatusOr<int> PrepareAgentCgroup(const fs::path& fs_root, AttemptCgroup::Version version,
                                       const std::string& path) {
  const AttemptCgroup agent(fs_root, version, path);
  if (absl::Status s = agent.Create(0); !s.ok()) return s;
  const fs::path dir = agent.JoinFiles().front().parent_path();
  int removed = 0;
  std::error_code error;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir, error)) {
    if (!entry.is_directory(error) || entry.is_symlink(error)) continue;
    if (AttemptCgroup(fs_root, version, absl::StrCat(path, "/", entry.path().filename().string())).Remove().ok()) {
      ++removed;
    }
  }
  return removed;
}

}  // namespace cwb
