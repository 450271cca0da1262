#include "coordinator/change_set.h"

namespace cwb {

void ChangeSet::Persist(TaskRecord& task) {
  if (task.dirty) return;
  task.dirty = true;
  dirty_.push_back(&task);
}

void ChangeSet::Send(std::string agent_id, v1::CoordinatorMessage message) {
  deliveries_.push_back({std::move(agent_id), std::move(message), {}, {}});
}

void ChangeSet::Publish(std::vector<std::shared_ptr<BuildWatcher>> watchers, v1::BuildEvent event) {
  if (watchers.empty()) return;
  deliveries_.push_back({"", {}, std::move(watchers), std::move(event)});
}

void ChangeSet::AttemptEnded(const TaskKey& task, const std::string& attempt_id) {
  batch_.uploads_deleted.push_back(attempt_id);
  ended_attempts_.emplace_back(task, attempt_id);
}

CommitWriter::Commit ChangeSet::Take(const Receivers& receivers) {
  CommitWriter::Commit commit;
  commit.batch = std::exchange(batch_, StoreBatch());
  for (TaskRecord* task : dirty_) {
    task->dirty = false;
    commit.batch.tasks.push_back(
        {task->info.build_id(), task->info.spec().id(), task->info.state(), SerializeWithoutSpec(task->info)});
  }
  dirty_.clear();
  for (Delivery& delivery : deliveries_) {
    if (!delivery.watchers.empty()) {
      commit.deliveries.push_back([watchers = std::move(delivery.watchers), event = std::move(delivery.event)] {
        for (const std::shared_ptr<BuildWatcher>& watcher : watchers) watcher->Push(event);
      });
      continue;
    }
    std::shared_ptr<AgentChannel> channel = receivers.channel_of(delivery.agent_id);
    if (channel == nullptr) continue;
    commit.deliveries.push_back([channel = std::move(channel), message = std::move(delivery.message)]() mutable {
      channel->Send(std::move(message));
    });
  }
  deliveries_.clear();
  for (auto& [task, attempt] : ended_attempts_) {
    commit.deliveries.push_back([ended = receivers.attempt_ended, task = std::move(task), attempt = std::move(attempt)] {
      ended(task, attempt);
    });
  }
  ended_attempts_.clear();
  for (std::string& attempt : held_discarded_) {
    commit.deliveries.push_back([discard = receivers.held_discarded, attempt = std::move(attempt)] { discard(attempt); });
  }
  held_discarded_.clear();
  if (std::exchange(wake_logs_, false)) commit.deliveries.push_back(receivers.wake_logs);
  return commit;
}

}  // namespace cwb
