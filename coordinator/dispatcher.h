// Matches waiting tasks (QUEUED for their build, BUILT for their smoke test) to agents with room for them. It keeps the queue (TaskQueue: the waiting
// tasks grouped by what they need of an agent, in dispatch order) as the TaskTable tells it of
// tasks entering and leaving, and on each Schedule assigns the first task in dispatch order whose
// share (sized from TargetHistory) fits some free, eligible agent until none does, using the pure
// matching and packing of scheduler.h; each current attempt's share counts against its agent.
// Which agents can ever run a group is remembered until the registry's epoch moves, so a tick
// costs O(groups x agents + assignments) however long the queue. Tasks still waiting get the
// reason they wait. Not thread-safe: used under the coordinator's lock.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "common/web/metrics.h"
#include "coordinator/agent_registry.h"
#include "coordinator/scheduler.h"
#include "coordinator/target_history.h"
#include "coordinator/task_queue.h"
#include "coordinator/task_table.h"

namespace cwb {

class Dispatcher final : public QueueListener {
 public:
  // `history` orders the queue (longest expected first); each assignment's time in the queue is
  // observed in `queue_wait`; assignments carry `time_limit_s` (0: none).
  Dispatcher(const TargetHistory& history, Histogram& queue_wait, uint32_t time_limit_s);

  void Queued(const TaskRecord& task, uint64_t build_seq) override;
  void Dequeued(const TaskKey& key) override;

  // Assigns queued tasks to connected agents with free slots until none fits, then updates the
  // waiting reasons of those left.
  void Schedule(TaskTable& tasks, const AgentRegistry& agents, int64_t now_ms, ChangeSet& changes);

  size_t queued() const { return queue_.size(); }
  // The built tasks waiting for a smoke test no connected agent can run (as the last Schedule saw
  // the agents; none while no agent is connected).
  std::vector<TaskKey> Untestable() const;

  static constexpr char kShortOfResources[] =
      "waiting: the agents that can run it are short of the free cores or memory it needs";

 private:
  // The connected agents in id order (stable within an epoch) and what each has free.
  void TakeStock(TaskTable& tasks, const AgentRegistry& agents);
  void Assign(TaskRecord& task, Placement& placement, TaskTable& tasks, int64_t now_ms, ChangeSet& changes);
  // Why the group's tasks wait now: the reason its eligible agents give (none, none able, all busy),
  // unless one of them has a free slot and the group's next tasks still fit none: then they wait
  // for cores or memory to be freed.
  const std::string& ReasonNow(const TaskQueue::Group& group, const TaskTable& tasks) const;
  void UpdateWaitingReasons(TaskQueue::Group& group, const std::string& reason, TaskTable& tasks, ChangeSet& changes);

  const TargetHistory& history_;
  Histogram& queue_wait_;
  const uint32_t time_limit_s_;
  TaskQueue queue_;
  std::vector<AgentSlots> slots_;
  uint64_t stock_epoch_ = 0;  // the agents' epoch slots_ was taken in
  std::mt19937_64 random_{std::random_device{}()};  // attempt ids
};

}  // namespace cwb
