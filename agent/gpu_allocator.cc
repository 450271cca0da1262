#include "agent/gpu_allocator.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/config/versions.h"

namespace cwb {

GpuAllocator::GpuAllocator(std::vector<GpuInfo> gpus, int gpus_per_task)
    : gpus_(std::move(gpus)), gpus_per_task_(std::max(0, gpus_per_task)) {}

int GpuAllocator::gpu_slots() const {
  if (gpus_per_task_ == 0) return 0;
  return static_cast<int>(gpus_.size()) / gpus_per_task_;
}

absl::StatusOr<GpuGrant> GpuAllocator::Acquire(const std::string& attempt, bool needs_gpu,
                                               Cancellation* cancel) {
  if (!needs_gpu || gpus_.empty()) return GpuGrant{GpuRequest::None(), {}};
  if (gpus_per_task_ == 0) return GpuGrant{GpuRequest::All(), gpus_};
  if (static_cast<size_t>(gpus_per_task_) > gpus_.size()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "a task takes ", gpus_per_task_, " GPUs and this host has ", gpus_.size()));
  }
  Cancellation::Subscription wake;
  if (cancel != nullptr) {
    wake = cancel->Subscribe([this] {
      std::lock_guard lock(mutex_);
      released_cv_.notify_all();
    });
  }
  std::unique_lock lock(mutex_);
  std::vector<int> chosen;
  released_cv_.wait(lock, [&] {
    if (cancel != nullptr && cancel->cancelled()) return true;
    chosen.clear();
    for (int i = 0; i < static_cast<int>(gpus_.size()) && static_cast<int>(chosen.size()) < gpus_per_task_; ++i) {
      if (!holders_.contains(i)) chosen.push_back(i);
    }
    return static_cast<int>(chosen.size()) == gpus_per_task_;
  });
  if (cancel != nullptr && cancel->cancelled()) {
    return absl::CancelledError(absl::StrCat("cancelled while waiting for a GPU: ", cancel->reason()));
  }
  GpuGrant grant;
  std::vector<std::string> ids;
  for (int i : chosen) {
    holders_[i] = attempt;
    grant.gpus.push_back(gpus_[i]);
    ids.push_back(std::to_string(gpus_[i].index));
  }
  grant.request = GpuRequest::Devices(std::move(ids));
  return grant;
}

void GpuAllocator::Release(const std::string& attempt) {
  {
    std::lock_guard lock(mutex_);
    std::erase_if(holders_, [&](const auto& entry) { return entry.second == attempt; });
  }
  released_cv_.notify_all();
}

std::string DescribeGpus(const GpuGrant& grant) {
  if (grant.request.kind == GpuRequest::Kind::kNone || grant.gpus.empty()) return "none";
  std::string text = absl::StrJoin(grant.gpus, ", ", [](std::string* out, const GpuInfo& gpu) {
    absl::StrAppend(out, gpu.index, " (", gpu.name,
                    gpu.compute_capability.empty() ? "" : absl::StrCat(", sm ", gpu.compute_capability),
                    gpu.uuid.empty() ? "" : absl::StrCat(", ", gpu.uuid), ")");
  });
  if (grant.request.kind == GpuRequest::Kind::kAll) absl::StrAppend(&text, " (all of the host's)");
  return text;
}

std::string CudaArchList(const std::vector<GpuInfo>& gpus) {
  std::vector<std::pair<int, int>> caps;
  for (const GpuInfo& gpu : gpus) {
    int major = 0, minor = 0;
    if (ParseMajorMinor(gpu.compute_capability, &major, &minor)) caps.emplace_back(major, minor);
  }
  std::sort(caps.begin(), caps.end());
  caps.erase(std::unique(caps.begin(), caps.end()), caps.end());
  return absl::StrJoin(caps, ";", [](std::string* out, const std::pair<int, int>& cap) {
    absl::StrAppend(out, cap.first, ".", cap.second);
  });
}

}  // namespace cwb
