#include "coordinator/coordinator.h"

#include <algorithm>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/config/axes.h"
#include "common/process/boost_process_runner.h"
#include "common/config/config_parser.h"
#include "common/config/planner.h"
#include "common/web/server_log.h"
#include "common/rpc/task_proto.h"
#include "common/config/wheelhouse.h"
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

namespace {

// The identity of a target across builds: the project and its axis values. Durations are kept
// per target, so a changed build command or commit still predicts from the earlier builds.
std::string TargetKey(const v1::TaskSpec& spec) {
  std::string key = spec.project();
  for (const v1::AxisValue& axis : spec.axes()) absl::StrAppend(&key, "|", axis.name(), "=", axis.value());
  return key;
}

absl::Status NotFoundBuild(const std::string& build_id) {
  return absl::NotFoundError(absl::StrCat("build_id: no build '", build_id, "'"));
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

absl::StatusOr<std::unique_ptr<Coordinator>> Coordinator::Create(
    CoordinatorOptions options, Clock& clock, std::unique_ptr<SourceResolver> resolver) {
  absl::StatusOr<std::unique_ptr<StateStore>> store =
      StateStore::Open(options.data_dir / "state.sqlite3");
  if (!store.ok()) return store.status();
  std::unique_ptr<Coordinator> coordinator(
      new Coordinator(std::move(options), clock, *std::move(store), std::move(resolver)));
  if (absl::Status s = coordinator->Recover(); !s.ok()) return s;
  return coordinator;
}

Coordinator::Coordinator(CoordinatorOptions options, Clock& clock, std::unique_ptr<StateStore> store,
                         std::unique_ptr<SourceResolver> resolver)
    : options_(std::move(options)),
      clock_(clock),
      store_(std::move(store)),
      writer_(*store_),
      resolver_(std::move(resolver)),
      logs_(options_.data_dir / "logs", options_.max_log_bytes),
      artifacts_(options_.data_dir, options_.max_upload_bytes),
      submit_random_(std::random_device{}()),
      random_(std::random_device{}()) {
  if (resolver_ == nullptr) {
    resolver_runner_ = std::make_unique<BoostProcessRunner>();
    resolver_ = MakeGitSourceResolver(*resolver_runner_, options_.resolve_timeout);
  }
  RegisterMetrics();
}

void Coordinator::RegisterMetrics() {
  queue_wait_ = &metrics_.HistogramOf("cwb_queue_wait_seconds", "Time from queued to assigned, per attempt",
                                      {0.01, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600});
  uploaded_bytes_ = &metrics_.CounterOf("cwb_uploaded_bytes_total", "Bytes of wheels agents uploaded");
  result_cache_hits_ = &metrics_.CounterOf("cwb_result_cache_hits_total",
                                           "Tasks completed from the result cache, nothing built");
  metrics_.Gauge("cwb_tasks", "Tasks by state, over every stored build", [this] {
    std::array<uint64_t, v1::TaskState_ARRAYSIZE> totals{};
    {
      std::lock_guard lock(mutex_);
      for (const auto& [id, build] : builds_) {
        for (size_t i = 0; i < totals.size(); ++i) totals[i] += build.counts[i];
      }
    }
    std::vector<std::pair<MetricLabels, double>> samples;
    for (v1::TaskState state : {v1::TASK_STATE_QUEUED, v1::TASK_STATE_ASSIGNED, v1::TASK_STATE_RUNNING,
                                v1::TASK_STATE_SUCCEEDED, v1::TASK_STATE_FAILED, v1::TASK_STATE_CANCELLED}) {
      samples.push_back({{{"state", StateName(state)}}, static_cast<double>(totals[state])});
    }
    return samples;
  });
  metrics_.Gauge("cwb_queue_length", "Tasks waiting for an agent", [this] {
    std::lock_guard lock(mutex_);
    uint64_t queued = 0;
    for (const auto& [id, build] : builds_) queued += build.counts[v1::TASK_STATE_QUEUED];
    return std::vector<std::pair<MetricLabels, double>>{{{}, static_cast<double>(queued)}};
  });
  metrics_.Gauge("cwb_agents_connected", "Agents with a session open now", [this] {
    std::lock_guard lock(mutex_);
    uint64_t connected = 0;
    for (const auto& [id, agent] : agents_) connected += agent.channel != nullptr;
    return std::vector<std::pair<MetricLabels, double>>{{{}, static_cast<double>(connected)}};
  });
}

void Coordinator::ObserveEnd(const TaskRecord& task) {
  if (task.info.started_at_ms() <= 0 || task.info.finished_at_ms() < task.info.started_at_ms()) return;
  metrics_
      .HistogramOf("cwb_build_duration_seconds", "Time a task's attempt ran, from running to its end",
                   DurationBuckets(), {{"state", StateName(task.info.state())}})
      .Observe(static_cast<double>(task.info.finished_at_ms() - task.info.started_at_ms()) / 1000.0);
}

std::vector<Coordinator::BuiltWheel> Coordinator::ListWheels() {
  std::lock_guard lock(mutex_);
  std::vector<BuiltWheel> wheels;
  for (const std::string& id : build_order_) {  // submission order
    const BuildState* build = &builds_.at(id);
    if (build->counts[v1::TASK_STATE_SUCCEEDED] == 0) continue;
    for (const std::string& task_id : build->task_ids) {
      const TaskRecord& task = tasks_.at(TaskKey{build->header.build_id(), task_id});
      if (task.info.state() != v1::TASK_STATE_SUCCEEDED) continue;
      const AxisValues axes = AxesFromProto(task.info.spec());
      for (const v1::ArtifactInfo& artifact : task.info.artifacts()) {
        wheels.push_back({build->header.build_id(), task_id, task.info.spec().project(), axes, artifact});
      }
    }
  }
  return wheels;
}

Coordinator::~Coordinator() { writer_.Stop(); }

absl::Status Coordinator::Recover() {
  absl::StatusOr<StoredState> state = store_->LoadAll();
  if (!state.ok()) return state.status();
  Locked locked(*this);
  const Clock::SteadyTime now = clock_.SteadyNow();
  durations_ = std::move(state->target_durations);
  for (v1::AgentInfo& info : state->agents) {
    // Every agent starts disconnected, seen "now": the lease is the grace it has to come back.
    info.set_connected(false);
    info.clear_running_attempts();
    agents_[info.agent_id()] = {info, nullptr, now, {}};
  }
  for (const v1::BuildInfo& build : state->builds) {
    build_order_.push_back(build.build_id());
    BuildState& b = builds_[build.build_id()];
    b.header = build;
    b.seq = next_build_seq_++;
    b.templates = std::move(state->templates[build.build_id()]);
  }
  for (StoredTask& stored : state->tasks) {
    const TaskKey key{stored.info.build_id(), stored.info.spec().id()};
    BuildState& build = builds_.at(key.first);
    TaskRecord& task = tasks_[key];
    task.info = std::move(stored.info);
    task.template_index = stored.template_index;
    task.index = static_cast<uint32_t>(build.task_ids.size());
    if (task.template_index < 0) {
      // A row from before templates were shared: its spec carries the template.
      const std::string& text = task.info.spec().image().dockerfile_template();
      auto it = std::find(build.templates.begin(), build.templates.end(), text);
      task.template_index = static_cast<int>(it - build.templates.begin());
      if (it == build.templates.end()) build.templates.push_back(text);
      task.info.mutable_spec()->mutable_image()->clear_dockerfile_template();
    }
    build.task_ids.push_back(key.second);
    if (!task.info.attempt_id().empty() && !IsTerminal(task.info.state())) {
      attempts_[task.info.attempt_id()] = key;
      AgentState& agent = agents_[task.info.agent_id()];
      agent.attempts.insert(task.info.attempt_id());
      agent.last_seen = now;
      agent.info.set_agent_id(task.info.agent_id());
    }
    Track(task);
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

void Coordinator::ScheduleSoon() { schedule_ = true; }

v1::BuildInfo Coordinator::BuildView(BuildState& build, v1::TaskView task_view) {
  v1::BuildInfo view;
  FillBuildView(build, task_view, &view);
  return view;
}

void Coordinator::FillBuildView(BuildState& build, v1::TaskView task_view, v1::BuildInfo* out) {
  v1::BuildInfo& view = *out;
  view = build.header;
  const uint32_t succeeded = build.counts[v1::TASK_STATE_SUCCEEDED];
  const uint32_t failed = build.counts[v1::TASK_STATE_FAILED];
  const uint32_t cancelled = build.counts[v1::TASK_STATE_CANCELLED];
  if (task_view != v1::TASK_VIEW_NONE) view.mutable_tasks()->Reserve(static_cast<int>(build.task_ids.size()));
  for (const std::string& id : build.task_ids) {
    if (task_view == v1::TASK_VIEW_NONE) break;
    v1::TaskInfo& info = tasks_.at({build.header.build_id(), id}).info;
    v1::TaskInfo* task = view.add_tasks();
    if (task_view == v1::TASK_VIEW_FULL) {
      *task = info;
      continue;
    }
    Summarize(info, task);
  }
  view.set_total(static_cast<uint32_t>(build.task_ids.size()));
  view.set_succeeded(succeeded);
  view.set_failed(failed);
  view.set_cancelled(cancelled);
  view.set_finished(succeeded + failed + cancelled == build.task_ids.size());
}

void Coordinator::Summarize(v1::TaskInfo& info, v1::TaskInfo* summary) {
  if (!info.has_spec()) {
    *summary = info;
    return;
  }
  // The spec is detached for the copy (not copied and then cut), then given what a summary has.
  v1::TaskSpec* spec = info.release_spec();
  *summary = info;
  info.set_allocated_spec(spec);
  v1::TaskSpec* cut = summary->mutable_spec();
  cut->set_id(spec->id());
  cut->set_project(spec->project());
  *cut->mutable_axes() = spec->axes();
}

TaskQueue::Order Coordinator::OrderOf(const TaskRecord& task) {
  return {builds_.at(task.info.build_id()).seq, ExpectedMs(task.info.spec()), task.index};
}

int64_t Coordinator::ExpectedMs(const v1::TaskSpec& spec) const {
  auto it = durations_.find(TargetKey(spec));
  return it == durations_.end() ? -1 : it->second;
}

void Coordinator::Track(TaskRecord& task) {
  ++builds_.at(task.info.build_id()).counts[task.info.state()];
  if (task.info.state() == v1::TASK_STATE_QUEUED) {
    queue_.Push({task.info.build_id(), task.info.spec().id()}, task.info.spec(), OrderOf(task));
  }
}

void Coordinator::SetState(TaskRecord& task, v1::TaskState state) {
  const v1::TaskState old = task.info.state();
  if (old == state) return;
  BuildState& build = builds_.at(task.info.build_id());
  --build.counts[old];
  ++build.counts[state];
  task.info.set_state(state);
  const TaskKey key{task.info.build_id(), task.info.spec().id()};
  if (old == v1::TASK_STATE_QUEUED) queue_.Remove(key);
  if (state == v1::TASK_STATE_QUEUED) queue_.Push(key, task.info.spec(), OrderOf(task));
  if (state != v1::TASK_STATE_QUEUED) task.info.clear_waiting_reason();
  if (state == v1::TASK_STATE_FAILED && build.header.fail_fast()) {
    fail_fast_.emplace(task.info.build_id(), task.info.spec().id());  // the first failure names it
  }
}

void Coordinator::FailFast() {
  for (const auto& [build_id, failed_task] : fail_fast_) {
    const std::string reason = absl::StrCat("fail_fast: task ", failed_task, " failed");
    for (const std::string& id : builds_.at(build_id).task_ids) {
      TaskRecord& task = *FindTask(build_id, id);
      if (!IsTerminal(task.info.state())) CancelLocked(task, reason);
    }
  }
  fail_fast_.clear();
}

void Coordinator::Changed(TaskRecord& task, bool persist) {
  if (persist && !task.dirty) {
    task.dirty = true;
    dirty_.push_back(&task);
  }
  BuildState& build = builds_.at(task.info.build_id());
  if (!build.watchers.empty()) {
    v1::BuildEvent event;
    Summarize(task.info, event.mutable_task());
    event.set_build_finished(build.counts[v1::TASK_STATE_SUCCEEDED] +
                                 build.counts[v1::TASK_STATE_FAILED] +
                                 build.counts[v1::TASK_STATE_CANCELLED] ==
                             build.task_ids.size());
    events_.emplace_back(task.info.build_id(), std::move(event));
  }
  if (IsTerminal(task.info.state())) wake_logs_ = true;
}

void Coordinator::Persist(const v1::AgentInfo& agent) { batch_.agents.push_back(agent); }

void Coordinator::SendTo(const std::string& agent_id, v1::CoordinatorMessage message) {
  outbox_.emplace_back(agent_id, std::move(message));
}

void Coordinator::Flush() {
  if (!fail_fast_.empty()) FailFast();
  // A call that freed slots or queued tasks assigns them before it returns: no thread handoff
  // between a slot freeing and its next assignment.
  if (schedule_) {
    schedule_ = false;
    ScheduleLocked();
  }
  CommitWriter::Commit commit;
  commit.batch = std::move(batch_);
  batch_ = StoreBatch();
  for (TaskRecord* task : dirty_) {
    task->dirty = false;
    commit.batch.tasks.push_back({task->info.build_id(), task->info.spec().id(), task->info.state(),
                                  SerializeWithoutSpec(task->info)});
  }
  dirty_.clear();
  for (auto& [agent_id, message] : outbox_) {
    auto it = agents_.find(agent_id);
    if (it == agents_.end() || !it->second.channel) continue;
    commit.deliveries.push_back(
        [channel = it->second.channel, message = std::move(message)]() mutable { channel->Send(std::move(message)); });
  }
  outbox_.clear();
  for (auto& [build_id, event] : events_) {
    std::vector<std::shared_ptr<BuildWatcher>> watchers;
    std::erase_if(builds_.at(build_id).watchers, [&](const std::weak_ptr<BuildWatcher>& weak) {
      std::shared_ptr<BuildWatcher> watcher = weak.lock();
      if (!watcher || watcher->closed()) return true;
      watchers.push_back(std::move(watcher));
      return false;
    });
    if (watchers.empty()) continue;
    commit.deliveries.push_back([watchers = std::move(watchers), event = std::move(event)] {
      for (const std::shared_ptr<BuildWatcher>& watcher : watchers) watcher->Push(event);
    });
  }
  events_.clear();
  if (wake_logs_) commit.deliveries.push_back([this] { logs_.Wake(); });
  wake_logs_ = false;
  writer_.Submit(std::move(commit));
}

void Coordinator::StartCommitThread() { writer_.Start(); }

void Coordinator::StopCommitThread() { writer_.Stop(); }

Coordinator::TaskRecord* Coordinator::FindAttempt(const std::string& attempt_id) {
  auto it = attempts_.find(attempt_id);
  if (it == attempts_.end()) return nullptr;
  auto task = tasks_.find(it->second);
  return task == tasks_.end() ? nullptr : &task->second;
}

Coordinator::TaskRecord* Coordinator::FindTask(const std::string& build_id, const std::string& task_id) {
  auto it = tasks_.find(TaskKey{build_id, task_id});
  return it == tasks_.end() ? nullptr : &it->second;
}

void Coordinator::EndAttempt(TaskRecord& task, const std::string& outcome) {
  const std::string attempt = task.info.attempt_id();
  if (attempt.empty()) return;
  attempts_.erase(attempt);
  if (auto agent = agents_.find(task.info.agent_id()); agent != agents_.end()) {
    agent->second.attempts.erase(attempt);
  }
  batch_.attempts_ended.push_back({attempt, NowMs(), outcome});
  if (outcome != "succeeded") {
    batch_.uploads_deleted.push_back(attempt);
    artifacts_.DiscardUploads(attempt);
  }
}

void Coordinator::RequeueOrFail(TaskRecord& task, const std::string& reason) {
  EndAttempt(task, "lost");
  task.info.clear_attempt_id();
  task.info.clear_agent_id();
  task.info.set_started_at_ms(0);
  if (task.info.attempts() >= options_.retry_limit) {
    SetState(task, v1::TASK_STATE_FAILED);
    task.info.set_finished_at_ms(NowMs());
    task.info.set_message(absl::StrCat(reason, "; gave up after ", task.info.attempts(), " attempts"));
  } else {
    SetState(task, v1::TASK_STATE_QUEUED);
    task.info.set_message(absl::StrCat(reason, "; queued again (", task.info.attempts(), " of ",
                                       options_.retry_limit, " attempts used)"));
  }
  Changed(task);
}

void Coordinator::LoseAgent(AgentState& agent, const std::string& reason) {
  LogEvent(std::cerr, "warning",
           absl::StrCat("agent ", agent.info.agent_id(), " lost (", reason, "); ", agent.attempts.size(),
                        " attempt(s) of it are queued again or failed"),
           {{"agent_id", agent.info.agent_id()}});
  const std::set<std::string> attempts = agent.attempts;
  for (const std::string& attempt : attempts) {
    if (TaskRecord* task = FindAttempt(attempt); task != nullptr && !IsTerminal(task->info.state())) {
      RequeueOrFail(*task, reason);
    }
  }
  agent.attempts.clear();
  if (agent.channel) agent.channel->Close();
  agent.channel.reset();
  agent.info.set_connected(false);
  agent.info.clear_running_attempts();
  ++agents_epoch_;
  Persist(agent.info);
}

void Coordinator::RecordDuration(const TaskRecord& task) {
  if (task.info.started_at_ms() <= 0 || task.info.finished_at_ms() < task.info.started_at_ms()) return;
  const int64_t took = task.info.finished_at_ms() - task.info.started_at_ms();
  const std::string key = TargetKey(task.info.spec());
  auto [it, added] = durations_.emplace(key, took);
  if (!added) it->second = (it->second + took) / 2;  // the recent builds weigh most
  batch_.target_durations[key] = it->second;
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
  std::optional<BuildPlan> plan = PlanBuild(*config, diagnostics, {.strict_compatibility = request.strict()});
  if (!plan) return diagnostics.ToStatus();

  // The commit each source resolves to now, asked once per repository and ref (outside the
  // lock: it may take a network round trip). A source that cannot be resolved is just built.
  std::map<std::pair<std::string, std::string>, std::string> commits;
  if (!request.no_cache()) {
    for (const PlannedTask& planned : plan->tasks) {
      auto [it, added] = commits.try_emplace({planned.repo_url, planned.repo_ref});
      if (!added) continue;
      absl::StatusOr<std::string> commit = resolver_->Resolve(planned.repo_url, planned.repo_ref);
      if (commit.ok()) {
        it->second = *commit;
      } else {
        std::fprintf(stderr, "cwb-coordinator: not reusing results of %s: %s\n", planned.repo_url.c_str(),
                     std::string(commit.status().message()).c_str());
      }
    }
  }

  writer_.Sync();  // the result cache must see every result reported before this call
  // One submission at a time from here, so builds are stored in the order they are held; all
  // but the last step run without the coordinator's lock.
  std::lock_guard submitting(submit_mutex_);
  v1::BuildInfo header;
  header.set_build_id(absl::StrFormat("b%012x", submit_random_() & 0xffffffffffffull));
  header.set_config_name(name);
  header.set_created_at_ms(NowMs());
  header.set_fail_fast(config->fail_fast);
  header.set_max_parallel(config->max_parallel);
  *header.mutable_unsupported() = ToProto(*plan).unsupported();
  std::vector<std::string> templates;
  std::vector<TaskRecord> records(plan->tasks.size());
  for (size_t i = 0; i < plan->tasks.size(); ++i) {
    TaskRecord& task = records[i];
    task.index = static_cast<uint32_t>(i);
    task.info.set_build_id(header.build_id());
    *task.info.mutable_spec() = ToProto(plan->tasks[i]);
    std::string* text = task.info.mutable_spec()->mutable_image()->mutable_dockerfile_template();
    auto it = std::find(templates.begin(), templates.end(), *text);
    task.template_index = static_cast<int>(it - templates.begin());
    if (it == templates.end()) templates.push_back(std::move(*text));
    text->clear();
    task.info.set_state(v1::TASK_STATE_QUEUED);
    task.info.set_queued_at_ms(header.created_at_ms());
  }
  // Tasks built before at the same commit are completed from the result cache.
  std::set<std::filesystem::path> synced;
  std::map<std::string, std::vector<v1::LogLine>> reuse_logs;
  for (size_t i = 0; i < records.size(); ++i) {
    const PlannedTask& planned = plan->tasks[i];
    auto commit = commits.find({planned.repo_url, planned.repo_ref});
    if (commit == commits.end() || commit->second.empty()) continue;
    std::vector<v1::LogLine> log;
    if (ReuseResult(records[i], commit->second, &synced, &log)) {
      reuse_logs[records[i].info.spec().id()] = std::move(log);
    }
  }
  std::vector<std::pair<v1::TaskInfo*, int>> rows;
  rows.reserve(records.size());
  for (TaskRecord& task : records) rows.emplace_back(&task.info, task.template_index);
  absl::Status status = artifacts_.SyncDirectories(synced);
  if (status.ok()) status = store_->InsertBuild(header, templates, rows);
  if (!status.ok()) {
    std::error_code ignored;
    std::filesystem::remove_all(artifacts_.BuildDir(header.build_id()), ignored);
    return status;
  }
  for (const auto& [task_id, lines] : reuse_logs) (void)logs_.Append(header.build_id(), task_id, lines);

  Locked locked(*this);
  BuildState& build = builds_[header.build_id()];
  build.header = header;
  build.seq = next_build_seq_++;
  build.templates = std::move(templates);
  build_order_.push_back(header.build_id());
  build.task_ids.reserve(records.size());
  for (TaskRecord& record : records) {
    build.task_ids.push_back(record.info.spec().id());
    TaskRecord& task = tasks_[TaskKey{header.build_id(), record.info.spec().id()}];
    task = std::move(record);
    Track(task);
  }
  ScheduleSoon();
  LogEvent(std::cerr, "info",
           absl::StrCat("build ", header.build_id(), " submitted: ", build.task_ids.size(), " task(s), ",
                        build.counts[v1::TASK_STATE_SUCCEEDED], " from the result cache"),
           {{"build_id", header.build_id()}, {"tasks", absl::StrCat(build.task_ids.size())}});
  return BuildView(build, v1::TASK_VIEW_NONE);
}

bool Coordinator::ReuseResult(TaskRecord& task, const std::string& commit,
                              std::set<std::filesystem::path>* synced,
                              std::vector<v1::LogLine>* log) {
  absl::StatusOr<std::optional<v1::TaskInfo>> found = store_->FindResult(task.info.spec().id(), commit);
  if (!found.ok() || !found->has_value()) return false;
  const v1::TaskInfo& earlier = **found;
  std::vector<std::filesystem::path> shared;
  for (const v1::ArtifactInfo& artifact : earlier.artifacts()) {
    absl::Status s = artifacts_.Share(earlier.build_id(), artifact.wheelhouse_path(),
                                      task.info.build_id(), synced);
    if (!s.ok()) {
      // Its wheels are gone (or clash): build it after all, leaving nothing behind.
      std::error_code ignored;
      for (const std::filesystem::path& path : shared) std::filesystem::remove(path, ignored);
      return false;
    }
    shared.push_back(artifacts_.BuildDir(task.info.build_id()) / artifact.wheelhouse_path());
  }
  const int64_t now = NowMs();
  task.info.set_state(v1::TASK_STATE_SUCCEEDED);
  task.info.set_commit(commit);
  *task.info.mutable_artifacts() = earlier.artifacts();
  task.info.set_started_at_ms(now);
  task.info.set_finished_at_ms(now);
  task.info.set_message(absl::StrCat("reused the wheels of build ", earlier.build_id(),
                                     " (same spec, commit ", commit.substr(0, 12), ")"));
  v1::LogLine& line = log->emplace_back();
  line.set_time_ms(now);
  line.set_source("cwb");
  line.set_text(absl::StrCat("result cache: ", task.info.message(), "; nothing was built"));
  result_cache_hits_->Add();
  return true;
}

absl::StatusOr<v1::BuildInfo> Coordinator::GetBuild(const std::string& build_id, v1::TaskView view) {
  v1::BuildInfo out;
  if (absl::Status s = GetBuildInto(build_id, view, &out); !s.ok()) return s;
  return out;
}

absl::Status Coordinator::GetBuildInto(const std::string& build_id, v1::TaskView view, v1::BuildInfo* out) {
  Locked locked(*this);
  auto it = builds_.find(build_id);
  if (it == builds_.end()) return NotFoundBuild(build_id);
  FillBuildView(it->second, view, out);
  return absl::OkStatus();
}

std::vector<v1::BuildInfo> Coordinator::ListBuilds() {
  Locked locked(*this);
  std::vector<v1::BuildInfo> out;
  out.reserve(build_order_.size());
  for (const std::string& id : build_order_) out.push_back(BuildView(builds_.at(id), v1::TASK_VIEW_NONE));
  return out;
}

absl::StatusOr<v1::TaskInfo> Coordinator::GetTask(const std::string& build_id,
                                                  const std::string& task_id) {
  Locked locked(*this);
  TaskRecord* task = FindTask(build_id, task_id);
  if (task == nullptr) {
    if (!builds_.count(build_id)) return NotFoundBuild(build_id);
    return absl::NotFoundError(absl::StrCat("task_id: no task '", task_id, "' in build ", build_id));
  }
  return task->info;
}

absl::StatusOr<std::shared_ptr<BuildWatcher>> Coordinator::Watch(const std::string& build_id,
                                                                 v1::BuildInfo* snapshot) {
  Locked locked(*this);
  auto it = builds_.find(build_id);
  if (it == builds_.end()) return NotFoundBuild(build_id);
  auto watcher = std::make_shared<BuildWatcher>();
  it->second.watchers.push_back(watcher);
  *snapshot = BuildView(it->second, v1::TASK_VIEW_SUMMARY);
  return watcher;
}

void Coordinator::CancelLocked(TaskRecord& task, const std::string& reason) {
  if (!task.info.attempt_id().empty()) {
    v1::CoordinatorMessage message;
    message.mutable_cancel()->set_attempt_id(task.info.attempt_id());
    message.mutable_cancel()->set_reason(reason);
    SendTo(task.info.agent_id(), std::move(message));
    EndAttempt(task, "cancelled");
  }
  SetState(task, v1::TASK_STATE_CANCELLED);
  task.info.set_message(reason);
  task.info.set_finished_at_ms(NowMs());
  Changed(task);
}

absl::StatusOr<uint32_t> Coordinator::Cancel(const std::string& build_id, const std::string& task_id) {
  Locked locked(*this);
  auto build = builds_.find(build_id);
  if (build == builds_.end()) return NotFoundBuild(build_id);
  if (!task_id.empty() && FindTask(build_id, task_id) == nullptr) {
    return absl::NotFoundError(absl::StrCat("task_id: no task '", task_id, "' in build ", build_id));
  }
  uint32_t cancelled = 0;
  for (const std::string& id : build->second.task_ids) {
    if (!task_id.empty() && id != task_id) continue;
    TaskRecord& task = *FindTask(build_id, id);
    if (IsTerminal(task.info.state())) continue;
    CancelLocked(task, "cancelled by a user");
    ++cancelled;
  }
  ScheduleSoon();
  return cancelled;
}

absl::StatusOr<uint32_t> Coordinator::Retry(const std::string& build_id,
                                            const std::vector<std::string>& task_ids) {
  Locked locked(*this);
  auto build = builds_.find(build_id);
  if (build == builds_.end()) return NotFoundBuild(build_id);
  for (const std::string& id : task_ids) {
    if (FindTask(build_id, id) == nullptr) {
      return absl::NotFoundError(absl::StrCat("task_ids: no task '", id, "' in build ", build_id));
    }
  }
  uint32_t requeued = 0;
  for (const std::string& id : build->second.task_ids) {
    if (!task_ids.empty() && std::find(task_ids.begin(), task_ids.end(), id) == task_ids.end()) continue;
    TaskRecord& task = *FindTask(build_id, id);
    if (task.info.state() != v1::TASK_STATE_FAILED && task.info.state() != v1::TASK_STATE_CANCELLED) continue;
    SetState(task, v1::TASK_STATE_QUEUED);
    task.info.set_attempts(0);
    task.info.set_message("retried by a user");
    task.info.set_queued_at_ms(NowMs());
    task.info.set_finished_at_ms(0);
    task.info.clear_artifacts();
    Changed(task);
    ++requeued;
  }
  ScheduleSoon();
  return requeued;
}

std::vector<v1::AgentInfo> Coordinator::ListAgents() {
  Locked locked(*this);
  std::vector<v1::AgentInfo> out;
  for (auto& [id, agent] : agents_) {
    v1::AgentInfo info = agent.info;
    info.clear_running_attempts();
    for (const std::string& attempt : agent.attempts) {
      if (TaskRecord* task = FindAttempt(attempt)) {
        info.add_running_attempts(
            absl::StrCat(task->info.build_id(), "/", task->info.spec().id(), "/", attempt));
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
  Locked locked(*this);
  AgentState& agent = agents_[request.agent_id()];
  if (agent.channel && agent.channel != channel) agent.channel->Close();  // replaced by this one
  agent.channel = std::move(channel);
  agent.last_seen = clock_.SteadyNow();
  agent.info.set_agent_id(request.agent_id());
  *agent.info.mutable_capabilities() = request.capabilities();
  agent.info.set_connected(true);
  agent.info.set_last_heartbeat_ms(NowMs());
  ++agents_epoch_;

  // Reconcile: what the agent still runs and is current stays; the rest it must abandon.
  v1::RegisterAck ack;
  ack.set_heartbeat_interval_ms(static_cast<uint32_t>(options_.heartbeat_interval.count()));
  ack.set_lease_ms(static_cast<uint32_t>(options_.lease.count()));
  std::set<std::string> reported;
  for (const v1::RunningAttempt& running : request.running()) {
    TaskRecord* task = FindAttempt(running.attempt_id());
    if (task != nullptr && !IsTerminal(task->info.state()) && task->info.agent_id() == request.agent_id()) {
      reported.insert(running.attempt_id());
    } else {
      ack.add_abandon_attempts(running.attempt_id());
    }
  }
  const std::set<std::string> bound = agent.attempts;
  for (const std::string& attempt : bound) {
    if (reported.count(attempt)) continue;
    if (TaskRecord* task = FindAttempt(attempt); task != nullptr && !IsTerminal(task->info.state())) {
      RequeueOrFail(*task, absl::StrCat("agent ", request.agent_id(), " came back without it"));
    }
  }
  agent.attempts = reported;
  Persist(agent.info);
  // The ack goes out before anything the scheduler sends on this channel.
  v1::CoordinatorMessage message;
  *message.mutable_ack() = ack;
  SendTo(request.agent_id(), std::move(message));
  ScheduleSoon();
  LogEvent(std::cerr, "info",
           absl::StrCat("agent ", request.agent_id(), " connected: ", request.capabilities().slots(), " slot(s), ",
                        request.capabilities().gpus_size(), " GPU(s), runtime ", request.capabilities().runtime()),
           {{"agent_id", request.agent_id()}, {"hostname", request.capabilities().hostname()}});
  return ack;
}

void Coordinator::Heartbeat(const std::string& agent_id, const AgentChannel* channel) {
  std::lock_guard lock(mutex_);  // changes nothing durable
  auto it = agents_.find(agent_id);
  if (it == agents_.end() || it->second.channel.get() != channel) return;
  it->second.last_seen = clock_.SteadyNow();
  it->second.info.set_last_heartbeat_ms(NowMs());
}

void Coordinator::Disconnected(const std::string& agent_id, const AgentChannel* channel) {
  Locked locked(*this);
  auto it = agents_.find(agent_id);
  if (it == agents_.end() || it->second.channel.get() != channel) return;
  // Its attempts stay bound until the lease runs out: it may reconnect and carry on.
  it->second.channel.reset();
  it->second.info.set_connected(false);
  ++agents_epoch_;
  Persist(it->second.info);
}

void Coordinator::Seen(const std::string& agent_id) {
  auto it = agents_.find(agent_id);
  if (it == agents_.end()) return;
  it->second.last_seen = clock_.SteadyNow();
  it->second.info.set_last_heartbeat_ms(NowMs());
}

void Coordinator::OnStatus(const std::string& agent_id, const v1::TaskStatusUpdate& update) {
  Locked locked(*this);
  Seen(agent_id);
  TaskRecord* found = FindAttempt(update.attempt_id());
  if (found == nullptr || found->info.agent_id() != agent_id || IsTerminal(found->info.state())) {
    // A stale attempt (reassigned, cancelled or already ended): refused, and the agent told to
    // stop it if it still runs.
    if (update.state() == v1::TASK_STATE_RUNNING) {
      v1::CoordinatorMessage message;
      message.mutable_cancel()->set_attempt_id(update.attempt_id());
      message.mutable_cancel()->set_reason("this attempt is no longer current");
      SendTo(agent_id, std::move(message));
    }
    return;
  }
  TaskRecord& task = *found;
  switch (update.state()) {
    case v1::TASK_STATE_RUNNING:
      SetState(task, v1::TASK_STATE_RUNNING);
      task.info.set_started_at_ms(NowMs());
      task.info.set_message("");
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
            upload->path, task.info.build_id(), upload->artifact.wheelhouse_path());
        if (!path.ok()) {
          problem = std::string(path.status().message());
          break;
        }
        published.push_back(upload->artifact);
      }
      if (update.artifact_filenames().empty()) problem = "the agent reported no wheel";
      task.info.set_commit(update.commit());
      task.info.set_exit_code(update.exit_code());
      task.info.set_finished_at_ms(NowMs());
      if (problem.empty()) {
        EndAttempt(task, "succeeded");
        batch_.uploads_deleted.push_back(update.attempt_id());
        task.info.clear_artifacts();
        for (const v1::ArtifactInfo& artifact : published) *task.info.add_artifacts() = artifact;
        SetState(task, v1::TASK_STATE_SUCCEEDED);
        task.info.set_message(update.message());
        RecordDuration(task);
        if (!update.commit().empty()) {
          v1::TaskInfo& result = batch_.results.emplace_back();
          result.set_build_id(task.info.build_id());
          result.mutable_spec()->set_id(task.info.spec().id());
          result.set_commit(update.commit());
          *result.mutable_artifacts() = task.info.artifacts();
        }
      } else {
        EndAttempt(task, "failed");
        SetState(task, v1::TASK_STATE_FAILED);
        task.info.set_message(problem);
      }
      ScheduleSoon();
      break;
    }
    case v1::TASK_STATE_FAILED:
    case v1::TASK_STATE_CANCELLED:
      EndAttempt(task, StateName(update.state()));
      SetState(task, update.state());
      task.info.set_message(update.message());
      task.info.set_exit_code(update.exit_code());
      task.info.set_commit(update.commit());
      task.info.set_finished_at_ms(NowMs());
      ScheduleSoon();
      break;
    default:
      return;
  }
  if (IsTerminal(task.info.state())) ObserveEnd(task);
  Changed(task);
}

void Coordinator::OnLogs(const std::string& agent_id, const v1::LogBatch& batch) {
  {
    std::lock_guard lock(mutex_);
    Seen(agent_id);
    TaskRecord* task = FindAttempt(batch.attempt_id());
    if (task == nullptr || task->info.agent_id() != agent_id) return;  // stale attempt: dropped
  }
  (void)logs_.Append(batch.build_id(), batch.task_id(),
                     {batch.lines().begin(), batch.lines().end()});
}

absl::Status Coordinator::CheckUpload(const v1::UploadHeader& header) {
  std::lock_guard lock(mutex_);
  TaskRecord* task = FindAttempt(header.attempt_id());
  if (task == nullptr || IsTerminal(task->info.state()) || task->info.build_id() != header.build_id() ||
      task->info.spec().id() != header.task_id()) {
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
  uploaded_bytes_->Add(static_cast<double>(artifact.size_bytes()));
  return store_->PutUpload({header.attempt_id(), artifact, path});
}

// ---- time ----

void Coordinator::ExpireLeases() {
  const Clock::SteadyTime now = clock_.SteadyNow();
  if (now < next_lease_check_) return;
  next_lease_check_ = now + std::min<std::chrono::milliseconds>(options_.lease / 10, options_.scheduler_tick);
  for (auto& [id, agent] : agents_) {
    const bool silent = now - agent.last_seen > options_.lease;
    if (silent && (agent.channel || !agent.attempts.empty())) {
      LoseAgent(agent, absl::StrCat("agent ", id, " was silent for more than ",
                                    options_.lease.count(), " ms"));
    }
  }
}

void Coordinator::Assign(TaskRecord& task, AgentSlots& slot) {
  --slot.free_slots;
  if (slot.free_gpu_slots > 0 && NeedsGpu(task.info.spec())) --slot.free_gpu_slots;
  const std::string attempt = NewId("a");
  if (task.info.queued_at_ms() > 0) {
    queue_wait_->Observe(static_cast<double>(std::max<int64_t>(0, NowMs() - task.info.queued_at_ms())) / 1000.0);
  }
  SetState(task, v1::TASK_STATE_ASSIGNED);
  task.info.set_attempt_id(attempt);
  task.info.set_agent_id(slot.agent_id);
  task.info.set_attempts(task.info.attempts() + 1);
  attempts_[attempt] = {task.info.build_id(), task.info.spec().id()};
  agents_.at(slot.agent_id).attempts.insert(attempt);
  batch_.attempts_started.push_back(
      {attempt, task.info.build_id(), task.info.spec().id(), slot.agent_id, NowMs()});
  v1::CoordinatorMessage message;
  v1::Assignment* assignment = message.mutable_assignment();
  assignment->set_build_id(task.info.build_id());
  assignment->set_attempt_id(attempt);
  *assignment->mutable_spec() = task.info.spec();
  const BuildState& build = builds_.at(task.info.build_id());
  if (task.template_index >= 0 && static_cast<size_t>(task.template_index) < build.templates.size()) {
    assignment->mutable_spec()->mutable_image()->set_dockerfile_template(build.templates[task.template_index]);
  }
  assignment->set_time_limit_s(options_.task_time_limit_s);
  SendTo(slot.agent_id, std::move(message));
  Changed(task);
}

void Coordinator::UpdateWaitingReasons(TaskQueue::Group& group) {
  const std::string& reason = group.memo.eligible.waiting_reason;
  auto show = [&](const TaskKey& key) {
    TaskRecord* task = FindTask(key.first, key.second);
    if (task == nullptr || task->info.state() != v1::TASK_STATE_QUEUED ||
        task->info.waiting_reason() == reason) {
      return;
    }
    task->info.set_waiting_reason(reason);
    Changed(*task, /*persist=*/false);
  };
  if (group.memo.shown_reason != reason) {
    for (const auto& [order, key] : group.tasks) show(key);
    group.memo.shown_reason = reason;
  } else {
    for (const TaskKey& key : group.fresh) show(key);
  }
  group.fresh.clear();
}

void Coordinator::ScheduleLocked() {
  // The connected agents in id order (stable within an epoch) and what each has free.
  slots_.clear();
  for (auto& [id, agent] : agents_) {
    if (!agent.channel) continue;
    const v1::AgentCapabilities& caps = agent.info.capabilities();
    int free_gpu_slots = -1;
    if (caps.gpu_slots() > 0) {
      free_gpu_slots = static_cast<int>(caps.gpu_slots());
      for (const std::string& attempt : agent.attempts) {
        auto it = attempts_.find(attempt);
        if (it != attempts_.end() && NeedsGpu(tasks_.at(it->second).info.spec())) --free_gpu_slots;
      }
    }
    slots_.push_back({id, &caps,
                      static_cast<int>(caps.slots()) - static_cast<int>(agent.attempts.size()),
                      free_gpu_slots});
  }
  for (auto& [key, group] : queue_.groups()) {
    if (group.memo.epoch != agents_epoch_) {
      group.memo.eligible = FindEligible(group.requirements, slots_);
      group.memo.epoch = agents_epoch_;
    }
  }
  // A build at its max_parallel has no task assigned until one of its own ends.
  auto at_limit = [this](const TaskKey& key) {
    const BuildState& build = builds_.at(key.first);
    const uint32_t limit = build.header.max_parallel();
    return limit > 0 && build.counts[v1::TASK_STATE_ASSIGNED] + build.counts[v1::TASK_STATE_RUNNING] >= limit;
  };
  // Assign the first task in dispatch order that some free, eligible agent can take, until none.
  while (!queue_.empty()) {
    TaskQueue::Group* best_group = nullptr;
    AgentSlots* best_agent = nullptr;
    const std::pair<TaskQueue::Order, TaskKey>* best_task = nullptr;
    for (auto& [key, group] : queue_.groups()) {
      auto first = group.tasks.begin();
      while (first != group.tasks.end() && at_limit(first->second)) ++first;
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
    Assign(tasks_.at(key), *best_agent);
  }
  for (auto& [key, group] : queue_.groups()) UpdateWaitingReasons(group);
}

void Coordinator::Tick() {
  Locked locked(*this);
  ExpireLeases();
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
