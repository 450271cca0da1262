// The agent end to end with real parts: a git repository made here (tag + submodule), the local
// base image, real podman containers, real pip, and the wheel installed in a fresh virtualenv.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/process/boost_process_runner.h"
#include "agent/build_pipeline.h"
#include "agent/cli_container_runtime.h"
#include "common/base/digest.h"
#include "common/rpc/task_proto.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/test_env.h"

namespace cwb {
namespace {

namespace fs = std::filesystem;
using ::testing::Contains;
using ::testing::HasSubstr;
using namespace cwb::testing;

class AgentPodmanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!PodmanReady()) GTEST_SKIP() << "podman or the base image is not available";
    dir_ = TestDir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    repo_ = MakeDemoRepository(dir_);
  }

  // Plans a one-task config through the real parser and planner.
  v1::TaskSpec PlanTask(const std::string& build_command, const std::string& ref = "v0.1.0",
                        const std::string& extra_project_keys = "", const std::string& base_image = kBaseImage) {
    const std::string config = absl::StrCat(
        "build_target: {python_version: 3.11, cuda_version: cpu, pytorch_version: 2.4.0}\n"
        "projects:\n"
        "  - name: demo\n"
        "    repo_url: ", repo_.string(), "\n",
        ref.empty() ? "" : absl::StrCat("    repo_ref: ", ref, "\n"),
        "    build_command: '", build_command, "'\n", extra_project_keys,
        "pytorch_base_images: {\"2.4.0\": {cpu: ", base_image, "}}\n");
    return PlanOnlyTask(config, dir_);
  }

  TaskResult Build(const v1::TaskSpec& spec, const std::string& attempt,
                   Cancellation* cancel = nullptr,
                   std::function<void(const LogLine&)> on_log = nullptr) {
    PipelineOptions options;
    options.work_dir = dir_ / "agent";
    options.host = ProbeHostResources();
    options.stop_grace = std::chrono::seconds(2);
    options.time_limit = time_limit_;
    options.audit_tool = CWB_AUDIT_BINARY;  // the release gate's helper, as built
    EngineOptions engine{EngineKind::kPodman, "podman", "host"};
    CliContainerRuntime runtime(engine, runner_);
    BuildPipeline pipeline(runtime, runner_, SystemClock::Get(), options);
    return pipeline.Run({&spec, attempt, GpuRequest::None(), std::move(on_log), cancel});
  }

  static std::string ContainersNamed(const std::string& name) {
    return MustRun({"podman", "ps", "-a", "--filter", "name=" + name, "--format", "{{.Names}}"});
  }

  static constexpr char kPipWheel[] =
      "test -f vendor/data.txt && pip wheel . --no-deps --no-build-isolation -w \"$CWB_OUT\"";

  BoostProcessRunner runner_;
  fs::path dir_;
  fs::path repo_;
  std::chrono::seconds time_limit_{0};
};

TEST_F(AgentPodmanTest, BuildsARealWheelAtTheTagThatInstallsAndRuns) {
  v1::TaskSpec spec = PlanTask(kPipWheel);
  TaskResult result = Build(spec, "a1");
  ASSERT_EQ(result.outcome, TaskOutcome::kSucceeded)
      << result.message << "\n" << absl::StrJoin(result.log_tail, "\n");
  EXPECT_EQ(result.commit, Git(repo_, {"rev-parse", "v0.1.0^{commit}"}));
  ASSERT_EQ(result.wheels.size(), 1u);
  EXPECT_EQ(result.wheels[0].filename, "cwb_demo-0.1.0-cp311-cp311-linux_x86_64.whl");
  EXPECT_EQ(result.wheels[0].sha256, Sha256File(result.wheels[0].path).value());

  // Install into a fresh virtualenv of the host's Debian Python (the image's ABI) and call it.
  const fs::path venv = dir_ / "venv";
  MustRun({"/usr/bin/python3", "-m", "venv", venv.string()});
  MustRun({(venv / "bin/pip").string(), "install", "--no-index", "--quiet",
           result.wheels[0].path.string()});
  EXPECT_EQ(MustRun({(venv / "bin/python").string(), "-c",
                     "import cwb_demo; print(cwb_demo.dot([1, 2, 3], [4, 5, 6]))"}),
            "32.0");

  // The same task again: the image with this content hash exists, so no image build runs.
  std::vector<std::string> image_lines;
  TaskResult again = Build(spec, "a2", nullptr, [&](const LogLine& line) {
    if (line.source == "image") image_lines.push_back(line.text);
  });
  ASSERT_EQ(again.outcome, TaskOutcome::kSucceeded) << again.message;
  EXPECT_FALSE(again.image_built);
  EXPECT_TRUE(image_lines.empty()) << absl::StrJoin(image_lines, "\n");
  EXPECT_TRUE(ContainersNamed("cwb-" + spec.id()).empty());
}

