#include "coordinator/scheduler.h"

#include <algorithm>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/base/compile_jobs.h"
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

std::optional<std::string> Incompatibility(const v1::TaskSpec& task, const v1::AgentCapabilities& agent,
                                           bool needs_gpu) {
  for (const std::string& label : task.required_labels()) {
    if (std::find(agent.labels().begin(), agent.labels().end(), label) == agent.labels().end()) {
      return absl::StrCat("needs label '", label, "'");
    }
  }
  if (agent.has_host_toolchain()) {
    if (auto mismatch = ToolchainMismatch(task, agent.host_toolchain())) return mismatch;
  }
  const std::string cuda = TaskCuda(task);
  if (cuda == kCpuCuda || !needs_gpu) return std::nullopt;
  if (agent.gpus().empty()) return "needs a GPU";
  if (!DriverSupportsCuda(agent.driver_cuda_version(), cuda)) {
    return absl::StrCat("needs a driver for CUDA ", cuda, " (the agent's supports ",
                        agent.driver_cuda_version().empty() ? "none" : agent.driver_cuda_version(), ")");
  }
  return std::nullopt;
}

Eligibility FindEligible(const v1::TaskSpec& task, const std::vector<AgentSlots>& agents, bool needs_gpu) {
  Eligibility out;
  std::vector<std::string> reasons;
  for (size_t i = 0; i < agents.size(); ++i) {
    if (auto why = Incompatibility(task, *agents[i].capabilities, needs_gpu)) {
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
    out.waiting_reason = absl::StrCat(kNoAgentCanRunIt, " (", absl::StrJoin(reasons, "; "), ")");
  }
  return out;
}

v1::ResourceShare ShareFor(const v1::TaskSpec& task, const v1::ResourceUse* last, const v1::AgentCapabilities& agent) {
  v1::ResourceShare share;
  if (agent.cpu_cores() == 0 || agent.memory_bytes() == 0) return share;
  const uint64_t agent_cores = agent.cpu_cores();
  const uint64_t agent_memory = agent.memory_bytes();
  const bool cuda = TaskCuda(task) != kCpuCuda;
  uint64_t cores = 1, memory = 0, jobs = 1;
  if (last != nullptr && last->jobs() > 0) {
    jobs = last->out_of_memory() ? std::max<uint64_t>(1, last->jobs() / 2) : last->jobs();
    cores = last->wall_ms() > 0 ? (last->cpu_ms() + last->wall_ms() - 1) / last->wall_ms() : jobs;
    cores = std::clamp<uint64_t>(cores, 1, jobs);
    memory = last->out_of_memory() ? last->peak_memory_bytes()
                                   : last->peak_memory_bytes() + last->peak_memory_bytes() / 5 + kPeakMargin;
    share.set_predicted(true);
  } else if (cuda) {
    // A build holding a GPU on an agent that gives each GPU task GPUs of its own splits its cores
    // and memory among them too; one without a GPU (the usual CUDA build) does not.
    const uint64_t per_gpu_slot = task.build_needs_gpu() && agent.gpu_slots() > 0 ? agent.gpu_slots() : 1;
    cores = std::clamp<uint64_t>(agent_cores / per_gpu_slot, 1, kFirstCudaBuildCores);
    memory = std::min(cores * kFirstCudaBuildMemoryPerCore, agent_memory / per_gpu_slot);
    jobs = agent.max_jobs() > 0 ? agent.max_jobs() : std::max<uint64_t>(1, cores / 2);
  } else {
    memory = kFirstCpuBuildMemory;
    jobs = agent.max_jobs() > 0 ? agent.max_jobs() : CompileJobsThatFit(agent_cores, agent_memory);
  }
  share.set_cores(static_cast<uint32_t>(std::min(cores, agent_cores)));
  share.set_memory_bytes(std::min(memory, agent_memory));
  share.set_jobs(static_cast<uint32_t>(std::min<uint64_t>(jobs, std::max<uint64_t>(agent_cores, agent.max_jobs()))));
  if (cuda) share.set_nvcc_threads(share.cores() >= 2 * share.jobs() ? 2 : 1);
  return share;
}

v1::ResourceShare ShareForTest(const v1::AgentCapabilities& agent) {
  v1::ResourceShare share;
  if (agent.cpu_cores() == 0 || agent.memory_bytes() == 0) return share;
  share.set_cores(1);
  share.set_memory_bytes(std::min<uint64_t>(kFirstCpuBuildMemory, agent.memory_bytes()));
  share.set_jobs(1);
  return share;
}

bool HasRoom(const AgentSlots& agent, bool needs_gpu) {
  return agent.free_slots > 0 && !(needs_gpu && agent.free_gpu_slots == 0);
}

bool Fits(const AgentSlots& agent, bool needs_gpu, const v1::ResourceShare& share) {
  if (!HasRoom(agent, needs_gpu)) return false;
  return static_cast<int64_t>(share.cores()) <= agent.free_cores &&
         static_cast<int64_t>(share.memory_bytes()) <= agent.free_memory_bytes;
}

Placement PickAgent(const v1::TaskSpec& task, v1::TaskStep step, const v1::ResourceUse* last,
                    std::vector<AgentSlots>& agents, const std::vector<size_t>& eligible) {
  const bool needs_gpu = NeedsGpu(task, step);
  Placement best;
  auto left = [](const AgentSlots& agent, const v1::ResourceShare& share) {
    return std::tuple(agent.free_cores - static_cast<int64_t>(share.cores()),
                      agent.free_memory_bytes - static_cast<int64_t>(share.memory_bytes()), agent.free_slots);
  };
  for (size_t i : eligible) {
    AgentSlots& agent = agents[i];
    if (!HasRoom(agent, needs_gpu)) continue;
    v1::ResourceShare share =
        step == v1::TASK_STEP_TEST ? ShareForTest(*agent.capabilities) : ShareFor(task, last, *agent.capabilities);
    if (!Fits(agent, needs_gpu, share)) continue;
    if (best.agent == nullptr || left(agent, share) > left(*best.agent, best.share) ||
        (left(agent, share) == left(*best.agent, best.share) && agent.agent_id < best.agent->agent_id)) {
      best = {&agent, std::move(share)};
    }
  }
  return best;
}

void Take(Placement& placement, bool needs_gpu) {
  AgentSlots& agent = *placement.agent;
  --agent.free_slots;
  if (agent.free_gpu_slots > 0 && needs_gpu) --agent.free_gpu_slots;
  agent.free_cores -= placement.share.cores();
  agent.free_memory_bytes -= placement.share.memory_bytes();
}

}  // namespace cwb
