// Benchmark 5, rebuild avoidance: a matrix of several projects (real git repositories) built by
// the real agent daemon and build pipeline (real git checkouts) with a runtime that finishes at
// once and counts what it builds. Then: the unchanged matrix again (the result cache: no
// container, under a second), one project's commit changed (only its tasks rebuild, and no
// image: the rendered Dockerfiles did not change), and --no-cache (everything rebuilds, still no
// image). Baseline, in the same run: the first, cold build of the matrix.
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/agent_daemon.h"
#include "agent/attempt_runner.h"
#include "agent/grpc_coordinator_link.h"
#include "bench/benchmarks.h"
#include "bench/coordinator_process.h"
#include "bench/instant_runtime.h"
#include "common/config/config_parser.h"
#include "common/config/planner.h"
#include "common/process/boost_process_runner.h"

namespace cwb::bench {

namespace fs = std::filesystem;

namespace {

struct PlanCounts {
  int tasks = 0;
  int images = 0;  // distinct Dockerfiles
};

absl::StatusOr<PlanCounts> CountPlan(const fs::path& config_path) {
  absl::StatusOr<Config> config = LoadConfigFile(config_path);
  if (!config.ok()) return config.status();
  Diagnostics diagnostics;
  std::optional<BuildPlan> plan = PlanBuild(*config, diagnostics);
  if (!plan) return absl::InvalidArgumentError(diagnostics.ToString());
  std::set<std::string> dockerfiles;
  for (const PlannedTask& task : plan->tasks) dockerfiles.insert(task.image.content_hash);
  return PlanCounts{static_cast<int>(plan->tasks.size()), static_cast<int>(dockerfiles.size())};
}

}  // namespace

void RunCacheBench(const BenchContext& context, Report& report) {
  const fs::path dir = context.Dir("cache");
  const int projects = context.tiny ? 2 : 4;
  const std::vector<std::string> pythons =
      context.tiny ? std::vector<std::string>{"3.11"} : std::vector<std::string>{"3.8", "3.9", "3.10", "3.11", "3.12"};
  const std::vector<std::string> torches = context.tiny
                                               ? std::vector<std::string>{"2.3.0", "2.4.0", "2.5.0"}
                                               : std::vector<std::string>{"2.1.0", "2.2.0", "2.3.0", "2.4.0", "2.5.0"};
  std::vector<BenchProject> sources;
  for (int i = 0; i < projects; ++i) {
    const std::string name = absl::StrCat("pkg", i);
    CommitPackage(dir / name, name, "first");
    sources.push_back({name, (dir / name).string(), {}});
  }
  const fs::path config = WriteConfig(
      dir / "cache.yaml", sources,
      {absl::StrCat("python_version: [", absl::StrJoin(pythons, ", "), "]"), "cuda_version: [cpu]"}, torches);
  // What to expect comes from the plan: the compatibility table leaves out combinations no
  // PyTorch release supports (Python 3.12 with torch 2.1, say).
  const absl::StatusOr<PlanCounts> counts = CountPlan(config);
  if (!counts.ok()) {
    report.Check("cache", "config planned", 0, false, std::string(counts.status().message()));
    return;
  }
  const int tasks = counts->tasks, images = counts->images, per_project = tasks / projects;

  CoordinatorProcess coordinator(context.coordinator_binary, dir / "coordinator");
  if (coordinator.address().empty()) {
    report.Check("cache", "coordinator started", 0, false, coordinator.Output());
    return;
  }
  // The real agent: daemon, pipeline, git; only the container runtime finishes at once.
  InstantRuntime runtime;
  BoostProcessRunner runner;
  PipelineOptions pipeline_options;
  pipeline_options.work_dir = dir / "agent";
  pipeline_options.host = ProbeHostResources();
  BuildPipeline pipeline(runtime, runner, SystemClock::Get(), pipeline_options);
  GpuAllocator gpus({}, 0);
  AgentDaemonOptions daemon_options;
  daemon_options.agent_id = "cache-agent";
  daemon_options.capabilities.set_slots(4);
  std::unique_ptr<CoordinatorLink> link = MakeGrpcCoordinatorLink({coordinator.address(), "", {}}).value();
  AgentDaemon daemon(daemon_options, *link, MakePipelineRunner(pipeline, gpus, SystemClock::Get()), SystemClock::Get());
  Cancellation stop;
  std::thread agent([&] { (void)daemon.Run(stop); });

  // Builds the matrix; how long from submit to finished, and whether every task succeeded.
  auto build = [&](bool no_cache, const std::string& what) -> std::pair<double, bool> {
    context.log() << "cache: " << what << "\n" << std::flush;
    const auto start = std::chrono::steady_clock::now();
    absl::StatusOr<std::string> id = Submit(coordinator.address(), config, no_cache);
    absl::StatusOr<v1::BuildInfo> done =
        id.ok() ? WaitForBuild(coordinator.address(), *id, std::chrono::minutes(10)) : id.status();
    const double seconds = Seconds(std::chrono::steady_clock::now() - start);
    if (!done.ok()) context.log() << "cache: " << done.status() << "\n";
    return {seconds, done.ok() && done->succeeded() == static_cast<uint32_t>(tasks)};
  };
  const std::string label = absl::StrCat("cache ", tasks, " tasks (", projects, " projects)");
  auto [cold, cold_ok] = build(false, "cold build");
  const int cold_runs = runtime.runs(), cold_images = runtime.image_builds();
  report.Check(label, "cold build: containers run", cold_runs, cold_ok && cold_runs == tasks,
               absl::StrCat(tasks, " (one per task)"));
  report.Check(label, "cold build: images built", cold_images, cold_images == images,
               absl::StrCat(images, " (one per distinct Dockerfile)"));

  auto [warm, warm_ok] = build(false, "unchanged resubmit");
  report.Check(label, "unchanged resubmit: containers run", runtime.runs() - cold_runs,
               warm_ok && runtime.runs() == cold_runs, "0");
  report.AtMost(label, "unchanged resubmit: seconds", warm, 1.0, "< 1 s", "cold build", cold);

  CommitPackage(dir / "pkg0", "pkg0", "second");
  int runs_before = runtime.runs();
  const bool changed_ok = build(false, "one project's commit changed").second;
  report.Check(label, "pkg0 changed: tasks rebuilt", runtime.runs() - runs_before,
               changed_ok && runtime.runs() - runs_before == per_project,
               absl::StrCat(per_project, " (pkg0's only)"));
  runs_before = runtime.runs();
  const bool forced_ok = build(true, "--no-cache").second;
  report.Check(label, "--no-cache: tasks rebuilt", runtime.runs() - runs_before,
               forced_ok && runtime.runs() - runs_before == tasks, absl::StrCat(tasks));
  report.Check(label, "images built after the cold build", runtime.image_builds() - cold_images,
               runtime.image_builds() == cold_images, "0 (Dockerfiles unchanged)");
  stop.Cancel("benchmark done");
  agent.join();
}

}  // namespace cwb::bench