// A short name (as the README's pytorch/pytorch:... ones) is Docker Hub's, as docker reads it: the
// rendered Dockerfile names docker.io/library/..., which podman finds without asking which
// registry was meant (here: the local base image under that name; nothing is pulled).
TEST_F(AgentPodmanTest, AShortBaseImageNameIsDockerHubsAsDockerReadsIt) {
  const std::string full = "docker.io/library/cwb-short-name-test:1";
  MustRun({"podman", "tag", kBaseImage, full});
  v1::TaskSpec spec = PlanTask(kPipWheel, "v0.1.0", "", "cwb-short-name-test:1");
  EXPECT_EQ(spec.image().base_image(), full);
  MustRun({"podman", "rmi", "--ignore", spec.image().tag()});  // built here, from that name
  std::vector<std::string> lines;
  TaskResult result = Build(spec, "short1", nullptr, [&](const LogLine& line) { lines.push_back(line.text); });
  MustRun({"podman", "untag", full, full});  // that name only (without one, untag drops every name)
  EXPECT_EQ(result.outcome, TaskOutcome::kSucceeded) << result.message << "\n" << absl::StrJoin(lines, "\n");
  EXPECT_THAT(lines, Contains(HasSubstr("FROM " + full))) << absl::StrJoin(lines, "\n");
}

// The image's Python and torch are checked against the cell before the build, with real ones:
// Debian's python3-torch (package 1.13.1, whose torch.__version__ says 1.13.0a0; CPU) in an image
// made from the base image, and the base image's Python 3.11 asked to be 3.10.
TEST_F(AgentPodmanTest, TheImagesPythonAndTorchAreCheckedAgainstTheCell) {
  const std::string torch_image = "localhost/cwb-test-debian-torch:bookworm-1";
  if (MustRun({"podman", "images", "-q", torch_image}).empty()) {
    const fs::path context = dir_ / "torch-image";
    fs::create_directories(context);
    std::ofstream(context / "Dockerfile") << "FROM " << kBaseImage << "\n"
        "RUN apt-get update && apt-get install -y --no-install-recommends python3-torch && rm -rf /var/lib/apt/lists/*\n";
    MustRun({"podman", "build", "--network", "host", "-t", torch_image, context.string()});
  }
  auto plan = [&](const std::string& python, const std::string& torch, const std::string& base) {
    return PlanOnlyTask(absl::StrCat(
        "build_target: {python_version: \"", python, "\", cuda_version: cpu, pytorch_version: \"", torch, "\"}\n"
        "projects:\n"
        "  - name: demo\n"
        "    repo_url: ", repo_.string(), "\n"
        "    repo_ref: v0.1.0\n"
        "    build_command: python -c \"import torch; print(\\\"torch\\\", torch.__version__)\" && ", kPipWheel, "\n"
        "pytorch_base_images: {\"", torch, "\": {cpu: \"", base, "\"}}\n"), dir_);
  };
  std::vector<std::string> lines;
  auto collect = [&](const LogLine& line) { lines.push_back(line.text); };

  TaskResult matching = Build(plan("3.11", "1.13", torch_image), "torch1", nullptr, collect);
  EXPECT_EQ(matching.outcome, TaskOutcome::kSucceeded) << matching.message << "\n" << absl::StrJoin(lines, "\n");
  EXPECT_THAT(lines, Contains(HasSubstr("gives Python 3.11.2 (/usr/bin/python3.11), torch 1.13.0a0 (CPU)")));
  EXPECT_THAT(lines, Contains("torch 1.13.0a0"));  // the build's own import

  TaskResult other_torch = Build(plan("3.11", "2.4.0", torch_image), "torch2");
  EXPECT_EQ(other_torch.outcome, TaskOutcome::kFailed);
  EXPECT_THAT(other_torch.message, HasSubstr("the image gives torch 1.13.0a0 but the cell asks for PyTorch 2.4.0"));

  TaskResult other_python = Build(plan("3.10", "1.13", kBaseImage), "python1");
  EXPECT_EQ(other_python.outcome, TaskOutcome::kFailed);
  EXPECT_THAT(other_python.message,
              HasSubstr("the image gives Python 3.11.2 (/usr/bin/python3) but the cell asks for Python 3.10"));
}

