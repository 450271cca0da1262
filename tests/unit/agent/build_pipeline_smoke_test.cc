// The smoke test of BuildPipeline: a fresh container with only the attempt's wheels, a BUILD
// attempt that leaves it to its TEST step, and a TEST attempt that fetches the held wheels and runs
// only the test.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/unit/agent/build_pipeline_fixture.h"

namespace cwb::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Pair;

TEST_F(BuildPipelineTest, SmokeTestRunsInAFreshContainerWithOnlyTheTasksWheels) {
  v1::TaskSpec spec = Spec();
  spec.set_test_command("python -c 'import demo'");
  spec.add_test_dependencies("pytest");
  const auto build = runtime_.on_run;
  std::vector<std::string> seen_in_test;
  runtime_.on_run = [&](const ContainerRunRequest& request, const ContainerRuntime::LineCallback& on_line) {
    if (!request.name.ends_with("-test")) return build(request, on_line);
    for (const Mount& mount : request.mounts) {
      seen_in_test.push_back(mount.container_path + (mount.read_only ? ":ro" : ""));
      if (mount.container_path == "/cwb/wheels") {
        for (const auto& entry : fs::directory_iterator(mount.host_path)) seen_in_test.push_back(entry.path().filename());
      }
      if (mount.container_path == "/cwb/ctl") {
        seen_in_test.push_back(ReadText(mount.host_path / "test_command.sh"));
        seen_in_test.push_back(ReadText(mount.host_path / "test_requirements.txt"));
      }
    }
    on_line("imported");
    return 0;
  };
  TaskResult result = RunTask(spec, nullptr, GpuRequest::Devices({"1"}));
  ASSERT_EQ(result.outcome, TaskOutcome::kSucceeded) << result.message;
  EXPECT_EQ(result.message, "built 1 wheel(s); smoke test passed");
  ASSERT_EQ(result.wheels.size(), 1u);
  EXPECT_TRUE(fs::exists(result.wheels[0].path));
  const std::vector<ContainerRunRequest> runs = runtime_.runs();
  ASSERT_EQ(runs.size(), 2u);
  const ContainerRunRequest& built = runs[0];
  const ContainerRunRequest& test = runs[1];
  EXPECT_EQ(test.name, "cwb-00112233aabbccdd-a1-test");
  EXPECT_EQ(test.image, built.image);
  EXPECT_EQ(test.subject, "test");
  EXPECT_THAT(test.command, ::testing::ElementsAre("/bin/sh", "/cwb/ctl/build.sh", "test"));
  EXPECT_EQ(test.workdir, "/cwb/test");
  EXPECT_THAT(test.env, Contains(Pair("CWB_WHEELS", "/cwb/wheels")));
  EXPECT_THAT(test.env, Contains(Pair("TORCH_CUDA_ARCH_LIST", "9.0")));
  EXPECT_EQ(test.gpus.kind, GpuRequest::Kind::kDevices);  // the build's GPUs
  EXPECT_THAT(test.gpus.devices, ::testing::ElementsAre("1"));
  EXPECT_EQ(test.labels, built.labels);
  // The wheels read-only, the test's own control files and directory; no source, no build output.
  EXPECT_THAT(seen_in_test, ::testing::UnorderedElementsAre(
                                "/cwb/wheels:ro", "demo-1.0-cp311-cp311-linux_x86_64.whl", "/cwb/ctl:ro",
                                "python -c 'import demo'\n", "pytest\n", "/cwb/test", "/cwb/cache/pip"));
  EXPECT_THAT(lines_, Contains("[test] imported"));
}

TEST_F(BuildPipelineTest, ABuildStepLeavesTheSmokeTestToItsTestStep) {
  v1::TaskSpec spec = Spec();
  spec.set_test_command("python -c 'import demo'");
  TaskResult result = RunTask(spec, nullptr, GpuRequest::All(), "", [](TaskRun& run) { run.step = v1::TASK_STEP_BUILD; });
  ASSERT_EQ(result.outcome, TaskOutcome::kSucceeded) << result.message;
  EXPECT_EQ(result.message, "built 1 wheel(s); the smoke test needs a GPU and runs as its own step");
  ASSERT_EQ(result.wheels.size(), 1u);
  ASSERT_EQ(runtime_.runs().size(), 1u);  // no test container
  EXPECT_EQ(runtime_.runs()[0].gpus.kind, GpuRequest::Kind::kNone);
}

