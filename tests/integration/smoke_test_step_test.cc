// A CUDA cell built where there is no GPU and smoke-tested where there is one, with real processes:
// the coordinator, an agent without GPUs that compiles the plain CUDA fixture with Debian's nvcc
// 11.8 (the shared toolchain image) in podman, then, once the task waits "built, waiting for a GPU
// to test", a second agent that reports a GPU. This machine has none: that agent's GPU comes from
// a stand-in nvidia-smi (its probe) and a CDI spec podman resolves for `--device
// nvidia.com/gpu=0`, which gives the container CWB_TEST_GPU instead of a device node; tests/gpu/
// runs the same on a real one. And `cwb build` on this GPU-less machine ends, saying how many wheels
// await a GPU test, or publishes them marked untested with --allow-untested.
#include <filesystem>
#include <fstream>
#include <regex>

#include "common/rpc/task_state.h"
#include "tests/integration/cluster_fixture.h"

namespace cwb::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

constexpr char kToolchainImage[] = "localhost/cwb-cuda-toolchain:11.8";
// Where podman 4 reads CDI specs (it has no setting for another directory).
constexpr char kCdiDir[] = "/var/run/cdi";

// Whether a CDI spec of NVIDIA's GPUs is installed here (a real GPU host): the test's own would clash.
bool HasNvidiaCdiSpec() {
  std::error_code error;
  for (const char* dir : {"/etc/cdi", kCdiDir}) {
    for (auto it = fs::directory_iterator(dir, error); !error && it != fs::directory_iterator(); it.increment(error)) {
      std::ifstream in(it->path());
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (text.find("nvidia.com/gpu") != std::string::npos && it->path().filename() != "cwb-test-gpu.yaml") {
        return true;
      }
    }
  }
  return false;
}

class SmokeTestStepTest : public ClusterTest {
 protected:
  void SetUp() override {
    ClusterTest::SetUp();
    if (IsSkipped()) return;
    MustRun({"bash", absl::StrCat(CWB_SOURCE_DIR, "/scripts/make-toolchain-image.sh")});
  }
  void TearDown() override {
    std::error_code ignored;
    if (wrote_cdi_) fs::remove(fs::path(kCdiDir) / "cwb-test-gpu.yaml", ignored);
    ClusterTest::TearDown();
  }