TEST_F(AgentPodmanTest, DependenciesArePipInstalledBeforeTheBuild) {
  // No package index here: the dependency's wheel is vendored in the repository and pip is told
  // to look there through the project's environment.
  MustRun({"/usr/bin/python3", "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
           "-w", (repo_ / "deps").string(),
           (fs::path(CWB_SOURCE_DIR) / "examples/demo-pure-package").string()});
  Git(repo_, {"checkout", "-q", "v0.1.0"});
  Git(repo_, {"checkout", "-q", "-b", "with-deps"});
  Git(repo_, {"add", "deps"});
  Git(repo_, {"commit", "-q", "-m", "vendor a dependency"});
  v1::TaskSpec spec = PlanTask(
      "python -c \"import cwb_demo_pure; print(cwb_demo_pure.greet(chr(100)))\" && "
      "pip wheel . --no-deps --no-build-isolation -w $CWB_OUT",
      "with-deps",
      "    dependencies: [cwb-demo-pure]\n"
      "    env: {PIP_NO_INDEX: \"1\", PIP_FIND_LINKS: /cwb/src/deps}\n");
  TaskResult result = Build(spec, "a1");
  ASSERT_EQ(result.outcome, TaskOutcome::kSucceeded)
      << result.message << "\n" << absl::StrJoin(result.log_tail, "\n");
  std::stringstream log;
  log << std::ifstream(result.log_path).rdbuf();
  EXPECT_THAT(log.str(), HasSubstr("Successfully installed cwb-demo-pure-0.1.0"));
  EXPECT_THAT(log.str(), HasSubstr("[build] hello, d, from a wheel built by cwb"));
}

TEST_F(AgentPodmanTest, RunTaskBinaryBuildsATaskFileOrAPlanEntry) {
  v1::TaskSpec spec = PlanTask(kPipWheel);
  const fs::path task_file = dir_ / "task.json";
  std::ofstream(task_file) << ToJson(spec);
  const std::string out = (dir_ / "out").string();
  const std::string log = MustRun({CWB_AGENT_BINARY, "run-task", task_file.string(), "--work-dir",
                                   (dir_ / "w").string(), "--network", "host", "--gpus", "none",
                                   "-o", out});
  EXPECT_THAT(log, HasSubstr("succeeded: built 1 wheel(s)"));
  const fs::path wheel =
      fs::path(out) / "wheelhouse/py311/cudacpu/linux_x86_64/cwb_demo-0.1.0-cp311-cp311-linux_x86_64.whl";
  EXPECT_TRUE(fs::exists(wheel)) << log;

  // A plan (as `cwb plan --json` writes it) with the task chosen by an id prefix; a failing
  // build exits with 1 and says why.
  v1::BuildPlan plan;
  *plan.add_tasks() = spec;
  *plan.add_tasks() = PlanTask("exit 4");
  const fs::path plan_file = dir_ / "plan.json";
  std::ofstream(plan_file) << ToJson(plan);
  BoostProcessRunner runner;
  absl::StatusOr<CapturedRun> failing = RunAndCapture(
      runner, {{CWB_AGENT_BINARY, "run-task", plan_file.string(), "--task",
                plan.tasks(1).id().substr(0, 8), "--work-dir", (dir_ / "w").string(), "--network",
                "host", "--gpus", "none", "-o", out}});
  ASSERT_TRUE(failing.ok());
  EXPECT_EQ(failing->exit.exit_code, 1);
  EXPECT_THAT(failing->output, HasSubstr("failed: the build command exited with status 4"));
  absl::StatusOr<CapturedRun> ambiguous = RunAndCapture(
      runner, {{CWB_AGENT_BINARY, "run-task", plan_file.string(), "--work-dir", (dir_ / "w").string()}});
  ASSERT_TRUE(ambiguous.ok());
  EXPECT_EQ(ambiguous->exit.exit_code, 2);
  EXPECT_THAT(ambiguous->output, HasSubstr("2 tasks in the plan; choose one with --task ID"));
}

