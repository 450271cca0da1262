#include "agent/agent_daemon.h"

#include <unistd.h>

#include <fstream>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/base/atomic_file.h"
#include "common/rpc/task_proto.h"
#include "common/web/server_log.h"

namespace cwb {
namespace {

v1::TaskState ToState(TaskOutcome outcome, v1::TaskStep step) {
  switch (outcome) {
    case TaskOutcome::kSucceeded: return step == v1::TASK_STEP_BUILD ? v1::TASK_STATE_BUILT : v1::TASK_STATE_SUCCEEDED;
    case TaskOutcome::kCancelled: return v1::TASK_STATE_CANCELLED;
    default: return v1::TASK_STATE_FAILED;
  }
}

bool Refused(const absl::Status& status) {
  return absl::IsUnauthenticated(status) || absl::IsPermissionDenied(status) || absl::IsInvalidArgument(status);
}

}  // namespace

std::string LoadOrCreateAgentId(const std::filesystem::path& work_dir) {
  const std::filesystem::path file = work_dir / "agent-id";
  std::ifstream in(file);
  std::string id;
  if (in >> id && !id.empty()) return id;
  char host[256] = {};
  ::gethostname(host, sizeof(host) - 1);
  id = absl::StrFormat("%s-%06x", host, std::random_device{}() & 0xffffff);
  (void)WriteFileAtomically(file, id + "\n");
  return id;
}

AgentDaemon::AgentDaemon(AgentDaemonOptions options, CoordinatorLink& link, Runner runner, Clock& clock)
    : options_(std::move(options)),
      link_(link),
      runner_(std::move(runner)),
      clock_(clock),
      book_([this](const v1::Assignment& assignment, Cancellation& cancel) { return Execute(assignment, cancel); }) {}

TaskResult AgentDaemon::Execute(const v1::Assignment& assignment, Cancellation& cancel) {
  SendNow(StatusUpdate(assignment, v1::TASK_STATE_RUNNING));
  // Each call on the session current when it is made, outside the lock: a long download holds up
  // no heartbeat or log line.
  auto current = [this]() {
    std::lock_guard lock(session_mutex_);
    return session_;
  };
  Calls calls;
  calls.fetch_wheel = [current, &assignment](const v1::ArtifactInfo& wheel, const std::filesystem::path& destination) {
    std::shared_ptr<CoordinatorSession> session = current();
    if (session == nullptr) return absl::UnavailableError("no session with the coordinator now");
    return session->Download(assignment, wheel, destination);
  };
  calls.open_compile_cache = [current, &assignment]() -> absl::StatusOr<v1::CompileCacheAccess> {
    std::shared_ptr<CoordinatorSession> session = current();
    if (session == nullptr) return absl::UnavailableError("no session with the coordinator now");
    return session->OpenCompileCache(assignment);
  };
  return runner_(
      assignment, cancel, [this](const v1::AgentMessage& message) { return SendNow(message); }, calls);
}

bool AgentDaemon::SendNow(const v1::AgentMessage& message) {
  std::lock_guard lock(session_mutex_);
  return session_ != nullptr && session_->Send(message);
}

void AgentDaemon::Report(CoordinatorSession& session, Cancellation& session_done) {
  while (std::optional<AttemptBook::Finished> done = book_.NextFinished(session_done)) {
    const v1::Assignment& assignment = done->assignment;
    TaskResult& result = done->result;
    bool stale = false;
    std::vector<std::string> uploaded;
    if (result.outcome == TaskOutcome::kSucceeded) {
      for (const BuiltWheel& wheel : result.wheels) {
        absl::Status s = session.Upload(assignment, wheel);
        if (absl::IsFailedPrecondition(s)) {
          stale = true;  // the coordinator moved on: this result is not wanted
          LogEvent(std::cerr, "warning",
                   absl::StrCat("cwb-agent: the coordinator no longer wants attempt ", assignment.attempt_id(), " (",
                                s.message(), "); its result is dropped"),
                   {{"attempt_id", assignment.attempt_id()}});
          break;
        }
        if (absl::IsInvalidArgument(s) || absl::IsResourceExhausted(s)) {
          result.outcome = TaskOutcome::kFailed;
          result.message = absl::StrCat("upload of ", wheel.filename, " refused: ", s.message());
          LogEvent(std::cerr, "warning", absl::StrCat("cwb-agent: ", result.message),
                   {{"attempt_id", assignment.attempt_id()}});
          break;
        }
        if (!s.ok()) return;  // trouble on the way: try again in the next session
        uploaded.push_back(wheel.filename);
        if (options_.metrics != nullptr) {
          options_.metrics->CounterOf("cwb_agent_uploaded_bytes_total", "Bytes of wheels uploaded to the coordinator")
              .Add(static_cast<double>(wheel.size));
        }
      }
    }
    if (!stale) {
      v1::AgentMessage message = StatusUpdate(assignment, ToState(result.outcome, assignment.step()));
      v1::TaskStatusUpdate* status = message.mutable_status();
      status->set_message(result.message);
      status->set_exit_code(result.exit_code);
      status->set_commit(result.commit);
      for (const std::string& name : uploaded) status->add_artifact_filenames(name);
      if (result.use.has_value()) *status->mutable_use() = *result.use;
      if (result.compile_cache.has_value()) *status->mutable_compile_cache() = *result.compile_cache;
      if (result.audit.has_value()) *status->mutable_audit() = *result.audit;
      if (!session.Send(message)) return;
    }
    // The wheels now live on the coordinator (or were not wanted).
    book_.Forget(assignment.attempt_id());
  }
}

bool AgentDaemon::Connect(Cancellation& stop) {
  refused_ = absl::OkStatus();
  v1::RegisterAck ack;
  absl::StatusOr<std::unique_ptr<CoordinatorSession>> opened =
      link_.Open(book_.RegisterMessage(options_.agent_id, options_.capabilities), &ack, stop);
  if (!opened.ok()) {
    // Refused (bad token, bad register) or unreachable: say which when refused, then back off.
    if (Refused(opened.status())) refused_ = opened.status();
    return false;
  }
  // Shared: a TEST attempt's download may still hold it after the session ends.
  std::shared_ptr<CoordinatorSession> session = *std::move(opened);
  book_.Abandon({ack.abandon_attempts().begin(), ack.abandon_attempts().end()});
  if (ack.clients_open() && options_.builds_on_host_network && !warned_open_clients_.exchange(true)) {
    LogEvent(std::cerr, "warning",
             "cwb-agent: builds here run on the host's network, and the coordinator takes clients without a "
             "token: any build can reach it and submit, cancel or read builds. Give the coordinator a client "
             "token (--client-token-file), or run builds without --network host");
  }
  const auto heartbeat = std::chrono::milliseconds(std::max(100u, ack.heartbeat_interval_ms()));
  {
    std::lock_guard lock(session_mutex_);
    session_ = session;
  }
  Cancellation session_done;
  std::thread heartbeats([&] {
    v1::AgentMessage beat;
    beat.mutable_heartbeat();
    while (clock_.SleepUntil(clock_.SteadyNow() + heartbeat, &session_done)) {
      if (!SendNow(beat)) break;
    }
  });
  std::thread reporter([&] { Report(*session, session_done); });
  v1::CoordinatorMessage message;
  while (session->Read(&message)) {
    if (message.has_assignment()) {
      book_.Start(message.assignment());
    } else if (message.has_cancel()) {
      book_.Cancel(message.cancel().attempt_id(), message.cancel().reason());
    }
  }
  session_done.Cancel("session ended");
  {
    std::lock_guard lock(session_mutex_);
    session_ = nullptr;
  }
  session->Close();
  heartbeats.join();
  reporter.join();
  return true;
}

absl::Status AgentDaemon::Run(Cancellation& stop) {
  std::mt19937_64 device(std::random_device{}());
  const std::function<uint64_t()> random = options_.random ? options_.random : [&device] { return device(); };
  std::chrono::milliseconds backoff = options_.min_backoff;
  while (!stop.cancelled()) {
    const bool acked = Connect(stop);
    if (stop.cancelled()) break;
    if (!refused_.ok()) {
      book_.CancelAll("the coordinator refused this agent");
      return refused_;
    }
    backoff = acked ? options_.min_backoff : std::min(backoff * 2, options_.max_backoff);
    const auto wait = backoff / 2 + std::chrono::milliseconds(random() % (backoff.count() / 2 + 1));
    clock_.SleepUntil(clock_.SteadyNow() + wait, &stop);
  }
  book_.CancelAll("the agent is stopping");
  return absl::OkStatus();
}

}  // namespace cwb
