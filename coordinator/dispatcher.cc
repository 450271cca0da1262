#include "coordinator/dispatcher.h"

#include <algorithm>

#include "absl/strings/str_format.h"
#include "common/rpc/task_proto.h"
#include "common/rpc/task_state.h"

namespace cwb {
namespace {

constexpr int kBackfillDepth = 64;  // tasks of a group tried per pass, behind ones that fit nowhere

}  // namespace

Dispatcher::Dispatcher(const TargetHistory& history, Histogram& queue_wait, uint32_t time_limit_s)
    : history_(history), queue_wait_(queue_wait), time_limit_s_(time_limit_s) {}

void Dispatcher::Queued(const TaskRecord& task, uint64_t build_seq) {
  const v1::TaskStep step = NextStep(task.info.spec(), task.info.state());
  // A smoke test is short whatever its build took: tests go in matrix order.
  const int64_t expected = step == v1::TASK_STEP_TEST ? 0 : history_.ExpectedMs(task.info.spec());
  queue_.Push(task.key(), task.info.spec(), step, {build_seq, expected, task.index});
}

void Dispatcher::Dequeued(const TaskKey& key) { queue_.Remove(key); }

void Dispatcher::TakeStock(TaskTable& tasks, const AgentRegistry& agents) {
  slots_.clear();
  for (const auto& [id, agent] : agents.agents()) {
    if (!agent.channel) continue;
    const v1::AgentCapabilities& caps = agent.info.capabilities();
    const AgentLoad& load = tasks.LoadOf(id);
    slots_.push_back({id, &caps, static_cast<int>(caps.slots()) - static_cast<int>(tasks.AttemptsOf(id).size()),
                      caps.gpu_slots() > 0 ? static_cast<int>(caps.gpu_slots()) - load.gpu_tasks : -1,
                      caps.cpu_cores() - load.cores, static_cast<int64_t>(caps.memory_bytes()) - load.memory_bytes});
  }
  stock_epoch_ = agents.epoch();
  for (auto& [key, group] : queue_.groups()) {
    if (group.memo.epoch != agents.epoch()) {
      group.memo.eligible = FindEligible(group.requirements, slots_, group.needs_gpu);
      group.memo.epoch = agents.epoch();
    }
  }
}

void Dispatcher::Schedule(TaskTable& tasks, const AgentRegistry& agents, int64_t now_ms, ChangeSet& changes) {
  TakeStock(tasks, agents);
  // Assign the first task in dispatch order that fits some free, eligible agent, until none does.
  // Within a group, tasks behind one that fits nowhere are tried too (a smaller build may fit where
  // a larger one does not), up to kBackfillDepth of them, so a tick stays bounded.
  while (!queue_.empty()) {
    Placement best;
    const std::pair<TaskQueue::Order, TaskKey>* best_task = nullptr;
    for (auto& [key, group] : queue_.groups()) {
      const bool needs_gpu = group.needs_gpu;
      // Nothing to try while every agent able to run the group is out of slots.
      if (std::none_of(group.memo.eligible.agents.begin(), group.memo.eligible.agents.end(),
                       [&](size_t i) { return HasRoom(slots_[i], needs_gpu); })) {
        continue;
      }
      int tried = 0;
      for (auto it = group.tasks.begin(); it != group.tasks.end() && tried < kBackfillDepth; ++it) {
        if (best_task != nullptr && !(it->first < best_task->first)) break;
        // A build at its max_parallel has no task assigned until one of its own ends.
        if (tasks.AtParallelLimit(it->second)) continue;
        ++tried;
        const TaskRecord* task = tasks.Find(it->second);
        Placement placement = PickAgent(task->info.spec(), group.step, history_.LastUse(task->info.spec()), slots_,
                                        group.memo.eligible.agents);
        if (placement.agent == nullptr) continue;
        best = std::move(placement);
        best_task = &*it;
        break;
      }
    }
    if (best_task == nullptr) break;
    const TaskKey key = best_task->second;
    Assign(*tasks.Find(key), best, tasks, now_ms, changes);
  }
  for (auto& [key, group] : queue_.groups()) UpdateWaitingReasons(group, ReasonNow(group, tasks), tasks, changes);
}

std::vector<TaskKey> Dispatcher::Untestable() const {
  std::vector<TaskKey> out;
  if (slots_.empty()) return out;  // no agent connected (yet): nothing is decided
  for (const auto& [key, group] : queue_.groups()) {
    // A group queued since then has not been matched yet.
    if (group.step != v1::TASK_STEP_TEST || group.memo.epoch != stock_epoch_ || !group.memo.eligible.agents.empty()) {
      continue;
    }
    for (const auto& [order, task] : group.tasks) out.push_back(task);
  }
  return out;
}

const std::string& Dispatcher::ReasonNow(const TaskQueue::Group& group, const TaskTable& tasks) const {
  static const std::string kShort = kShortOfResources;
  const bool needs_gpu = group.needs_gpu;
  const bool room = std::any_of(group.memo.eligible.agents.begin(), group.memo.eligible.agents.end(), [&](size_t i) {
    return HasRoom(slots_[i], needs_gpu) && slots_[i].capabilities->memory_bytes() > 0;
  });
  if (!room) return group.memo.eligible.waiting_reason;
  // Scheduling stopped with a slot free there: the next tasks did not fit, unless each waits for its
  // build's max_parallel (as far as Schedule looked).
  int looked = 0;
  for (auto it = group.tasks.begin(); it != group.tasks.end() && looked < kBackfillDepth; ++it, ++looked) {
    if (!tasks.AtParallelLimit(it->second)) return kShort;
  }
  return group.memo.eligible.waiting_reason;
}

void Dispatcher::Assign(TaskRecord& task, Placement& placement, TaskTable& tasks, int64_t now_ms,
                        ChangeSet& changes) {
  Take(placement, NeedsGpu(task.info.spec(), NextStep(task.info.spec(), task.info.state())));
  if (task.info.queued_at_ms() > 0) {
    queue_wait_.Observe(static_cast<double>(std::max<int64_t>(0, now_ms - task.info.queued_at_ms())) / 1000.0);
  }
  const std::string attempt = absl::StrFormat("a%012x", random_() & 0xffffffffffffull);
  tasks.StartAttempt(task, attempt, placement.agent->agent_id, placement.share, time_limit_s_, now_ms, changes);
}

void Dispatcher::UpdateWaitingReasons(TaskQueue::Group& group, const std::string& reason, TaskTable& tasks,
                                      ChangeSet& changes) {
  auto show = [&](const TaskKey& key) {
    TaskRecord* task = tasks.Find(key);
    if (task == nullptr || !IsWaiting(task->info.state()) || task->info.waiting_reason() == reason) {
      return;
    }
    task->info.set_waiting_reason(reason);
    tasks.Changed(*task, changes, /*persist=*/false);
  };
  if (group.memo.shown_reason != reason) {
    for (const auto& [order, key] : group.tasks) show(key);
    group.memo.shown_reason = reason;
  } else {
    for (const TaskKey& key : group.fresh) show(key);
  }
  group.fresh.clear();
}

}  // namespace cwb
