// Finds the host's NVIDIA GPUs with nvidia-smi: count, names, memory, driver version, and the
// highest CUDA version the driver supports. A host without nvidia-smi or without GPUs reports
// none and can still build `cpu` tasks.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/process/process_runner.h"

namespace cwb {

struct GpuInfo {
  int index = 0;
  std::string uuid;
  std::string name;
  uint64_t memory_bytes = 0;
  std::string compute_capability;  // "9.0"; empty when the driver does not report it
};

struct GpuInventory {
  std::vector<GpuInfo> gpus;
  std::string driver_version;  // "550.54.15"; empty without a driver
  std::string cuda_version;    // highest supported by the driver, "12.4"; empty without one
};

// Parses `nvidia-smi --query-gpu=index,uuid,name,memory.total,driver_version,compute_cap
// --format=csv,noheader,nounits` (memory in MiB; compute_cap may be "[N/A]" or absent).
absl::StatusOr<GpuInventory> ParseGpuQuery(std::string_view csv);

// The "CUDA Version: 12.4" of nvidia-smi's banner, or "" if absent.
std::string ParseDriverCudaVersion(std::string_view banner);

// Runs nvidia-smi (the binary name may be changed for tests or unusual installs). A missing
// binary or "No devices were found" yields an empty inventory; other failures are errors.
absl::StatusOr<GpuInventory> ProbeGpus(ProcessRunner& runner,
                                       const std::string& nvidia_smi = "nvidia-smi");

}  // namespace cwb
