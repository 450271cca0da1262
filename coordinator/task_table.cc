#include "coordinator/task_table.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/rpc/task_proto.h"
#include "common/rpc/task_state.h"
#include "coordinator/trust_domain.h"

namespace cwb {

bool BuildRecord::finished() const {
  return counts[v1::TASK_STATE_SUCCEEDED] + counts[v1::TASK_STATE_FAILED] + counts[v1::TASK_STATE_CANCELLED] ==
         task_ids.size();
}

BuildRecord& TaskTable::AddBuild(v1::BuildInfo header, std::vector<TaskRecord> tasks) {
  const std::string build_id = header.build_id();
  build_order_.push_back(build_id);
  BuildRecord& build = builds_[build_id];
  build.header = std::move(header);
  build.seq = next_build_seq_++;
  build.task_ids.reserve(tasks.size());
  for (TaskRecord& record : tasks) {
    record.index = static_cast<uint32_t>(build.task_ids.size());
    build.task_ids.push_back(record.info.spec().id());
    TaskRecord& task = tasks_[record.key()];
    task = std::move(record);
    ++build.counts[task.info.state()];
    if (task.info.state() == v1::TASK_STATE_SUCCEEDED && task.info.untested()) ++build.untested;
    if (IsWaiting(task.info.state())) queue_.Queued(task, build.seq);
    if (!task.info.attempt_id().empty() && !IsTerminal(task.info.state())) Bind(task);
  }
  return build;
}

void TaskTable::AddImage(const std::string& content_hash, std::string dockerfile) {
  images_.try_emplace(content_hash, std::move(dockerfile));
}

const std::string* TaskTable::FindImage(const std::string& content_hash) const {
  auto it = images_.find(content_hash);
  return it == images_.end() ? nullptr : &it->second;
}

void TaskTable::Bind(const TaskRecord& task) {
  attempts_[task.info.attempt_id()] = task.key();
  attempts_by_agent_[task.info.agent_id()].insert(task.info.attempt_id());
  AgentLoad& load = load_by_agent_[task.info.agent_id()];
  load.cores += task.info.share().cores();
  load.memory_bytes += static_cast<int64_t>(task.info.share().memory_bytes());
  load.gpu_tasks += NeedsGpu(task.info.spec(), task.info.step()) ? 1 : 0;
}

BuildRecord* TaskTable::FindBuild(const std::string& build_id) {
  auto it = builds_.find(build_id);
  return it == builds_.end() ? nullptr : &it->second;
}

TaskRecord* TaskTable::Find(const std::string& build_id, const std::string& task_id) {
  auto it = tasks_.find(TaskKey{build_id, task_id});
  return it == tasks_.end() ? nullptr : &it->second;
}

TaskRecord* TaskTable::FindAttempt(const std::string& attempt_id) {
  auto it = attempts_.find(attempt_id);
  return it == attempts_.end() ? nullptr : Find(it->second);
}

const AgentLoad& TaskTable::LoadOf(const std::string& agent_id) const {
  static const AgentLoad kNone;
  auto it = load_by_agent_.find(agent_id);
  return it == load_by_agent_.end() ? kNone : it->second;
}

const std::set<std::string>& TaskTable::AttemptsOf(const std::string& agent_id) const {
  static const std::set<std::string> kNone;
  auto it = attempts_by_agent_.find(agent_id);
  return it == attempts_by_agent_.end() ? kNone : it->second;
}

StateTotals TaskTable::Totals() const {
  StateTotals totals{};
  for (const auto& [id, build] : builds_) {
    for (size_t i = 0; i < totals.size(); ++i) totals[i] += build.counts[i];
  }
  return totals;
}

bool TaskTable::AtParallelLimit(const TaskKey& key) const {
  const BuildRecord& build = builds_.at(key.first);
  const uint32_t limit = build.header.max_parallel();
  return limit > 0 && build.counts[v1::TASK_STATE_ASSIGNED] + build.counts[v1::TASK_STATE_RUNNING] >= limit;
}

void TaskTable::SetState(TaskRecord& task, v1::TaskState state) {
  const v1::TaskState old = task.info.state();
  if (old == state) return;
  BuildRecord& build = builds_.at(task.info.build_id());
  --build.counts[old];
  ++build.counts[state];
  task.info.set_state(state);
  if (state == v1::TASK_STATE_SUCCEEDED && task.info.untested()) ++build.untested;
  if (IsWaiting(old)) queue_.Dequeued(task.key());
  if (IsWaiting(state)) queue_.Queued(task, build.seq);
  if (!IsWaiting(state) || !IsWaiting(old)) task.info.clear_waiting_reason();
  if (state == v1::TASK_STATE_FAILED && build.header.fail_fast()) {
    fail_fast_.emplace(task.info.build_id(), task.info.spec().id());  // the first failure names it
  }
}

void TaskTable::Changed(TaskRecord& task, ChangeSet& changes, bool persist) {
  if (persist) changes.Persist(task);
  BuildRecord& build = builds_.at(task.info.build_id());
  if (!build.watchers.empty()) {
    std::vector<std::shared_ptr<BuildWatcher>> watchers;
    std::erase_if(build.watchers, [&](const std::weak_ptr<BuildWatcher>& weak) {
      std::shared_ptr<BuildWatcher> watcher = weak.lock();
      if (!watcher || watcher->closed()) return true;
      watchers.push_back(std::move(watcher));
      return false;
    });
    v1::BuildEvent event;
    Summarize(task.info, event.mutable_task());
    event.set_build_finished(build.finished());
    changes.Publish(std::move(watchers), std::move(event));
  }
  if (IsTerminal(task.info.state())) changes.WakeLogReaders();
}

void TaskTable::StartAttempt(TaskRecord& task, const std::string& attempt_id, const std::string& agent_id,
                             const v1::ResourceShare& share, uint32_t time_limit_s, int64_t now_ms,
                             ChangeSet& changes) {
  task.info.set_step(NextStep(task.info.spec(), task.info.state()));
  SetState(task, v1::TASK_STATE_ASSIGNED);
  *task.info.mutable_share() = share;
  task.info.set_attempt_id(attempt_id);
  task.info.set_agent_id(agent_id);
  task.info.set_attempts(task.info.attempts() + 1);
  Bind(task);
  changes.batch().attempts_started.push_back(
      {attempt_id, task.info.build_id(), task.info.spec().id(), agent_id, now_ms});
  v1::CoordinatorMessage message;
  v1::Assignment* assignment = message.mutable_assignment();
  assignment->set_build_id(task.info.build_id());
  assignment->set_attempt_id(attempt_id);
  *assignment->mutable_spec() = task.info.spec();
  if (const std::string* dockerfile = FindImage(task.info.spec().image().content_hash())) {
    assignment->mutable_spec()->mutable_image()->set_dockerfile(*dockerfile);
  }
  assignment->set_time_limit_s(time_limit_s);
  *assignment->mutable_share() = share;
  assignment->set_step(task.info.step());
  if (task.info.step() == v1::TASK_STEP_TEST) *assignment->mutable_held_wheels() = task.info.held_artifacts();
  assignment->set_trust_domain(TrustDomainOf(task));
  changes.Send(agent_id, std::move(message));
  Changed(task, changes);
}

std::string TaskTable::TrustDomainOf(const TaskRecord& task) const {
  return cwb::TrustDomainOf(task.info.spec().source().repo_url(), builds_.at(task.info.build_id()).header.submitted_by());
}

void TaskTable::EndAttempt(TaskRecord& task, const std::string& outcome, int64_t now_ms, ChangeSet& changes) {
  const std::string& attempt = task.info.attempt_id();
  if (attempt.empty() || !attempts_.erase(attempt)) return;
  if (auto agent = attempts_by_agent_.find(task.info.agent_id()); agent != attempts_by_agent_.end()) {
    agent->second.erase(attempt);
    if (agent->second.empty()) {
      attempts_by_agent_.erase(agent);
      load_by_agent_.erase(task.info.agent_id());
    } else if (auto load = load_by_agent_.find(task.info.agent_id()); load != load_by_agent_.end()) {
      load->second.cores -= task.info.share().cores();
      load->second.memory_bytes -= static_cast<int64_t>(task.info.share().memory_bytes());
      load->second.gpu_tasks -= NeedsGpu(task.info.spec(), task.info.step()) ? 1 : 0;
    }
  }
  changes.batch().attempts_ended.push_back({attempt, now_ms, outcome});
  changes.AttemptEnded(task.key(), attempt);
}

void TaskTable::Built(TaskRecord& task, std::vector<v1::ArtifactInfo> held, const std::string& message,
                      int64_t now_ms, ChangeSet& changes) {
  task.info.set_held_by(task.info.attempt_id());
  EndAttempt(task, "built", now_ms, changes);
  task.info.clear_attempt_id();
  task.info.clear_agent_id();
  task.info.set_started_at_ms(0);
  task.info.clear_progress();
  task.info.clear_held_artifacts();
  for (v1::ArtifactInfo& artifact : held) *task.info.add_held_artifacts() = std::move(artifact);
  task.info.set_queued_at_ms(now_ms);
  task.info.set_attempts(0);  // the smoke test has its own retries
  SetState(task, v1::TASK_STATE_BUILT);
  task.info.set_message(message);
  Changed(task, changes);
}

void TaskTable::DiscardHeld(TaskRecord& task, ChangeSet& changes) {
  if (task.info.held_by().empty()) return;
  changes.HeldDiscarded(task.info.held_by());
  task.info.clear_held_by();
  task.info.clear_held_artifacts();
}

std::set<std::string> TaskTable::HeldAttempts() const {
  std::set<std::string> held;
  for (const auto& [key, task] : tasks_) {
    if (!task.info.held_by().empty()) held.insert(task.info.held_by());
  }
  return held;
}

void TaskTable::RequeueOrFail(TaskRecord& task, const std::string& reason, int64_t now_ms, ChangeSet& changes) {
  EndAttempt(task, "lost", now_ms, changes);
  task.info.clear_attempt_id();
  task.info.clear_agent_id();
  task.info.set_started_at_ms(0);
  task.info.clear_progress();
  if (task.info.attempts() >= retry_limit_) {
    DiscardHeld(task, changes);
    SetState(task, v1::TASK_STATE_FAILED);
    task.info.set_finished_at_ms(now_ms);
    task.info.set_message(absl::StrCat(reason, "; gave up after ", task.info.attempts(), " attempts"));
  } else if (task.info.step() == v1::TASK_STEP_TEST && !task.info.held_by().empty()) {
    SetState(task, v1::TASK_STATE_BUILT);  // its wheels are still held: only the test again
    task.info.set_message(absl::StrCat(reason, "; its smoke test waits again (", task.info.attempts(), " of ",
                                       retry_limit_, " attempts used)"));
  } else {
    SetState(task, v1::TASK_STATE_QUEUED);
    task.info.set_message(absl::StrCat(reason, "; queued again (", task.info.attempts(), " of ", retry_limit_,
                                       " attempts used)"));
  }
  Changed(task, changes);
}

void TaskTable::RequeueOutOfMemory(TaskRecord& task, const std::string& message, int64_t now_ms,
                                   ChangeSet& changes) {
  EndAttempt(task, "failed", now_ms, changes);
  task.info.clear_attempt_id();
  task.info.clear_agent_id();
  task.info.set_started_at_ms(0);
  task.info.clear_progress();
  task.info.set_finished_at_ms(0);
  task.info.set_memory_retried(true);
  SetState(task, v1::TASK_STATE_QUEUED);
  task.info.set_message(absl::StrCat(message, "; queued again with half the jobs"));
  Changed(task, changes);
}

void TaskTable::Cancel(TaskRecord& task, const std::string& reason, int64_t now_ms, ChangeSet& changes) {
  if (!task.info.attempt_id().empty()) {
    v1::CoordinatorMessage message;
    message.mutable_cancel()->set_attempt_id(task.info.attempt_id());
    message.mutable_cancel()->set_reason(reason);
    changes.Send(task.info.agent_id(), std::move(message));
    EndAttempt(task, "cancelled", now_ms, changes);
  }
  DiscardHeld(task, changes);
  SetState(task, v1::TASK_STATE_CANCELLED);
  task.info.set_message(reason);
  task.info.set_finished_at_ms(now_ms);
  Changed(task, changes);
}

uint32_t TaskTable::CancelBuild(BuildRecord& build, const std::string& task_id, int64_t now_ms, ChangeSet& changes) {
  uint32_t cancelled = 0;
  for (const std::string& id : build.task_ids) {
    if (!task_id.empty() && id != task_id) continue;
    TaskRecord& task = *Find(build.header.build_id(), id);
    if (IsTerminal(task.info.state())) continue;
    Cancel(task, "cancelled by a user", now_ms, changes);
    ++cancelled;
  }
  return cancelled;
}

uint32_t TaskTable::Retry(BuildRecord& build, const std::vector<std::string>& task_ids, int64_t now_ms,
                          ChangeSet& changes) {
  uint32_t requeued = 0;
  for (const std::string& id : build.task_ids) {
    if (!task_ids.empty() && std::find(task_ids.begin(), task_ids.end(), id) == task_ids.end()) continue;
    TaskRecord& task = *Find(build.header.build_id(), id);
    if (task.info.state() != v1::TASK_STATE_FAILED && task.info.state() != v1::TASK_STATE_CANCELLED) continue;
    SetState(task, v1::TASK_STATE_QUEUED);
    task.info.set_attempts(0);
    task.info.set_message("retried by a user");
    task.info.set_memory_retried(false);
    task.info.set_queued_at_ms(now_ms);
    task.info.set_finished_at_ms(0);
    task.info.clear_artifacts();
    Changed(task, changes);
    ++requeued;
  }
  return requeued;
}

void TaskTable::ApplyFailFast(int64_t now_ms, ChangeSet& changes) {
  std::map<std::string, std::string> failed;  // cancelling fails nothing, so none is added below
  failed.swap(fail_fast_);
  for (const auto& [build_id, failed_task] : failed) {
    const std::string reason = absl::StrCat("fail_fast: task ", failed_task, " failed");
    for (const std::string& id : builds_.at(build_id).task_ids) {
      TaskRecord& task = *Find(build_id, id);
      if (!IsTerminal(task.info.state())) Cancel(task, reason, now_ms, changes);
    }
  }
}

void TaskTable::FillBuildView(const BuildRecord& build, v1::TaskView task_view, v1::BuildInfo* out) {
  v1::BuildInfo& view = *out;
  view = build.header;
  if (task_view != v1::TASK_VIEW_NONE) {
    view.mutable_tasks()->Reserve(static_cast<int>(build.task_ids.size()));
    for (const std::string& id : build.task_ids) {
      v1::TaskInfo& info = tasks_.at({build.header.build_id(), id}).info;
      v1::TaskInfo* task = view.add_tasks();
      if (task_view == v1::TASK_VIEW_FULL) {
        *task = info;
      } else {
        Summarize(info, task);
      }
    }
  }
  view.set_total(static_cast<uint32_t>(build.task_ids.size()));
  view.set_succeeded(build.counts[v1::TASK_STATE_SUCCEEDED]);
  view.set_failed(build.counts[v1::TASK_STATE_FAILED]);
  view.set_cancelled(build.counts[v1::TASK_STATE_CANCELLED]);
  view.set_awaiting_test(build.counts[v1::TASK_STATE_BUILT]);
  view.set_untested(build.untested);
  view.set_finished(build.finished());
}

void TaskTable::ForEachCurrentAttempt(const std::function<void(const TaskRecord&)>& fn) const {
  for (const auto& [attempt, key] : attempts_) {
    auto it = tasks_.find(key);
    if (it != tasks_.end()) fn(it->second);
  }
}

void TaskTable::Summarize(v1::TaskInfo& info, v1::TaskInfo* summary) {
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

std::vector<StoredWheel> TaskTable::ListWheels() const {
  std::vector<StoredWheel> wheels;
  for (const std::string& id : build_order_) {
    const BuildRecord& build = builds_.at(id);
    if (build.counts[v1::TASK_STATE_SUCCEEDED] == 0) continue;
    for (const std::string& task_id : build.task_ids) {
      const TaskRecord& task = tasks_.at(TaskKey{id, task_id});
      if (task.info.state() != v1::TASK_STATE_SUCCEEDED) continue;
      const AxisValues axes = AxesFromProto(task.info.spec());
      for (const v1::ArtifactInfo& artifact : task.info.artifacts()) {
        wheels.push_back({id, task_id, task.info.spec().project(), axes, artifact});
      }
    }
  }
  return wheels;
}

}  // namespace cwb
