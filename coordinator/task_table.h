// The builds, their tasks and the tasks' current attempts: the coordinator's record of what is to
// be built and how far each task got. It owns every TaskRecord and keeps, as tasks change state,
// each build's counts (so summaries cost nothing however large the build), which attempts are
// current and which agent each is bound to, and the fail_fast builds that saw a failure. Every
// change goes into the caller's ChangeSet (rows to write, messages, watcher events); queue entry
// and exit are told to the QueueListener (the dispatcher). Not thread-safe: used under the
// coordinator's lock.
#pragma once

#include <array>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/node_hash_map.h"
#include "coordinator/build_watcher.h"
#include "coordinator/change_set.h"
#include "coordinator/task_record.h"
#include "cwb/v1/client.pb.h"

namespace cwb {

// A build as the coordinator holds it.
struct BuildRecord {
  v1::BuildInfo header;  // without tasks and counts
  uint64_t seq = 0;      // submission order
  std::vector<std::string> task_ids;
  std::array<uint32_t, v1::TaskState_ARRAYSIZE> counts{};  // tasks in each state
  uint32_t untested = 0;  // succeeded tasks published without their smoke test
  std::vector<std::weak_ptr<BuildWatcher>> watchers;

  // Every task is terminal.
  bool finished() const;
};

// Told when a task enters or leaves the queue (the dispatcher keeps the queue).
class QueueListener {
 public:
  virtual ~QueueListener() = default;
  virtual void Queued(const TaskRecord& task, uint64_t build_seq) = 0;
  virtual void Dequeued(const TaskKey& key) = 0;
};

using StateTotals = std::array<uint64_t, v1::TaskState_ARRAYSIZE>;

// A wheel of a succeeded task, with the task's axes.
struct StoredWheel {
  std::string build_id, task_id, project;
  std::vector<std::pair<std::string, std::string>> axes;
  v1::ArtifactInfo artifact;
};

// What an agent's current attempts hold of it: their shares' cores and memory, and how many are
// GPU tasks; kept as attempts are bound and end, so taking stock costs nothing per attempt.
struct AgentLoad {
  int64_t cores = 0;
  int64_t memory_bytes = 0;
  int gpu_tasks = 0;
};

class TaskTable {
 public:
  // `retry_limit`: attempts a task gets before a lost agent fails it.
  TaskTable(QueueListener& queue, uint32_t retry_limit) : queue_(queue), retry_limit_(retry_limit) {}

  // ---- builds and tasks ----
  // Adds a build after the others, with its tasks in matrix order (submitted now, or loaded at
  // start): each is counted, queued when QUEUED, and its attempt bound to its agent when it has
  // a current one.
  BuildRecord& AddBuild(v1::BuildInfo header, std::vector<TaskRecord> tasks);
  // Keeps the rendered Dockerfile of an image, by its content hash (once, whatever builds use it).
  void AddImage(const std::string& content_hash, std::string dockerfile);
  // The Dockerfile of an image, or null when it is not known.
  const std::string* FindImage(const std::string& content_hash) const;
  BuildRecord* FindBuild(const std::string& build_id);
  TaskRecord* Find(const std::string& build_id, const std::string& task_id);
  TaskRecord* Find(const TaskKey& key) { return Find(key.first, key.second); }
  // The task whose current attempt this is, or null (ended, replaced, or never existed).
  TaskRecord* FindAttempt(const std::string& attempt_id);
  // The task's trust domain (trust_domain.h): its repository and its build's submitter.
  std::string TrustDomainOf(const TaskRecord& task) const;
  // Build ids in submission order.
  const std::vector<std::string>& build_order() const { return build_order_; }
  // The current attempts bound to an agent.
  const std::set<std::string>& AttemptsOf(const std::string& agent_id) const;
  // What the agent's current attempts hold of it.
  const AgentLoad& LoadOf(const std::string& agent_id) const;
  // Tasks in each state over every build.
  StateTotals Totals() const;
  // Calls `fn` with each task that has a current attempt (assigned or running); costs what those do.
  void ForEachCurrentAttempt(const std::function<void(const TaskRecord&)>& fn) const;
  // Whether the task's build is at its max_parallel (tasks assigned or running).
  bool AtParallelLimit(const TaskKey& key) const;

