// The host runtime with a recording process runner: the probe, path translation, what the build
// process gets (argv, directory, environment, GPUs), refusals, and its run directories.
#include "agent/host_runtime.h"

#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/str_split.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/fake_process_runner.h"

namespace cwb {
namespace {

namespace fs = std::filesystem;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using testing::FakeProcessRunner;

constexpr char kProbe[] =
    "executable=/opt/torch/.venv/bin/python3\n"
    "base_executable=/usr/bin/python3.12\n"
    "version=3.12\n"
    "site=/opt/torch/.venv/lib/python3.12/site-packages\n"
    "torch=2.11.0+cu130\n"
    "torch_cuda=13.0\n";

TEST(HostRuntimeTest, ParsesTheProbe) {
  absl::StatusOr<HostPython> python = ParseHostPythonProbe(kProbe);
  ASSERT_TRUE(python.ok()) << python.status();
  EXPECT_EQ(python->executable, "/opt/torch/.venv/bin/python3");
  EXPECT_EQ(python->base_executable, "/usr/bin/python3.12");
  EXPECT_EQ(python->version, "3.12");
  EXPECT_THAT(python->site_packages, ElementsAre("/opt/torch/.venv/lib/python3.12/site-packages"));
  EXPECT_EQ(python->torch_version, "2.11.0+cu130");
  EXPECT_EQ(python->torch_cuda, "13.0");
  absl::StatusOr<HostPython> no_torch =
      ParseHostPythonProbe("executable=/usr/bin/python3\nbase_executable=/usr/bin/python3.11\n"
                           "version=3.11\nsite=/usr/lib/python3/dist-packages\n");
  ASSERT_TRUE(no_torch.ok());
  EXPECT_EQ(no_torch->torch_version, "");
  EXPECT_FALSE(ParseHostPythonProbe("Traceback (most recent call last):\n").ok());
}

TEST(HostRuntimeTest, ContainerPathsBecomeTheirMountSources) {
  const std::vector<Mount> mounts = {{"/w/t/src", "/cwb/src"}, {"/w/t/out", "/cwb/out"},
                                     {"/w/cache/pip", "/cwb/cache/pip"}, {"/w/cache", "/cwb/cache"}};
  EXPECT_EQ(HostPathFor(mounts, "/cwb/src"), "/w/t/src");
  EXPECT_EQ(HostPathFor(mounts, "/cwb/out/x.whl"), "/w/t/out/x.whl");
  EXPECT_EQ(HostPathFor(mounts, "/cwb/cache/pip/http"), "/w/cache/pip/http");  // the longest wins
  EXPECT_EQ(HostPathFor(mounts, "/cwb/cache/ccache"), "/w/cache/ccache");
  EXPECT_EQ(HostPathFor(mounts, "/cwb/srcx"), "/cwb/srcx");
  EXPECT_EQ(HostPathFor(mounts, "9.0;10.0"), "9.0;10.0");
}

class HostRuntimeRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) / ("host_runtime_" + std::to_string(::getpid()) + "_" +
                                             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    runner_.Script({{"/opt/torch/.venv/bin/python3", "-c"}, std::vector<std::string>(absl::StrSplit(kProbe, '\n'))});
    absl::StatusOr<std::unique_ptr<HostRuntime>> runtime =
        HostRuntime::Create({"/opt/torch/.venv/bin/python3", dir_ / "runs"}, runner_);
    ASSERT_TRUE(runtime.ok()) << runtime.status();
    runtime_ = *std::move(runtime);
  }

  ContainerRunRequest Request() {
    ContainerRunRequest request;
    request.name = "cwb-0011-a1";
    request.command = {"/bin/sh", "/cwb/ctl/build.sh"};
    request.env = {{"CWB_PYTHON_VERSION", "3.12"}, {"CWB_OUT", "/cwb/out"}, {"MAX_JOBS", "4"}};
    request.secret_env = {{"HF_TOKEN", "hf_secret"}};
    request.mounts = {{dir_ / "t/src", "/cwb/src"}, {dir_ / "t/out", "/cwb/out"}, {dir_ / "t/ctl", "/cwb/ctl", true}};
    request.workdir = "/cwb/src";
    request.gpus = GpuRequest::Devices({"1"});
    request.labels = {{"cwb.task", "0011"}, {"cwb.agent", "agent-a"}};
    return request;
  }

  static std::string Env(const ProcessSpec& spec, const std::string& name) {
    for (const auto& [key, value] : spec.env) {
      if (key == name) return value;
    }
    return "<unset>";
  }

  fs::path dir_;
  FakeProcessRunner runner_;
  std::unique_ptr<HostRuntime> runtime_;
};

