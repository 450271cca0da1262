// The coordinator's logic, behind plain methods so it is tested without gRPC: builds and their
// tasks, agents and their sessions, attempts, scheduling, leases, reconciliation after restarts.
// Owns the in-memory view; every change is written through to the StateStore before it is
// visible. Thread-safe (one mutex); never blocks on the network: messages to agents go through
// AgentChannel::Send, which only enqueues.
#pragma once

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

#include "absl/status/statusor.h"
#include "common/cancellation.h"
#include "common/clock.h"
#include "common/task_state.h"
#include "coordinator/artifact_store.h"
#include "coordinator/log_store.h"
#include "coordinator/state_store.h"
#include "cwb/v1/agent.pb.h"
#include "cwb/v1/client.pb.h"

namespace cwb {

// The way to one connected agent's session stream. Send never blocks.
class AgentChannel {
 public:
  virtual ~AgentChannel() = default;
  virtual void Send(const v1::CoordinatorMessage& message) = 0;
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
};

class Coordinator {
 public:
  static absl::StatusOr<std::unique_ptr<Coordinator>> Create(CoordinatorOptions options,
                                                             Clock& clock);

  // ---- client API ----
  absl::StatusOr<v1::BuildInfo> Submit(const v1::SubmitBuildRequest& request);
  absl::StatusOr<v1::BuildInfo> GetBuild(const std::string& build_id);
  std::vector<v1::BuildInfo> ListBuilds();
  absl::StatusOr<v1::TaskInfo> GetTask(const std::string& build_id, const std::string& task_id);
  // A watcher of the build's task changes, and the build as it is now.
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
  void Heartbeat(const std::string& agent_id, const AgentChannel* channel);
  void Disconnected(const std::string& agent_id, const AgentChannel* channel);
  void OnStatus(const std::string& agent_id, const v1::TaskStatusUpdate& update);
  void OnLogs(const std::string& agent_id, const v1::LogBatch& batch);
  // Whether an upload for this attempt may start (FailedPrecondition for a stale attempt).
  absl::Status CheckUpload(const v1::UploadHeader& header);
  absl::Status RecordUpload(const v1::UploadHeader& header, const v1::ArtifactInfo& artifact,
                            const std::filesystem::path& path);

  // ---- time ----
  // Expires leases and assigns queued tasks. Called by RunScheduler, or directly by tests.
  void Tick();
  // Calls Tick whenever something changed, and at least every scheduler_tick, until `stop`.
  void RunScheduler(Cancellation& stop);

  LogStore& logs() { return logs_; }
  ArtifactStore& artifacts() { return artifacts_; }

 private:
  struct BuildState {
    v1::BuildInfo header;  // without tasks
    std::vector<std::string> task_ids;
    std::vector<std::weak_ptr<BuildWatcher>> watchers;
  };
  struct AgentState {
    v1::AgentInfo info;
    std::shared_ptr<AgentChannel> channel;  // null while disconnected
    Clock::SteadyTime last_seen;
    std::set<std::string> attempts;  // attempt ids bound to this agent
  };
  using TaskKey = std::pair<std::string, std::string>;  // build, task

  Coordinator(CoordinatorOptions options, Clock& clock, std::unique_ptr<StateStore> store);
  absl::Status Recover();
  void RemoveDebris();

  int64_t NowMs();
  std::string NewId(const char* prefix);
  void Wake();
  v1::BuildInfo BuildView(const BuildState& build, bool with_tasks);
  // Persists and publishes a task change.
  void Changed(v1::TaskInfo& task);
  void Persist(const v1::AgentInfo& agent);
  void EndAttempt(v1::TaskInfo& task, const std::string& outcome);
  void RequeueOrFail(v1::TaskInfo& task, const std::string& reason);
  void LoseAgent(AgentState& agent, const std::string& reason);
  void ScheduleLocked();
  void CancelLocked(v1::TaskInfo& task, const std::string& reason);
  v1::TaskInfo* FindAttempt(const std::string& attempt_id);
  void SendTo(const std::string& agent_id, const v1::CoordinatorMessage& message);

  const CoordinatorOptions options_;
  Clock& clock_;
  std::unique_ptr<StateStore> store_;
  LogStore logs_;
  ArtifactStore artifacts_;

  std::mutex mutex_;
  std::condition_variable wake_cv_;
  bool wake_ = false;
  std::mt19937_64 random_;
  std::vector<std::string> build_order_;
  std::map<std::string, BuildState> builds_;
  std::map<TaskKey, v1::TaskInfo> tasks_;
  std::map<std::string, TaskKey> attempts_;  // current attempts only
  std::map<std::string, AgentState> agents_;
};

}  // namespace cwb
