#include "coordinator/coordinator.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/axes.h"
#include "common/config_parser.h"
#include "common/planner.h"
#include "common/task_proto.h"
#include "common/wheelhouse.h"
#include "coordinator/scheduler.h"

namespace cwb {

// ---- BuildWatcher ----

void BuildWatcher::Push(v1::BuildEvent event) {
  {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    events_.push_back(std::move(event));
  }
  cv_.notify_all();
}

bool BuildWatcher::Next(v1::BuildEvent* event, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  cv_.wait_for(lock, timeout, [&] { return !events_.empty() || closed_; });
  if (events_.empty()) return false;
  *event = std::move(events_.front());
  events_.pop_front();
  return true;
}

void BuildWatcher::Close() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  cv_.notify_all();
}

bool BuildWatcher::closed() const {
  std::lock_guard lock(mutex_);
  return closed_;
}

// ---- Coordinator ----

absl::StatusOr<std::unique_ptr<Coordinator>> Coordinator::Create(CoordinatorOptions options,
                                                                  Clock& clock) {
  absl::StatusOr<std::unique_ptr<StateStore>> store =
      StateStore::Open(options.data_dir / "state.sqlite3");
  if (!store.ok()) return store.status();
  std::unique_ptr<Coordinator> coordinator(
      new Coordinator(std::move(options), clock, *std::move(store)));
  if (absl::Status s = coordinator->Recover(); !s.ok()) return s;
  return coordinator;
}

Coordinator::Coordinator(CoordinatorOptions options, Clock& clock, std::unique_ptr<StateStore> store)
    : options_(std::move(options)),
      clock_(clock),
      store_(std::move(store)),
      logs_(options_.data_dir / "logs", options_.max_log_bytes),
      artifacts_(options_.data_dir, options_.max_upload_bytes),
      random_(std::random_device{}()) {}

absl::Status Coordinator::Recover() {
  absl::StatusOr<StoredState> state = store_->LoadAll();
  if (!state.ok()) return state.status();
  std::lock_guard lock(mutex_);
  const Clock::SteadyTime now = clock_.SteadyNow();
  for (v1::AgentInfo& info : state->agents) {
    // Every agent starts disconnected, seen "now": the lease is the grace it has to come back.
    info.set_connected(false);
    info.clear_running_attempts();
    agents_[info.agent_id()] = {info, nullptr, now, {}};
  }
  for (const v1::BuildInfo& build : state->builds) {
    build_order_.push_back(build.build_id());
    builds_[build.build_id()].header = build;
  }
  for (v1::TaskInfo& task : state->tasks) {
    const TaskKey key{task.build_id(), task.spec().id()};
    builds_[task.build_id()].task_ids.push_back(task.spec().id());
    if (!task.attempt_id().empty() && !IsTerminal(task.state())) {
      attempts_[task.attempt_id()] = key;
      agents_[task.agent_id()].attempts.insert(task.attempt_id());
      agents_[task.agent_id()].last_seen = now;
      agents_[task.agent_id()].info.set_agent_id(task.agent_id());
    }
    tasks_[key] = std::move(task);
  }
  RemoveDebris();
  return absl::OkStatus();
}

void Coordinator::RemoveDebris() {
  // A crash can leave temporary files (never under a final name) and uploads of attempts that
  // are no longer current; neither is anything's state.
  namespace fs = std::filesystem;
  std::error_code error;
  for (const char* area : {"uploads", "builds"}) {
    std::vector<fs::path> stray;
    for (auto it = fs::recursive_directory_iterator(options_.data_dir / area, error);
         !error && it != fs::recursive_directory_iterator(); it.increment(error)) {
      if (it->path().filename().string().find(".cwb-tmp-") != std::string::npos) {
        stray.push_back(it->path());
      }
    }
    for (const fs::path& path : stray) fs::remove(path, error);
  }
  for (auto it = fs::directory_iterator(options_.data_dir / "uploads", error);
       !error && it != fs::directory_iterator(); it.increment(error)) {
    if (!attempts_.count(it->path().filename().string())) fs::remove_all(it->path(), error);
  }
}

int64_t Coordinator::NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock_.WallNow().time_since_epoch())
      .count();
}

std::string Coordinator::NewId(const char* prefix) {
  return absl::StrFormat("%s%012x", prefix, random_() & 0xffffffffffffull);
}

void Coordinator::Wake() {
  wake_ = true;
  wake_cv_.notify_all();
}

