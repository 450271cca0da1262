// Benchmark 8, placement: CUDA builds placed by the cores and memory they use, against today's
// placement in the same run (a build holds a GPU: one at a time per GPU). The real coordinator
// with simulated agents (SimFleet) that "build" for a scaled time and report what the build used
// (peak memory, CPU time), as cwb-agent does from its cgroups; each target is known from a first
// build, as in the scheduling benchmark, and the second build is measured.
//
// Mixed fleets: 20 agents (8-64 cores, 32-512 GB; a fixed seed) with 0-8 GPUs each, and the same
// hosts as a farm of mostly CPU-only build machines (4 of the 20 with 1-8 GPUs); 200 tasks with
// log-normal durations (1-60 min) and peak memories (2-40 GB), each using 2-8 cores on average.
// Lower bound: the largest of the longest task, the CPU-minutes over the fleet's cores and the
// GB-minutes over its memory. Targets: makespan <= 1.15x the bound and <= 0.5x today's placement,
// and the builds running at once on an agent never add up past its memory. Also flash-attention's
// 56-job release matrix on 8 hosts like the GPU host (16 cores, 128 GB, one GPU) with per-variant
// profiles scaled from its measured build (15 min, 9.5 GB, a quarter of the cores busy).
#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "bench/benchmarks.h"
#include "bench/coordinator_process.h"
#include "bench/sim_fleet.h"