  void StartAgent(const std::string& id, std::vector<std::string> extra) {
    std::vector<std::string> argv = {CWB_AGENT_BINARY, "serve", "--coordinator", address_, "--agent-id", id,
                                     "--work-dir", (dir_ / id).string(), "--network", "host", "--stop-grace", "5",
                                     "--token-file", (dir_ / "agent-token").string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    agents_.push_back(std::make_unique<ChildProcess>(argv));
    ASSERT_FALSE(agents_.back()->WaitForLine("serving", seconds(30)).empty()) << agents_.back()->Output();
  }

  // The stand-in GPU: nvidia-smi reporting one (driver for CUDA 12.4), and the CDI device podman
  // gives a container asking for it.
  void MakeTestGpu() {
    std::ofstream(dir_ / "nvidia-smi") <<
        "#!/bin/sh\n"
        "case \"$1\" in\n"
        "  --query-gpu=*) printf '0, GPU-cwbtest, NVIDIA Test GPU, 16384, 550.54.15, 7.5\\n' ;;\n"
        "  *) echo '| NVIDIA-SMI 550.54.15   Driver Version: 550.54.15   CUDA Version: 12.4 |' ;;\n"
        "esac\n";
    fs::permissions(dir_ / "nvidia-smi", fs::perms::owner_all);
    fs::create_directories(kCdiDir);
    std::ofstream(fs::path(kCdiDir) / "cwb-test-gpu.yaml") <<
        "cdiVersion: \"0.5.0\"\n"
        "kind: \"nvidia.com/gpu\"\n"
        "devices:\n"
        "  - name: \"0\"\n"
        "    containerEdits:\n"
        "      env: [\"CWB_TEST_GPU=0\"]\n"
        "  - name: \"all\"\n"
        "    containerEdits:\n"
        "      env: [\"CWB_TEST_GPU=all\"]\n";
    wrote_cdi_ = true;
  }

  // One CUDA 11.8 cell of `repo` built in the toolchain image, smoke-tested by `test_command`.
  std::string WriteCudaConfig(const std::string& name, const fs::path& repo, const std::string& build_command,
                              const std::string& test_command) {
    const fs::path path = dir_ / name;
    std::ofstream(path) << absl::StrCat(
        "build_target: {python_version: 3.11, cuda_version: 11.8, pytorch_version: 2.1}\n"
        "output_dir_host: ", (dir_ / "out").string(), "\n"
        "projects:\n"
        "  - name: cuda-demo\n"
        "    repo_url: ", repo.string(), "\n"
        "    build_command: ", build_command, "\n"
        "    env: {TORCH_CUDA_ARCH_LIST: \"7.5\"}\n"
        "    test_command: ", test_command, "\n"
        "pytorch_base_images: {\"2.1\": {\"11.8\": \"", kToolchainImage, "\"}}\n");
    return path.string();
  }

  bool wrote_cdi_ = false;
};

TEST_F(SmokeTestStepTest, BuiltWithoutAGpuWaitsSayingSoThenAnAgentWithOneTestsAndItIsPublished) {
  if (HasNvidiaCdiSpec()) GTEST_SKIP() << "this host has NVIDIA's CDI spec: tests/gpu/ covers it";
  const fs::path repo = MakeRepositoryFrom(dir_, "tests/fixtures/cuda-extension", "cuda");
  const std::string config = WriteCudaConfig(
      "cuda.yaml", repo, "pip wheel -v . --no-deps --no-build-isolation -w \"$CWB_OUT\"",
      "python -c \"import cwb_cuda_demo as m; print('devices', m.device_count())\" && "
      "echo \"test-gpu=${CWB_TEST_GPU:-none}\"");
  StartCoordinator();
  StartAgent("builder", {"--nvidia-smi", (dir_ / "no-nvidia-smi").string()});
  ASSERT_THAT(agents_[0]->Output(), HasSubstr("0 GPU(s)"));
  const std::string build_id = Submit(config);
  v1::BuildInfo build = WaitForBuild(build_id, [](const v1::BuildInfo& b) {
    return b.tasks(0).state() == v1::TASK_STATE_BUILT || IsTerminal(b.tasks(0).state());
  }, seconds(600));
  v1::TaskInfo task = build.tasks(0);
  ASSERT_EQ(task.state(), v1::TASK_STATE_BUILT) << task.message();
  EXPECT_EQ(task.agent_id(), "");
  EXPECT_EQ(task.held_artifacts_size(), 1);
  EXPECT_EQ(task.artifacts_size(), 0);
  EXPECT_EQ(task.waiting_reason(), "waiting: no connected agent can run it (needs a GPU)");
  EXPECT_EQ(build.awaiting_test(), 1u);
  EXPECT_FALSE(build.finished());
  auto [status_code, status_text] = RunCli({"status", build_id});
  EXPECT_EQ(status_code, 0);
  EXPECT_THAT(status_text, HasSubstr("built, waiting for a GPU to test"));
  EXPECT_THAT(status_text, HasSubstr("1 built and waiting for a GPU to test"));
  auto [build_log_code, build_log] = RunCli({"logs", build_id, task.spec().id()});
  EXPECT_THAT(build_log, HasSubstr("nvcc -c src/saxpy.cu"));
  EXPECT_THAT(build_log, HasSubstr("this attempt's step: build"));
  EXPECT_THAT(build_log, HasSubstr("the smoke test needs a GPU and runs as its own step"));
  // Nothing is in the index or the wheelhouse before its test.
  auto [fetch_early_code, fetch_early] = RunCli({"fetch", build_id, "-o", (dir_ / "early").string()});
  EXPECT_FALSE(fs::exists(dir_ / "early" / "wheelhouse" / "py311")) << fetch_early;

  MakeTestGpu();
  StartAgent("tester", {"--nvidia-smi", (dir_ / "nvidia-smi").string(), "--gpus-per-task", "1"});
  ASSERT_THAT(agents_[1]->Output(), HasSubstr("1 GPU(s)"));
  build = WaitForBuild(build_id, [](const v1::BuildInfo& b) { return b.finished(); }, seconds(300));
  task = build.tasks(0);
  ASSERT_EQ(task.state(), v1::TASK_STATE_SUCCEEDED) << task.message() << agents_[1]->Output();
  EXPECT_EQ(task.agent_id(), "tester");
  EXPECT_EQ(task.step(), v1::TASK_STEP_TEST);
  EXPECT_FALSE(task.untested());
  ASSERT_EQ(task.artifacts_size(), 1);
  EXPECT_EQ(task.held_artifacts_size(), 0);
  auto [log_code, log] = RunCli({"logs", build_id, task.spec().id()});
  EXPECT_THAT(log, HasSubstr("this attempt's step: test"));
  EXPECT_THAT(log, HasSubstr("fetching held wheel " + task.artifacts(0).filename()));
  EXPECT_THAT(log, HasSubstr("[test] test-gpu=0"));  // the test container got the agent's GPU 0
  EXPECT_THAT(log, HasSubstr("GPUs of this attempt: 0 (NVIDIA Test GPU"));
  EXPECT_TRUE(std::regex_search(log, std::regex(R"(\[test\] devices -?[0-9]+)"))) << log;
  // The task's log has both attempts; the test's builds nothing.
  ASSERT_NE(log.find("this attempt's step: test"), std::string::npos);
  EXPECT_THAT(log.substr(log.find("this attempt's step: test")), ::testing::Not(HasSubstr("nvcc -c")));
  auto [fetch_code, fetched] = RunCli({"fetch", build_id, "-o", (dir_ / "fetched").string()});
  ASSERT_EQ(fetch_code, 0) << fetched;
  EXPECT_TRUE(fs::exists(dir_ / "fetched" / "wheelhouse" / "py311" / "cuda11.8" / "linux_x86_64" /
                         task.artifacts(0).filename()))
      << fetched;
  // The held copy is gone from the coordinator's store.
  EXPECT_TRUE(fs::is_empty(dir_ / "coordinator" / "held")) << "held wheels left behind";
}

TEST_F(SmokeTestStepTest, CwbBuildOnAMachineWithoutAGpuSaysWhatAwaitsATestOrPublishesItUntested) {
  // A CUDA cell that compiles nothing (the pure package): what matters is where its test can run.
  const std::string config = WriteCudaConfig(
      "local.yaml", pure_, "pip wheel . --no-deps --no-build-isolation -w \"$CWB_OUT\"", "python -c 'import pure'");
  ChildProcess waits({CWB_CLI_BINARY, "build", config, "--network", "host"});
  EXPECT_EQ(waits.Wait(seconds(600)), 1) << waits.Output();
  EXPECT_THAT(waits.Output(), HasSubstr("stopped, nothing more can run here: 0 succeeded, 0 failed or cancelled, "
                                        "1 wheel build(s) awaiting a GPU test"));
  EXPECT_THAT(waits.Output(), HasSubstr("built, waiting for a GPU to test: waiting: no connected agent can run it "
                                        "(needs a GPU)"));
  EXPECT_THAT(waits.Output(), HasSubstr("--allow-untested"));
  EXPECT_FALSE(fs::exists(dir_ / "out" / "wheelhouse" / "py311"));

  ChildProcess untested({CWB_CLI_BINARY, "build", config, "--network", "host", "--allow-untested"});
  EXPECT_EQ(untested.Wait(seconds(600)), 0) << untested.Output();
  EXPECT_THAT(untested.Output(), HasSubstr("1 succeeded (1 untested: no GPU ran their smoke test)"));
  std::vector<fs::path> wheels;
  for (const auto& entry : fs::recursive_directory_iterator(dir_ / "out" / "wheelhouse")) {
    if (entry.path().extension() == ".whl") wheels.push_back(entry.path());
  }
  EXPECT_EQ(wheels.size(), 1u);
  std::ifstream results(dir_ / "out" / "wheelhouse" / "cwb-results.json");
  const std::string manifest((std::istreambuf_iterator<char>(results)), std::istreambuf_iterator<char>());
  EXPECT_THAT(manifest, HasSubstr("\"untested\": true"));
  ChildProcess coverage({CWB_CLI_BINARY, "coverage", config});
  EXPECT_EQ(coverage.Wait(seconds(60)), 0) << coverage.Output();
  EXPECT_THAT(coverage.Output(), HasSubstr("built (untested)"));
}

}  // namespace
}  // namespace cwb::testing
