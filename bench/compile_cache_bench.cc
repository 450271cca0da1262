// Benchmark 9, the compile cache: a real C++ torch extension (tests/fixtures/torch-extension: three
// translation units on Debian's torch, in podman) built cold by one agent, then rebuilt at a commit
// that changes only Python code by another agent that never built it, through the coordinator's
// shared store. Baseline, in the same run: the cold build's compile phase (the build step, from
// the attempt's measured wall time). Target: the warm compile phase <= 0.2x the cold one, every
// compile a hit. The same at both sizes (the fixture is small); tiny runs check behaviour only.
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "bench/benchmarks.h"
#include "bench/coordinator_process.h"
#include "tests/integration/child_process.h"

namespace cwb::bench {

namespace fs = std::filesystem;

namespace {

constexpr char kTorchPackages[] = "[python3-torch, libtorch-dev, pybind11-dev, ninja-build, g++]";

int Git(const fs::path& repo, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"git", "-C", repo.string(), "-c", "user.name=cwb-bench",
                                   "-c", "user.email=bench@cwb.invalid"};
  argv.insert(argv.end(), args.begin(), args.end());
  testing::ChildProcess git(argv);
  return git.Wait(std::chrono::seconds(60));
}

std::unique_ptr<testing::ChildProcess> StartAgent(const BenchContext& context, const std::string& address,
                                                  const fs::path& dir, const std::string& id) {
  auto agent = std::make_unique<testing::ChildProcess>(std::vector<std::string>{
      context.agent_binary, "serve", "--coordinator", address, "--agent-id", id, "--work-dir", (dir / id).string(),
      "--network", "host", "--slots", "1", "--stop-grace", "5"});
  if (agent->WaitForLine("(serving)", std::chrono::seconds(30)).empty()) return nullptr;
  return agent;
}

}  // namespace

void RunCompileCacheBench(const BenchContext& context, Report& report) {
  const std::string label = "compile cache (torch C++ extension)";
  const fs::path dir = context.Dir("compile-cache");
  const fs::path repo = dir / "torchext";
  fs::copy(fs::path(CWB_SOURCE_DIR) / "tests/fixtures/torch-extension", repo, fs::copy_options::recursive);
  Git(repo, {"init", "-q", "-b", "main"});
  Git(repo, {"add", "-A"});
  Git(repo, {"commit", "-q", "-m", "cold"});
  const fs::path config = dir / "torch.yaml";
  std::ofstream(config) << absl::StrCat(
      "build_target: {python_version: \"3.11\", cuda_version: cpu, pytorch_version: \"1.13\"}\n"
      "output_dir_host: ", (dir / "out").string(), "\n"
      "apt_packages: ", kTorchPackages, "\n"
      "projects:\n"
      "  - name: torch-demo\n"
      "    repo_url: ", repo.string(), "\n"
      "    repo_ref: main\n"
      "    build_command: pip wheel . --no-deps --no-build-isolation -w \"$CWB_OUT\"\n"
      "pytorch_base_images: {\"1.13\": {cpu: \"", context.base_image, "\"}}\n");

  CoordinatorProcess coordinator(context.coordinator_binary, dir / "coordinator");
  if (coordinator.address().empty()) {
    report.Check(label, "coordinator started", 0, false, coordinator.Output());
    return;
  }
  // One build on `agent_id` (a fresh agent); its task as it ended.
  auto build_on = [&](const std::string& agent_id) -> std::optional<v1::TaskInfo> {
    std::unique_ptr<testing::ChildProcess> agent = StartAgent(context, coordinator.address(), dir, agent_id);
    if (!agent) return std::nullopt;
    absl::StatusOr<std::string> build_id = Submit(coordinator.address(), config);
    if (!build_id.ok()) return std::nullopt;
    absl::StatusOr<v1::BuildInfo> build = WaitForBuild(coordinator.address(), *build_id, std::chrono::seconds(1800));
    agent->Signal(SIGTERM);
    agent->Wait(std::chrono::seconds(60));
    if (!build.ok() || build->tasks_size() != 1) return std::nullopt;
    return build->tasks(0);
  };

  context.log() << "compile cache: cold build (its image first, if this machine has none)\n";
  const std::optional<v1::TaskInfo> cold = build_on("agent-cold");
  const bool cold_ok = cold.has_value() && cold->state() == v1::TASK_STATE_SUCCEEDED;
  report.Check(label, "cold build succeeded", cold_ok ? 1 : 0, cold_ok, cold ? cold->message() : "no result");
  if (!cold_ok) return;
  std::ofstream(repo / "cwb_torch_demo" / "__init__.py", std::ios::app) << "ANSWER = 42\n";
  Git(repo, {"commit", "-q", "-am", "python only"});
  context.log() << "compile cache: rebuild at a commit that changes only Python code, on another agent\n";
  const std::optional<v1::TaskInfo> warm = build_on("agent-warm");
  const bool warm_ok = warm.has_value() && warm->state() == v1::TASK_STATE_SUCCEEDED;
  report.Check(label, "warm rebuild succeeded", warm_ok ? 1 : 0, warm_ok, warm ? warm->message() : "no result");
  if (!warm_ok) return;

  const double cold_s = static_cast<double>(cold->use().wall_ms()) / 1000;
  const double warm_s = static_cast<double>(warm->use().wall_ms()) / 1000;
  const v1::CompileCacheStats& stats = warm->compile_cache();
  const uint64_t cacheable = stats.hits() + stats.misses();
  const double hit_rate = cacheable == 0 ? 0 : static_cast<double>(stats.hits()) / static_cast<double>(cacheable);
  report.Check(label, "cold build: compiles (misses)", static_cast<double>(cold->compile_cache().misses()),
               cold->compile_cache().misses() == 3 && cold->compile_cache().hits() == 0, "3 misses, no hit");
  report.Check(label, "warm rebuild: hit rate", hit_rate, hit_rate == 1.0 && stats.remote_hits() == stats.hits(),
               "1.0, every hit from the shared store");
  report.Add({label, "warm compile phase: seconds", warm_s, "cold compile phase", cold_s, "", true, true});
  report.AtMost(label, "warm compile phase / cold", cold_s > 0 ? warm_s / cold_s : 1, 0.2, "<= 0.2");
}

}  // namespace cwb::bench
