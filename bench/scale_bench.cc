// Benchmark 3, scale: the real coordinator holding many builds of queued tasks (they need a label
// no agent has, so they wait, and the scheduler keeps looking at them) with a thousand simulated
// agents connected and heartbeating. Measured: its resident memory, its CPU while nothing
// changes, and how fast `cwb status` (the real binary) answers. Baseline, in the same run: the
// same coordinator empty, before anything was submitted or connected.
#include <thread>

#include "absl/strings/str_cat.h"
#include "bench/benchmarks.h"
#include "bench/coordinator_process.h"
#include "bench/sim_fleet.h"
#include "common/process/boost_process_runner.h"

namespace cwb::bench {
namespace {

namespace fs = std::filesystem;

// Median milliseconds of `runs` runs of the real cwb binary with `args`; -1 if one fails.
double CliMs(const BenchContext& context, const std::string& address, const std::vector<std::string>& args,
             int runs = 5) {
  BoostProcessRunner runner;
  std::vector<double> times;
  for (int i = 0; i < runs; ++i) {
    std::vector<std::string> argv = {context.cli_binary, "--coordinator", address};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto start = std::chrono::steady_clock::now();
    absl::StatusOr<CapturedRun> run = RunAndCapture(runner, {argv});
    if (!run.ok() || !run->exit.ok()) return -1;
    times.push_back(Seconds(std::chrono::steady_clock::now() - start) * 1000);
  }
  return Percentile(times, 50);
}

// Percent of one core the process used over `window`.
double IdleCpuPercent(int pid, std::chrono::seconds window) {
  const double before = ProcCpuSeconds(pid);
  std::this_thread::sleep_for(window);
  return (ProcCpuSeconds(pid) - before) / static_cast<double>(window.count()) * 100;
}

}  // namespace

void RunScaleBench(const BenchContext& context, Report& report) {
  const fs::path dir = context.Dir("scale");
  const int agents = context.tiny ? 20 : 1000, builds = context.tiny ? 2 : 10, shards = context.tiny ? 50 : 2000;
  const int per_build = 5 * shards;
  const auto window = std::chrono::seconds(context.tiny ? 1 : 10);
  const std::string repo = dir / "repo";
  CommitPackage(repo, "nightly", "one commit");
  const fs::path config = WriteConfig(dir / "nightly.yaml", {{"nightly", repo, {"pool=nightly"}}},
                                      {"python_version: [3.8, 3.9, 3.10, 3.11, 3.12]", "cuda_version: [cpu]",
                                       absl::StrCat("shard: ", Range(shards))},
                                      {"2.4.0"});
  CoordinatorProcess coordinator(context.coordinator_binary, dir / "coordinator");
  if (coordinator.address().empty()) {
    report.Check("scale", "coordinator started", 0, false, coordinator.Output());
    return;
  }
  context.log() << "scale: the empty coordinator\n" << std::flush;
  const double empty_rss_mb = static_cast<double>(coordinator.ResidentBytes()) / 1e6;
  const double empty_cpu = IdleCpuPercent(coordinator.pid(), window);
  const double empty_status_ms = CliMs(context, coordinator.address(), {"status"});

  context.log() << "scale: " << builds << " builds of " << per_build << " tasks\n" << std::flush;
  std::string last_build;
  for (int i = 0; i < builds; ++i) {
    absl::StatusOr<std::string> build = Submit(coordinator.address(), config, /*no_cache=*/true);
    if (!build.ok()) {
      report.Check("scale", "builds submitted", i, false, std::string(build.status().message()));
      return;
    }
    last_build = *build;
  }
  context.log() << "scale: " << agents << " agents\n" << std::flush;
  SimFleet fleet(coordinator.address(), "", dir);
  for (int i = 0; i < agents; ++i) fleet.Add({absl::StrCat("sim-", i), 2, {}, nullptr, false});
  const bool registered = fleet.WaitRegistered(agents, std::chrono::minutes(2));
  std::this_thread::sleep_for(std::chrono::seconds(2));  // let the registrations' changes settle

  const std::string label = absl::StrCat("scale ", agents, " agents, ", builds * per_build, " tasks");
  const double rss_mb = static_cast<double>(coordinator.ResidentBytes()) / 1e6;
  const double cpu = IdleCpuPercent(coordinator.pid(), window);
  const double status_ms = CliMs(context, coordinator.address(), {"status"});
  const double build_status_ms = CliMs(context, coordinator.address(), {"status", last_build});
  absl::StatusOr<v1::BuildInfo> last = GetBuild(coordinator.address(), last_build);
  const bool queued = last.ok() && last->total() == static_cast<uint32_t>(per_build) &&
                      last->tasks(0).state() == v1::TASK_STATE_QUEUED &&
                      last->tasks(0).waiting_reason().find("needs label") != std::string::npos;
  report.Check(label, "agents connected, tasks stored and waiting", registered && queued ? builds * per_build : 0,
               registered && queued && fleet.assignments() == 0, "all, none assigned");
  report.AtMost(label, "coordinator RSS MB", rss_mb, 1024, "< 1 GiB", "empty coordinator", empty_rss_mb);
  report.AtMost(label, "idle CPU, % of a core", cpu, 5, "< 5%", "empty coordinator", empty_cpu);
  report.AtMost(label, "`cwb status` ms", status_ms, 200, "< 200 ms", "empty coordinator", empty_status_ms);
  report.AtMost(label, absl::StrCat("`cwb status BUILD` (", per_build, " tasks) ms"), build_status_ms, 200,
                "< 200 ms", "empty coordinator", empty_status_ms);
}

}  // namespace cwb::bench