TEST_F(HostRuntimeRunTest, BuildRunsInAVenvOfTheBasePythonSeeingTheChosenPythonsPackages) {
  std::vector<std::string> lines;
  absl::StatusOr<ContainerExit> exit = runtime_->RunContainer(
      Request(), [&](std::string_view line) { lines.emplace_back(line); }, nullptr, std::chrono::seconds(7));
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_EQ(exit->exit_code, 0);
  const std::vector<ProcessSpec> specs = runner_.specs();
  ASSERT_EQ(specs.size(), 3u);  // probe, venv, build
  const fs::path run = dir_ / "runs" / "cwb-0011-a1";
  EXPECT_THAT(specs[1].argv, ElementsAre("/usr/bin/python3.12", "-m", "venv", "--without-pip", (run / "venv").string()));
  const ProcessSpec& build = specs[2];
  EXPECT_THAT(build.argv, ElementsAre("/bin/sh", (dir_ / "t/ctl/build.sh").string()));
  EXPECT_EQ(build.cwd, dir_ / "t/src");
  EXPECT_EQ(Env(build, "CWB_OUT"), (dir_ / "t/out").string());
  EXPECT_EQ(Env(build, "MAX_JOBS"), "4");
  EXPECT_EQ(Env(build, "HF_TOKEN"), "hf_secret");
  EXPECT_EQ(Env(build, "CUDA_VISIBLE_DEVICES"), "1");
  EXPECT_EQ(Env(build, "CWB_HOST_RUN"), "cwb-0011-a1");
  EXPECT_EQ(Env(build, "VIRTUAL_ENV"), (run / "venv").string());
  EXPECT_EQ(Env(build, "TMPDIR"), (run / "tmp").string());
  EXPECT_THAT(Env(build, "PATH"), ::testing::StartsWith((run / "venv/bin").string() + ":"));
  EXPECT_EQ(build.kill_grace, std::chrono::seconds(7));
  // The run's directory (venv, .pth, shims) is gone afterwards.
  EXPECT_FALSE(fs::exists(run));
}

TEST_F(HostRuntimeRunTest, GpusAreHiddenForNoneAndLeftAloneForAll) {
  ContainerRunRequest request = Request();
  request.gpus = GpuRequest::None();
  ASSERT_TRUE(runtime_->RunContainer(request, [](std::string_view) {}, nullptr, std::chrono::seconds(1)).ok());
  EXPECT_EQ(Env(runner_.specs().back(), "CUDA_VISIBLE_DEVICES"), "");
  request.gpus = GpuRequest::All();
  ASSERT_TRUE(runtime_->RunContainer(request, [](std::string_view) {}, nullptr, std::chrono::seconds(1)).ok());
  EXPECT_EQ(Env(runner_.specs().back(), "CUDA_VISIBLE_DEVICES"), "<unset>");
}

TEST_F(HostRuntimeRunTest, TheWrongPythonIsRefusedBeforeAnythingRuns) {
  ContainerRunRequest request = Request();
  request.env = {{"CWB_PYTHON_VERSION", "3.10"}};
  absl::StatusOr<ContainerExit> exit = runtime_->RunContainer(request, [](std::string_view) {}, nullptr, std::chrono::seconds(1));
  EXPECT_EQ(exit.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(exit.status().message(), HasSubstr("needs Python 3.10; the host runtime's /opt/torch/.venv/bin/python3 is 3.12"));
  EXPECT_EQ(runner_.specs().size(), 1u);  // the probe only
  request = Request();
  request.name = "../escape";
  EXPECT_EQ(runtime_->RunContainer(request, [](std::string_view) {}, nullptr, std::chrono::seconds(1)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(HostRuntimeRunTest, FailedAndSignalledBuildsSayWhat) {
  runner_.Script({{"/bin/sh"}, {"error: nvcc died"}, 2});
  absl::StatusOr<ContainerExit> exit = runtime_->RunContainer(Request(), [](std::string_view) {}, nullptr, std::chrono::seconds(1));
  ASSERT_TRUE(exit.ok());
  EXPECT_EQ(exit->exit_code, 2);
  EXPECT_EQ(exit->description, "the build command exited with status 2");
}

TEST_F(HostRuntimeRunTest, CancellationReachesTheBuild) {
  runner_.Script({{"/bin/sh"}, {}, 0, /*block_until_cancelled=*/true});
  Cancellation cancel;
  std::vector<std::string> lines;
  std::mutex mutex;
  absl::StatusOr<ContainerExit> exit;
  std::thread build([&] {
    exit = runtime_->RunContainer(
        Request(), [&](std::string_view line) { std::lock_guard lock(mutex); lines.emplace_back(line); },
        &cancel, std::chrono::seconds(3));
  });
  EXPECT_TRUE(runner_.WaitForCommand("/bin/sh"));
  cancel.Cancel("cancelled by a user");
  build.join();
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_TRUE(exit->cancelled);
  EXPECT_EQ(exit->description, "cancelled: cancelled by a user");
  EXPECT_THAT(lines, Contains("cwb: stopping the build (SIGTERM, SIGKILL after 3s): cancelled by a user"));
}

TEST_F(HostRuntimeRunTest, RunsAreListedByLabelAndRemoved) {
  // What a crashed agent leaves: a run directory with its labels.
  fs::create_directories(dir_ / "runs" / "cwb-left-a9");
  std::ofstream(dir_ / "runs" / "cwb-left-a9" / "labels") << "cwb.task=0011\ncwb.agent=agent-a\n";
  fs::create_directories(dir_ / "runs" / "cwb-other-a1");
  std::ofstream(dir_ / "runs" / "cwb-other-a1" / "labels") << "cwb.agent=agent-b\n";
  EXPECT_THAT(*runtime_->ListContainers("cwb.agent", "agent-a"), ElementsAre("cwb-left-a9"));
  ASSERT_TRUE(runtime_->RemoveContainer("cwb-left-a9").ok());
  EXPECT_FALSE(fs::exists(dir_ / "runs" / "cwb-left-a9"));
  EXPECT_TRUE(runtime_->ListContainers("cwb.agent", "agent-a")->empty());
  EXPECT_TRUE(runtime_->uses_images() == false && runtime_->name() == "host");
}

}  // namespace
}  // namespace cwb
