// The coordinator's logic behind plain methods, tested without gRPC: a facade over its parts,
// each owning its own state (the model is Ray's GCS managers):
//   TaskTable       builds, tasks, attempts, counts, state changes, fail-fast   (task_table.h)
//   AgentRegistry   registration and reconciliation, heartbeats, leases         (agent_registry.h)
//   Dispatcher      the queue and the matching of queued tasks to free agents   (dispatcher.h)
//   TargetHistory   how long each target took to build                          (target_history.h)
//   ResultCache     an unchanged task at an unchanged commit is not built again (result_cache.h)
//   Recover         the memory rebuilt from the store at start                  (recovery.h)
//   CoordinatorMetrics  what /metrics shows                                     (coordinator_metrics.h)
// Each public call takes the one mutex, delegates, and at its end hands the call's ChangeSet to
// the CommitWriter, which makes it durable (one transaction for many calls under load) and only
// then visible (messages to agents, watcher events), so nothing is seen that a restart would
// forget; reads of the in-memory view may be a transaction ahead. While the state cannot be
// written (a full disk), every client call and registration answers UNAVAILABLE, nothing is
// assigned, and the changes wait in the writer until it can. Never blocks on the network:
// messages to agents go through AgentChannel::Send, which only enqueues. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/base/cancellation.h"
#include "common/base/clock.h"
#include "common/rpc/access.h"
#include "common/process/process_runner.h"
#include "coordinator/agent_channel.h"
#include "coordinator/agent_registry.h"
#include "coordinator/artifact_store.h"
#include "coordinator/build_watcher.h"
#include "coordinator/change_set.h"
#include "coordinator/commit_writer.h"
#include "coordinator/coordinator_metrics.h"
#include "coordinator/dispatcher.h"
#include "coordinator/published_names.h"
#include "coordinator/log_store.h"
#include "coordinator/result_cache.h"
#include "coordinator/source_resolver.h"
#include "coordinator/state_store.h"
#include "coordinator/target_history.h"
#include "coordinator/task_table.h"
#include "cwb/v1/agent.pb.h"
#include "cwb/v1/client.pb.h"

namespace cwb {

struct CoordinatorOptions {
  std::filesystem::path data_dir;
  std::chrono::milliseconds heartbeat_interval{2000};
  std::chrono::milliseconds lease{10000};  // also the grace after a restart
  uint32_t retry_limit = 3;                // attempts per task before a lost agent fails it
  uint64_t max_upload_bytes = 8ull << 30;
  uint64_t max_log_bytes = 64ull << 20;    // per attempt, on the coordinator (its head and tail kept)
  uint32_t task_time_limit_s = 0;          // 0: none
  std::chrono::milliseconds scheduler_tick{500};
  std::chrono::milliseconds resolve_timeout{30000};  // git ls-remote of one source
  bool clients_open = false;  // the server takes clients without a token (agents are told)
};

class Coordinator {
 public:
  // `resolver` finds the commits of sources for the result cache; null: git ls-remote.
  // Where the task logs of a coordinator with `data_dir` are (LogStore::PathOf below it).
  static std::filesystem::path LogsDir(const std::filesystem::path& data_dir) { return data_dir / "logs"; }

  static absl::StatusOr<std::unique_ptr<Coordinator>> Create(
      CoordinatorOptions options, Clock& clock, std::unique_ptr<SourceResolver> resolver = nullptr);
  ~Coordinator();

  // ---- client API ----
  // Checks the submission (CheckSubmission) and queues its tasks; a task whose spec was built
  // before at the commit its source resolves to now is completed at once with those wheels
  // (unless request.no_cache). The new build without its tasks.
  // `caller` is recorded as the build's submitter.
  absl::StatusOr<v1::BuildInfo> Submit(const v1::SubmitBuildRequest& request, const Principal& caller);
  absl::StatusOr<v1::BuildInfo> GetBuild(const std::string& build_id, v1::TaskView view = v1::TASK_VIEW_FULL);
  // The same into `out` (on `out`'s arena, if it has one: ten thousand tasks without ten thousand
  // allocations each).
  absl::Status GetBuildInto(const std::string& build_id, v1::TaskView view, v1::BuildInfo* out);
  absl::StatusOr<std::vector<v1::BuildInfo>> ListBuilds();
  absl::StatusOr<v1::TaskInfo> GetTask(const std::string& build_id, const std::string& task_id);
  // A watcher of the build's task changes, and the build as it is now; both carry task summaries
  // (TASK_VIEW_SUMMARY).
  absl::StatusOr<std::shared_ptr<BuildWatcher>> Watch(const std::string& build_id, v1::BuildInfo* snapshot);
  // Cancel and Retry change a build `caller` submitted, or any build for an admin
  // (PermissionDenied otherwise).
  absl::StatusOr<uint32_t> Cancel(const std::string& build_id, const std::string& task_id, const Principal& caller);
  absl::StatusOr<uint32_t> Retry(const std::string& build_id, const std::vector<std::string>& task_ids,
                                 const Principal& caller);
  absl::StatusOr<std::vector<v1::AgentInfo>> ListAgents();
  // The stored file of an artifact of a succeeded task.
  absl::StatusOr<std::pair<v1::ArtifactInfo, std::filesystem::path>> FindArtifact(
      const std::string& build_id, const std::string& task_id, const std::string& filename);
  // Every wheel of a succeeded task, oldest build first, with the axes of its task.
  absl::StatusOr<std::vector<StoredWheel>> ListWheels();