v1::BuildInfo Coordinator::BuildView(const BuildState& build, bool with_tasks) {
  v1::BuildInfo view = build.header;
  uint32_t succeeded = 0, failed = 0, cancelled = 0;
  for (const std::string& id : build.task_ids) {
    const v1::TaskInfo& task = tasks_.at({build.header.build_id(), id});
    succeeded += task.state() == v1::TASK_STATE_SUCCEEDED;
    failed += task.state() == v1::TASK_STATE_FAILED;
    cancelled += task.state() == v1::TASK_STATE_CANCELLED;
    if (with_tasks) *view.add_tasks() = task;
  }
  view.set_total(static_cast<uint32_t>(build.task_ids.size()));
  view.set_succeeded(succeeded);
  view.set_failed(failed);
  view.set_cancelled(cancelled);
  view.set_finished(succeeded + failed + cancelled == build.task_ids.size());
  return view;
}

void Coordinator::Changed(v1::TaskInfo& task) {
  if (absl::Status s = store_->PutTasks({&task}); !s.ok()) {
    // The in-memory view stays ahead; the next change retries the write.
    std::fprintf(stderr, "cwb-coordinator: cannot persist task %s: %s\n", task.spec().id().c_str(),
                 std::string(s.message()).c_str());
  }
  BuildState& build = builds_.at(task.build_id());
  const bool finished = BuildView(build, false).finished();
  v1::BuildEvent event;
  *event.mutable_task() = task;
  event.set_build_finished(finished);
  std::erase_if(build.watchers, [&](const std::weak_ptr<BuildWatcher>& weak) {
    std::shared_ptr<BuildWatcher> watcher = weak.lock();
    if (!watcher || watcher->closed()) return true;
    watcher->Push(event);
    return false;
  });
  if (IsTerminal(task.state())) logs_.Wake();
}

void Coordinator::Persist(const v1::AgentInfo& agent) {
  if (absl::Status s = store_->PutAgent(agent); !s.ok()) {
    std::fprintf(stderr, "cwb-coordinator: cannot persist agent %s: %s\n",
                 agent.agent_id().c_str(), std::string(s.message()).c_str());
  }
}

v1::TaskInfo* Coordinator::FindAttempt(const std::string& attempt_id) {
  auto it = attempts_.find(attempt_id);
  if (it == attempts_.end()) return nullptr;
  auto task = tasks_.find(it->second);
  return task == tasks_.end() ? nullptr : &task->second;
}

void Coordinator::SendTo(const std::string& agent_id, const v1::CoordinatorMessage& message) {
  auto it = agents_.find(agent_id);
  if (it != agents_.end() && it->second.channel) it->second.channel->Send(message);
}

void Coordinator::EndAttempt(v1::TaskInfo& task, const std::string& outcome) {
  const std::string attempt = task.attempt_id();
  if (attempt.empty()) return;
  attempts_.erase(attempt);
  if (auto agent = agents_.find(task.agent_id()); agent != agents_.end()) {
    agent->second.attempts.erase(attempt);
  }
  (void)store_->FinishAttempt(attempt, NowMs(), outcome);
  if (outcome != "succeeded") {
    (void)store_->DeleteUploads(attempt);
    artifacts_.DiscardUploads(attempt);
  }
}

void Coordinator::RequeueOrFail(v1::TaskInfo& task, const std::string& reason) {
  EndAttempt(task, "lost");
  task.clear_attempt_id();
  task.clear_agent_id();
  task.set_started_at_ms(0);
  if (task.attempts() >= options_.retry_limit) {
    task.set_state(v1::TASK_STATE_FAILED);
    task.set_finished_at_ms(NowMs());
    task.set_message(absl::StrCat(reason, "; gave up after ", task.attempts(), " attempts"));
  } else {
    task.set_state(v1::TASK_STATE_QUEUED);
    task.set_message(absl::StrCat(reason, "; queued again (", task.attempts(), " of ",
                                  options_.retry_limit, " attempts used)"));
  }
  Changed(task);
}

void Coordinator::LoseAgent(AgentState& agent, const std::string& reason) {
  const std::set<std::string> attempts = agent.attempts;
  for (const std::string& attempt : attempts) {
    if (v1::TaskInfo* task = FindAttempt(attempt); task != nullptr && !IsTerminal(task->state())) {
      RequeueOrFail(*task, reason);
    }
  }
  agent.attempts.clear();
  if (agent.channel) agent.channel->Close();
  agent.channel.reset();
  agent.info.set_connected(false);
  agent.info.clear_running_attempts();
  Persist(agent.info);
}

