// The host runtime with real parts: a toolchain Python that is itself a virtual environment (as
// on GPU machines where python3 is /opt/torch/.venv/bin/python3), real venvs, real pip building a
// real C extension from a git repository made here, the wheel installed and called; cancellation
// and a dead agent's leftovers killed; `cwb-agent run-task --runtime host`; and a coordinator with
// a host-runtime agent giving each of two concurrent GPU tasks a GPU of its own.
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/process/boost_process_runner.h"
#include "agent/build_pipeline.h"
#include "agent/host_runtime.h"
#include "common/rpc/task_proto.h"
#include "cwb/v1/state.pb.h"
#include "gmock/gmock.h"
#include <regex>

#include "gtest/gtest.h"
#include "tests/integration/child_process.h"
#include "tests/integration/test_env.h"

namespace cwb {
namespace {

namespace fs = std::filesystem;
using ::testing::Contains;
using ::testing::HasSubstr;
using namespace cwb::testing;
using std::chrono::seconds;

// Polls until no process of the run is left (they were sent SIGKILL; exit takes a moment).
bool RunProcessesGone(const std::string& run, seconds timeout = seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!HostRunProcesses(run).empty()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
}

class HostRuntimeIntegrationTest : public ::testing::Test {
 protected:
  // One toolchain venv for the suite, made from Debian's Python so its build tools (pip,
  // setuptools, wheel) come along; a package only in the venv's own site-packages, and a .pth of
  // its own that adds another directory (proving the build venv processes the toolchain's .pth).
  static void SetUpTestSuite() {
    toolchain_ = new fs::path(TestDir("host_toolchain"));
    MustRun({"/usr/bin/python3", "-m", "venv", "--system-site-packages", (*toolchain_ / "venv").string()});
    const std::string site = MustRun({(*toolchain_ / "venv/bin/python").string(), "-c",
                                      "import site; print(site.getsitepackages()[0])"});
    fs::create_directories(fs::path(site) / "cwb_toolchain_marker");
    std::ofstream(fs::path(site) / "cwb_toolchain_marker" / "__init__.py") << "VALUE = 42\n";
    fs::create_directories(*toolchain_ / "extra");
    std::ofstream(*toolchain_ / "extra" / "cwb_toolchain_extra.py") << "VALUE = 7\n";
    std::ofstream(fs::path(site) / "cwb-test-extra.pth") << (*toolchain_ / "extra").string() << "\n";
  }
  static void TearDownTestSuite() {
    std::error_code ignored;
    fs::remove_all(*toolchain_, ignored);
    delete toolchain_;
  }

