#include "coordinator/scheduler.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/config/axes.h"
#include "common/rpc/task_proto.h"
#include "common/config/versions.h"

namespace cwb {
namespace {

std::string TaskAxis(const v1::TaskSpec& task, std::string_view name, std::string_view fallback) {
  for (const v1::AxisValue& axis : task.axes()) {
    if (axis.name() == name) return axis.value();
  }
  return std::string(fallback);
}

std::string TaskCuda(const v1::TaskSpec& task) { return TaskAxis(task, kCudaAxis, kCpuCuda); }

// Why a host-runtime agent's toolchain cannot build the task, or nullopt.
std::optional<std::string> ToolchainMismatch(const v1::TaskSpec& task, const v1::HostToolchain& host) {
  const std::string python = TaskAxis(task, kPythonAxis, "");
  if (!host.python_version().empty() && python != host.python_version()) {
    return absl::StrCat("needs Python ", python, " (the agent builds on its host with Python ",
                        host.python_version(), ")");
  }
  const std::string torch = TaskAxis(task, kTorchAxis, "");
  if (!torch.empty() && !ReleaseMatches(torch, host.torch_version())) {
    return absl::StrCat("needs PyTorch ", torch, " (the agent's host Python has ",
                        host.torch_version().empty() ? "none" : host.torch_version(), ")");
  }
  const std::string cuda = TaskCuda(task);
  if (cuda != kCpuCuda && !ReleaseMatches(cuda, host.torch_cuda_version())) {
    return absl::StrCat("needs CUDA ", cuda, " (the agent's PyTorch is built for ",
                        host.torch_cuda_version().empty() ? "no CUDA" : host.torch_cuda_version(), ")");
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> Incompatibility(const v1::TaskSpec& task,
                                           const v1::AgentCapabilities& agent) {
  for (const std::string& label : task.required_labels()) {
    if (std::find(agent.labels().begin(), agent.labels().end(), label) == agent.labels().end()) {
      return absl::StrCat("needs label '", label, "'");
    }
  }
  if (agent.has_host_toolchain()) {
    if (auto mismatch = ToolchainMismatch(task, agent.host_toolchain())) return mismatch;
  }
  const std::string cuda = TaskCuda(task);
  if (cuda == kCpuCuda) return std::nullopt;
  if (agent.gpus().empty()) return "needs a GPU";
  if (!DriverSupportsCuda(agent.driver_cuda_version(), cuda)) {
    return absl::StrCat("needs a driver for CUDA ", cuda, " (the agent's supports ",
                        agent.driver_cuda_version().empty() ? "none" : agent.driver_cuda_version(), ")");
  }
  return std::nullopt;
}

Eligibility FindEligible(const v1::TaskSpec& task, const std::vector<AgentSlots>& agents) {
  Eligibility out;
  std::vector<std::string> reasons;
  for (size_t i = 0; i < agents.size(); ++i) {
    if (auto why = Incompatibility(task, *agents[i].capabilities)) {
      if (std::find(reasons.begin(), reasons.end(), *why) == reasons.end()) reasons.push_back(*why);
      continue;
    }
    out.agents.push_back(i);
  }
  if (agents.empty()) {
    out.waiting_reason = "waiting: no agent is connected";
  } else if (!out.agents.empty()) {
    out.waiting_reason = "waiting: every agent that can run it is busy";
  } else {
    out.waiting_reason =
        absl::StrCat("waiting: no connected agent can run it (", absl::StrJoin(reasons, "; "), ")");
  }
  return out;
}

AgentSlots* PickAgent(bool needs_gpu, std::vector<AgentSlots>& agents,
                      const std::vector<size_t>& eligible) {
  AgentSlots* best = nullptr;
  for (size_t i : eligible) {
    AgentSlots& agent = agents[i];
    if (agent.free_slots <= 0 || (needs_gpu && agent.free_gpu_slots == 0)) continue;
    if (best == nullptr || agent.free_slots > best->free_slots ||
        (agent.free_slots == best->free_slots && agent.agent_id < best->agent_id)) {
      best = &agent;
    }
  }
  return best;
}

}  // namespace cwb
