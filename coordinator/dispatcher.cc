#include "coordinator/dispatcher.h"

#include <algorithm>

#include "absl/strings/str_format.h"
#include "common/rpc/task_proto.h"

namespace cwb {

Dispatcher::Dispatcher(const TargetHistory& history, Histogram& queue_wait, uint32_t time_limit_s)
    : history_(history), queue_wait_(queue_wait), time_limit_s_(time_limit_s) {}

void Dispatcher::Queued(const TaskRecord& task, uint64_t build_seq) {
  queue_.Push(task.key(), task.info.spec(), {build_seq, history_.ExpectedMs(task.info.spec()), task.index});
}

void Dispatcher::Dequeued(const TaskKey& key) { queue_.Remove(key); }

void Dispatcher::TakeStock(TaskTable& tasks, const AgentRegistry& agents) {
  slots_.clear();
  for (const auto& [id, agent] : agents.agents()) {
    if (!agent.channel) continue;
    const v1::AgentCapabilities& caps = agent.info.capabilities();
    const std::set<std::string>& attempts = tasks.AttemptsOf(id);
    int free_gpu_slots = -1;
    if (caps.gpu_slots() > 0) {
      free_gpu_slots = static_cast<int>(caps.gpu_slots());
      for (const std::string& attempt : attempts) {
        if (TaskRecord* task = tasks.FindAttempt(attempt); task != nullptr && NeedsGpu(task->info.spec())) {
          --free_gpu_slots;
        }
      }
    }
    slots_.push_back({id, &caps, static_cast<int>(caps.slots()) - static_cast<int>(attempts.size()), free_gpu_slots});
  }
  for (auto& [key, group] : queue_.groups()) {
    if (group.memo.epoch != agents.epoch()) {
      group.memo.eligible = FindEligible(group.requirements, slots_);
      group.memo.epoch = agents.epoch();
    }
  }
}

void Dispatcher::Schedule(TaskTable& tasks, const AgentRegistry& agents, int64_t now_ms, ChangeSet& changes) {
  TakeStock(tasks, agents);
  // Assign the first task in dispatch order that some free, eligible agent can take, until none.
  while (!queue_.empty()) {
    TaskQueue::Group* best_group = nullptr;
    AgentSlots* best_agent = nullptr;
    const std::pair<TaskQueue::Order, TaskKey>* best_task = nullptr;
    for (auto& [key, group] : queue_.groups()) {
      auto first = group.tasks.begin();
      // A build at its max_parallel has no task assigned until one of its own ends.
      while (first != group.tasks.end() && tasks.AtParallelLimit(first->second)) ++first;
      if (first == group.tasks.end()) continue;
      if (best_task != nullptr && !(first->first < best_task->first)) continue;
      AgentSlots* agent = PickAgent(NeedsGpu(group.requirements), slots_, group.memo.eligible.agents);
      if (agent == nullptr) continue;
      best_group = &group;
      best_agent = agent;
      best_task = &*first;
    }
    if (best_group == nullptr) break;
    const TaskKey key = best_task->second;
    Assign(*tasks.Find(key), *best_agent, tasks, now_ms, changes);
  }
  for (auto& [key, group] : queue_.groups()) UpdateWaitingReasons(group, tasks, changes);
}

void Dispatcher::Assign(TaskRecord& task, AgentSlots& slot, TaskTable& tasks, int64_t now_ms, ChangeSet& changes) {
  --slot.free_slots;
  if (slot.free_gpu_slots > 0 && NeedsGpu(task.info.spec())) --slot.free_gpu_slots;
  if (task.info.queued_at_ms() > 0) {
    queue_wait_.Observe(static_cast<double>(std::max<int64_t>(0, now_ms - task.info.queued_at_ms())) / 1000.0);
  }
  const std::string attempt = absl::StrFormat("a%012x", random_() & 0xffffffffffffull);
  tasks.StartAttempt(task, attempt, slot.agent_id, time_limit_s_, now_ms, changes);
}

void Dispatcher::UpdateWaitingReasons(TaskQueue::Group& group, TaskTable& tasks, ChangeSet& changes) {
  const std::string& reason = group.memo.eligible.waiting_reason;
  auto show = [&](const TaskKey& key) {
    TaskRecord* task = tasks.Find(key);
    if (task == nullptr || task->info.state() != v1::TASK_STATE_QUEUED || task->info.waiting_reason() == reason) {
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
