#include "bench/sim_fleet.h"

#include "absl/strings/str_cat.h"
#include "agent/wheel_upload.h"
#include "bench/bench_util.h"
#include "common/base/atomic_file.h"
#include "common/base/digest.h"
#include "common/rpc/wire.h"

namespace cwb::bench {

// One simulated agent: a Session stream driven by gRPC's callbacks, writes queued so one is in
// flight at a time.
class SimFleet::Agent final : public grpc::ClientBidiReactor<v1::AgentMessage, v1::CoordinatorMessage> {
 public:
  Agent(SimFleet& fleet, SimAgentOptions options, std::shared_ptr<grpc::Channel> channel)
      : fleet_(fleet), options_(std::move(options)), stub_(v1::AgentService::NewStub(channel)) {}

  void Start() {
    AddBearerToken(context_, fleet_.token_);
    stub_->async()->Session(&context_, this);
    v1::AgentMessage hello;
    v1::Register* reg = hello.mutable_register_();
    reg->set_agent_id(options_.agent_id);
    v1::AgentCapabilities* caps = reg->mutable_capabilities();
    *caps = options_.capabilities;
    caps->set_measures_builds(static_cast<bool>(options_.use));
    caps->set_hostname("sim");
    caps->set_slots(options_.slots);
    caps->set_runtime("sim");
    for (const std::string& label : options_.labels) caps->add_labels(label);
    Send(hello);
    StartRead(&incoming_);
    AddHold();  // writes also start from the timer and upload threads
    StartCall();
  }

  void Stop() {
    context_.TryCancel();
    RemoveHold();  // may end the call (OnDone): never under mutex_
    std::unique_lock lock(mutex_);
    done_cv_.wait(lock, [&] { return done_; });
  }

  // gRPC may run a reaction inside StartWrite, so it is never called under mutex_.
  void Send(const v1::AgentMessage& message) {
    {
      std::lock_guard lock(mutex_);
      if (done_) return;
      if (writing_) {
        pending_.push_back(message);
        return;
      }
      writing_ = true;
      outgoing_ = message;
    }
    StartWrite(&outgoing_);
  }

  void Heartbeat() {
    v1::AgentMessage beat;
    beat.mutable_heartbeat();
    Send(beat);
  }

