// The coordinator's logic, behind plain methods so it is tested without gRPC: builds and their
// tasks, agents and their sessions, attempts, scheduling, leases, reconciliation after restarts,
// durations of earlier builds (long tasks start first) and the result cache (an unchanged task at
// an unchanged commit is not built again).
//
// Owns the in-memory view. Each public call collects its changes and hands them to the
// CommitWriter, which makes them durable (one transaction for many calls under load) and only
// then visible (messages to agents, watcher events), so nothing is seen that a restart would
// forget; reads of the in-memory view may be a transaction ahead. Thread-safe (one mutex); never
// blocks on the network: messages to agents go through AgentChannel::Send, which only enqueues.
// Costs do not grow with the number of tasks: build summaries are counted as tasks change, and
// the scheduler looks only at the queue's groups and at tasks it assigns (TaskQueue).
#pragma once

#include <array>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/node_hash_map.h"
#include "absl/status/statusor.h"
#include "common/base/cancellation.h"
#include "common/base/clock.h"
#include "common/web/metrics.h"
#include "common/rpc/task_state.h"
#include "coordinator/artifact_store.h"
#include "coordinator/commit_writer.h"
#include "coordinator/log_store.h"
#include "coordinator/source_resolver.h"
#include "coordinator/state_store.h"
#include "coordinator/task_queue.h"
#include "cwb/v1/agent.pb.h"
#include "cwb/v1/client.pb.h"

namespace cwb {

// The way to one connected agent's session stream. Send never blocks.
class AgentChannel {
 public:
  virtual ~AgentChannel() = default;
  virtual void Send(v1::CoordinatorMessage message) = 0;
  // Ends the session (the agent will reconnect).
  virtual void Close() = 0;
};

// Events of one build for one watcher, in order. Thread-safe.
class BuildWatcher {
 public:
  void Push(v1::BuildEvent event);
  // Waits up to `timeout` for the next event; false if none came (or Close was called).
  bool Next(v1::BuildEvent* event, std::chrono::milliseconds timeout);
  void Close();
  bool closed() const;

 private:
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<v1::BuildEvent> events_;
  bool closed_ = false;
};

struct CoordinatorOptions {
  std::filesystem::path data_dir;
  std::chrono::milliseconds heartbeat_interval{2000};
  std::chrono::milliseconds lease{10000};  // also the grace after a restart
  uint32_t retry_limit = 3;                // attempts per task before a lost agent fails it
  uint64_t max_upload_bytes = 8ull << 30;
  uint64_t max_log_bytes = 64ull << 20;    // per task, on the coordinator
  uint32_t task_time_limit_s = 0;          // 0: none
  std::chrono::milliseconds scheduler_tick{500};
  std::chrono::milliseconds resolve_timeout{30000};  // git ls-remote of one source
};

class Coordinator {
 public:
  // `resolver` finds the commits of sources for the result cache; null: git ls-remote.
  static absl::StatusOr<std::unique_ptr<Coordinator>> Create(
      CoordinatorOptions options, Clock& clock, std::unique_ptr<SourceResolver> resolver = nullptr);
  ~Coordinator();

  // ---- client API ----
  // Plans the config and queues its tasks; a task whose spec was built before at the commit its
  // source resolves to now is completed at once with those wheels (unless request.no_cache).
  // The new build without its tasks.
  absl::StatusOr<v1::BuildInfo> Submit(const v1::SubmitBuildRequest& request);
  absl::StatusOr<v1::BuildInfo> GetBuild(const std::string& build_id, v1::TaskView view = v1::TASK_VIEW_FULL);
  // The same into `out` (on `out`'s arena, if it has one: ten thousand tasks without ten thousand
  // allocations each).
  absl::Status GetBuildInto(const std::string& build_id, v1::TaskView view, v1::BuildInfo* out);
  std::vector<v1::BuildInfo> ListBuilds();
  absl::StatusOr<v1::TaskInfo> GetTask(const std::string& build_id, const std::string& task_id);
  // A watcher of the build's task changes, and the build as it is now; both carry task summaries
  // (TASK_VIEW_SUMMARY).
  absl::StatusOr<std::shared_ptr<BuildWatcher>> Watch(const std::string& build_id,
                                                      v1::BuildInfo* snapshot);
  absl::StatusOr<uint32_t> Cancel(const std::string& build_id, const std::string& task_id);
  absl::StatusOr<uint32_t> Retry(const std::string& build_id,
                                 const std::vector<std::string>& task_ids);
  std::vector<v1::AgentInfo> ListAgents();
  // The stored file of an artifact of a succeeded task.
  absl::StatusOr<std::pair<v1::ArtifactInfo, std::filesystem::path>> FindArtifact(
      const std::string& build_id, const std::string& task_id, const std::string& filename);