  // ---- agent API ----
  absl::StatusOr<v1::RegisterAck> Register(const v1::Register& request, std::shared_ptr<AgentChannel> channel);
  // A heartbeat; status updates and logs count as one too.
  void Heartbeat(const std::string& agent_id, const AgentChannel* channel);
  void Disconnected(const std::string& agent_id, const AgentChannel* channel);
  void OnStatus(const std::string& agent_id, const v1::TaskStatusUpdate& update);
  void OnLogs(const std::string& agent_id, const v1::LogBatch& batch);
  // Whether an upload for this attempt may start: FailedPrecondition for a stale attempt,
  // PermissionDenied when the header does not carry the session that holds it.
  absl::Status CheckUpload(const v1::UploadHeader& header);
  // Whether the upload, now that its digest is known, may be kept: a name once verified within an
  // attempt cannot change (InvalidArgument for other bytes; the same bytes again are fine).
  absl::Status CheckUploadDigest(const v1::UploadHeader& header, const std::string& sha256);
  absl::Status RecordUpload(const v1::UploadHeader& header, const v1::ArtifactInfo& artifact,
                            const std::filesystem::path& path);
  // A held wheel of a current TEST attempt, for the session holding it, and its file:
  // FailedPrecondition for any other attempt, PermissionDenied from another session, NotFound for
  // a name the task does not hold.
  absl::StatusOr<std::pair<v1::ArtifactInfo, std::filesystem::path>> FindHeldWheel(
      const v1::DownloadHeldWheelRequest& request);
  // The trust domain of a current attempt, for the session holding it (OpenCompileCache): refused
  // as CheckUpload refuses.
  absl::StatusOr<std::string> TrustDomainOfAttempt(const std::string& build_id, const std::string& task_id,
                                                   const std::string& attempt_id, const std::string& session);
  // The trust domain of an attempt while it is current, whoever asks (the compile cache's store
  // and its Redis users); nothing once it has ended.
  std::optional<std::string> TrustDomainOfCurrentAttempt(const std::string& attempt_id);

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
  MetricsRegistry& metrics() { return metrics_.registry(); }

 private:
  class Locked;

  Coordinator(CoordinatorOptions options, Clock& clock, std::unique_ptr<StateStore> store,
              std::unique_ptr<ProcessRunner> resolver_runner, std::unique_ptr<SourceResolver> resolver);

  int64_t NowMs();
  void Wake();
  // UNAVAILABLE, saying why, while the state cannot be written (nothing is shown or assigned
  // until it can); OK otherwise.
  absl::Status Available() const;
  // Ends the call: fail-fast cancellations, the scheduler if the call asked for it, then the
  // change set to the writer. Called with the lock, by Locked.
  void Flush();
  // The task whose current attempt `attempt_id` is (of that build and task, not ended, and of
  // `step` if given), held by `session`. FailedPrecondition ("is not the
  // <what> of task ...") or PermissionDenied ("the <request> does not come from ...") otherwise.
  absl::StatusOr<TaskRecord*> HeldAttemptLocked(const std::string& build_id, const std::string& task_id,
                                                const std::string& attempt_id, const std::string& session,
                                                std::optional<v1::TaskStep> step, const char* what, const char* request);
  // ---- attempt results (agent_reports.cc) ----
  struct StoredFile {
    v1::ArtifactInfo artifact;
    std::filesystem::path path;
  };
  // The agent reported how its attempt of `task` ended: a WHOLE or TEST attempt's wheels are
  // published when it succeeded, a BUILD attempt's held back (BUILT) for its smoke test.
  void EndTask(TaskRecord& task, const v1::TaskStatusUpdate& update);
  // The uploads the update names, with their files; why not, or "".
  std::string UploadsOf(const v1::TaskStatusUpdate& update, std::vector<StoredFile>* files);
  // Publishes the files as the task's artifacts; why not, or "" when all went in.
  std::string PublishFiles(TaskRecord& task, const std::vector<StoredFile>& files);
  // Publishes the task's held wheels; why not, or "".
  std::string PublishHeld(TaskRecord& task);
  // Holds the wheels a BUILD attempt uploaded (into `held`); why not, or "".
  std::string HoldUploads(const v1::TaskStatusUpdate& update, std::vector<v1::ArtifactInfo>* held);
  // Built tasks of builds that allow untested wheels, whose smoke test no connected agent can run:
  // published, marked untested. Called after each Schedule.
  void PublishUntestable();

  const CoordinatorOptions options_;
  Clock& clock_;
  std::unique_ptr<StateStore> store_;
  CommitWriter writer_;
  std::unique_ptr<ProcessRunner> resolver_runner_;  // for the default resolver
  std::unique_ptr<SourceResolver> resolver_;
  LogStore logs_;
  ArtifactStore artifacts_;
  CoordinatorMetrics metrics_;
  ResultCache result_cache_;

  std::mutex submit_mutex_;        // held by Submit before mutex_, never after
  std::mt19937_64 submit_random_;  // build ids; under submit_mutex_
  std::mutex mutex_;
  std::condition_variable wake_cv_;
  bool wake_ = false;
  TargetHistory history_;
  Dispatcher dispatcher_;
  TaskTable tasks_;
  AgentRegistry agents_;
  PublishedNames published_;  // every build's wheels: a name never changes content
  ChangeSet changes_;  // the current call's
};

}  // namespace cwb