  void OnWriteDone(bool ok) override {
    {
      std::lock_guard lock(mutex_);
      if (!ok || pending_.empty()) {
        writing_ = false;
        if (!ok) pending_.clear();
        return;
      }
      outgoing_ = std::move(pending_.front());
      pending_.pop_front();
    }
    StartWrite(&outgoing_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // the stream ended
    if (incoming_.has_ack()) {
      {
        std::lock_guard lock(mutex_);
        session_ = incoming_.ack().session();
      }
      const auto interval = std::chrono::milliseconds(std::max(100u, incoming_.ack().heartbeat_interval_ms()));
      ScheduleHeartbeat(interval);
      fleet_.AgentRegistered();
    } else if (incoming_.has_assignment()) {
      OnAssignment(incoming_.assignment());
    }
    StartRead(&incoming_);
  }

  void OnDone(const grpc::Status&) override {
    std::lock_guard lock(mutex_);
    done_ = true;
    done_cv_.notify_all();
  }

 private:
  void ScheduleHeartbeat(std::chrono::milliseconds interval) {
    fleet_.After(interval, [this, interval] {
      Heartbeat();
      ScheduleHeartbeat(interval);
    });
  }

  void OnAssignment(const v1::Assignment& assignment) {
    const SteadyTime now = std::chrono::steady_clock::now();
    // The first assignments fill the slots that were never used; each later one fills the
    // oldest slot freed by a finished task.
    std::optional<SteadyTime> freed;
    {
      std::lock_guard lock(mutex_);
      if (never_used_ > 0) {
        --never_used_;
      } else if (!freed_.empty()) {
        freed = freed_.front();
        freed_.pop_front();
      }
    }
    fleet_.RecordAssignment(now, freed);
    SendStatus(assignment, v1::TASK_STATE_RUNNING, {});
    if (options_.use && options_.capabilities.memory_bytes() > 0) {
      const uint64_t peak = options_.use(assignment).peak_memory_bytes();
      uint64_t running = 0;
      {
        std::lock_guard lock(mutex_);
        running = running_peaks_ += peak;
      }
      fleet_.RecordMemoryShare(static_cast<double>(running) / options_.capabilities.memory_bytes());
    }
    const auto took = options_.build_time ? options_.build_time(assignment) : std::chrono::microseconds(0);
    if (!options_.succeed) {
      if (took.count() == 0) {
        Finish(assignment, v1::TASK_STATE_FAILED, {});
      } else {
        fleet_.After(took, [this, assignment] { Finish(assignment, v1::TASK_STATE_FAILED, {}); });
      }
      return;
    }
    fleet_.After(took, [this, assignment] {
      fleet_.Upload([this, assignment] {
        BuiltWheel wheel = fleet_.wheel_;
        wheel.filename = absl::StrCat("simwheel-1.0+", assignment.spec().id(), "-py3-none-any.whl");
        std::string session;
        {
          std::lock_guard lock(mutex_);
          session = session_;
        }
        absl::Status uploaded = UploadWheel(*stub_, fleet_.token_, session, assignment, wheel);
        if (uploaded.ok()) {
          Finish(assignment, v1::TASK_STATE_SUCCEEDED, {wheel.filename});
        } else {
          Finish(assignment, v1::TASK_STATE_FAILED, {});
        }
      });
    });
  }

  void SendStatus(const v1::Assignment& assignment, v1::TaskState state,
                  const std::vector<std::string>& wheels) {
    v1::AgentMessage message = StatusMessage(assignment, state, wheels);
    if (state == v1::TASK_STATE_FAILED) message.mutable_status()->set_message("simulated build: finished at once");
    if (options_.use && state != v1::TASK_STATE_RUNNING) *message.mutable_status()->mutable_use() = options_.use(assignment);
    Send(message);
  }

  void Finish(const v1::Assignment& assignment, v1::TaskState state,
              const std::vector<std::string>& wheels) {
    {
      std::lock_guard lock(mutex_);
      freed_.push_back(std::chrono::steady_clock::now());
      if (options_.use && options_.capabilities.memory_bytes() > 0) {
        running_peaks_ -= options_.use(assignment).peak_memory_bytes();
      }
    }
    SendStatus(assignment, state, wheels);
    fleet_.RecordFinished();
  }

  SimFleet& fleet_;
  const SimAgentOptions options_;
  std::unique_ptr<v1::AgentService::Stub> stub_;
  grpc::ClientContext context_;
  v1::CoordinatorMessage incoming_;

  std::mutex mutex_;
  std::condition_variable done_cv_;
  v1::AgentMessage outgoing_;
  std::deque<v1::AgentMessage> pending_;
  std::deque<SteadyTime> freed_;  // when each finished task's slot was freed, oldest first
  uint32_t never_used_ = options_.slots;
  bool writing_ = false;  // a write is in flight; outgoing_ belongs to it
  bool done_ = false;
  std::string session_;  // the ack's: uploads carry it
  uint64_t running_peaks_ = 0;  // the peaks of the builds running now (options_.use)
};

SimFleet::SimFleet(std::string address, std::string token, const std::filesystem::path& work_dir)
    : address_(std::move(address)), token_(std::move(token)) {
  const std::string bytes(4096, 'w');
  wheel_.path = work_dir / "simwheel.whl";
  wheel_.size = bytes.size();
  wheel_.sha256 = Sha256Hex(bytes);
  (void)WriteFileAtomically(wheel_.path, bytes);
  timer_ = std::thread([this] { TimerLoop(); });
  for (int i = 0; i < 4; ++i) uploaders_.emplace_back([this] { UploadLoop(); });
}

SimFleet::~SimFleet() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  timer_cv_.notify_all();
  upload_cv_.notify_all();
  timer_.join();
  for (std::thread& t : uploaders_) t.join();
  for (auto& agent : agents_) agent->Stop();
}

void SimFleet::Add(const SimAgentOptions& options) {
  // Each agent has its own connection, as real agents on their own hosts do.
  grpc::ChannelArguments args;
  args.SetInt("cwb.sim_agent", static_cast<int>(agents_.size()));
  auto channel = grpc::CreateCustomChannel(address_, grpc::InsecureChannelCredentials(), args);
  auto agent = std::make_unique<Agent>(*this, options, channel);
  Agent* raw = agent.get();
  {
    std::lock_guard lock(mutex_);
    agents_.push_back(std::move(agent));
  }
  raw->Start();
}

void SimFleet::AgentRegistered() {
  std::lock_guard lock(mutex_);
  ++registered_;
  registered_cv_.notify_all();
}

bool SimFleet::WaitRegistered(size_t count, std::chrono::seconds timeout) {
  std::unique_lock lock(mutex_);
  return registered_cv_.wait_for(lock, timeout, [&] { return registered_ >= count; });
}

SteadyTime SimFleet::first_assignment() const {
  std::lock_guard lock(mutex_);
  return first_assignment_;
}

SteadyTime SimFleet::last_assignment() const {
  std::lock_guard lock(mutex_);
  return last_assignment_;
}

SteadyTime SimFleet::last_finished() const {
  std::lock_guard lock(mutex_);
  return last_finished_;
}

void SimFleet::RecordFinished() {
  std::lock_guard lock(mutex_);
  last_finished_ = std::chrono::steady_clock::now();
  ++finished_;
}

std::vector<double> SimFleet::FreeToAssignmentMs() const {
  std::lock_guard lock(mutex_);
  return latencies_ms_;
}

double SimFleet::MaxMemoryShare() const {
  std::lock_guard lock(mutex_);
  return max_memory_share_;
}

void SimFleet::RecordMemoryShare(double share) {
  std::lock_guard lock(mutex_);
  max_memory_share_ = std::max(max_memory_share_, share);
}

void SimFleet::ResetStats() {
  std::lock_guard lock(mutex_);
  max_memory_share_ = 0;
  latencies_ms_.clear();
  first_assignment_ = last_assignment_ = last_finished_ = {};
  assignments_ = 0;
  finished_ = 0;
}

void SimFleet::RecordAssignment(SteadyTime at, std::optional<SteadyTime> freed_at) {
  std::lock_guard lock(mutex_);
  if (assignments_++ == 0) first_assignment_ = at;
  last_assignment_ = at;
  if (freed_at.has_value()) {
    latencies_ms_.push_back(std::chrono::duration<double, std::milli>(at - *freed_at).count());
  }
}

void SimFleet::After(std::chrono::microseconds delay, std::function<void()> run) {
  bool earliest = false;
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    const SteadyTime due = std::chrono::steady_clock::now() + delay;
    earliest = timers_.empty() || due < timers_.top().due;
    timers_.push({due, std::move(run)});
  }
  if (earliest) timer_cv_.notify_one();
}

void SimFleet::Upload(std::function<void()> job) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    uploads_.push_back(std::move(job));
  }
  upload_cv_.notify_one();
}

void SimFleet::TimerLoop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (timers_.empty()) {
      timer_cv_.wait(lock);
      continue;
    }
    const SteadyTime due = timers_.top().due;
    if (std::chrono::steady_clock::now() < due) {
      timer_cv_.wait_until(lock, due);
      continue;
    }
    std::function<void()> run = timers_.top().run;
    timers_.pop();
    lock.unlock();
    run();
    lock.lock();
  }
}

void SimFleet::UploadLoop() {
  std::unique_lock lock(mutex_);
  while (true) {
    upload_cv_.wait(lock, [&] { return stopping_ || !uploads_.empty(); });
    if (stopping_) return;
    std::function<void()> job = std::move(uploads_.front());
    uploads_.pop_front();
    lock.unlock();
    job();
    lock.lock();
  }
}

}  // namespace cwb::bench