// ---- client API ----

absl::StatusOr<v1::BuildInfo> Coordinator::Submit(const v1::SubmitBuildRequest& request) {
  if (request.config_yaml().empty()) return absl::InvalidArgumentError("config_yaml: empty");
  const std::string name = request.config_name().empty() ? "config.yaml" : request.config_name();
  const std::filesystem::path dir =
      request.config_dir().empty() ? options_.data_dir : std::filesystem::path(request.config_dir());
  absl::StatusOr<Config> config = LoadConfigText(request.config_yaml(), name, dir,
                                                 request.dockerfile_template().empty()
                                                     ? std::nullopt
                                                     : std::optional(request.dockerfile_template()));
  if (!config.ok()) return config.status();
  Diagnostics diagnostics;
  std::optional<BuildPlan> plan = PlanBuild(*config, diagnostics);
  if (!plan) return diagnostics.ToStatus();

  std::lock_guard lock(mutex_);
  v1::BuildInfo header;
  header.set_build_id(NewId("b"));
  header.set_config_name(name);
  header.set_created_at_ms(NowMs());
  std::vector<v1::TaskInfo> tasks;
  for (const PlannedTask& planned : plan->tasks) {
    v1::TaskInfo& task = tasks.emplace_back();
    task.set_build_id(header.build_id());
    *task.mutable_spec() = ToProto(planned);
    task.set_state(v1::TASK_STATE_QUEUED);
    task.set_queued_at_ms(header.created_at_ms());
  }
  if (absl::Status s = store_->InsertBuild(header, tasks); !s.ok()) return s;
  BuildState& build = builds_[header.build_id()];
  build.header = header;
  build_order_.push_back(header.build_id());
  for (v1::TaskInfo& task : tasks) {
    build.task_ids.push_back(task.spec().id());
    tasks_[{header.build_id(), task.spec().id()}] = std::move(task);
  }
  Wake();
  return BuildView(build, true);
}

absl::StatusOr<v1::BuildInfo> Coordinator::GetBuild(const std::string& build_id) {
  std::lock_guard lock(mutex_);
  auto it = builds_.find(build_id);
  if (it == builds_.end()) return absl::NotFoundError(absl::StrCat("build_id: no build '", build_id, "'"));
  return BuildView(it->second, true);
}

std::vector<v1::BuildInfo> Coordinator::ListBuilds() {
  std::lock_guard lock(mutex_);
  std::vector<v1::BuildInfo> out;
  for (const std::string& id : build_order_) out.push_back(BuildView(builds_.at(id), false));
  return out;
}

absl::StatusOr<v1::TaskInfo> Coordinator::GetTask(const std::string& build_id,
                                                  const std::string& task_id) {
  std::lock_guard lock(mutex_);
  auto it = tasks_.find({build_id, task_id});
  if (it == tasks_.end()) {
    if (!builds_.count(build_id)) return absl::NotFoundError(absl::StrCat("build_id: no build '", build_id, "'"));
    return absl::NotFoundError(absl::StrCat("task_id: no task '", task_id, "' in build ", build_id));
  }
  return it->second;
}

absl::StatusOr<std::shared_ptr<BuildWatcher>> Coordinator::Watch(const std::string& build_id,
                                                                 v1::BuildInfo* snapshot) {
  std::lock_guard lock(mutex_);
  auto it = builds_.find(build_id);
  if (it == builds_.end()) return absl::NotFoundError(absl::StrCat("build_id: no build '", build_id, "'"));
  auto watcher = std::make_shared<BuildWatcher>();
  it->second.watchers.push_back(watcher);
  *snapshot = BuildView(it->second, true);
  return watcher;
}

void Coordinator::CancelLocked(v1::TaskInfo& task, const std::string& reason) {
  if (!task.attempt_id().empty()) {
    v1::CoordinatorMessage message;
    message.mutable_cancel()->set_attempt_id(task.attempt_id());
    message.mutable_cancel()->set_reason(reason);
    SendTo(task.agent_id(), message);
    EndAttempt(task, "cancelled");
  }
  task.set_state(v1::TASK_STATE_CANCELLED);
  task.set_message(reason);
  task.set_finished_at_ms(NowMs());
  Changed(task);
}

