// How many parallel compile jobs fit a machine: one per core, no more than its memory holds at
// `memory_per_job` each (nvcc on large kernels, flash-attention's, needs several GiB per job), at
// least one; memory 0 (unknown) limits nothing. The agent's default MAX_JOBS and the coordinator's
// first share of a CPU build both come from it, so they agree.
#pragma once

#include <algorithm>
#include <cstdint>

namespace cwb {

inline constexpr uint64_t kMemoryPerCompileJob = 4ull << 30;

inline constexpr uint64_t CompileJobsThatFit(uint64_t cores, uint64_t memory_bytes,
                                             uint64_t memory_per_job = kMemoryPerCompileJob) {
  uint64_t jobs = std::max<uint64_t>(1, cores);
  if (memory_bytes > 0 && memory_per_job > 0) jobs = std::min(jobs, memory_bytes / memory_per_job);
  return std::max<uint64_t>(1, jobs);
}

}  // namespace cwb