TEST_F(AgentPodmanTest, DefaultBranchIsUsedWhenNoRefIsGiven) {
  // main's head does not compile: the build must fail in the compiler, proving main was built.
  v1::TaskSpec spec = PlanTask(kPipWheel, "");
  TaskResult result = Build(spec, "a1");
  EXPECT_EQ(result.outcome, TaskOutcome::kFailed);
  EXPECT_EQ(result.commit, Git(repo_, {"rev-parse", "main"}));
  // The reason is gcc's own first errors at main's broken line ("this is not C").
  EXPECT_THAT(result.message, ::testing::StartsWith("the build command exited with status 1: cwb_demo/_native.c:38:1: "
                                                    "error: unknown type name"));
}

TEST_F(AgentPodmanTest, FullWorkspaceFailsTheTaskWithThatReason) {
  v1::TaskSpec spec = PlanTask("head -c 50000000 /dev/zero > filler && " + std::string(kPipWheel));
  SmallDisk disk(dir_ / "agent", "8m");
  if (!disk.mounted()) GTEST_SKIP() << "cannot mount a small tmpfs here";
  TaskResult result = Build(spec, "a1");
  EXPECT_EQ(result.outcome, TaskOutcome::kFailed);
  EXPECT_THAT(result.message, HasSubstr("the disk is full: "));
  EXPECT_THAT(result.message, HasSubstr("No space left on device"));
  EXPECT_TRUE(ContainersNamed("cwb-" + spec.id()).empty());
  EXPECT_FALSE(fs::exists(dir_ / "agent" / "tasks" / spec.id() / "a1"));
}

TEST_F(AgentPodmanTest, FailingBuildReportsItsExitCodeAndLastLines) {
  v1::TaskSpec spec = PlanTask("echo about to fail; echo the last words >&2; exit 3");
  TaskResult result = Build(spec, "a1");
  EXPECT_EQ(result.outcome, TaskOutcome::kFailed);
  EXPECT_EQ(result.exit_code, 3);
  EXPECT_EQ(result.message, "the build command exited with status 3");
  EXPECT_THAT(result.log_tail, Contains("the last words"));
  std::stringstream log;
  log << std::ifstream(result.log_path).rdbuf();
  EXPECT_THAT(log.str(), ::testing::ContainsRegex("[0-9T:.-]+Z \\[build\\] about to fail"));
  EXPECT_TRUE(ContainersNamed("cwb-" + spec.id()).empty());
}

TEST_F(AgentPodmanTest, CancellationStopsTheContainerAndLeavesNothing) {
  // The command would go on to its second line 30 s later: that the line never comes shows the
  // container was stopped, not waited for (without measuring how long the stop took).
  v1::TaskSpec spec = PlanTask("echo cwb-test-started; sleep 30; echo cwb-test-not-stopped");
  Cancellation cancel;
  std::vector<std::string> lines;
  TaskResult result = Build(spec, "a1", &cancel, [&](const LogLine& line) {
    lines.push_back(line.text);
    if (line.text == "cwb-test-started") cancel.Cancel("cancelled by the test");
  });
  EXPECT_EQ(result.outcome, TaskOutcome::kCancelled);
  EXPECT_EQ(result.message, "cancelled by the test");
  EXPECT_THAT(lines, Contains("cwb-test-started"));
  EXPECT_THAT(lines, ::testing::Not(Contains("cwb-test-not-stopped")));
  EXPECT_TRUE(ContainersNamed("cwb-" + spec.id()).empty());
  EXPECT_FALSE(fs::exists(dir_ / "agent" / "tasks" / spec.id() / "a1"));
}

TEST_F(AgentPodmanTest, BuildWhoseCommandIgnoresSigtermStillStops) {
  v1::TaskSpec spec = PlanTask("trap \"\" TERM; echo cwb-test-started; while :; do sleep 1; done");
  Cancellation cancel;
  TaskResult result = Build(spec, "a1", &cancel, [&](const LogLine& line) {
    if (line.text == "cwb-test-started") cancel.Cancel("cancelled by the test");
  });
  EXPECT_EQ(result.outcome, TaskOutcome::kCancelled);
  EXPECT_TRUE(ContainersNamed("cwb-" + spec.id()).empty());
}