  // ---- agent API ----
  absl::StatusOr<v1::RegisterAck> Register(const v1::Register& request,
                                           std::shared_ptr<AgentChannel> channel);
  // A heartbeat; status updates and logs count as one too.
  void Heartbeat(const std::string& agent_id, const AgentChannel* channel);
  void Disconnected(const std::string& agent_id, const AgentChannel* channel);
  void OnStatus(const std::string& agent_id, const v1::TaskStatusUpdate& update);
  void OnLogs(const std::string& agent_id, const v1::LogBatch& batch);
  // Whether an upload for this attempt may start (FailedPrecondition for a stale attempt).
  absl::Status CheckUpload(const v1::UploadHeader& header);
  absl::Status RecordUpload(const v1::UploadHeader& header, const v1::ArtifactInfo& artifact,
                            const std::filesystem::path& path);

  // ---- time ----
  // Expires leases and assigns queued tasks. Calls that free slots or queue tasks schedule by
  // themselves before they return; this catches up with time. Called by RunScheduler, or
  // directly by tests.
  void Tick();
  // Calls Tick every scheduler_tick until `stop`.
  void RunScheduler(Cancellation& stop);

  // Group commit on a thread of its own (the server runs this); without it, each call writes and
  // delivers its changes before returning.
  void StartCommitThread();
  // Writes and delivers what is pending, then writes at once again.
  void StopCommitThread();

  LogStore& logs() { return logs_; }
  ArtifactStore& artifacts() { return artifacts_; }
  // Tasks by state, the queue, agents, durations, uploads and cache hits (served at /metrics).
  MetricsRegistry& metrics() { return metrics_; }
  // Every wheel of a succeeded task, oldest build first, with the axes of its task.
  struct BuiltWheel {
    std::string build_id, task_id, project;
    std::vector<std::pair<std::string, std::string>> axes;
    v1::ArtifactInfo artifact;
  };
  std::vector<BuiltWheel> ListWheels();

 private:
  using TaskKey = TaskQueue::TaskKey;
  // A task as the coordinator holds it. Its spec lacks the Dockerfile template, which its build
  // keeps once (BuildState::templates); assignments put it back.
  struct TaskRecord {
    v1::TaskInfo info;
    int template_index = -1;
    uint32_t index = 0;  // position in the build's matrix
    bool dirty = false;  // in the pending batch
  };
  struct BuildState {
    v1::BuildInfo header;  // without tasks and counts
    uint64_t seq = 0;      // submission order
    std::vector<std::string> task_ids;
    std::vector<std::string> templates;
    std::array<uint32_t, v1::TaskState_ARRAYSIZE> counts{};  // tasks in each state
    std::vector<std::weak_ptr<BuildWatcher>> watchers;
  };
  struct AgentState {
    v1::AgentInfo info;
    std::shared_ptr<AgentChannel> channel;  // null while disconnected
    Clock::SteadyTime last_seen;
    std::set<std::string> attempts;  // attempt ids bound to this agent
  };
  class Locked;

  Coordinator(CoordinatorOptions options, Clock& clock, std::unique_ptr<StateStore> store,
              std::unique_ptr<SourceResolver> resolver);
  absl::Status Recover();
  void RemoveDebris();