absl::StatusOr<uint32_t> Coordinator::Cancel(const std::string& build_id, const std::string& task_id) {
  std::lock_guard lock(mutex_);
  auto build = builds_.find(build_id);
  if (build == builds_.end()) return absl::NotFoundError(absl::StrCat("build_id: no build '", build_id, "'"));
  uint32_t cancelled = 0;
  for (const std::string& id : build->second.task_ids) {
    if (!task_id.empty() && id != task_id) continue;
    v1::TaskInfo& task = tasks_.at({build_id, id});
    if (IsTerminal(task.state())) continue;
    CancelLocked(task, "cancelled by a user");
    ++cancelled;
  }
  if (!task_id.empty() && cancelled == 0 &&
      std::find(build->second.task_ids.begin(), build->second.task_ids.end(), task_id) ==
          build->second.task_ids.end()) {
    return absl::NotFoundError(absl::StrCat("task_id: no task '", task_id, "' in build ", build_id));
  }
  Wake();
  return cancelled;
}

absl::StatusOr<uint32_t> Coordinator::Retry(const std::string& build_id,
                                            const std::vector<std::string>& task_ids) {
  std::lock_guard lock(mutex_);
  auto build = builds_.find(build_id);
  if (build == builds_.end()) return absl::NotFoundError(absl::StrCat("build_id: no build '", build_id, "'"));
  for (const std::string& id : task_ids) {
    if (!tasks_.count({build_id, id})) {
      return absl::NotFoundError(absl::StrCat("task_ids: no task '", id, "' in build ", build_id));
    }
  }
  uint32_t requeued = 0;
  for (const std::string& id : build->second.task_ids) {
    if (!task_ids.empty() && std::find(task_ids.begin(), task_ids.end(), id) == task_ids.end()) continue;
    v1::TaskInfo& task = tasks_.at({build_id, id});
    if (task.state() != v1::TASK_STATE_FAILED && task.state() != v1::TASK_STATE_CANCELLED) continue;
    task.set_state(v1::TASK_STATE_QUEUED);
    task.set_attempts(0);
    task.set_message("retried by a user");
    task.set_queued_at_ms(NowMs());
    task.set_finished_at_ms(0);
    task.clear_artifacts();
    Changed(task);
    ++requeued;
  }
  Wake();
  return requeued;
}

