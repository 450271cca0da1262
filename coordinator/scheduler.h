// Which agent runs a task: pure functions over the agents' capabilities and free slots, so the
// matching rules are unit-tested without servers. A task needs a GPU unless its cuda_version is
// "cpu", a driver that supports its CUDA version, every label it asks for, and a free slot (and,
// for a GPU task on an agent that gives each task GPUs of its own, a free GPU slot). An agent
// that builds on the host itself (no container) runs only tasks its Python and PyTorch match.
#pragma once

#include <optional>
#include <string>
#include <variant>
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

// The agent to run `task` now: among compatible agents with a free slot (and a free GPU slot for
// a GPU task where the agent counts them), the one with the most free slots (ties by id). Otherwise the reason the task waits, for users to see.
std::variant<std::string, std::string> ChooseAgent(const v1::TaskSpec& task,
                                                   const std::vector<AgentSlots>& agents);
// Convenience over ChooseAgent's variant.
inline bool Chosen(const std::variant<std::string, std::string>& choice) { return choice.index() == 0; }

}  // namespace cwb