namespace cwb::bench {
namespace {

namespace fs = std::filesystem;
constexpr uint64_t kGB = 1000ull * 1000 * 1000;

struct Profile {
  double minutes = 0;
  double peak_gb = 0;
  int cores = 0;  // average parallelism: CPU time over wall time
};
struct Host {
  int cores = 0;
  int memory_gb = 0;
  int gpus = 0;
};
struct Scenario {
  std::string label;
  std::vector<Host> hosts;
  std::vector<Profile> tasks;
  double ms_per_minute = 0;  // real milliseconds per simulated minute
};

double LogNormal(std::mt19937_64& random, double median, double sigma, double low, double high) {
  std::lognormal_distribution<double> draw(std::log(median), sigma);
  return std::clamp(draw(random), low, high);
}

// `gpu_hosts`: how many of the agents have GPUs (1-8 each; the rest none); all: 0-8 each.
Scenario MixedFleet(bool tiny, int gpu_hosts = -1) {
  std::mt19937_64 random(19);
  Scenario scenario;
  const int agents = tiny ? 6 : 20, tasks = tiny ? 40 : 200;
  scenario.label = absl::StrCat("placement of ", tasks, " CUDA builds on ", agents, " mixed agents",
                                gpu_hosts < 0 ? "" : absl::StrCat(", ", gpu_hosts, " of them with GPUs"));
  scenario.ms_per_minute = tiny ? 3 : 25;
  const int cores[] = {8, 16, 24, 32, 48, 64};
  for (int i = 0; i < agents; ++i) {
    Host host;
    host.cores = cores[random() % 6];
    host.memory_gb = std::clamp(host.cores * static_cast<int>(4 + random() % 5), 32, 512);
    host.gpus = static_cast<int>(random() % 9);
    if (gpu_hosts >= 0) host.gpus = i < gpu_hosts ? 1 + host.gpus % 8 : 0;
    scenario.hosts.push_back(host);
  }
  for (int i = 0; i < tasks; ++i) {
    Profile task;
    task.minutes = LogNormal(random, 8, 0.9, 1, 60);
    task.peak_gb = LogNormal(random, 8, 0.7, 2, 40);
    task.cores = 2 + static_cast<int>(random() % 7);
    scenario.tasks.push_back(task);
  }
  return scenario;
}

Scenario FlashAttentionRelease(bool tiny) {
  std::mt19937_64 random(56);
  Scenario scenario;
  scenario.label = "flash-attention's 56-job release matrix on 8 hosts like the GPU host";
  scenario.ms_per_minute = tiny ? 3 : 25;
  scenario.hosts.assign(8, Host{16, 128, 1});
  for (int i = 0; i < 56; ++i) {
    std::uniform_real_distribution<double> spread(0.85, 1.15);
    scenario.tasks.push_back({15 * spread(random), 9.5 * spread(random), 4});
  }
  return scenario;
}

// The lower bound of any placement's makespan, in simulated minutes.
double LowerBound(const Scenario& scenario) {
  double longest = 0, cpu = 0, memory = 0, cores = 0, gb = 0;
  for (const Profile& task : scenario.tasks) {
    longest = std::max(longest, task.minutes);
    cpu += task.minutes * task.cores;
    memory += task.minutes * task.peak_gb;
  }
  for (const Host& host : scenario.hosts) {
    cores += host.cores;
    gb += host.memory_gb;
  }
  return std::max({longest, cpu / cores, memory / gb});
}

int VariantOf(const v1::Assignment& assignment) {
  for (const v1::AxisValue& axis : assignment.spec().axes()) {
    int index = 0;
    if (axis.name() == "variant" && absl::SimpleAtoi(axis.value().substr(1), &index)) return index;
  }
  return 0;
}

// One CUDA cell per task; `holds_gpu`: today's placement (the build holds a GPU).
fs::path WriteMatrix(const fs::path& path, const std::string& repo, size_t tasks, bool holds_gpu) {
  std::vector<std::string> variants;
  for (size_t i = 0; i < tasks; ++i) variants.push_back(absl::StrCat("v", i));
  std::ofstream(path) << "build_matrix:\n  python_version: [\"3.11\"]\n  cuda_version: [\"12.4\"]\n"
                      << "  pytorch_version: [\"2.4.0\"]\n  variant: [" << absl::StrJoin(variants, ", ") << "]\n"
                      << "projects:\n  - name: placed\n    repo_url: " << repo << "\n"
                      << (holds_gpu ? "    build_needs_gpu: true\n" : "")
                      << "pytorch_base_images:\n  \"2.4.0\": {\"12.4\": localhost/cwb-base:bookworm}\n";
  return path;
}

struct Outcome {
  double makespan_minutes = 0;  // 0: the build did not finish
  double memory_share = 0;      // the most the running builds used of an agent's memory
};

// Builds the scenario's matrix twice on a fresh coordinator and fleet (the first build teaches it
// each target), the second measured. `packed`: agents report cores and memory and builds hold no
// GPU; otherwise today's placement, one build per GPU.
Outcome Place(const BenchContext& context, Report& report, const Scenario& scenario, bool packed,
              const fs::path& dir) {
  const std::string what = packed ? "placed by cores and memory" : "today: one build per GPU";
  fs::create_directories(dir);
  const std::string repo = dir / "repo";
  CommitPackage(repo, "placed", "one commit");
  const fs::path config = WriteMatrix(dir / "matrix.yaml", repo, scenario.tasks.size(), !packed);
  CoordinatorProcess coordinator(context.coordinator_binary, dir / "coordinator");
  if (coordinator.address().empty()) {
    report.Check(scenario.label, "coordinator started", 0, false, coordinator.Output());
    return {};
  }
  SimFleet fleet(coordinator.address(), "", dir);
  const double ms_per_minute = scenario.ms_per_minute;
  auto profile = [&scenario](const v1::Assignment& a) -> const Profile& {
    return scenario.tasks.at(static_cast<size_t>(VariantOf(a)) % scenario.tasks.size());
  };
  for (size_t i = 0; i < scenario.hosts.size(); ++i) {
    const Host& host = scenario.hosts[i];
    SimAgentOptions agent;
    agent.agent_id = absl::StrFormat("sim-%02d", i);
    agent.succeed = true;
    agent.build_time = [&, ms_per_minute](const v1::Assignment& a) {
      return std::chrono::microseconds(static_cast<int64_t>(profile(a).minutes * ms_per_minute * 1000));
    };
    agent.use = [&, ms_per_minute](const v1::Assignment& a) {
      const Profile& p = profile(a);
      v1::ResourceUse use;
      use.set_peak_memory_bytes(static_cast<uint64_t>(p.peak_gb * kGB));
      use.set_wall_ms(static_cast<int64_t>(p.minutes * ms_per_minute));
      use.set_cpu_ms(static_cast<uint64_t>(use.wall_ms()) * p.cores);
      use.set_jobs(static_cast<uint32_t>(p.cores));
      return use;
    };
    for (int g = 0; g < host.gpus; ++g) agent.capabilities.add_gpus()->set_index(g);
    agent.capabilities.set_driver_cuda_version("12.4");
    agent.capabilities.set_gpu_slots(static_cast<uint32_t>(host.gpus));
    // Today's agents are placed by slots alone; their memory is only what the sim measures against.
    agent.capabilities.set_memory_bytes(static_cast<uint64_t>(host.memory_gb) * kGB);
    if (packed) agent.capabilities.set_cpu_cores(static_cast<uint32_t>(host.cores));
    agent.slots = packed ? static_cast<uint32_t>(host.cores) : static_cast<uint32_t>(std::max(1, host.gpus));
    fleet.Add(agent);
  }
  if (!fleet.WaitRegistered(scenario.hosts.size(), std::chrono::seconds(60))) {
    report.Check(scenario.label, "agents registered", 0, false, "all");
    return {};
  }
  Outcome outcome;
  for (bool measured : {false, true}) {
    context.log() << "placement: " << scenario.label << ", " << what << (measured ? ", measured" : ", first build")
                  << "\n" << std::flush;
    fleet.ResetStats();
    absl::StatusOr<std::string> build = Submit(coordinator.address(), config, /*no_cache=*/true);
    if (!build.ok()) return {};
    absl::StatusOr<v1::BuildInfo> done = WaitForBuild(coordinator.address(), *build, std::chrono::minutes(15));
    const uint32_t tasks = static_cast<uint32_t>(scenario.tasks.size());
    if (!done.ok() || done->succeeded() != tasks) {
      report.Check(absl::StrCat(scenario.label, ", ", what), "tasks succeeded", done.ok() ? done->succeeded() : 0,
                   false, absl::StrCat("all ", tasks));
      return {};
    }
  }
  outcome.makespan_minutes = Seconds(fleet.last_finished() - fleet.first_assignment()) * 1000 / ms_per_minute;
  outcome.memory_share = fleet.MaxMemoryShare();
  return outcome;
}

}  // namespace

void RunPlacementBench(const BenchContext& context, Report& report) {
  const fs::path dir = context.Dir("placement");
  // Mixed fleets: every agent with 0-8 GPUs, then a farm of mostly CPU-only build hosts (the case
  // this placement is for: GPUs few against the work); and flash-attention's release.
  const std::vector<Scenario> scenarios = {MixedFleet(context.tiny), MixedFleet(context.tiny, context.tiny ? 2 : 4),
                                           FlashAttentionRelease(context.tiny)};
  for (size_t i = 0; i < scenarios.size(); ++i) {
    const Scenario& scenario = scenarios[i];
    const fs::path here = dir / absl::StrCat("scenario-", i);
    const Outcome today = Place(context, report, scenario, false, here / "today");
    const Outcome packed = Place(context, report, scenario, true, here / "packed");
    if (today.makespan_minutes == 0 || packed.makespan_minutes == 0) continue;
    const double bound = LowerBound(scenario);
    context.log() << absl::StrFormat("placement: %s: bound %.1f min, today %.1f min, placed %.1f min\n",
                                     scenario.label, bound, today.makespan_minutes, packed.makespan_minutes);
    report.Check(scenario.label, "running builds' peaks over an agent's memory, at most", packed.memory_share,
                 packed.memory_share <= 1.0, absl::StrFormat("<= 1 (today's placement: %.2f)", today.memory_share));
    if (scenario.tasks.size() == 56) {
      report.AtMost(scenario.label, "makespan (simulated minutes)", packed.makespan_minutes,
                    today.makespan_minutes * 0.5, "<= 0.5x today's placement", "today's placement",
                    today.makespan_minutes);
      continue;
    }
    report.AtMost(scenario.label, "makespan / lower bound", packed.makespan_minutes / bound, 1.15, "<= 1.15",
                  "today's placement", today.makespan_minutes / bound);
    report.AtMost(scenario.label, "makespan / today's placement", packed.makespan_minutes / today.makespan_minutes,
                  0.5, "<= 0.5");
  }
}

}  // namespace cwb::bench
