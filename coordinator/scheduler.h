// Which agent runs a task: pure functions over the agents' capabilities and free slots, so the
// matching rules are unit-tested without servers. A task needs a GPU unless its cuda_version is
// "cpu", a driver that supports its CUDA version, every label it asks for, and a free slot (and,
// for a GPU task on an agent that gives each task GPUs of its own, a free GPU slot). An agent
// that builds on the host itself (no container) runs only tasks its Python and PyTorch match.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cwb/v1/state.pb.h"
#include "cwb/v1/task.pb.h"

namespace cwb {

struct AgentSlots {
  std::string agent_id;
  const v1::AgentCapabilities* capabilities = nullptr;
  int free_slots = 0;
  int free_gpu_slots = -1;  // -1: GPU tasks share the GPUs; only free_slots limits them
};

// Why this agent can never run the task (whatever its load), or nullopt if it can.
std::optional<std::string> Incompatibility(const v1::TaskSpec& task,
                                           const v1::AgentCapabilities& agent);

// Which agents can ever run tasks like `task` (whatever their load), and what such a task shows
// while it waits. The answer depends only on the task's requirements (TaskQueue groups tasks by
// them) and the agents' capabilities, so the coordinator computes it once per group until the
// set of connected agents changes.
struct Eligibility {
  std::vector<size_t> agents;  // indexes into the agent list given
  std::string waiting_reason;  // "waiting: ..." (no agent, none able, or all able ones busy)
};
Eligibility FindEligible(const v1::TaskSpec& task, const std::vector<AgentSlots>& agents);

// The eligible agent to run a task now: the one with the most free slots (ties by id) that has a
// free GPU slot too for a GPU task where the agent counts them; nullptr while all are busy.
AgentSlots* PickAgent(bool needs_gpu, std::vector<AgentSlots>& agents,
                      const std::vector<size_t>& eligible);

}  // namespace cwb