TEST_F(BuildPipelineTest, ATestStepFetchesTheHeldWheelsAndRunsOnlyTheSmokeTest) {
  v1::TaskSpec spec = Spec();
  spec.set_test_command("python -c 'import demo'");
  v1::ArtifactInfo held;
  held.set_filename("demo-1.0-cp311-cp311-linux_x86_64.whl");
  held.set_size_bytes(11);
  std::vector<std::string> in_test;
  runtime_.on_run = [&](const ContainerRunRequest& request, const ContainerRuntime::LineCallback&) {
    for (const Mount& mount : request.mounts) {
      if (mount.container_path != "/cwb/wheels") continue;
      for (const auto& entry : fs::directory_iterator(mount.host_path)) in_test.push_back(ReadText(entry.path()));
    }
    return 0;
  };
  TaskResult result = RunTask(spec, nullptr, GpuRequest::Devices({"0"}), "", [&](TaskRun& run) {
    run.step = v1::TASK_STEP_TEST;
    run.held_wheels = {held};
    run.gpu_description = "0 (NVIDIA H200, sm 9.0, GPU-0)";
    run.fetch_wheel = [](const v1::ArtifactInfo& wheel, const fs::path& destination) {
      std::ofstream(destination) << "held " << wheel.filename();
      return absl::OkStatus();
    };
  });
  ASSERT_EQ(result.outcome, TaskOutcome::kSucceeded) << result.message;
  EXPECT_EQ(result.message, "smoke test passed on 0 (NVIDIA H200, sm 9.0, GPU-0)");
  EXPECT_TRUE(result.wheels.empty());  // nothing goes back
  EXPECT_TRUE(git_.Commands().empty());  // no checkout, no build
  ASSERT_EQ(runtime_.runs().size(), 1u);
  EXPECT_EQ(runtime_.runs()[0].name, "cwb-00112233aabbccdd-a1-test");
  EXPECT_THAT(runtime_.runs()[0].gpus.devices, ::testing::ElementsAre("0"));
  EXPECT_THAT(in_test, ::testing::ElementsAre("held demo-1.0-cp311-cp311-linux_x86_64.whl"));
  EXPECT_FALSE(fs::exists(paths::Artifacts(work_, "00112233aabbccdd", "a1")));

  // A wheel that cannot be fetched fails the attempt, naming it; a name that is no wheel's is refused.
  TaskResult lost = RunTask(spec, nullptr, GpuRequest::All(), "", [&](TaskRun& run) {
    run.step = v1::TASK_STEP_TEST;
    run.held_wheels = {held};
    run.fetch_wheel = [](const v1::ArtifactInfo&, const fs::path&) { return absl::DataLossError("sha256 differs"); };
  });
  EXPECT_EQ(lost.outcome, TaskOutcome::kFailed);
  EXPECT_EQ(lost.message, "cannot fetch held wheel demo-1.0-cp311-cp311-linux_x86_64.whl: sha256 differs");
  held.set_filename("../../etc/passwd");
  TaskResult bad = RunTask(spec, nullptr, GpuRequest::All(), "", [&](TaskRun& run) {
    run.step = v1::TASK_STEP_TEST;
    run.held_wheels = {held};
    run.fetch_wheel = [](const v1::ArtifactInfo&, const fs::path&) { return absl::OkStatus(); };
  });
  EXPECT_EQ(bad.outcome, TaskOutcome::kFailed);
  EXPECT_THAT(bad.message, HasSubstr("held wheel: "));
}

TEST_F(BuildPipelineTest, FailingSmokeTestFailsTheTaskAndKeepsNoWheel) {
  v1::TaskSpec spec = Spec();
  spec.set_test_command("python -c 'import demo'");
  const auto build = runtime_.on_run;
  runtime_.on_run = [&](const ContainerRunRequest& request, const ContainerRuntime::LineCallback& on_line) {
    if (!request.name.ends_with("-test")) {
      on_line("RuntimeWarning: a build line is not the test's cause");
      return build(request, on_line);
    }
    request.on_stderr_line("ModuleNotFoundError: No module named 'demo'");
    return 3;
  };
  TaskResult result = RunTask(spec);
  EXPECT_EQ(result.outcome, TaskOutcome::kFailed);
  EXPECT_EQ(result.message, "the smoke test failed: exit 3: ModuleNotFoundError: No module named 'demo'");
  EXPECT_TRUE(result.wheels.empty());
  EXPECT_FALSE(fs::exists(paths::Artifacts(work_, "00112233aabbccdd", "a1")));
  EXPECT_FALSE(fs::exists(paths::Workspace(work_, "00112233aabbccdd", "a1")));
}

}  // namespace
}  // namespace cwb::testing
