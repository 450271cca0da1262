// Benchmark 2, dispatch: simulated agents (real gRPC sessions) drain a large queued build from
// the real coordinator, twice. Saturated: every build ends at once and each agent has 8 slots,
// so the coordinator is the bottleneck: assignments per second. Paced: each agent has one slot
// and each build takes 20 ms, an offered load of 5,000 tasks/s: the time from a slot freeing (the
// final status sent) to that slot's next assignment, measured at the agents. (Saturated, that
// time is only queueing: with N tasks in flight it is N / rate, for any dispatcher.)
// Baseline, in the same run: the same agents served by an ideal dispatcher in this process, a
// Session server that answers every final status with the next assignment at once and keeps no
// state at all; it shows what the transport and the agents alone allow on this machine.
#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "bench/benchmarks.h"
#include "bench/coordinator_process.h"
#include "bench/sim_fleet.h"
#include "common/config/config_parser.h"
#include "common/config/planner.h"
#include "common/rpc/task_proto.h"

namespace cwb::bench {
namespace {

namespace fs = std::filesystem;

// The ideal dispatcher: hands out `total` assignments (copies of one real spec) as fast as the
// agents finish them, with no queue, no state and no disk.
class IdealDispatcher final : public v1::AgentService::Service {
 public:
  IdealDispatcher(v1::TaskSpec spec, int64_t total) : spec_(std::move(spec)), remaining_(total) {}

  // Assignments start once every agent is registered, as a submitted build's do.
  void Open() {
    std::lock_guard lock(mutex_);
    open_ = true;
    opened_.notify_all();
  }

  grpc::Status Session(grpc::ServerContext*,
                       grpc::ServerReaderWriter<v1::CoordinatorMessage, v1::AgentMessage>* stream) override {
    v1::AgentMessage message;
    if (!stream->Read(&message) || !message.has_register_()) return grpc::Status::CANCELLED;
    v1::CoordinatorMessage ack;
    ack.mutable_ack()->set_heartbeat_interval_ms(2000);
    stream->Write(ack);
    {
      std::unique_lock lock(mutex_);
      opened_.wait(lock, [&] { return open_; });
    }
    for (uint32_t i = 0; i < message.register_().capabilities().slots(); ++i) Assign(stream);
    while (stream->Read(&message)) {
      if (message.has_status() && (message.status().state() == v1::TASK_STATE_FAILED ||
                                   message.status().state() == v1::TASK_STATE_SUCCEEDED)) {
        Assign(stream);
      }
    }
    return grpc::Status::OK;
  }

 private:
  void Assign(grpc::ServerReaderWriter<v1::CoordinatorMessage, v1::AgentMessage>* stream) {
    const int64_t n = remaining_--;
    if (n <= 0) return;
    v1::CoordinatorMessage message;
    v1::Assignment* assignment = message.mutable_assignment();
    assignment->set_build_id("bideal");
    assignment->set_attempt_id(absl::StrCat("a", n));
    *assignment->mutable_spec() = spec_;
    stream->Write(message);
  }