std::vector<v1::AgentInfo> Coordinator::ListAgents() {
  std::lock_guard lock(mutex_);
  std::vector<v1::AgentInfo> out;
  for (auto& [id, agent] : agents_) {
    v1::AgentInfo info = agent.info;
    info.clear_running_attempts();
    for (const std::string& attempt : agent.attempts) {
      if (v1::TaskInfo* task = FindAttempt(attempt)) {
        info.add_running_attempts(absl::StrCat(task->build_id(), "/", task->spec().id(), "/", attempt));
      }
    }
    out.push_back(std::move(info));
  }
  return out;
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

// ---- agent API ----

absl::StatusOr<v1::RegisterAck> Coordinator::Register(const v1::Register& request,
                                                      std::shared_ptr<AgentChannel> channel) {
  if (request.agent_id().empty()) return absl::InvalidArgumentError("register.agent_id: empty");
  std::lock_guard lock(mutex_);
  AgentState& agent = agents_[request.agent_id()];
  if (agent.channel && agent.channel != channel) agent.channel->Close();  // replaced by this one
  agent.channel = std::move(channel);
  agent.last_seen = clock_.SteadyNow();
  agent.info.set_agent_id(request.agent_id());
  *agent.info.mutable_capabilities() = request.capabilities();
  agent.info.set_connected(true);
  agent.info.set_last_heartbeat_ms(NowMs());

  // Reconcile: what the agent still runs and is current stays; the rest it must abandon.
  v1::RegisterAck ack;
  ack.set_heartbeat_interval_ms(static_cast<uint32_t>(options_.heartbeat_interval.count()));
  ack.set_lease_ms(static_cast<uint32_t>(options_.lease.count()));
  std::set<std::string> reported;
  for (const v1::RunningAttempt& running : request.running()) {
    v1::TaskInfo* task = FindAttempt(running.attempt_id());
    if (task != nullptr && !IsTerminal(task->state()) && task->agent_id() == request.agent_id()) {
      reported.insert(running.attempt_id());
    } else {
      ack.add_abandon_attempts(running.attempt_id());
    }
  }
  const std::set<std::string> bound = agent.attempts;
  for (const std::string& attempt : bound) {
    if (reported.count(attempt)) continue;
    if (v1::TaskInfo* task = FindAttempt(attempt); task != nullptr && !IsTerminal(task->state())) {
      RequeueOrFail(*task, absl::StrCat("agent ", request.agent_id(), " came back without it"));
    }
  }
  agent.attempts = reported;
  Persist(agent.info);
  // The ack goes out before anything the scheduler sends on this channel.
  v1::CoordinatorMessage message;
  *message.mutable_ack() = ack;
  agent.channel->Send(message);
  Wake();
  return ack;
}

void Coordinator::Heartbeat(const std::string& agent_id, const AgentChannel* channel) {
  std::lock_guard lock(mutex_);
  auto it = agents_.find(agent_id);
  if (it == agents_.end() || it->second.channel.get() != channel) return;
  it->second.last_seen = clock_.SteadyNow();
  it->second.info.set_last_heartbeat_ms(NowMs());
}

void Coordinator::Disconnected(const std::string& agent_id, const AgentChannel* channel) {
  std::lock_guard lock(mutex_);
  auto it = agents_.find(agent_id);
  if (it == agents_.end() || it->second.channel.get() != channel) return;
  // Its attempts stay bound until the lease runs out: it may reconnect and carry on.
  it->second.channel.reset();
  it->second.info.set_connected(false);
  Persist(it->second.info);
}

void Coordinator::OnStatus(const std::string& agent_id, const v1::TaskStatusUpdate& update) {
  std::lock_guard lock(mutex_);
  v1::TaskInfo* task = FindAttempt(update.attempt_id());
  if (task == nullptr || task->agent_id() != agent_id || IsTerminal(task->state())) {
    // A stale attempt (reassigned, cancelled or already ended): refused, and the agent told to
    // stop it if it still runs.
    if (update.state() == v1::TASK_STATE_RUNNING) {
      v1::CoordinatorMessage message;
      message.mutable_cancel()->set_attempt_id(update.attempt_id());
      message.mutable_cancel()->set_reason("this attempt is no longer current");
      SendTo(agent_id, message);
    }
    return;
  }
  switch (update.state()) {
    case v1::TASK_STATE_RUNNING:
      task->set_state(v1::TASK_STATE_RUNNING);
      task->set_started_at_ms(NowMs());
      task->set_message("");
      break;
    case v1::TASK_STATE_SUCCEEDED: {
      absl::StatusOr<std::vector<UploadRecord>> uploads = store_->UploadsFor(update.attempt_id());
      std::vector<v1::ArtifactInfo> published;
      std::string problem;
      if (!uploads.ok()) problem = std::string(uploads.status().message());
      for (const std::string& filename : update.artifact_filenames()) {
        if (!problem.empty()) break;
        auto upload = uploads->begin();
        while (upload != uploads->end() && upload->artifact.filename() != filename) ++upload;
        if (upload == uploads->end()) {
          problem = absl::StrCat("the agent reported ", filename, " but never uploaded it");
          break;
        }
        absl::StatusOr<std::filesystem::path> path = artifacts_.Publish(
            upload->path, task->build_id(), upload->artifact.wheelhouse_path());
        if (!path.ok()) {
          problem = std::string(path.status().message());
          break;
        }
        published.push_back(upload->artifact);
      }
      if (update.artifact_filenames().empty()) problem = "the agent reported no wheel";
      task->set_commit(update.commit());
      task->set_exit_code(update.exit_code());
      task->set_finished_at_ms(NowMs());
      if (problem.empty()) {
        EndAttempt(*task, "succeeded");
        (void)store_->DeleteUploads(update.attempt_id());
        task->clear_artifacts();
        for (const v1::ArtifactInfo& artifact : published) *task->add_artifacts() = artifact;
        task->set_state(v1::TASK_STATE_SUCCEEDED);
        task->set_message(update.message());
      } else {
        EndAttempt(*task, "failed");
        task->set_state(v1::TASK_STATE_FAILED);
        task->set_message(problem);
      }
      Wake();
      break;
    }
    case v1::TASK_STATE_FAILED:
    case v1::TASK_STATE_CANCELLED:
      EndAttempt(*task, StateName(update.state()));
      task->set_state(update.state());
      task->set_message(update.message());
      task->set_exit_code(update.exit_code());
      task->set_commit(update.commit());
      task->set_finished_at_ms(NowMs());
      Wake();
      break;
    default:
      return;
  }
  Changed(*task);
}

void Coordinator::OnLogs(const std::string& agent_id, const v1::LogBatch& batch) {
  {
    std::lock_guard lock(mutex_);
    v1::TaskInfo* task = FindAttempt(batch.attempt_id());
    if (task == nullptr || task->agent_id() != agent_id) return;  // stale attempt: dropped
  }
  (void)logs_.Append(batch.build_id(), batch.task_id(),
                     {batch.lines().begin(), batch.lines().end()});
}

absl::Status Coordinator::CheckUpload(const v1::UploadHeader& header) {
  std::lock_guard lock(mutex_);
  v1::TaskInfo* task = FindAttempt(header.attempt_id());
  if (task == nullptr || IsTerminal(task->state()) || task->build_id() != header.build_id() ||
      task->spec().id() != header.task_id()) {
    return absl::FailedPreconditionError(
        absl::StrCat("attempt_id: ", header.attempt_id(), " is not the current attempt of task ",
                     header.task_id()));
  }
  return absl::OkStatus();
}

absl::Status Coordinator::RecordUpload(const v1::UploadHeader& header,
                                       const v1::ArtifactInfo& artifact,
                                       const std::filesystem::path& path) {
  if (absl::Status s = CheckUpload(header); !s.ok()) return s;
  std::lock_guard lock(mutex_);
  return store_->PutUpload({header.attempt_id(), artifact, path});
}

// ---- time ----

void Coordinator::ScheduleLocked() {
  std::vector<AgentSlots> slots;
  for (auto& [id, agent] : agents_) {
    if (!agent.channel) continue;
    const v1::AgentCapabilities& caps = agent.info.capabilities();
    int free_gpu_slots = -1;
    if (caps.gpu_slots() > 0) {
      free_gpu_slots = static_cast<int>(caps.gpu_slots());
      for (const std::string& attempt : agent.attempts) {
        auto it = attempts_.find(attempt);
        if (it != attempts_.end() && NeedsGpu(tasks_.at(it->second).spec())) --free_gpu_slots;
      }
    }
    slots.push_back({id, &caps,
                     static_cast<int>(caps.slots()) - static_cast<int>(agent.attempts.size()),
                     free_gpu_slots});
  }
  for (const std::string& build_id : build_order_) {
    BuildState& build = builds_.at(build_id);
    for (const std::string& id : build.task_ids) {
      v1::TaskInfo& task = tasks_.at({build_id, id});
      if (task.state() != v1::TASK_STATE_QUEUED) continue;
      std::variant<std::string, std::string> choice = ChooseAgent(task.spec(), slots);
      if (!Chosen(choice)) {
        const std::string& reason = std::get<1>(choice);
        if (task.waiting_reason() != reason) {
          task.set_waiting_reason(reason);
          Changed(task);
        }
        continue;
      }
      const std::string agent_id = std::get<0>(choice);
      for (AgentSlots& slot : slots) {
        if (slot.agent_id != agent_id) continue;
        --slot.free_slots;
        if (slot.free_gpu_slots > 0 && NeedsGpu(task.spec())) --slot.free_gpu_slots;
      }
      const std::string attempt = NewId("a");
      task.set_state(v1::TASK_STATE_ASSIGNED);
      task.set_attempt_id(attempt);
      task.set_agent_id(agent_id);
      task.set_attempts(task.attempts() + 1);
      task.clear_waiting_reason();
      attempts_[attempt] = {build_id, id};
      agents_.at(agent_id).attempts.insert(attempt);
      (void)store_->RecordAttempt(attempt, build_id, id, agent_id, NowMs());
      v1::CoordinatorMessage message;
      v1::Assignment* assignment = message.mutable_assignment();
      assignment->set_build_id(build_id);
      assignment->set_attempt_id(attempt);
      *assignment->mutable_spec() = task.spec();
      assignment->set_time_limit_s(options_.task_time_limit_s);
      SendTo(agent_id, message);
      Changed(task);
    }
  }
}

void Coordinator::Tick() {
  std::lock_guard lock(mutex_);
  const Clock::SteadyTime now = clock_.SteadyNow();
  for (auto& [id, agent] : agents_) {
    const bool silent = now - agent.last_seen > options_.lease;
    if (silent && (agent.channel || !agent.attempts.empty())) {
      LoseAgent(agent, absl::StrCat("agent ", id, " was silent for more than ",
                                    options_.lease.count(), " ms"));
    }
  }
  ScheduleLocked();
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
