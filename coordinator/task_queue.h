// The tasks waiting for an agent, in dispatch order, grouped by what they ask of an agent
// (labels, CUDA, Python, PyTorch, the step and whether it holds a GPU): the scheduler matches each group against the agents once
// instead of matching every queued task, so a tick costs O(groups x agents + assignments) however
// long the queue is.
//
// Dispatch order: earlier builds first; within a build, the longest expected build first (a task
// with no recorded duration counts as longest, so what may be long starts early), then matrix
// order. Starting long tasks first keeps a skewed matrix from ending on one long straggler.
// Not thread-safe: the coordinator calls it under its mutex.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "coordinator/scheduler.h"
#include "cwb/v1/state.pb.h"
#include "cwb/v1/task.pb.h"

namespace cwb {

class TaskQueue {
 public:
  using TaskKey = std::pair<std::string, std::string>;  // build, task

  struct Order {
    uint64_t build_seq = 0;    // submission order of the build
    int64_t expected_ms = -1;  // how long it is expected to build; -1: unknown
    uint32_t index = 0;        // position in the build's matrix
    bool operator<(const Order& other) const;
  };

  // What the scheduler remembers about a group between ticks. `epoch` names the set of
  // connected agents it was computed for; anything else is stale.
  struct Memo {
    uint64_t epoch = 0;
    Eligibility eligible;      // indexes into that epoch's agent list, and the waiting reason
    std::string shown_reason;  // the reason its waiting tasks already show
  };

  // Tasks with the same requirements.
  struct Group {
    v1::TaskSpec requirements;  // the fields an agent is matched on, from the first task pushed
    v1::TaskStep step = v1::TASK_STEP_WHOLE;  // what their next attempts do
    bool needs_gpu = false;                   // those attempts hold a GPU
    std::set<std::pair<Order, TaskKey>> tasks;
    std::vector<TaskKey> fresh;  // pushed since the scheduler last gave them a reason
    Memo memo;
  };

  // Adds a task whose next attempt runs `step` (it must not be queued already).
  void Push(const TaskKey& key, const v1::TaskSpec& spec, v1::TaskStep step, Order order);
  // Removes a task; does nothing if it is not queued.
  void Remove(const TaskKey& key);

  bool empty() const { return where_.empty(); }
  size_t size() const { return where_.size(); }
  std::map<std::string, Group>& groups() { return groups_; }
  const std::map<std::string, Group>& groups() const { return groups_; }

  // The fields of `spec` an agent is matched on (the rest left out), and a key naming them.
  static v1::TaskSpec Requirements(const v1::TaskSpec& spec);
  static std::string RequirementsKey(const v1::TaskSpec& requirements);

 private:
  std::map<std::string, Group> groups_;
  absl::flat_hash_map<TaskKey, std::pair<std::string, Order>> where_;  // group key and order
};

}  // namespace cwb