  void SetUp() override {
    dir_ = TestDir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    python_ = (*toolchain_ / "venv/bin/python").string();
    version_ = MustRun({python_, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"});
  }

  v1::TaskSpec PlanTask(const fs::path& repo, const std::string& build_command,
                        const std::string& extra_project_keys = "") {
    const std::string config = absl::StrCat(
        "build_target: {python_version: ", version_, ", cuda_version: cpu, pytorch_version: 2.4.0}\n"
        "projects:\n"
        "  - name: demo\n"
        "    repo_url: ", repo.string(), "\n"
        "    repo_ref: v0.1.0\n"
        "    build_command: '", build_command, "'\n", extra_project_keys,
        "pytorch_base_images: {\"2.4.0\": {cpu: unused-by-the-host-runtime}}\n");
    return PlanOnlyTask(config, dir_);
  }

  TaskResult Build(const v1::TaskSpec& spec, const std::string& attempt, Cancellation* cancel = nullptr,
                   std::function<void(const LogLine&)> on_log = nullptr) {
    absl::StatusOr<std::unique_ptr<HostRuntime>> runtime =
        HostRuntime::Create({python_, dir_ / "agent" / "host-runs"}, runner_);
    EXPECT_TRUE(runtime.ok()) << runtime.status();
    if (!runtime.ok()) return {};
    PipelineOptions options;
    options.work_dir = dir_ / "agent";
    options.host = ProbeHostResources();
    options.stop_grace = seconds(1);
    options.audit_tool = CWB_AUDIT_BINARY;  // the release gate's helper, as built
    BuildPipeline pipeline(**runtime, runner_, SystemClock::Get(), options);
    return pipeline.Run({&spec, attempt, GpuRequest::None(), std::move(on_log), cancel});
  }

  static fs::path* toolchain_;
  BoostProcessRunner runner_;
  fs::path dir_;
  std::string python_;
  std::string version_;
};
fs::path* HostRuntimeIntegrationTest::toolchain_ = nullptr;

TEST_F(HostRuntimeIntegrationTest, BuildsARealWheelSeeingTheToolchainVenvsPackages) {
  const fs::path repo = MakeDemoRepository(dir_);
  // The build sees the toolchain's own package and the directory its .pth adds, installs a
  // dependency with the toolchain's pip, and builds without build isolation (no network).
  v1::TaskSpec spec = PlanTask(
      repo,
      "python -c \"import cwb_toolchain_marker as m, cwb_toolchain_extra as e; print(\\\"toolchain\\\", m.VALUE * e.VALUE)\" && "
      "test -f vendor/data.txt && pip wheel . --no-deps --no-build-isolation -w \"$CWB_OUT\"",
      "    dependencies: [setuptools]\n");
  std::vector<std::string> lines;
  std::mutex mutex;
  TaskResult result = Build(spec, "a1", nullptr, [&](const LogLine& line) {
    std::lock_guard lock(mutex);
    lines.push_back(line.text);
  });
  ASSERT_EQ(result.outcome, TaskOutcome::kSucceeded)
      << result.message << "\n" << absl::StrJoin(result.log_tail, "\n");
  EXPECT_THAT(lines, Contains("toolchain 294"));
  EXPECT_THAT(lines, Contains(HasSubstr("Requirement already satisfied: setuptools")));
  ASSERT_EQ(result.wheels.size(), 1u);
  EXPECT_THAT(result.wheels[0].filename, ::testing::StartsWith("cwb_demo-0.1.0-cp"));
  // Nothing of the build went into the toolchain, and the run left nothing behind.
  EXPECT_THAT(MustRun({python_, "-m", "pip", "list"}), ::testing::Not(HasSubstr("cwb")));
  EXPECT_TRUE(fs::is_empty(dir_ / "agent" / "host-runs"));

  const fs::path venv = dir_ / "fresh";
  MustRun({python_, "-m", "venv", venv.string()});
  MustRun({(venv / "bin/pip").string(), "install", "--no-index", "--quiet", result.wheels[0].path.string()});
  EXPECT_EQ(MustRun({(venv / "bin/python").string(), "-c",
                     "import cwb_demo; print(cwb_demo.dot([1, 2, 3], [4, 5, 6]))"}),
            "32.0");
}

TEST_F(HostRuntimeIntegrationTest, SmokeTestRunsInAFreshVenvWithTheLabelledWheelAndTheToolchain) {
  const fs::path repo = MakeDemoRepository(dir_);
  v1::TaskSpec spec = PlanTask(
      repo, "pip wheel . --no-deps --no-build-isolation -w \"$CWB_OUT\"",
      "    local_version: true\n"
      "    test_command: |\n"
      "      python -c 'import cwb_demo, cwb_toolchain_marker as m; print(\"smoke\", cwb_demo.dot([1], [m.VALUE]))'\n"
      "      pip list --format freeze | grep cwb-demo\n");
  std::vector<std::string> lines;
  std::mutex mutex;
  TaskResult result = Build(spec, "a1", nullptr, [&](const LogLine& line) {
    std::lock_guard lock(mutex);
    if (line.source == "test") lines.push_back(line.text);
  });
  ASSERT_EQ(result.outcome, TaskOutcome::kSucceeded) << result.message << "\n" << absl::StrJoin(result.log_tail, "\n");
  ASSERT_EQ(result.wheels.size(), 1u);
  EXPECT_THAT(result.wheels[0].filename, ::testing::StartsWith("cwb_demo-0.1.0+cputorch2.4-cp"));
  EXPECT_THAT(lines, Contains("smoke 42.0"));
  EXPECT_THAT(lines, Contains("cwb-demo==0.1.0+cputorch2.4"));
  EXPECT_THAT(lines, Contains(HasSubstr("cwb: virtual environment from")));  // a venv of its own
  EXPECT_THAT(MustRun({python_, "-m", "pip", "list"}), ::testing::Not(HasSubstr("cwb")));
  EXPECT_TRUE(fs::is_empty(dir_ / "agent" / "host-runs"));
}

TEST_F(HostRuntimeIntegrationTest, CancellationKillsTheWholeBuildEvenWhatLeftItsProcessGroup) {
  const fs::path repo = MakeDemoRepository(dir_);
  // The cancel comes once the escaping process has left the build's group (it says so after setsid).
  v1::TaskSpec spec =
      PlanTask(repo, "setsid sh -c \"echo cwb-started; exec sleep 600\" & trap \"\" TERM; sleep 600");
  Cancellation cancel;
  std::thread canceller;
  TaskResult result = Build(spec, "a1", &cancel, [&](const LogLine& line) {
    if (line.text == "cwb-started") canceller = std::thread([&] { cancel.Cancel("cancelled by the test"); });
  });
  if (canceller.joinable()) canceller.join();
  EXPECT_EQ(result.outcome, TaskOutcome::kCancelled) << result.message;
  const std::string run = absl::StrCat("cwb-", spec.id(), "-a1");
  EXPECT_TRUE(RunProcessesGone(run));
  EXPECT_FALSE(fs::exists(dir_ / "agent" / "host-runs" / run));
}

TEST_F(HostRuntimeIntegrationTest, ADeadAgentsLeftoverRunIsFoundByLabelAndKilled) {
  absl::StatusOr<std::unique_ptr<HostRuntime>> runtime =
      HostRuntime::Create({python_, dir_ / "host-runs"}, runner_);
  ASSERT_TRUE(runtime.ok()) << runtime.status();
  // What a SIGKILLed agent leaves: a run directory and a build still running on its own.
  fs::create_directories(dir_ / "host-runs" / "cwb-left-a1");
  std::ofstream(dir_ / "host-runs" / "cwb-left-a1" / "labels") << "cwb.agent=agent-dead\n";
  // The runner kills the shell's process group when the shell exits: the shell waits until the
  // leftover has left that group (setsid -f forks first, so on a busy machine it may not have yet).
  const fs::path ready = dir_ / "left-ready";
  MustRun({"sh", "-c",
           absl::StrCat("setsid -f sh -c 'touch ", ready.string(), "; exec sleep 600' >/dev/null 2>&1 </dev/null; ",
                        "while [ ! -e ", ready.string(), " ]; do sleep 0.01; done")},
          {{"CWB_HOST_RUN", "cwb-left-a1"}});
  // Its environment is unreadable while it execs: wait for it.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (HostRunProcesses("cwb-left-a1").empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_FALSE(HostRunProcesses("cwb-left-a1").empty());
  absl::StatusOr<std::vector<std::string>> left = (*runtime)->ListContainers("cwb.agent", "agent-dead");
  ASSERT_TRUE(left.ok());
  EXPECT_THAT(*left, ::testing::ElementsAre("cwb-left-a1"));
  ASSERT_TRUE((*runtime)->RemoveContainer("cwb-left-a1").ok());
  EXPECT_TRUE(RunProcessesGone("cwb-left-a1"));
  EXPECT_FALSE(fs::exists(dir_ / "host-runs" / "cwb-left-a1"));
}

TEST_F(HostRuntimeIntegrationTest, RunTaskBinaryBuildsOnTheHost) {
  const fs::path repo = MakeDemoRepository(dir_);
  // The build holds 300 MiB for a moment: its cgroup (joined before the build's first process ran)
  // measures the whole tree.
  v1::TaskSpec spec = PlanTask(repo, "python3 -c \"x = b\\\"x\\\" * (300 * 2**20)\" && "
                                     "pip wheel . --no-deps --no-build-isolation -w \"$CWB_OUT\"",
                               "    env: {MAX_JOBS: \"3\"}\n");
  std::ofstream(dir_ / "task.json") << ToJson(spec);
  ChildProcess run({CWB_AGENT_BINARY, "run-task", (dir_ / "task.json").string(), "--runtime", "host",
                    "--host-python", python_, "--work-dir", (dir_ / "work").string(), "-o",
                    (dir_ / "out").string()});
  ASSERT_EQ(run.Wait(seconds(300)), 0) << run.Output();
  EXPECT_THAT(run.Output(), HasSubstr("the host runtime builds without an image"));
  EXPECT_TRUE(std::regex_search(run.Output(), std::regex(R"(the build used 0\.[3-9][0-9] GiB of memory at most, )")))
      << run.Output();
  EXPECT_THAT(run.Output(), HasSubstr("with MAX_JOBS=3 (limit"));  // the config's MAX_JOBS, not the agent's
  // Under a 256 MiB limit the same build is killed, and says why.
  ChildProcess small({CWB_AGENT_BINARY, "run-task", (dir_ / "task.json").string(), "--runtime", "host",
                      "--host-python", python_, "--work-dir", (dir_ / "work").string(), "--memory", "256M"});
  EXPECT_EQ(small.Wait(seconds(300)), 1) << small.Output();
  EXPECT_TRUE(std::regex_search(small.Output(), std::regex(R"(out of memory \(peak 0\.2[0-9] GiB of 0\.25 GiB\))")))
      << small.Output();
  std::vector<fs::path> wheels;
  for (const auto& entry : fs::recursive_directory_iterator(dir_ / "out" / "wheelhouse")) {
    if (entry.path().extension() == ".whl") wheels.push_back(entry.path());
  }
  ASSERT_EQ(wheels.size(), 1u);
  EXPECT_EQ(wheels[0].parent_path().parent_path().filename(), "cudacpu");

  ChildProcess wrong({CWB_AGENT_BINARY, "run-task", (dir_ / "task.json").string(), "--runtime", "host",
                      "--host-python", "/nonexistent/python3", "--work-dir", (dir_ / "work").string()});
  EXPECT_EQ(wrong.Wait(seconds(60)), 2);
  EXPECT_THAT(wrong.Output(), HasSubstr("/nonexistent/python3"));
}

// A coordinator and one host-runtime agent on a host with two GPUs and --gpus-per-task 1. The
// GPUs come from a stand-in nvidia-smi (this machine has none; tests/gpu/ runs the same on real
// GPUs) and the toolchain from a venv whose stand-in torch reports 2.11.0+cu130. Each build
// records its CUDA_VISIBLE_DEVICES and waits until another build is running, so the build only
// finishes if two ran at once.
class HostAgentGpuSlotsTest : public HostRuntimeIntegrationTest {
 protected:
  void WriteStandIns() {
    std::ofstream(dir_ / "nvidia-smi") <<
        "#!/bin/sh\n"
        "case \"$1\" in\n"
        "  --query-gpu=*) printf '0, GPU-aaaa, NVIDIA H100 80GB HBM3, 81559, 580.159.04, 9.0\\n"
        "1, GPU-bbbb, NVIDIA H100 80GB HBM3, 81559, 580.159.04, 9.0\\n' ;;\n"
        "  *) echo '| NVIDIA-SMI 580.159.04   Driver Version: 580.159.04   CUDA Version: 13.0 |' ;;\n"
        "esac\n";
    fs::permissions(dir_ / "nvidia-smi", fs::perms::owner_all);
    MakeStandInToolchain(dir_ / "toolchain", "2.11.0+cu130", "'13.0'");
  }
};

TEST_F(HostAgentGpuSlotsTest, TwoGpuTasksRunAtOnceEachOnAGpuOfItsOwn) {
  WriteStandIns();
  const fs::path pure = MakeRepositoryFrom(dir_, "examples/demo-pure-package", "pure");
  fs::create_directories(dir_ / "running");
  // Four CUDA 13.0 tasks (2 projects x 2 label values); each stamps its variant into the version.
  std::ofstream(dir_ / "gpu.yaml") << absl::StrCat(
      "build_matrix:\n"
      "  python_version: [\"", version_, "\"]\n"
      "  cuda_version: [\"13.0\"]\n"
      "  pytorch_version: [\"2.11\"]\n"
      "  variant: [a, b]\n"
      "projects:\n"
      "  - name: one\n"
      "    repo_url: ", pure.string(), "\n"
      "    build_needs_gpu: true\n"  // builds that hold a GPU each
      "    build_command: &build |\n"
      "      echo \"cwb-gpu-slot CUDA_VISIBLE_DEVICES=$CUDA_VISIBLE_DEVICES TORCH_CUDA_ARCH_LIST=$TORCH_CUDA_ARCH_LIST\"\n"
      "      touch ", (dir_ / "running").string(), "/$CWB_TASK_ID\n"
      // What the wait saw, not a second look (a peer may finish in between).
      "      n=0; while peers=$(ls ", (dir_ / "running").string(), " | wc -l); [ $peers -lt 2 ] && [ $n -lt 600 ]; do sleep 0.1; n=$((n+1)); done\n"
      "      echo \"cwb-gpu-slot peers: $peers\"\n"
      "      sed -i \"s/^version = \\\"0.1.0\\\"/version = \\\"0.1.0+$CWB_PROJECT$VARIANT\\\"/\" pyproject.toml\n"
      "      pip wheel . --no-deps --no-build-isolation -w \"$CWB_OUT\"\n"
      "      rm ", (dir_ / "running").string(), "/$CWB_TASK_ID\n"
      "  - name: two\n"
      "    repo_url: ", pure.string(), "\n"
      "    build_needs_gpu: true\n"
      "    build_command: *build\n"
      "pytorch_base_images: {\"2.11\": {\"13.0\": unused-by-the-host-runtime}}\n");

  ChildProcess coordinator({CWB_COORDINATOR_BINARY, "--listen", "127.0.0.1:0", "--data-dir",
                            (dir_ / "coordinator").string(), "--heartbeat-ms", "500"});
  const std::string address = coordinator.WaitForLine("listening on (\\S+)", seconds(30));
  ASSERT_FALSE(address.empty()) << coordinator.Output();
  ChildProcess agent({CWB_AGENT_BINARY, "serve", "--coordinator", address, "--agent-id", "gpu-host",
                      "--work-dir", (dir_ / "agent").string(), "--runtime", "host", "--host-python",
                      (dir_ / "toolchain/bin/python").string(), "--nvidia-smi", (dir_ / "nvidia-smi").string(),
                      "--gpus-per-task", "1"});
  ASSERT_FALSE(agent.WaitForLine("serving", seconds(60)).empty()) << agent.Output();
  EXPECT_TRUE(std::regex_search(
      agent.Output(), std::regex(R"(with 2 slot\(s\), [0-9]+ core\(s\), [0-9]+ MiB, 2 GPU\(s\) \(1 per GPU task\), runtime host)")))
      << agent.Output();

  ChildProcess submit({CWB_CLI_BINARY, "--coordinator", address, "submit", (dir_ / "gpu.yaml").string(), "--watch"});
  ASSERT_EQ(submit.Wait(seconds(300)), 0) << submit.Output() << agent.Output();

  const std::string build_id = submit.WaitForLine("build (b\\w+)", seconds(1));
  ASSERT_FALSE(build_id.empty()) << submit.Output();
  ChildProcess json({CWB_CLI_BINARY, "--coordinator", address, "status", build_id, "--json"});
  ASSERT_EQ(json.Wait(seconds(30)), 0) << json.Output();
  v1::BuildInfo build;
  ASSERT_TRUE(FromJson(json.Output(), &build).ok()) << json.Output();
  ASSERT_EQ(build.tasks_size(), 4);
  std::map<std::string, int> devices_seen;
  for (const v1::TaskInfo& task : build.tasks()) {
    EXPECT_EQ(task.state(), v1::TASK_STATE_SUCCEEDED) << task.message();
    ChildProcess logs({CWB_CLI_BINARY, "--coordinator", address, "logs", build_id, task.spec().id()});
    ASSERT_EQ(logs.Wait(seconds(30)), 0) << logs.Output();
    const std::string text = logs.Output();
    // The agent's record and the build's own view agree: one GPU each, its arch list.
    const std::string device = logs.WaitForLine("GPUs of this attempt: (\\d) \\(NVIDIA H100", seconds(1));
    ASSERT_FALSE(device.empty()) << text;
    EXPECT_THAT(text, HasSubstr(absl::StrCat("cwb-gpu-slot CUDA_VISIBLE_DEVICES=", device,
                                             " TORCH_CUDA_ARCH_LIST=9.0")));
    EXPECT_THAT(text, HasSubstr("cwb-gpu-slot peers: 2"));
    ++devices_seen[device];
  }
  // Both GPUs were used, two tasks each (2 slots, each build waited for a concurrent one).
  EXPECT_EQ(devices_seen, (std::map<std::string, int>{{"0", 2}, {"1", 2}}));
  agent.Signal(SIGTERM);
  agent.Wait(seconds(60));
  coordinator.Signal(SIGTERM);
  coordinator.Wait(seconds(30));
}

TEST_F(HostAgentGpuSlotsTest, TasksTheToolchainCannotBuildWaitSayingWhy) {
  WriteStandIns();
  const fs::path pure = MakeRepositoryFrom(dir_, "examples/demo-pure-package", "pure");
  std::ofstream(dir_ / "old.yaml") << absl::StrCat(
      "build_target: {python_version: \"", version_, "\", cuda_version: \"12.1\", pytorch_version: \"2.3.0\"}\n"
      "projects:\n"
      "  - name: pure\n"
      "    repo_url: ", pure.string(), "\n"
      "pytorch_base_images: {\"2.3.0\": {\"12.1\": unused}}\n");
  ChildProcess coordinator({CWB_COORDINATOR_BINARY, "--listen", "127.0.0.1:0", "--data-dir",
                            (dir_ / "coordinator").string()});
  const std::string address = coordinator.WaitForLine("listening on (\\S+)", seconds(30));
  ASSERT_FALSE(address.empty()) << coordinator.Output();
  ChildProcess agent({CWB_AGENT_BINARY, "serve", "--coordinator", address, "--work-dir",
                      (dir_ / "agent").string(), "--runtime", "host", "--host-python",
                      (dir_ / "toolchain/bin/python").string(), "--nvidia-smi", (dir_ / "nvidia-smi").string()});
  ASSERT_FALSE(agent.WaitForLine("serving", seconds(60)).empty()) << agent.Output();
  ChildProcess submit({CWB_CLI_BINARY, "--coordinator", address, "submit", (dir_ / "old.yaml").string()});
  ASSERT_EQ(submit.Wait(seconds(30)), 0) << submit.Output();
  const std::string build_id = submit.WaitForLine("build (b\\w+)", seconds(1));
  std::string status_output;
  for (int i = 0; i < 100; ++i) {
    ChildProcess status({CWB_CLI_BINARY, "--coordinator", address, "status", build_id});
    status.Wait(seconds(30));
    status_output = status.Output();
    if (status_output.find("needs PyTorch 2.3.0") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_THAT(status_output, HasSubstr("needs PyTorch 2.3.0 (the agent's host Python has 2.11.0+cu130)"));
  agent.Signal(SIGTERM);
  agent.Wait(seconds(60));
  coordinator.Signal(SIGTERM);
  coordinator.Wait(seconds(30));
}

}  // namespace
}  // namespace cwb
