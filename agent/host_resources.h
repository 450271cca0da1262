// Facts about the host that size builds: cores and memory, and the MAX_JOBS default derived from
// them so parallel nvcc jobs do not run the host out of memory.
#pragma once

#include <cstdint>
#include <string_view>

#include "absl/status/statusor.h"

namespace cwb {

struct HostResources {
  int cpu_cores = 1;
  uint64_t memory_bytes = 0;  // MemTotal
};

// Reads /proc/meminfo and the CPUs this process may use.
HostResources ProbeHostResources();

// Parses MemTotal (in bytes) out of /proc/meminfo's text.
absl::StatusOr<uint64_t> ParseMemTotal(std::string_view meminfo);

// min(cores, memory / memory_per_job), at least 1. nvcc on large kernels (flash-attention) needs
// several GiB per job; 4 GiB is the default budget.
int DefaultMaxJobs(const HostResources& host, uint64_t memory_per_job_bytes = 4ull << 30);

}  // namespace cwb
