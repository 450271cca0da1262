#include "coordinator/scheduler.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/cuda_version.h"
#include "common/axes.h"

namespace cwb {
namespace {

std::string TaskCuda(const v1::TaskSpec& task) {
  for (const v1::AxisValue& axis : task.axes()) {
    if (axis.name() == kCudaAxis) return axis.value();
  }
  return std::string(kCpuCuda);
}

}  // namespace

std::optional<std::string> Incompatibility(const v1::TaskSpec& task,
                                           const v1::AgentCapabilities& agent) {
  for (const std::string& label : task.required_labels()) {
    if (std::find(agent.labels().begin(), agent.labels().end(), label) == agent.labels().end()) {
      return absl::StrCat("needs label '", label, "'");
    }
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

std::variant<std::string, std::string> ChooseAgent(const v1::TaskSpec& task,
                                                   const std::vector<AgentSlots>& agents) {
  const AgentSlots* best = nullptr;
  bool any_compatible = false;
  std::vector<std::string> reasons;
  for (const AgentSlots& agent : agents) {
    if (auto why = Incompatibility(task, *agent.capabilities)) {
      if (std::find(reasons.begin(), reasons.end(), *why) == reasons.end()) reasons.push_back(*why);
      continue;
    }
    any_compatible = true;
    if (agent.free_slots <= 0) continue;
    if (best == nullptr || agent.free_slots > best->free_slots ||
        (agent.free_slots == best->free_slots && agent.agent_id < best->agent_id)) {
      best = &agent;
    }
  }
  if (best != nullptr) return std::variant<std::string, std::string>(std::in_place_index<0>, best->agent_id);
  std::string reason;
  if (agents.empty()) {
    reason = "waiting: no agent is connected";
  } else if (any_compatible) {
    reason = "waiting: every agent that can run it is busy";
  } else {
    reason = absl::StrCat("waiting: no connected agent can run it (", absl::StrJoin(reasons, "; "), ")");
  }
  return std::variant<std::string, std::string>(std::in_place_index<1>, reason);
}

}  // namespace cwb
