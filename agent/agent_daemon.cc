#include "agent/agent_daemon.h"

#include <unistd.h>

#include <fstream>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "agent/log_batcher.h"
#include "agent/wheel_upload.h"
#include "common/base/atomic_file.h"
#include "common/rpc/grpc_status.h"
#include "common/rpc/task_proto.h"

namespace cwb {
namespace {

v1::TaskState ToState(TaskOutcome outcome) {
  switch (outcome) {
    case TaskOutcome::kSucceeded: return v1::TASK_STATE_SUCCEEDED;
    case TaskOutcome::kCancelled: return v1::TASK_STATE_CANCELLED;
    default: return v1::TASK_STATE_FAILED;
  }
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

AgentDaemon::AgentDaemon(AgentDaemonOptions options, BuildPipeline& pipeline, GpuAllocator& gpus)
    : options_(std::move(options)), pipeline_(pipeline), gpus_(gpus) {}

AgentDaemon::~AgentDaemon() {
  std::map<std::string, std::unique_ptr<Work>> work;
  {
    std::lock_guard lock(mutex_);
    work.swap(work_);
  }
  for (auto& [id, w] : work) {
    w->cancel.Cancel("the agent is stopping");
    if (w->thread.joinable()) w->thread.join();
  }
}

void AgentDaemon::Authorize(grpc::ClientContext& context) const {
  if (!options_.token.empty()) context.AddMetadata("authorization", "Bearer " + options_.token);
}

bool AgentDaemon::Send(const v1::AgentMessage& message) {
  std::lock_guard lock(write_mutex_);
  return stream_ != nullptr && stream_->Write(message);
}

v1::Register AgentDaemon::RegisterMessage() {
  v1::Register reg;
  reg.set_agent_id(options_.agent_id);
  *reg.mutable_capabilities() = options_.capabilities;
  std::lock_guard lock(mutex_);
  for (const auto& [id, work] : work_) {
    v1::RunningAttempt* running = reg.add_running();
    running->set_build_id(work->assignment.build_id());
    running->set_task_id(work->assignment.spec().id());
    running->set_attempt_id(id);
  }
  return reg;
}

void AgentDaemon::Start(const v1::Assignment& assignment) {
  std::lock_guard lock(mutex_);
  if (work_.count(assignment.attempt_id())) return;
  auto work = std::make_unique<Work>();
  work->assignment = assignment;
  Work* raw = work.get();
  work_[assignment.attempt_id()] = std::move(work);
  raw->thread = std::thread([this, raw] { RunWork(raw); });
}

void AgentDaemon::RunWork(Work* work) {
  const v1::Assignment& assignment = work->assignment;
  v1::AgentMessage running;
  v1::TaskStatusUpdate* status = running.mutable_status();
  status->set_build_id(assignment.build_id());
  status->set_task_id(assignment.spec().id());
  status->set_attempt_id(assignment.attempt_id());
  status->set_state(v1::TASK_STATE_RUNNING);
  Send(running);

  TaskResult result;
  absl::StatusOr<GpuGrant> grant =
      gpus_.Acquire(assignment.attempt_id(), NeedsGpu(assignment.spec()), &work->cancel);
  if (grant.ok()) {
    // Lines produced while disconnected stay in the agent's log file only.
    LogBatcher batcher(assignment.build_id(), assignment.spec().id(), assignment.attempt_id(),
                       [this](const v1::AgentMessage& m) { return Send(m); }, SystemClock::Get(),
                       std::chrono::milliseconds(100));
    result = pipeline_.Run({&assignment.spec(), assignment.attempt_id(), grant->request,
                            [&](const LogLine& line) { batcher.Add(line); }, &work->cancel,
                            CudaArchList(grant->gpus), DescribeGpus(*grant)});
    gpus_.Release(assignment.attempt_id());
  } else {
    result.outcome = work->cancel.cancelled() ? TaskOutcome::kCancelled : TaskOutcome::kFailed;
    result.message = std::string(grant.status().message());
  }
  {
    std::lock_guard lock(mutex_);
    work->result = std::move(result);
    work->finished = true;
  }
  finished_cv_.notify_all();
}

void AgentDaemon::Report(v1::AgentService::Stub& stub, Cancellation& connection_done) {
  while (!connection_done.cancelled()) {
    Work* done = nullptr;
    {
      std::unique_lock lock(mutex_);
      finished_cv_.wait_for(lock, std::chrono::milliseconds(200), [&] {
        for (auto& [id, work] : work_) {
          if (work->finished) return true;
        }
        return false;
      });
      for (auto& [id, work] : work_) {
        if (work->finished) {
          done = work.get();
          break;
        }
      }
    }
    if (done == nullptr) continue;
    const v1::Assignment& assignment = done->assignment;
    TaskResult& result = done->result;
    bool stale = false;
    std::vector<std::string> uploaded;
    if (result.outcome == TaskOutcome::kSucceeded) {
      for (const BuiltWheel& wheel : result.wheels) {
        absl::Status s = UploadWheel(stub, options_.token, assignment, wheel);
        if (absl::IsFailedPrecondition(s)) {
          stale = true;  // the coordinator moved on: this result is not wanted
          break;
        }
        if (absl::IsInvalidArgument(s) || absl::IsResourceExhausted(s)) {
          result.outcome = TaskOutcome::kFailed;
          result.message = absl::StrCat("upload of ", wheel.filename, " refused: ", s.message());
          break;
        }
        if (!s.ok()) return;  // connection trouble: try again after reconnecting
        uploaded.push_back(wheel.filename);
        if (options_.metrics != nullptr) {
          options_.metrics->CounterOf("cwb_agent_uploaded_bytes_total", "Bytes of wheels uploaded to the coordinator")
              .Add(static_cast<double>(wheel.size));
        }
      }
    }
    if (!stale) {
      v1::AgentMessage message;
      v1::TaskStatusUpdate* status = message.mutable_status();
      status->set_build_id(assignment.build_id());
      status->set_task_id(assignment.spec().id());
      status->set_attempt_id(assignment.attempt_id());
      status->set_state(ToState(result.outcome));
      status->set_message(result.message);
      status->set_exit_code(result.exit_code);
      status->set_commit(result.commit);
      for (const std::string& name : uploaded) status->add_artifact_filenames(name);
      if (!Send(message)) return;
    }
    std::unique_ptr<Work> finished;
    {
      std::lock_guard lock(mutex_);
      auto it = work_.find(assignment.attempt_id());
      finished = std::move(it->second);
      work_.erase(it);
    }
    if (finished->thread.joinable()) finished->thread.join();
    // The wheels now live on the coordinator (or were not wanted).
    std::error_code ignored;
    for (const BuiltWheel& wheel : finished->result.wheels) std::filesystem::remove(wheel.path, ignored);
  }
}

bool AgentDaemon::Connect(Cancellation& stop) {
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      MakeChannelCredentials(options_.tls);
  if (!credentials.ok()) {
    std::fprintf(stderr, "cwb-agent: %s\n", std::string(credentials.status().message()).c_str());
    return false;
  }
  std::shared_ptr<grpc::Channel> channel = grpc::CreateChannel(options_.coordinator, *credentials);
  std::unique_ptr<v1::AgentService::Stub> stub = v1::AgentService::NewStub(channel);
  grpc::ClientContext context;
  Authorize(context);
  auto on_stop = stop.Subscribe([&] { context.TryCancel(); });
  std::unique_ptr<Stream> stream = stub->Session(&context);
  v1::AgentMessage hello;
  *hello.mutable_register_() = RegisterMessage();
  v1::CoordinatorMessage message;
  if (!stream->Write(hello) || !stream->Read(&message) || !message.has_ack()) {
    // Refused (bad token, bad register) or unreachable: say which, then back off and retry.
    grpc::Status status = stream->Finish();
    if (status.error_code() == grpc::StatusCode::UNAUTHENTICATED ||
        status.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
      std::fprintf(stderr, "cwb-agent: the coordinator refused this agent: %s\n",
                   status.error_message().c_str());
    }
    return false;
  }
  for (const std::string& attempt : message.ack().abandon_attempts()) {
    std::lock_guard lock(mutex_);
    if (auto it = work_.find(attempt); it != work_.end()) {
      it->second->cancel.Cancel("the coordinator no longer wants this attempt");
    }
  }
  const auto heartbeat = std::chrono::milliseconds(std::max(100u, message.ack().heartbeat_interval_ms()));
  {
    std::lock_guard lock(write_mutex_);
    stream_ = stream.get();
  }
  Cancellation connection_done;
  std::thread heartbeats([&] {
    v1::AgentMessage beat;
    beat.mutable_heartbeat();
    while (SystemClock::Get().SleepUntil(SystemClock::Get().SteadyNow() + heartbeat, &connection_done)) {
      if (!Send(beat)) break;
    }
  });
  std::thread reporter([&] { Report(*stub, connection_done); });

  while (stream->Read(&message)) {
    if (message.has_assignment()) {
      Start(message.assignment());
    } else if (message.has_cancel()) {
      std::lock_guard lock(mutex_);
      if (auto it = work_.find(message.cancel().attempt_id()); it != work_.end()) {
        it->second->cancel.Cancel(message.cancel().reason());
      }
    }
  }
  connection_done.Cancel("session ended");
  {
    std::lock_guard lock(write_mutex_);
    stream_ = nullptr;
  }
  context.TryCancel();
  heartbeats.join();
  reporter.join();
  stream->Finish();
  return true;
}

void AgentDaemon::Run(Cancellation& stop) {
  std::chrono::milliseconds backoff = options_.min_backoff;
  std::mt19937 jitter(std::random_device{}());
  while (!stop.cancelled()) {
    const bool acked = Connect(stop);
    if (stop.cancelled()) break;
    backoff = acked ? options_.min_backoff : std::min(backoff * 2, options_.max_backoff);
    const auto wait = backoff / 2 + std::chrono::milliseconds(jitter() % (backoff.count() / 2 + 1));
    SystemClock::Get().SleepUntil(SystemClock::Get().SteadyNow() + wait, &stop);
  }
  std::lock_guard lock(mutex_);
  for (auto& [id, work] : work_) work->cancel.Cancel("the agent is stopping");
}

}  // namespace cwb
