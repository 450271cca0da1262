#include "coordinator/coordinator.h"

#include <algorithm>
#include <iostream>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/process/boost_process_runner.h"
#include "common/rpc/task_proto.h"
#include "common/rpc/task_state.h"
#include "common/web/server_log.h"
#include "coordinator/request_checks.h"
#include "coordinator/recovery.h"

namespace cwb {
namespace {

absl::Status NotFoundBuild(const std::string& build_id) {
  return absl::NotFoundError(absl::StrCat("build_id: no build '", build_id, "'"));
}

// Whether `caller` may change `build` (cancel or retry): their own, or anyone's for an admin.
absl::Status MayChange(const BuildRecord& build, const Principal& caller, const char* verb) {
  if (Allows(caller.role, Role::kAdmin) || build.header.submitted_by() == caller.name) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat("build ", build.header.build_id(), " was submitted by ",
                                                  build.header.submitted_by(), "; ", verb,
                                                  " another's build needs the admin role"));
}

}  // namespace

// Holds the coordinator's mutex for one call and flushes the call's changes before releasing it.
class Coordinator::Locked {
 public:
  explicit Locked(Coordinator& coordinator) : coordinator_(coordinator), lock_(coordinator.mutex_) {}
  ~Locked() { coordinator_.Flush(); }

 private:
  Coordinator& coordinator_;
  std::lock_guard<std::mutex> lock_;
};

absl::StatusOr<std::unique_ptr<Coordinator>> Coordinator::Create(CoordinatorOptions options, Clock& clock,
                                                                 std::unique_ptr<SourceResolver> resolver) {
  absl::StatusOr<std::unique_ptr<StateStore>> store = StateStore::Open(options.data_dir / "state.sqlite3");
  if (!store.ok()) return store.status();
  absl::StatusOr<StoredState> state = (*store)->LoadAll();
  if (!state.ok()) return state.status();
  std::unique_ptr<ProcessRunner> runner;
  if (resolver == nullptr) {
    runner = std::make_unique<BoostProcessRunner>();
    resolver = MakeGitSourceResolver(*runner, options.resolve_timeout);
  }
  std::unique_ptr<Coordinator> coordinator(
      new Coordinator(std::move(options), clock, *std::move(store), std::move(runner), std::move(resolver)));
  {
    Locked locked(*coordinator);
    Recover(*std::move(state), coordinator->tasks_, coordinator->agents_, coordinator->history_);
    RemoveDebris(coordinator->options_.data_dir, coordinator->tasks_);
    for (const StoredWheel& wheel : coordinator->tasks_.ListWheels()) {
      coordinator->published_.Add(wheel.artifact.filename(), wheel.artifact.sha256(), wheel.build_id);
    }
  }
  return coordinator;
}

Coordinator::Coordinator(CoordinatorOptions options, Clock& clock, std::unique_ptr<StateStore> store,
                         std::unique_ptr<ProcessRunner> resolver_runner, std::unique_ptr<SourceResolver> resolver)
    : options_(std::move(options)),
      clock_(clock),
      store_(std::move(store)),
      writer_(*store_, clock_),
      resolver_runner_(std::move(resolver_runner)),
      resolver_(std::move(resolver)),
      logs_(LogsDir(options_.data_dir), options_.max_log_bytes),
      artifacts_(options_.data_dir, options_.max_upload_bytes),
      result_cache_(*store_, artifacts_, *resolver_, metrics_.result_cache_hits()),
      submit_random_(std::random_device{}()),
      dispatcher_(history_, metrics_.queue_wait(), options_.task_time_limit_s),
      tasks_(dispatcher_, options_.retry_limit),
      agents_({options_.heartbeat_interval, options_.lease, options_.scheduler_tick, options_.clients_open}, clock_,
              tasks_) {
  metrics_.AddGauges(mutex_, tasks_, agents_, [this] { return writer_.health().ok(); });
}

Coordinator::~Coordinator() { writer_.Stop(); }

int64_t Coordinator::NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock_.WallNow().time_since_epoch()).count();
}

absl::Status Coordinator::Available() const {
  absl::Status health = writer_.health();
  if (health.ok()) return health;
  return absl::UnavailableError(
      absl::StrCat("the coordinator cannot write its state (", health.message(), "); it answers again once it can"));
}