  int64_t NowMs();
  std::string NewId(const char* prefix);
  void Wake();
  // Has the scheduler run at the end of the current call (in Flush).
  void ScheduleSoon();
  v1::BuildInfo BuildView(BuildState& build, v1::TaskView view);
  void FillBuildView(BuildState& build, v1::TaskView view, v1::BuildInfo* out);
  // `info` with its spec cut to id, project and axes (TASK_VIEW_SUMMARY).
  static void Summarize(v1::TaskInfo& info, v1::TaskInfo* summary);
  // Adds a loaded or submitted task to the counts (and the queue when queued).
  void Track(TaskRecord& task);
  // Moves a task to `state`, keeping its build's counts and the queue in step.
  void SetState(TaskRecord& task, v1::TaskState state);
  // Publishes a task change once the pending batch is durable; `persist`: the change is part
  // of it (a new waiting reason alone is not: it is recomputed after a restart).
  void Changed(TaskRecord& task, bool persist = true);
  void Persist(const v1::AgentInfo& agent);
  // The agent is alive now (it sent something).
  void Seen(const std::string& agent_id);
  void SendTo(const std::string& agent_id, v1::CoordinatorMessage message);
  // Hands the call's changes to the writer: store writes, then the messages and events that
  // waited for them. Called with the lock, at the end of each call.
  void Flush();
  // Cancels the rest of each fail_fast build a task of which failed in this call.
  void FailFast();

  void EndAttempt(TaskRecord& task, const std::string& outcome);
  void RequeueOrFail(TaskRecord& task, const std::string& reason);
  void LoseAgent(AgentState& agent, const std::string& reason);
  void ExpireLeases();
  void ScheduleLocked();
  void Assign(TaskRecord& task, AgentSlots& agent);
  void UpdateWaitingReasons(TaskQueue::Group& group);
  void CancelLocked(TaskRecord& task, const std::string& reason);
  void RecordDuration(const TaskRecord& task);
  void RegisterMetrics();
  // Observes an ended attempt's build time in the duration histogram.
  void ObserveEnd(const TaskRecord& task);
  int64_t ExpectedMs(const v1::TaskSpec& spec) const;
  TaskQueue::Order OrderOf(const TaskRecord& task);
  // Completes a new task from an earlier build of the same spec at `commit`, if the result
  // cache has one whose wheels are still stored; true if it did.
  bool ReuseResult(TaskRecord& task, const std::string& commit,
                   std::set<std::filesystem::path>* synced, std::vector<v1::LogLine>* log);
  TaskRecord* FindAttempt(const std::string& attempt_id);
  TaskRecord* FindTask(const std::string& build_id, const std::string& task_id);

  const CoordinatorOptions options_;
  Clock& clock_;
  std::unique_ptr<StateStore> store_;
  CommitWriter writer_;
  std::unique_ptr<ProcessRunner> resolver_runner_;  // for the default resolver
  std::unique_ptr<SourceResolver> resolver_;
  LogStore logs_;
  ArtifactStore artifacts_;
  MetricsRegistry metrics_;
  std::map<std::string, std::string> fail_fast_;  // build -> its first failed task, in this call
  Histogram* queue_wait_ = nullptr;
  Counter* uploaded_bytes_ = nullptr;
  Counter* result_cache_hits_ = nullptr;

  std::mutex submit_mutex_;       // held by Submit before mutex_, never after
  std::mt19937_64 submit_random_;  // build ids; under submit_mutex_
  std::mutex mutex_;
  std::condition_variable wake_cv_;
  bool wake_ = false;
  std::mt19937_64 random_;
  uint64_t next_build_seq_ = 1;
  std::vector<std::string> build_order_;
  std::map<std::string, BuildState> builds_;
  absl::node_hash_map<TaskKey, TaskRecord> tasks_;
  absl::flat_hash_map<std::string, TaskKey> attempts_;  // current attempts only
  std::map<std::string, AgentState> agents_;
  TaskQueue queue_;
  // Bumped whenever the set of connected agents or their capabilities change; the queue's
  // per-group eligibility memos are valid for one epoch.
  uint64_t agents_epoch_ = 1;
  std::vector<AgentSlots> slots_;   // connected agents of agents_epoch_, in id order
  std::map<std::string, int64_t> durations_;  // expected build ms by target
  Clock::SteadyTime next_lease_check_{};

  // Changes of the current call, handed to writer_ by Flush.
  StoreBatch batch_;
  std::vector<TaskRecord*> dirty_;
  std::vector<std::pair<std::string, v1::CoordinatorMessage>> outbox_;
  std::vector<std::pair<std::string, v1::BuildEvent>> events_;  // by build
  bool wake_logs_ = false;
  bool schedule_ = false;
};

}  // namespace cwb
