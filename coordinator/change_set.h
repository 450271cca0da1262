// What one coordinator call changed, collected while the call holds the coordinator's lock and
// turned into one CommitWriter::Commit at its end: the store writes (rows of changed tasks,
// attempts, agents, durations, results) and what must not be seen before they are durable:
// messages to agents, events to watchers, uploads whose files go, log readers to wake. It also
// carries the call's request to run the scheduler before it returns. Not thread-safe: it lives
// under the coordinator's lock.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "coordinator/agent_channel.h"
#include "coordinator/build_watcher.h"
#include "coordinator/commit_writer.h"
#include "coordinator/task_record.h"

namespace cwb {

class ChangeSet {
 public:
  // The store writes of the call, besides task rows (Persist).
  StoreBatch& batch() { return batch_; }
  // `task`'s row is written with this call's changes (once, however often it changed).
  void Persist(TaskRecord& task);
  // Queues a message for an agent; its channel is looked up when the call ends.
  void Send(std::string agent_id, v1::CoordinatorMessage message);
  // Tells `watchers` of a change.
  void Publish(std::vector<std::shared_ptr<BuildWatcher>> watchers, v1::BuildEvent event);
  // The attempt ended: its upload records go with this call; once that is durable its upload
  // files go and its log is ended (LogStore::EndAttempt).
  void AttemptEnded(const TaskKey& task, const std::string& attempt_id);
  // The wheels a BUILD attempt left held on the coordinator are no longer wanted (the task was
  // cancelled, or its smoke test failed or was given up): once the call is durable their files go.
  void HeldDiscarded(const std::string& build_attempt_id) { held_discarded_.push_back(build_attempt_id); }
  // Readers following logs are woken (a task ended) once the call is durable.
  void WakeLogReaders() { wake_logs_ = true; }

  // The scheduler runs before the call returns (it freed slots or queued tasks).
  void ScheduleSoon() { schedule_ = true; }
  // True once after ScheduleSoon.
  bool TakeScheduleRequest() { return std::exchange(schedule_, false); }

  struct Receivers {
    std::function<std::shared_ptr<AgentChannel>(const std::string& agent_id)> channel_of;  // null: gone
    std::function<void(const TaskKey& task, const std::string& attempt_id)> attempt_ended;
    std::function<void()> wake_logs;
    std::function<void(const std::string& build_attempt_id)> held_discarded;
  };
  // Moves everything collected into a commit, deliveries in the order they were made, and
  // leaves the change set empty.
  CommitWriter::Commit Take(const Receivers& receivers);

 private:
  StoreBatch batch_;
  std::vector<TaskRecord*> dirty_;
  // Deliveries in order: a message for an agent (by id) or a watcher event.
  struct Delivery {
    std::string agent_id;
    v1::CoordinatorMessage message;
    std::vector<std::shared_ptr<BuildWatcher>> watchers;
    v1::BuildEvent event;
  };
  std::vector<Delivery> deliveries_;
  std::vector<std::pair<TaskKey, std::string>> ended_attempts_;
  std::vector<std::string> held_discarded_;
  bool wake_logs_ = false;
  bool schedule_ = false;
};

}  // namespace cwb
