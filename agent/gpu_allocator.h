// Hands the host's GPUs to the attempts an agent runs. With `gpus_per_task` N > 0 each GPU task
// gets N GPUs of its own (the lowest-numbered free ones), so builds on a multi-GPU host never
// share a device and the host offers GPUs / N GPU slots; with 0, every GPU task sees all GPUs.
// CPU tasks get none. Thread-safe; used by AgentDaemon (one Acquire/Release per attempt).
#pragma once

#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/container_runtime.h"
#include "agent/gpu_probe.h"
#include "common/base/cancellation.h"

namespace cwb {

// The GPUs one attempt may use.
struct GpuGrant {
  GpuRequest request;          // what the runtime passes through
  std::vector<GpuInfo> gpus;   // the devices behind it (all of them for GpuRequest::All)
};

class GpuAllocator {
 public:
  GpuAllocator(std::vector<GpuInfo> gpus, int gpus_per_task);

  // GPU tasks this host can run at once on GPUs of their own; 0 when they share (or none exist).
  int gpu_slots() const;

  // The GPUs for `attempt`. A GPU task on a host that hands out GPUs waits until enough are free
  // (an attempt the coordinator has just abandoned may still hold one); Cancelled if `cancel`
  // fires first. FailedPrecondition when the host has fewer GPUs than one task takes.
  absl::StatusOr<GpuGrant> Acquire(const std::string& attempt, bool needs_gpu, Cancellation* cancel);

  // Gives back what `attempt` holds; no-op if it holds nothing.
  void Release(const std::string& attempt);

 private:
  const std::vector<GpuInfo> gpus_;
  const int gpus_per_task_;
  std::mutex mutex_;
  std::condition_variable released_cv_;
  std::map<int, std::string> holders_;  // gpu position in gpus_ -> attempt
};

// For the attempt's log: "none", or each GPU as "1 (NVIDIA H100 80GB HBM3, sm 9.0, GPU-...)",
// followed by " (all of the host's)" when tasks share them.
std::string DescribeGpus(const GpuGrant& grant);

// TORCH_CUDA_ARCH_LIST for these GPUs: their distinct compute capabilities in ascending order,
// "8.0;9.0"; "" when none is known.
std::string CudaArchList(const std::vector<GpuInfo>& gpus);

}  // namespace cwb
