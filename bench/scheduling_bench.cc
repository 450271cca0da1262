// Benchmark 4, scheduling quality: a matrix with skewed build times (a few tasks ten or twenty
// times longer than the rest, listed last, as a matrix's newest variants often are) on a few
// simulated agents. Makespan is divided by its lower bound, max(longest task, total work /
// slots). Baseline, in the same run: the first build of the matrix, when no durations are known
// and tasks start in matrix order. Then the same matrix again (not from the result cache): the
// coordinator now knows each target's duration and starts the longest first.
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bench/benchmarks.h"
#include "bench/coordinator_process.h"
#include "bench/sim_fleet.h"

namespace cwb::bench {

namespace fs = std::filesystem;

void RunSchedulingBench(const BenchContext& context, Report& report) {
  const fs::path dir = context.Dir("scheduling");
  const int agents = context.tiny ? 2 : 4, shorts = context.tiny ? 10 : 54, longs = context.tiny ? 2 : 6;
  const uint32_t slots = 2;
  const auto short_time = std::chrono::milliseconds(context.tiny ? 20 : 100);
  const auto long_time = std::chrono::milliseconds(context.tiny ? 400 : 2000);
  const int tasks = shorts + longs;
  std::vector<std::string> variants;
  for (int i = 0; i < shorts; ++i) variants.push_back(absl::StrCat("s", i));
  for (int i = 0; i < longs; ++i) variants.push_back(absl::StrCat("long", i));
  const std::string repo = dir / "repo";
  CommitPackage(repo, "skewed", "one commit");
  const fs::path config = WriteConfig(dir / "skewed.yaml", {{"skewed", repo, {}}},
                                      {"python_version: [3.11]", "cuda_version: [cpu]",
                                       absl::StrCat("variant: [", absl::StrJoin(variants, ", "), "]")},
                                      {"2.4.0"});
  CoordinatorProcess coordinator(context.coordinator_binary, dir / "coordinator");
  if (coordinator.address().empty()) {
    report.Check("scheduling", "coordinator started", 0, false, coordinator.Output());
    return;
  }
  SimFleet fleet(coordinator.address(), "", dir);
  auto build_time = [&](const v1::Assignment& assignment) -> std::chrono::microseconds {
    for (const v1::AxisValue& axis : assignment.spec().axes()) {
      if (axis.name() == "variant") return axis.value().starts_with("long") ? long_time : short_time;
    }
    return short_time;
  };
  for (int i = 0; i < agents; ++i) fleet.Add({absl::StrCat("sim-", i), slots, {}, build_time, /*succeed=*/true});
  if (!fleet.WaitRegistered(agents, std::chrono::seconds(60))) {
    report.Check("scheduling", "agents registered", 0, false, "all");
    return;
  }
  const double total_ms = static_cast<double>(shorts * short_time.count() + longs * long_time.count());
  const double bound_s = std::max<double>(long_time.count(), total_ms / (agents * slots)) / 1000;
  // Runs the matrix once; its makespan in seconds (0 if it did not finish).
  auto run = [&](bool no_cache, const std::string& what) -> double {
    context.log() << "scheduling: " << what << "\n" << std::flush;
    fleet.ResetStats();
    absl::StatusOr<std::string> build = Submit(coordinator.address(), config, no_cache);
    if (!build.ok()) return 0;
    absl::StatusOr<v1::BuildInfo> done = WaitForBuild(coordinator.address(), *build, std::chrono::minutes(5));
    const bool ok = done.ok() && done->succeeded() == static_cast<uint32_t>(tasks);
    report.Check(absl::StrCat("scheduling ", tasks, " skewed tasks: ", what), "tasks succeeded",
                 done.ok() ? done->succeeded() : 0, ok, absl::StrCat("all ", tasks));
    return ok ? Seconds(fleet.last_finished() - fleet.first_assignment()) : 0;
  };
  const double first = run(false, "first build (matrix order)");
  const double second = run(true, "again, durations known");
  const std::string label = absl::StrCat("scheduling ", tasks, " skewed tasks on ", agents, "x", slots, " slots");
  report.AtMost(label, "makespan / lower bound", second / bound_s, 1.10, "<= 1.10",
                "first build, matrix order", first / bound_s);
}

}  // namespace cwb::bench
