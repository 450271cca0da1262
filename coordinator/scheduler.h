// Which agent runs a task, and with what share of it: pure functions over the agents'
// capabilities and what they have free, so the matching and packing rules are unit-tested without
// servers. An attempt needs every label its task asks for and a free slot; one that holds a GPU
// (a CUDA cell's smoke test, or a build that asks for one: NeedsGpu) needs a GPU and a driver that
// supports the cell's CUDA version (and, on an agent that gives each task GPUs of its own, a free
// GPU slot). A CUDA cell's build needs none: any agent builds it whose image has the toolkit. An agent that builds on the host itself (no
// container) runs only tasks its Python and PyTorch match. On agents that report cores and
// memory, each attempt is given a share (ShareFor: the target's measured peak memory and average
// parallelism, or a conservative default for a first build) and placed only where the share fits
// what the agent has free, so predicted peaks never add up past an agent's memory.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/rpc/task_state.h"
#include "cwb/v1/state.pb.h"
#include "cwb/v1/task.pb.h"

namespace cwb {

struct AgentSlots {
  std::string agent_id;
  const v1::AgentCapabilities* capabilities = nullptr;
  int free_slots = 0;
  int free_gpu_slots = -1;  // -1: GPU tasks share the GPUs; only free_slots limits them
  // The agent's cores and memory less the shares of its current attempts (when it reports them).
  int64_t free_cores = 0;
  int64_t free_memory_bytes = 0;
};

// The defaults for a target never measured. A CUDA cell's first build is taken to use up to 8
// cores with 4 GiB each (flash-attention's nvcc needs 3-8 GB per thread); a CPU cell's (mostly
// pure Python or small C) one core and 2 GiB, with the agent's MAX_JOBS.
inline constexpr uint32_t kFirstCudaBuildCores = 8;
inline constexpr uint64_t kFirstCudaBuildMemoryPerCore = 4ull << 30;
inline constexpr uint64_t kFirstCpuBuildMemory = 2ull << 30;
// A measured peak is predicted with this much room: x1.2 plus 256 MiB.
inline constexpr uint64_t kPeakMargin = 256ull << 20;

// What an attempt of `task` is given on `agent` (never more than the agent has): from the target's
// last measured attempt (`last`; null: never measured): memory its peak with room (all it had, after
// an out-of-memory kill), cores its average parallelism (CPU time / wall time), MAX_JOBS the same
// (halved after an out-of-memory kill); or the first-build defaults above (for a CUDA cell on an
// agent with GPU slots, at most its cores and memory over them), with MAX_JOBS the agent's
// --max-jobs or from its cores and memory. NVCC_THREADS 2 for a CUDA cell given two cores per job.
// An agent that reports no cores or memory gets an empty share (its own defaults).
v1::ResourceShare ShareFor(const v1::TaskSpec& task, const v1::ResourceUse* last, const v1::AgentCapabilities& agent);
// What a TEST attempt (a smoke test: install the wheels, run a short command) is given: one core
// and kFirstCpuBuildMemory (never more than the agent has); empty where the agent reports none.
v1::ResourceShare ShareForTest(const v1::AgentCapabilities& agent);

// Whether `agent` has a free slot for a task (and a free GPU slot for a GPU task where it counts them).
bool HasRoom(const AgentSlots& agent, bool needs_gpu);

// Whether `share` fits what `agent` has free now: room (HasRoom), and its cores and memory where
// the agent reports them.
bool Fits(const AgentSlots& agent, bool needs_gpu, const v1::ResourceShare& share);

// Why this agent can never run an attempt of the task (whatever its load) that holds a GPU or not
// (`needs_gpu`), or nullopt if it can.
std::optional<std::string> Incompatibility(const v1::TaskSpec& task, const v1::AgentCapabilities& agent,
                                           bool needs_gpu);

// Which agents can ever run tasks like `task` (whatever their load), and what such a task shows
// while it waits. The answer depends only on the task's requirements (TaskQueue groups tasks by
// them) and the agents' capabilities, so the coordinator computes it once per group until the
// set of connected agents changes.
struct Eligibility {
  std::vector<size_t> agents;  // indexes into the agent list given
  std::string waiting_reason;  // "waiting: ..." (no agent, none able, or all able ones busy)
};
Eligibility FindEligible(const v1::TaskSpec& task, const std::vector<AgentSlots>& agents, bool needs_gpu);

struct Placement {
  AgentSlots* agent = nullptr;  // null: the task fits no eligible agent now
  v1::ResourceShare share;
};

// The eligible agent to run an attempt of `step` now, and its share there (ShareFor, or
// ShareForTest for a TEST): of those it fits, the one left with the most free cores, then memory,
// then slots (builds spread over hosts; ties by id).
Placement PickAgent(const v1::TaskSpec& task, v1::TaskStep step, const v1::ResourceUse* last,
                    std::vector<AgentSlots>& agents, const std::vector<size_t>& eligible);

// Takes the placed share from its agent's free slots, cores and memory.
void Take(Placement& placement, bool needs_gpu);

}  // namespace cwb