  const v1::TaskSpec spec_;
  std::atomic<int64_t> remaining_;
  std::mutex mutex_;
  std::condition_variable opened_;
  bool open_ = false;
};

struct DispatchResult {
  double rate = 0;  // assignments per second
  double p50_ms = 0, p99_ms = 0;
  uint64_t finished = 0;
};

struct Phase {
  std::string name;
  uint32_t slots;
  std::chrono::microseconds build_time;
};

// Adds `agents` simulated agents to `fleet`, starts the work (`start`), and waits until `tasks`
// have finished, and `done` says the server has taken every final status.
DispatchResult Drive(SimFleet& fleet, int agents, const Phase& phase, uint64_t tasks,
                     const std::function<void()>& start, const std::function<void()>& done) {
  for (int i = 0; i < agents; ++i) {
    const auto took = phase.build_time;
    fleet.Add({absl::StrCat("sim-", i), phase.slots, {}, [took](const v1::Assignment&) { return took; }, false});
  }
  DispatchResult result;
  if (!fleet.WaitRegistered(agents, std::chrono::seconds(60))) return result;
  fleet.ResetStats();
  start();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);
  while (fleet.finished() < tasks && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  done();
  result.finished = fleet.finished();
  const double seconds = Seconds(fleet.last_assignment() - fleet.first_assignment());
  result.rate = seconds > 0 ? static_cast<double>(fleet.assignments() - 1) / seconds : 0;
  const std::vector<double> latencies = fleet.FreeToAssignmentMs();
  result.p50_ms = Percentile(latencies, 50);
  result.p99_ms = Percentile(latencies, 99);
  return result;
}

}  // namespace

void RunDispatchBench(const BenchContext& context, Report& report) {
  const fs::path dir = context.Dir("dispatch");
  const int agents = context.tiny ? 4 : 100;
  const int shards = context.tiny ? 40 : 2000;  // x 5 Pythons
  const uint64_t tasks = 5ull * shards;
  const std::string repo = dir / "repo";
  CommitPackage(repo, "dispatch", "one commit");
  const fs::path config = WriteConfig(
      dir / "dispatch.yaml", {{"dispatch", repo, {}}},
      {"python_version: [3.8, 3.9, 3.10, 3.11, 3.12]", "cuda_version: [cpu]",
       absl::StrCat("shard: ", Range(shards))},
      {"2.4.0"});
  absl::StatusOr<Config> parsed = LoadConfigFile(config.string());
  Diagnostics diagnostics;
  std::optional<BuildPlan> plan = parsed.ok() ? PlanBuild(*parsed, diagnostics) : std::nullopt;
  if (!plan.has_value()) {
    report.Check("dispatch", "config planned", 0, false, diagnostics.ToString());
    return;
  }
  CoordinatorProcess coordinator(context.coordinator_binary, dir / "coordinator");
  if (coordinator.address().empty()) {
    report.Check("dispatch", "coordinator started", 0, false, coordinator.Output());
    return;
  }
  const std::vector<Phase> phases = {{"saturated", 8, std::chrono::microseconds(0)},
                                     {"paced", 1, std::chrono::milliseconds(20)}};
  for (const Phase& phase : phases) {
    const std::string label = absl::StrCat("dispatch ", phase.name, ": ", agents, " agents x ", phase.slots,
                                           " slot(s), ", tasks, " tasks");
    // Baseline: the ideal dispatcher, handing out a real task spec of this config.
    DispatchResult ideal;
    {
      IdealDispatcher service(ToProto(plan->tasks.front()), static_cast<int64_t>(tasks));
      grpc::ServerBuilder builder;
      int port = 0;
      builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
      builder.RegisterService(&service);
      std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
      context.log() << "dispatch: " << phase.name << ", the ideal dispatcher\n" << std::flush;
      SimFleet fleet(absl::StrCat("127.0.0.1:", port), "", dir);
      ideal = Drive(fleet, agents, phase, tasks, [&] { service.Open(); }, [] {});
      server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
    }
    context.log() << "dispatch: " << phase.name << ", cwb-coordinator\n" << std::flush;
    DispatchResult cwb;
    std::string build_id;
    absl::StatusOr<v1::BuildInfo> build = absl::UnknownError("not submitted");
    {
      SimFleet fleet(coordinator.address(), "", dir);
      cwb = Drive(
          fleet, agents, phase, tasks,
          [&] {
            absl::StatusOr<std::string> submitted = Submit(coordinator.address(), config);
            if (submitted.ok()) build_id = *submitted;
          },
          [&] { build = WaitForBuild(coordinator.address(), build_id, std::chrono::seconds(60)); });
    }
    if (!build.ok()) context.log() << "dispatch: " << build.status() << "\n";
    const bool all_ended = build.ok() && build->failed() == tasks && cwb.finished == tasks;
    report.Check(label, "tasks ended, each once", build.ok() ? build->failed() : 0, all_ended,
                 absl::StrCat("all ", tasks));
    if (phase.build_time.count() == 0) {
      report.AtLeast(label, "assignments/s", cwb.rate, 5000, ">= 5000/s", "ideal dispatcher", ideal.rate);
      continue;
    }
    report.Add({label, "assignments/s", cwb.rate, "ideal dispatcher", ideal.rate, "(offered: 5000/s)", true, true});
    report.AtMost(label, "p50 slot free -> assigned, ms", cwb.p50_ms, 20, "(p99 is the target)",
                  "ideal dispatcher", ideal.p50_ms);
    report.AtMost(label, "p99 slot free -> assigned, ms", cwb.p99_ms, 20, "< 20 ms", "ideal dispatcher",
                  ideal.p99_ms);
  }
}

}  // namespace cwb::bench