void Coordinator::Wake() {
  wake_ = true;
  wake_cv_.notify_all();
}

void Coordinator::Flush() {
  tasks_.ApplyFailFast(NowMs(), changes_);
  // A call that freed slots or queued tasks assigns them before it returns: no thread handoff
  // between a slot freeing and its next assignment. Nothing is assigned while the state cannot
  // be written; the scheduler's next tick catches up once it can.
  if (changes_.TakeScheduleRequest() && writer_.health().ok()) {
    dispatcher_.Schedule(tasks_, agents_, NowMs(), changes_);
  }
  writer_.Submit(changes_.Take({
      .channel_of = [this](const std::string& agent_id) { return agents_.ChannelOf(agent_id); },
      .attempt_ended =
          [this](const TaskKey& task, const std::string& attempt_id) {
            artifacts_.DiscardUploads(attempt_id);
            logs_.EndAttempt(task.first, task.second, attempt_id);
          },
      .wake_logs = [this] { logs_.Wake(); },
  }));
}

void Coordinator::StartCommitThread() { writer_.Start(); }

void Coordinator::StopCommitThread() { writer_.Stop(); }

// ---- client API ----

absl::StatusOr<v1::BuildInfo> Coordinator::Submit(const v1::SubmitBuildRequest& request, const Principal& caller) {
  if (absl::Status s = CheckSubmission(request); !s.ok()) return s;
  if (absl::Status s = Available(); !s.ok()) return s;
  const v1::BuildPlan& plan = request.plan();
  const std::string name = request.config_name().empty() ? "config.yaml" : request.config_name();

  // The commit each source resolves to now (outside the lock: it may take a network round trip).
  std::map<ResultCache::Source, std::string> commits;
  if (!request.no_cache()) {
    std::set<ResultCache::Source> sources;
    for (const v1::TaskSpec& spec : plan.tasks()) sources.emplace(spec.source().repo_url(), spec.source().repo_ref());
    commits = result_cache_.Resolve(sources);
  }

  // The result cache must see every result reported before this call.
  if (absl::Status s = writer_.Sync(); !s.ok()) return Available();
  // One submission at a time from here, so builds are stored in the order they are held; all
  // but the last step run without the coordinator's lock.
  std::lock_guard submitting(submit_mutex_);
  v1::BuildInfo header;
  header.set_build_id(absl::StrFormat("b%012x", submit_random_() & 0xffffffffffffull));
  header.set_config_name(name);
  header.set_submitted_by(caller.name);
  header.set_created_at_ms(NowMs());
  header.set_fail_fast(plan.fail_fast());
  header.set_max_parallel(plan.max_parallel());
  *header.mutable_unsupported() = plan.unsupported();
  // Each distinct Dockerfile is kept once, by its hash; the tasks' specs name it.
  std::map<std::string, std::string> images;
  for (const v1::TaskSpec& spec : plan.tasks()) images.try_emplace(spec.image().content_hash());
  for (const v1::RenderedDockerfile& dockerfile : request.dockerfiles()) {
    if (auto it = images.find(dockerfile.content_hash()); it != images.end()) it->second = dockerfile.text();
  }
  std::vector<TaskRecord> records(plan.tasks_size());
  for (size_t i = 0; i < records.size(); ++i) {
    TaskRecord& task = records[i];
    task.info.set_build_id(header.build_id());
    *task.info.mutable_spec() = plan.tasks(static_cast<int>(i));
    task.info.set_state(v1::TASK_STATE_QUEUED);
    task.info.set_queued_at_ms(header.created_at_ms());
  }
  // Tasks built before at the same commit are completed from the result cache.
  std::set<std::filesystem::path> synced;
  std::map<std::string, std::vector<v1::LogLine>> reuse_logs;
  for (TaskRecord& task : records) {
    const v1::SourceSpec& source = task.info.spec().source();
    auto commit = commits.find({source.repo_url(), source.repo_ref()});
    if (commit == commits.end()) continue;
    std::vector<v1::LogLine> log;
    if (result_cache_.Reuse(task, commit->second, header.created_at_ms(), &synced, &log)) {
      reuse_logs[task.info.spec().id()] = std::move(log);
    }
  }
  std::vector<v1::TaskInfo*> rows;
  rows.reserve(records.size());
  for (TaskRecord& task : records) rows.push_back(&task.info);
  absl::Status status = artifacts_.SyncDirectories(synced);
  if (status.ok()) status = store_->InsertBuild(header, images, rows);
  if (!status.ok()) {
    std::error_code ignored;
    std::filesystem::remove_all(artifacts_.BuildDir(header.build_id()), ignored);
    return status;
  }
  for (const auto& [task_id, lines] : reuse_logs) (void)logs_.Append(header.build_id(), task_id, "", lines);

  Locked locked(*this);
  for (auto& [content_hash, dockerfile] : images) tasks_.AddImage(content_hash, std::move(dockerfile));
  BuildRecord& build = tasks_.AddBuild(header, std::move(records));
  changes_.ScheduleSoon();
  LogEvent(std::cerr, "info",
           absl::StrCat("build ", header.build_id(), " submitted: ", build.task_ids.size(), " task(s), ",
                        build.counts[v1::TASK_STATE_SUCCEEDED], " from the result cache"),
           {{"build_id", header.build_id()}, {"tasks", absl::StrCat(build.task_ids.size())}});
  v1::BuildInfo view;
  tasks_.FillBuildView(build, v1::TASK_VIEW_NONE, &view);
  return view;
}