  // ---- changes; each goes into `changes` ----
  // Moves a task to `state`, keeping its build's counts and the queue (QUEUED and BUILT tasks wait
  // in it) in step; a failure in a fail_fast build is noted for ApplyFailFast.
  void SetState(TaskRecord& task, v1::TaskState state);
  // Publishes a change: the task's row is written (unless !persist: a new waiting reason alone
  // is recomputed after a restart) and its build's watchers get its summary.
  void Changed(TaskRecord& task, ChangeSet& changes, bool persist = true);
  // A new attempt of a waiting task on `agent_id` with `share` of it: ASSIGNED, bound, recorded and
  // sent to the agent with the task's rendered Dockerfile put back into its spec. Its step is the
  // task's next (NextStep): a BUILT task's is its TEST, which gets the held wheels.
  void StartAttempt(TaskRecord& task, const std::string& attempt_id, const std::string& agent_id,
                    const v1::ResourceShare& share, uint32_t time_limit_s, int64_t now_ms, ChangeSet& changes);
  // The attempt ran out of memory: queued again once (`memory_retried`), its agent's next share
  // sized from the use it reported (TargetHistory).
  void RequeueOutOfMemory(TaskRecord& task, const std::string& message, int64_t now_ms, ChangeSet& changes);
  // Ends the task's current attempt (if any) with `outcome` (succeeded, failed, cancelled, lost):
  // unbound, recorded, its uploads discarded. The task's state is the caller's.
  void EndAttempt(TaskRecord& task, const std::string& outcome, int64_t now_ms, ChangeSet& changes);
  // The BUILD attempt built `held` (its wheels, stored for it on the coordinator): BUILT, waiting
  // for an agent to smoke-test them.
  void Built(TaskRecord& task, std::vector<v1::ArtifactInfo> held, const std::string& message, int64_t now_ms,
             ChangeSet& changes);
  // The held wheels of the task are no longer wanted: forgotten, their files removed once durable.
  void DiscardHeld(TaskRecord& task, ChangeSet& changes);
  // The task's agent is gone: queued again (BUILT again for a lost smoke test), or failed once it
  // used its attempts.
  void RequeueOrFail(TaskRecord& task, const std::string& reason, int64_t now_ms, ChangeSet& changes);
  // Cancels a task (its running attempt is told to stop).
  void Cancel(TaskRecord& task, const std::string& reason, int64_t now_ms, ChangeSet& changes);
  // Cancels every unfinished task of a build (or only `task_id`); how many.
  uint32_t CancelBuild(BuildRecord& build, const std::string& task_id, int64_t now_ms, ChangeSet& changes);
  // Queues failed and cancelled tasks again (all of the build, or those named); how many.
  uint32_t Retry(BuildRecord& build, const std::vector<std::string>& task_ids, int64_t now_ms, ChangeSet& changes);
  // Cancels the rest of each fail_fast build a task of which failed since the last call.
  void ApplyFailFast(int64_t now_ms, ChangeSet& changes);

  // ---- views ----
  // The build's header and counts, with its tasks as `view` says, into `out` (on out's arena, if
  // it has one).
  void FillBuildView(const BuildRecord& build, v1::TaskView view, v1::BuildInfo* out);
  // Every wheel of a succeeded task, oldest build first.
  std::vector<StoredWheel> ListWheels() const;
  // The BUILD attempts whose wheels are held now (TaskInfo.held_by).
  std::set<std::string> HeldAttempts() const;
  // `info` with its spec cut to id, project and axes (TASK_VIEW_SUMMARY).
  static void Summarize(v1::TaskInfo& info, v1::TaskInfo* summary);

 private:
  void Bind(const TaskRecord& task);

  QueueListener& queue_;
  const uint32_t retry_limit_;
  uint64_t next_build_seq_ = 1;
  std::vector<std::string> build_order_;
  std::map<std::string, BuildRecord> builds_;
  std::map<std::string, std::string> images_;  // content hash -> rendered Dockerfile
  absl::node_hash_map<TaskKey, TaskRecord> tasks_;
  absl::flat_hash_map<std::string, TaskKey> attempts_;  // current attempts only
  std::map<std::string, std::set<std::string>> attempts_by_agent_;
  std::map<std::string, AgentLoad> load_by_agent_;  // agents with current attempts only
  std::map<std::string, std::string> fail_fast_;  // build -> its first failed task, since the last apply
};

}  // namespace cwb
