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
#include "coordinator/coordinator_locked.h"
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
    PublishUntestable();
  }
  writer_.Submit(changes_.Take({
      .channel_of = [this](const std::string& agent_id) { return agents_.ChannelOf(agent_id); },
      .attempt_ended =
          [this](const TaskKey& task, const std::string& attempt_id) {
            artifacts_.DiscardUploads(attempt_id);
            logs_.EndAttempt(task.first, task.second, attempt_id);
          },
      .wake_logs = [this] { logs_.Wake(); },
      .held_discarded = [this](const std::string& attempt_id) { artifacts_.DiscardHeld(attempt_id); },
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
  header.set_allow_untested(plan.allow_untested());
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

// ---- time ----

void Coordinator::Tick() {
  Locked locked(*this);
  agents_.ExpireLeases(changes_);
  if (writer_.health().ok()) {
    dispatcher_.Schedule(tasks_, agents_, NowMs(), changes_);
    PublishUntestable();
  }
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