absl::StatusOr<v1::BuildInfo> Coordinator::GetBuild(const std::string& build_id, v1::TaskView view) {
  v1::BuildInfo out;
  if (absl::Status s = GetBuildInto(build_id, view, &out); !s.ok()) return s;
  return out;
}

absl::Status Coordinator::GetBuildInto(const std::string& build_id, v1::TaskView view, v1::BuildInfo* out) {
  if (absl::Status s = Available(); !s.ok()) return s;
  Locked locked(*this);
  BuildRecord* build = tasks_.FindBuild(build_id);
  if (build == nullptr) return NotFoundBuild(build_id);
  tasks_.FillBuildView(*build, view, out);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<v1::BuildInfo>> Coordinator::ListBuilds() {
  if (absl::Status s = Available(); !s.ok()) return s;
  Locked locked(*this);
  std::vector<v1::BuildInfo> out(tasks_.build_order().size());
  for (size_t i = 0; i < out.size(); ++i) {
    tasks_.FillBuildView(*tasks_.FindBuild(tasks_.build_order()[i]), v1::TASK_VIEW_NONE, &out[i]);
  }
  return out;
}

absl::StatusOr<v1::TaskInfo> Coordinator::GetTask(const std::string& build_id, const std::string& task_id) {
  if (absl::Status s = Available(); !s.ok()) return s;
  Locked locked(*this);
  TaskRecord* task = tasks_.Find(build_id, task_id);
  if (task == nullptr) {
    if (tasks_.FindBuild(build_id) == nullptr) return NotFoundBuild(build_id);
    return absl::NotFoundError(absl::StrCat("task_id: no task '", task_id, "' in build ", build_id));
  }
  return task->info;
}

absl::StatusOr<std::shared_ptr<BuildWatcher>> Coordinator::Watch(const std::string& build_id,
                                                                 v1::BuildInfo* snapshot) {
  if (absl::Status s = Available(); !s.ok()) return s;
  Locked locked(*this);
  BuildRecord* build = tasks_.FindBuild(build_id);
  if (build == nullptr) return NotFoundBuild(build_id);
  auto watcher = std::make_shared<BuildWatcher>();
  build->watchers.push_back(watcher);
  tasks_.FillBuildView(*build, v1::TASK_VIEW_SUMMARY, snapshot);
  return watcher;
}

absl::StatusOr<uint32_t> Coordinator::Cancel(const std::string& build_id, const std::string& task_id,
                                             const Principal& caller) {
  if (absl::Status s = Available(); !s.ok()) return s;
  Locked locked(*this);
  BuildRecord* build = tasks_.FindBuild(build_id);
  if (build == nullptr) return NotFoundBuild(build_id);
  if (absl::Status s = MayChange(*build, caller, "cancelling"); !s.ok()) return s;
  if (!task_id.empty() && tasks_.Find(build_id, task_id) == nullptr) {
    return absl::NotFoundError(absl::StrCat("task_id: no task '", task_id, "' in build ", build_id));
  }
  const uint32_t cancelled = tasks_.CancelBuild(*build, task_id, NowMs(), changes_);
  changes_.ScheduleSoon();
  return cancelled;
}

absl::StatusOr<uint32_t> Coordinator::Retry(const std::string& build_id, const std::vector<std::string>& task_ids,
                                            const Principal& caller) {
  if (absl::Status s = Available(); !s.ok()) return s;
  Locked locked(*this);
  BuildRecord* build = tasks_.FindBuild(build_id);
  if (build == nullptr) return NotFoundBuild(build_id);
  if (absl::Status s = MayChange(*build, caller, "retrying"); !s.ok()) return s;
  for (const std::string& id : task_ids) {
    if (tasks_.Find(build_id, id) == nullptr) {
      return absl::NotFoundError(absl::StrCat("task_ids: no task '", id, "' in build ", build_id));
    }
  }
  const uint32_t requeued = tasks_.Retry(*build, task_ids, NowMs(), changes_);
  changes_.ScheduleSoon();
  return requeued;
}

absl::StatusOr<std::vector<v1::AgentInfo>> Coordinator::ListAgents() {
  if (absl::Status s = Available(); !s.ok()) return s;
  Locked locked(*this);
  return agents_.List();
}

absl::StatusOr<std::pair<v1::ArtifactInfo, std::filesystem::path>> Coordinator::FindArtifact(
    const std::string& build_id, const std::string& task_id, const std::string& filename) {
  absl::StatusOr<v1::TaskInfo> task = GetTask(build_id, task_id);
  if (!task.ok()) return task.status();
  for (const v1::ArtifactInfo& artifact : task->artifacts()) {
    if (artifact.filename() == filename) {
      return std::make_pair(artifact, artifacts_.BuildDir(build_id) / artifact.wheelhouse_path());
    }
  }
  return absl::NotFoundError(absl::StrCat("filename: task ", task_id, " has no artifact '", filename, "'"));
}

absl::StatusOr<std::vector<StoredWheel>> Coordinator::ListWheels() {
  if (absl::Status s = Available(); !s.ok()) return s;
  std::lock_guard lock(mutex_);
  return tasks_.ListWheels();
}

// ---- agent API ----

absl::StatusOr<v1::RegisterAck> Coordinator::Register(const v1::Register& request,
                                                      std::shared_ptr<AgentChannel> channel) {
  if (absl::Status s = Available(); !s.ok()) return s;
  Locked locked(*this);
  return agents_.Register(request, std::move(channel), changes_);
}

void Coordinator::Heartbeat(const std::string& agent_id, const AgentChannel* channel) {
  std::lock_guard lock(mutex_);  // changes nothing durable
  agents_.Heartbeat(agent_id, channel);
}

void Coordinator::Disconnected(const std::string& agent_id, const AgentChannel* channel) {
  Locked locked(*this);
  agents_.Disconnected(agent_id, channel, changes_);
}

void Coordinator::OnStatus(const std::string& agent_id, const v1::TaskStatusUpdate& update) {
  Locked locked(*this);
  agents_.Seen(agent_id);
  TaskRecord* task = tasks_.FindAttempt(update.attempt_id());
  if (task == nullptr || task->info.agent_id() != agent_id || IsTerminal(task->info.state())) {
    // A stale attempt (reassigned, cancelled or already ended): refused, and the agent told to
    // stop it if it still runs.
    if (IsTerminal(update.state())) {
      LogEvent(std::cerr, "warning",
               absl::StrCat("refused the result (", StateName(update.state()), ") of agent ", agent_id,
                            " for attempt ", update.attempt_id(), " of task ", update.task_id(),
                            ": the attempt is no longer current"),
               {{"agent_id", agent_id}, {"attempt_id", update.attempt_id()}});
    }
    if (update.state() == v1::TASK_STATE_RUNNING) {
      v1::CoordinatorMessage message;
      message.mutable_cancel()->set_attempt_id(update.attempt_id());
      message.mutable_cancel()->set_reason("this attempt is no longer current");
      changes_.Send(agent_id, std::move(message));
    }
    return;
  }
  switch (update.state()) {
    case v1::TASK_STATE_RUNNING:
      tasks_.SetState(*task, v1::TASK_STATE_RUNNING);
      task->info.set_started_at_ms(NowMs());
      task->info.clear_progress();
      task->info.set_message("");
      tasks_.Changed(*task, changes_);
      return;
    case v1::TASK_STATE_SUCCEEDED:
    case v1::TASK_STATE_FAILED:
    case v1::TASK_STATE_CANCELLED:
      EndTask(*task, update);
      return;
    default:
      return;
  }
}

std::string Coordinator::PublishUploads(TaskRecord& task, const v1::TaskStatusUpdate& update) {
  if (update.artifact_filenames().empty()) return "the agent reported no wheel";
  absl::StatusOr<std::vector<UploadRecord>> uploads = store_->UploadsFor(update.attempt_id());
  if (!uploads.ok()) return std::string(uploads.status().message());
  task.info.clear_artifacts();
  for (const std::string& filename : update.artifact_filenames()) {
    auto upload = std::find_if(uploads->begin(), uploads->end(),
                               [&](const UploadRecord& u) { return u.artifact.filename() == filename; });
    if (upload == uploads->end()) return absl::StrCat("the agent reported ", filename, " but never uploaded it");
    // A name published before with other bytes is never reused: a build tag tells them apart.
    absl::StatusOr<std::string> name = published_.NameFor(filename, upload->artifact.sha256(), task.info.build_id());
    if (!name.ok()) return std::string(name.status().message());
    v1::ArtifactInfo artifact = upload->artifact;
    if (*name != filename) {
      artifact.set_filename(*name);
      artifact.set_wheelhouse_path((std::filesystem::path(artifact.wheelhouse_path()).parent_path() / *name).string());
    }
    absl::StatusOr<std::filesystem::path> path =
        artifacts_.Publish(upload->path, task.info.build_id(), artifact.wheelhouse_path());
    if (!path.ok()) return std::string(path.status().message());
    *task.info.add_artifacts() = std::move(artifact);
  }
  for (const v1::ArtifactInfo& artifact : task.info.artifacts()) {
    published_.Add(artifact.filename(), artifact.sha256(), task.info.build_id());
  }
  return "";
}

void Coordinator::EndTask(TaskRecord& task, const v1::TaskStatusUpdate& update) {
  const int64_t now = NowMs();
  task.info.set_exit_code(update.exit_code());
  task.info.set_commit(update.commit());
  task.info.set_finished_at_ms(now);
  task.info.clear_progress();
  v1::TaskState state = update.state();
  std::string message = update.message();
  if (state == v1::TASK_STATE_SUCCEEDED) {
    if (std::string problem = PublishUploads(task, update); !problem.empty()) {
      task.info.clear_artifacts();
      state = v1::TASK_STATE_FAILED;
      message = std::move(problem);
    }
  }
  if (update.has_use()) {
    *task.info.mutable_use() = update.use();
    metrics_.ObserveUse(update.use());
  }
  history_.Record(task.info, state == v1::TASK_STATE_SUCCEEDED, changes_.batch());
  if (state == v1::TASK_STATE_FAILED && update.use().out_of_memory() && !task.info.memory_retried()) {
    // A known failure with a known cure: once more, with half the jobs and the peak it reached.
    tasks_.RequeueOutOfMemory(task, message, now, changes_);
    changes_.ScheduleSoon();
    return;
  }
  tasks_.EndAttempt(task, StateName(state), now, changes_);
  tasks_.SetState(task, state);
  task.info.set_message(message);
  if (state == v1::TASK_STATE_SUCCEEDED) ResultCache::Remember(task.info, changes_.batch());
  metrics_.ObserveEnd(task.info);
  tasks_.Changed(task, changes_);
  changes_.ScheduleSoon();
}

void Coordinator::OnLogs(const std::string& agent_id, const v1::LogBatch& batch) {
  // The batch's attempt, if it is still current (a stale attempt's lines are dropped).
  auto current = [&]() -> TaskRecord* {
    agents_.Seen(agent_id);
    TaskRecord* task = tasks_.FindAttempt(batch.attempt_id());
    return task != nullptr && task->info.agent_id() == agent_id ? task : nullptr;
  };
  if (batch.has_progress()) {
    Locked locked(*this);  // the progress goes out to watchers
    TaskRecord* task = current();
    if (task == nullptr) return;
    if (task->info.state() == v1::TASK_STATE_RUNNING) {
      // Shown to watchers at once; not written down (it is stale by the next restart anyway).
      const int64_t now = NowMs();
      v1::BuildProgress& progress = *task->info.mutable_progress();
      progress.set_done(batch.progress().done());
      progress.set_total(batch.progress().total());
      progress.set_reported_at_ms(now);
      progress.set_left_ms(TargetHistory::EstimateLeftMs(history_.ExpectedMs(task->info.spec()),
                                                         now - task->info.started_at_ms(), progress.done(),
                                                         progress.total()));
      tasks_.Changed(*task, changes_, /*persist=*/false);
    }
  } else {
    std::lock_guard lock(mutex_);  // lines alone change nothing the coordinator keeps
    if (current() == nullptr) return;
  }
  (void)logs_.Append(batch.build_id(), batch.task_id(), batch.attempt_id(), {batch.lines().begin(), batch.lines().end()});
}

absl::Status Coordinator::CheckUpload(const v1::UploadHeader& header) {
  if (absl::Status s = Available(); !s.ok()) return s;
  std::lock_guard lock(mutex_);
  TaskRecord* task = tasks_.FindAttempt(header.attempt_id());
  if (task == nullptr || IsTerminal(task->info.state()) || task->info.build_id() != header.build_id() ||
      task->info.spec().id() != header.task_id()) {
    return absl::FailedPreconditionError(absl::StrCat("attempt_id: ", header.attempt_id(),
                                                      " is not the current attempt of task ", header.task_id()));
  }
  if (!agents_.HoldsSession(task->info.agent_id(), header.session())) {
    return absl::PermissionDeniedError(absl::StrCat("session: the upload does not come from the session of agent ",
                                                    task->info.agent_id(), ", which holds attempt ",
                                                    header.attempt_id()));
  }
  return absl::OkStatus();
}

absl::Status Coordinator::CheckUploadDigest(const v1::UploadHeader& header, const std::string& sha256) {
  absl::StatusOr<std::vector<UploadRecord>> uploads = store_->UploadsFor(header.attempt_id());
  if (!uploads.ok()) return uploads.status();
  for (const UploadRecord& upload : *uploads) {
    if (upload.artifact.filename() == header.filename() && upload.artifact.sha256() != sha256) {
      return absl::InvalidArgumentError(absl::StrCat("header.filename: ", header.filename(),
                                                     " was uploaded for attempt ", header.attempt_id(),
                                                     " already, with other bytes; a wheel cannot change within an attempt"));
    }
  }
  return absl::OkStatus();
}

absl::Status Coordinator::RecordUpload(const v1::UploadHeader& header, const v1::ArtifactInfo& artifact,
                                       const std::filesystem::path& path) {
  if (absl::Status s = CheckUpload(header); !s.ok()) return s;
  if (absl::Status s = CheckUploadDigest(header, artifact.sha256()); !s.ok()) return s;
  std::lock_guard lock(mutex_);
  metrics_.uploaded_bytes().Add(static_cast<double>(artifact.size_bytes()));
  return store_->PutUpload({header.attempt_id(), artifact, path});
}

// ---- time ----

void Coordinator::Tick() {
  Locked locked(*this);
  agents_.ExpireLeases(changes_);
  if (writer_.health().ok()) dispatcher_.Schedule(tasks_, agents_, NowMs(), changes_);
}

void Coordinator::RunScheduler(Cancellation& stop) {
  auto on_stop = stop.Subscribe([&] {
    std::lock_guard lock(mutex_);
    Wake();
  });
  while (!stop.cancelled()) {
    Tick();
    std::unique_lock lock(mutex_);
    wake_cv_.wait_for(lock, options_.scheduler_tick, [&] { return wake_; });
    wake_ = false;
  }
}

}  // namespace cwb
