// Facts about the host that size builds: cores and memory, and the MAX_JOBS default derived from
// them so parallel nvcc jobs do not run the host out of memory.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "common/base/compile_jobs.h"

namespace cwb {

struct HostResources {
  int cpu_cores = 1;
  uint64_t memory_bytes = 0;  // MemTotal
};

// What an operator lets builds use of a host (`--cores`, `--memory`): for hosts shared with other
// work, and so tests can make a small agent. 0 / empty: all of it.
struct HostLimits {
  int cores = 0;
  std::string memory;  // "512M", "64G", "1.5GiB", or bytes
};

// Reads /proc/meminfo and the CPUs this process may use.
HostResources ProbeHostResources();

// Parses MemTotal (in bytes) out of /proc/meminfo's text.
absl::StatusOr<uint64_t> ParseMemTotal(std::string_view meminfo);

// A size: bytes, or a number with K, M, G, T (powers of 1024; "KiB"/"KB" alike), e.g. "1.5G".
absl::StatusOr<uint64_t> ParseByteSize(std::string_view text);

// `probed` lowered to `limits`; InvalidArgument naming the flag for a value above the host's or
// below what a build needs (1 core, 64 MiB).
absl::StatusOr<HostResources> LimitHostResources(HostResources probed, const HostLimits& limits);

// The host's compile jobs (CompileJobsThatFit): min(cores, memory / memory_per_job), at least 1.
int DefaultMaxJobs(const HostResources& host, uint64_t memory_per_job_bytes = kMemoryPerCompileJob);

}  // namespace cwb