TEST_F(AgentPodmanTest, TimeLimitStopsALongBuild) {
  time_limit_ = std::chrono::seconds(5);
  v1::TaskSpec spec = PlanTask("sleep 600");
  TaskResult result = Build(spec, "a1");
  EXPECT_EQ(result.outcome, TaskOutcome::kTimedOut);
  EXPECT_EQ(result.message, "time limit of 5s reached");
  EXPECT_TRUE(ContainersNamed("cwb-" + spec.id()).empty());
}

std::string ReadLog(const TaskResult& result) {
  std::stringstream log;
  log << std::ifstream(result.log_path).rdbuf();
  return log.str();
}

TEST_F(AgentPodmanTest, LabelledWheelIsWhatPipInstallsAndLists) {
  v1::TaskSpec spec = PlanTask(kPipWheel, "v0.1.0", "    local_version: true\n");
  EXPECT_EQ(spec.local_version(), "cputorch2.4");
  TaskResult result = Build(spec, "a1");
  ASSERT_EQ(result.outcome, TaskOutcome::kSucceeded) << result.message << "\n" << absl::StrJoin(result.log_tail, "\n");
  ASSERT_EQ(result.wheels.size(), 1u);
  EXPECT_EQ(result.wheels[0].filename, "cwb_demo-0.1.0+cputorch2.4-cp311-cp311-linux_x86_64.whl");
  EXPECT_EQ(result.wheels[0].sha256, Sha256File(result.wheels[0].path).value());
  EXPECT_THAT(ReadLog(result), HasSubstr("labelled cwb_demo-0.1.0-cp311-cp311-linux_x86_64.whl as "
                                         "cwb_demo-0.1.0+cputorch2.4-cp311-cp311-linux_x86_64.whl"));

  // The wheel tool checks every file against RECORD as it unpacks.
  MustRun({"/usr/bin/python3", "-m", "wheel", "unpack", "-d", (dir_ / "unpacked").string(),
           result.wheels[0].path.string()});
  EXPECT_TRUE(fs::exists(dir_ / "unpacked/cwb_demo-0.1.0+cputorch2.4/cwb_demo-0.1.0+cputorch2.4.dist-info/METADATA"));
  const fs::path venv = dir_ / "venv";
  MustRun({"/usr/bin/python3", "-m", "venv", venv.string()});
  MustRun({(venv / "bin/pip").string(), "install", "--no-index", "--quiet", result.wheels[0].path.string()});
  EXPECT_THAT(MustRun({(venv / "bin/pip").string(), "list", "--format", "freeze"}),
              HasSubstr("cwb-demo==0.1.0+cputorch2.4"));
  EXPECT_EQ(MustRun({(venv / "bin/python").string(), "-c",
                     "import cwb_demo; print(cwb_demo.dot([1, 2, 3], [4, 5, 6]))"}),
            "32.0");
}

// The repair step retags the wheel as auditwheel would (unpack, set the platform tag in WHEEL,
// pack); the label comes after it, and the wheelhouse path follows the repaired platform tag.
constexpr char kRetagRepair[] =
    "    repair_command: 'python -m wheel unpack -d /tmp/unpacked \"$CWB_WHEEL\" && "
    "sed -i s/-linux_x86_64/-manylinux_2_36_x86_64/ /tmp/unpacked/*/*.dist-info/WHEEL && "
    "python -m wheel pack -d \"$CWB_REPAIR_DIR\" /tmp/unpacked/*'\n";

TEST_F(AgentPodmanTest, RepairedWheelReplacesTheBuiltOneAndItsPlatformTagIsThePath) {
  v1::TaskSpec spec = PlanTask(kPipWheel, "v0.1.0", absl::StrCat(kRetagRepair, "    local_version: true\n"));
  const fs::path task_file = dir_ / "task.json";
  std::ofstream(task_file) << ToJson(spec);
  const fs::path out = dir_ / "out";
  const std::string log = MustRun({CWB_AGENT_BINARY, "run-task", task_file.string(), "--work-dir",
                                   (dir_ / "w").string(), "--network", "host", "--gpus", "none", "-o", out.string()});
  EXPECT_THAT(log, HasSubstr("cwb: running repair_command on cwb_demo-0.1.0-cp311-cp311-linux_x86_64.whl"));
  const fs::path dir = out / "wheelhouse/py311/cudacpu/manylinux_2_36_x86_64";
  ASSERT_TRUE(fs::exists(dir / "cwb_demo-0.1.0+cputorch2.4-cp311-cp311-manylinux_2_36_x86_64.whl")) << log;
  EXPECT_FALSE(fs::exists(out / "wheelhouse/py311/cudacpu/linux_x86_64"));  // the original is gone
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1);
}

