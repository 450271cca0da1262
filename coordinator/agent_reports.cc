// What agents report of their attempts: state changes and results (wheels published, held back
// for the smoke test, or discarded), log batches and uploads, and the held wheels a TEST attempt
// downloads. Part of Coordinator (coordinator.h); every call takes the one lock.
#include <algorithm>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "common/rpc/task_proto.h"
#include "common/rpc/task_state.h"
#include "common/web/server_log.h"
#include "coordinator/coordinator.h"
#include "coordinator/coordinator_locked.h"

namespace cwb {

void Coordinator::OnStatus(const std::string& agent_id, const v1::TaskStatusUpdate& update) {
  Locked locked(*this);
  agents_.Seen(agent_id);
  TaskRecord* task = tasks_.FindAttempt(update.attempt_id());
  if (task == nullptr || task->info.agent_id() != agent_id || IsTerminal(task->info.state())) {
    // A stale attempt (reassigned, cancelled or already ended): refused, and the agent told to
    // stop it if it still runs.
    if (IsTerminal(update.state()) || update.state() == v1::TASK_STATE_BUILT) {
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
    case v1::TASK_STATE_BUILT:
    case v1::TASK_STATE_FAILED:
    case v1::TASK_STATE_CANCELLED:
      EndTask(*task, update);
      return;
    default:
      return;
  }
}

std::string Coordinator::UploadsOf(const v1::TaskStatusUpdate& update, std::vector<StoredFile>* files) {
  if (update.artifact_filenames().empty()) return "the agent reported no wheel";
  absl::StatusOr<std::vector<UploadRecord>> uploads = store_->UploadsFor(update.attempt_id());
  if (!uploads.ok()) return std::string(uploads.status().message());
  for (const std::string& filename : update.artifact_filenames()) {
    auto upload = std::find_if(uploads->begin(), uploads->end(),
                               [&](const UploadRecord& u) { return u.artifact.filename() == filename; });
    if (upload == uploads->end()) return absl::StrCat("the agent reported ", filename, " but never uploaded it");
    files->push_back({upload->artifact, upload->path});
  }
  return "";
}

std::string Coordinator::PublishFiles(TaskRecord& task, const std::vector<StoredFile>& files) {
  task.info.clear_artifacts();
  for (const StoredFile& file : files) {
    // A name published before with other bytes is never reused: a build tag tells them apart.
    const std::string& filename = file.artifact.filename();
    absl::StatusOr<std::string> name = published_.NameFor(filename, file.artifact.sha256(), task.info.build_id());
    if (!name.ok()) return std::string(name.status().message());
    v1::ArtifactInfo artifact = file.artifact;
    if (*name != filename) {
      artifact.set_filename(*name);
      artifact.set_wheelhouse_path((std::filesystem::path(artifact.wheelhouse_path()).parent_path() / *name).string());
    }
    absl::StatusOr<std::filesystem::path> path =
        artifacts_.Publish(file.path, task.info.build_id(), artifact.wheelhouse_path());
    if (!path.ok()) return std::string(path.status().message());
    *task.info.add_artifacts() = std::move(artifact);
  }
  for (const v1::ArtifactInfo& artifact : task.info.artifacts()) {
    published_.Add(artifact.filename(), artifact.sha256(), task.info.build_id());
  }
  return "";
}

std::string Coordinator::PublishHeld(TaskRecord& task) {
  if (task.info.held_artifacts().empty()) return "no wheel is held for the task";
  std::vector<StoredFile> files;
  for (const v1::ArtifactInfo& artifact : task.info.held_artifacts()) {
    files.push_back({artifact, artifacts_.HeldPath(task.info.held_by(), artifact.filename())});
  }
  return PublishFiles(task, files);
}

std::string Coordinator::HoldUploads(const v1::TaskStatusUpdate& update, std::vector<v1::ArtifactInfo>* held) {
  std::vector<StoredFile> files;
  if (std::string problem = UploadsOf(update, &files); !problem.empty()) return problem;
  for (const StoredFile& file : files) {
    absl::StatusOr<std::filesystem::path> path =
        artifacts_.Hold(file.path, update.attempt_id(), file.artifact.filename());
    if (!path.ok()) return std::string(path.status().message());
    held->push_back(file.artifact);
  }
  return "";
}

void Coordinator::EndTask(TaskRecord& task, const v1::TaskStatusUpdate& update) {
  const int64_t now = NowMs();
  const v1::TaskStep step = task.info.step();
  v1::TaskState state = update.state();
  std::string message = update.message();
  // A BUILD attempt ends BUILT; one reported as succeeded (an agent that knows no steps, which ran
  // no test without a GPU) is held for its smoke test all the same.
  if (state == v1::TASK_STATE_SUCCEEDED && step == v1::TASK_STEP_BUILD) state = v1::TASK_STATE_BUILT;
  if (state == v1::TASK_STATE_BUILT && step != v1::TASK_STEP_BUILD) {
    state = v1::TASK_STATE_FAILED;
    message = absl::StrCat("the agent reported only a build for an attempt to ", StepName(step));
  }
  task.info.set_exit_code(update.exit_code());
  if (!update.commit().empty()) task.info.set_commit(update.commit());  // a TEST keeps its build's
  task.info.set_finished_at_ms(now);
  task.info.clear_progress();
  if (update.has_use()) {
    *task.info.mutable_use() = update.use();
    metrics_.ObserveUse(update.use());
  }
  if (update.has_compile_cache()) {
    *task.info.mutable_compile_cache() = update.compile_cache();
    metrics_.ObserveCompileCache(task.info.agent_id(), update.compile_cache());
    agents_.AddCompileCache(task.info.agent_id(), update.compile_cache());
  }
  if (update.has_audit()) *task.info.mutable_audit() = update.audit();
  // A smoke test's time and use say nothing of the target's build.
  if (step != v1::TASK_STEP_TEST) {
    history_.Record(task.info, state == v1::TASK_STATE_SUCCEEDED || state == v1::TASK_STATE_BUILT, changes_.batch());
  }
  if (state == v1::TASK_STATE_FAILED && update.use().out_of_memory() && !task.info.memory_retried()) {
    // A known failure with a known cure: once more, with half the jobs and the peak it reached.
    tasks_.RequeueOutOfMemory(task, message, now, changes_);
    changes_.ScheduleSoon();
    return;
  }
  if (state == v1::TASK_STATE_BUILT) {
    std::vector<v1::ArtifactInfo> held;
    if (std::string problem = HoldUploads(update, &held); problem.empty()) {
      task.info.set_finished_at_ms(0);
      const size_t wheels = held.size();
      tasks_.Built(task, std::move(held),
                   absl::StrCat("built ", wheels, " wheel(s), held back until its smoke test passes on a GPU"), now,
                   changes_);
      changes_.ScheduleSoon();
      return;
    } else {
      state = v1::TASK_STATE_FAILED;
      message = std::move(problem);
    }
  }
  if (state == v1::TASK_STATE_SUCCEEDED) {
    std::vector<StoredFile> uploads;
    std::string problem = step == v1::TASK_STEP_TEST ? PublishHeld(task) : UploadsOf(update, &uploads);
    if (problem.empty() && step != v1::TASK_STEP_TEST) problem = PublishFiles(task, uploads);
    if (!problem.empty()) {
      task.info.clear_artifacts();
      state = v1::TASK_STATE_FAILED;
      message = std::move(problem);
    }
  }
  tasks_.DiscardHeld(task, changes_);  // published (moved out) or no longer wanted
  tasks_.EndAttempt(task, StateName(state), now, changes_);
  tasks_.SetState(task, state);
  task.info.set_message(message);
  if (state == v1::TASK_STATE_SUCCEEDED) ResultCache::Remember(task.info, changes_.batch());
  metrics_.ObserveEnd(task.info);
  tasks_.Changed(task, changes_);
  changes_.ScheduleSoon();
}

void Coordinator::PublishUntestable() {
  for (const TaskKey& key : dispatcher_.Untestable()) {
    TaskRecord* task = tasks_.Find(key);
    if (task == nullptr || task->info.state() != v1::TASK_STATE_BUILT) continue;
    if (!tasks_.FindBuild(key.first)->header.allow_untested()) continue;
    const std::string why = task->info.waiting_reason();
    task->info.set_untested(true);
    std::string problem = PublishHeld(*task);
    tasks_.DiscardHeld(*task, changes_);
    const int64_t now = NowMs();
    task->info.set_finished_at_ms(now);
    if (problem.empty()) {
      tasks_.SetState(*task, v1::TASK_STATE_SUCCEEDED);
      task->info.set_message(absl::StrCat("published untested (allow_untested): its smoke test needs a GPU, and ",
                                          why.empty() ? "no connected agent has one" : why));
    } else {
      task->info.set_untested(false);
      task->info.clear_artifacts();
      tasks_.SetState(*task, v1::TASK_STATE_FAILED);
      task->info.set_message(problem);
    }
    metrics_.ObserveEnd(task->info);
    tasks_.Changed(*task, changes_);
  }
}

absl::StatusOr<TaskRecord*> Coordinator::HeldAttemptLocked(const std::string& build_id, const std::string& task_id,
                                                         const std::string& attempt_id, const std::string& session,
                                                         std::optional<v1::TaskStep> step, const char* what,
                                                         const char* request) {
  TaskRecord* task = tasks_.FindAttempt(attempt_id);
  if (task == nullptr || IsTerminal(task->info.state()) || task->info.build_id() != build_id ||
      task->info.spec().id() != task_id || (step.has_value() && task->info.step() != *step)) {
    return absl::FailedPreconditionError(absl::StrCat("attempt_id: ", attempt_id, " is not the ", what, " of task ",
                                                      task_id));
  }
  if (!agents_.HoldsSession(task->info.agent_id(), session)) {
    return absl::PermissionDeniedError(absl::StrCat("session: the ", request,
                                                    " does not come from the session of agent ",
                                                    task->info.agent_id(), ", which holds attempt ", attempt_id));
  }
  return task;
}

absl::StatusOr<std::pair<v1::ArtifactInfo, std::filesystem::path>> Coordinator::FindHeldWheel(
    const v1::DownloadHeldWheelRequest& request) {
  if (absl::Status s = Available(); !s.ok()) return s;
  std::lock_guard lock(mutex_);
  absl::StatusOr<TaskRecord*> task = HeldAttemptLocked(request.build_id(), request.task_id(), request.attempt_id(),
                                                       request.session(), v1::TASK_STEP_TEST, "current smoke test",
                                                       "request");
  if (!task.ok()) return task.status();
  for (const v1::ArtifactInfo& artifact : (*task)->info.held_artifacts()) {
    if (artifact.filename() == request.filename()) {
      return std::make_pair(artifact, artifacts_.HeldPath((*task)->info.held_by(), artifact.filename()));
    }
  }
  return absl::NotFoundError(absl::StrCat("filename: task ", request.task_id(), " holds no wheel '",
                                          request.filename(), "'"));
}

absl::StatusOr<std::string> Coordinator::TrustDomainOfAttempt(const std::string& build_id, const std::string& task_id,
                                                              const std::string& attempt_id,
                                                              const std::string& session) {
  if (absl::Status s = Available(); !s.ok()) return s;
  std::lock_guard lock(mutex_);
  absl::StatusOr<TaskRecord*> task = HeldAttemptLocked(build_id, task_id, attempt_id, session,
                                                       std::nullopt, "current attempt", "request");
  if (!task.ok()) return task.status();
  return tasks_.TrustDomainOf(**task);
}

std::optional<std::string> Coordinator::TrustDomainOfCurrentAttempt(const std::string& attempt_id) {
  std::lock_guard lock(mutex_);
  TaskRecord* task = tasks_.FindAttempt(attempt_id);
  if (task == nullptr || IsTerminal(task->info.state())) return std::nullopt;
  return tasks_.TrustDomainOf(*task);
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
  return HeldAttemptLocked(header.build_id(), header.task_id(), header.attempt_id(), header.session(),
                           std::nullopt, "current attempt", "upload")
      .status();
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

}  // namespace cwb