TEST_F(AgentPodmanTest, FailingOrEmptyRepairFailsTheTaskNamingTheRepair) {
  TaskResult failing = Build(PlanTask(kPipWheel, "v0.1.0", "    repair_command: 'echo cannot repair >&2; exit 4'\n"), "a1");
  EXPECT_EQ(failing.outcome, TaskOutcome::kFailed);
  EXPECT_EQ(failing.message, "the repair command exited with status 4");
  EXPECT_THAT(failing.log_tail, Contains("cannot repair"));
  TaskResult empty = Build(PlanTask(kPipWheel, "v0.1.0", "    repair_command: 'true'\n"), "a2");
  EXPECT_EQ(empty.outcome, TaskOutcome::kFailed);
  EXPECT_EQ(empty.message, "the repair command exited with status 1");
  EXPECT_THAT(empty.log_tail, Contains("cwb: repair_command wrote no wheel to $CWB_REPAIR_DIR for "
                                       "cwb_demo-0.1.0-cp311-cp311-linux_x86_64.whl"));
}

// The smoke test sees only the image and the wheel: no source, no build output, none of the
// build's dependencies, and the wheel's label in pip's list.
constexpr char kSmokeTest[] =
    "    test_command: |\n"
    "      python -c 'import os, cwb_demo; assert not os.path.exists(\"/cwb/src\"); print(\"dot\", cwb_demo.dot([1, 2], [3, 4]))'\n"
    "      pip list --format freeze | grep cwb-demo\n";

TEST_F(AgentPodmanTest, SmokeTestInstallsOnlyTheWheelInAFreshContainer) {
  v1::TaskSpec spec = PlanTask(kPipWheel, "v0.1.0", absl::StrCat(kSmokeTest, "    local_version: true\n"));
  TaskResult result = Build(spec, "a1");
  ASSERT_EQ(result.outcome, TaskOutcome::kSucceeded) << result.message << "\n" << absl::StrJoin(result.log_tail, "\n");
  EXPECT_EQ(result.message, "built 1 wheel(s); smoke test passed");
  const std::string log = ReadLog(result);
  EXPECT_THAT(log, HasSubstr("[cwb] smoke test in a fresh container cwb-" + spec.id() + "-a1-test"));
  EXPECT_THAT(log, HasSubstr("[test] cwb: installing cwb_demo-0.1.0+cputorch2.4-cp311-cp311-linux_x86_64.whl"));
  EXPECT_THAT(log, HasSubstr("[test] dot 11.0"));
  EXPECT_THAT(log, HasSubstr("[test] cwb-demo==0.1.0+cputorch2.4"));
  EXPECT_TRUE(ContainersNamed("cwb-" + spec.id()).empty());
}

TEST_F(AgentPodmanTest, WheelFailingItsSmokeTestFailsTheTaskAndIsKeptNowhere) {
  v1::TaskSpec spec = PlanTask(kPipWheel, "v0.1.0",
                               "    test_command: |\n"
                               "      python -c 'import cwb_demo; raise SystemExit(\"broken: \" + str(cwb_demo.dot([1], [2])))'\n");
  TaskResult result = Build(spec, "a1");
  EXPECT_EQ(result.outcome, TaskOutcome::kFailed);
  EXPECT_EQ(result.message, "the smoke test failed: the test command exited with status 1");
  EXPECT_THAT(result.log_tail, Contains("broken: 2.0"));
  EXPECT_TRUE(result.wheels.empty());
  EXPECT_FALSE(fs::exists(dir_ / "agent" / "artifacts" / spec.id() / "a1"));
  EXPECT_TRUE(ContainersNamed("cwb-" + spec.id()).empty());
}

}  // namespace
}  // namespace cwb
