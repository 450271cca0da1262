// The cluster the end-to-end tests run: the real cwb-coordinator with both tokens on, `cwb-agent
// serve` processes building in real podman containers on the host network, git repositories made
// here (the demo and the pure example packages), and the real cwb CLI to submit, watch and ask.
#pragma once

#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/rpc/task_proto.h"
#include "cwb/v1/state.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/child_process.h"
#include "tests/integration/test_env.h"

namespace cwb::testing {

using std::chrono::seconds;

class ClusterTest : public ::testing::Test {

 protected:
  void SetUp() override {
    if (!PodmanReady()) GTEST_SKIP() << "podman or the base image is not available";
    dir_ = TestDir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    demo_ = MakeDemoRepository(dir_);
    pure_ = MakeRepositoryFrom(dir_, "examples/demo-pure-package", "pure");
    // The cluster runs with both tokens on, as a deployment would.
    std::ofstream(dir_ / "client-token") << "client-token-" << ::getpid() << "\n";
    std::ofstream(dir_ / "agent-token") << "agent-token-" << ::getpid() << "\n";
  }

  void StartCoordinator(const std::string& listen = "127.0.0.1:0",
                        std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {
        CWB_COORDINATOR_BINARY, "--listen", listen, "--data-dir", (dir_ / "coordinator").string(),
        "--lease-ms", "5000", "--heartbeat-ms", "500", "--client-token-file",
        (dir_ / "client-token").string(), "--agent-token-file", (dir_ / "agent-token").string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    coordinator_ = std::make_unique<ChildProcess>(argv);
    address_ = coordinator_->WaitForLine("listening on (\\S+)", seconds(30));
    ASSERT_FALSE(address_.empty()) << coordinator_->Output();
  }

  // Agents run under `env` so a test can give them secrets in their environment.
  void StartAgents(int count = 2, std::vector<std::string> env = {},
                   std::vector<std::string> extra = {}) {
    for (int i = 1; i <= count; ++i) {
      std::vector<std::string> argv = {"env"};
      argv.insert(argv.end(), env.begin(), env.end());
      argv.insert(argv.end(), {
          CWB_AGENT_BINARY, "serve", "--coordinator", address_, "--agent-id",
          absl::StrCat("agent-", i), "--work-dir", (dir_ / absl::StrCat("agent-", i)).string(),
          "--network", "host", "--slots", "1", "--stop-grace", "5", "--token-file",
          (dir_ / "agent-token").string()});
      argv.insert(argv.end(), extra.begin(), extra.end());
      agents_.push_back(std::make_unique<ChildProcess>(argv));
      ASSERT_FALSE(agents_.back()->WaitForLine("serving", seconds(30)).empty());
    }
  }

  // 2 projects x 2 torch versions; the build stamps the torch version into the wheel's local
  // version label so the four wheels differ.
  std::string WriteConfig(const std::string& name, const std::string& build_steps) {
    const std::filesystem::path path = dir_ / name;
    std::ofstream(path) << absl::StrCat(
        "output_dir_host: out\n"
        "build_matrix:\n"
        "  python_version: [3.11]\n"
        "  cuda_version: [cpu]\n"
        "  pytorch_version: [2.4.0, 2.5.0]\n"
        "projects:\n"
        "  - name: demo\n"
        "    repo_url: ", demo_.string(), "\n"
        "    repo_ref: v0.1.0\n"
        "    build_command: |\n", build_steps,
        "  - name: pure\n"
        "    repo_url: ", pure_.string(), "\n"
        "    build_command: |\n", build_steps,
        "pytorch_base_images:\n"
        "  \"2.4.0\": {cpu: ", kBaseImage, "}\n"
        "  \"2.5.0\": {cpu: ", kBaseImage, "}\n");
    return path.string();
  }

  // A one-task config building the pure package with `build_command` (a YAML value: a scalar or
  // a "|\n" block), plus `extra` project keys.
  std::string WriteOneTaskConfig(const std::string& name, const std::string& build_command,
                                 const std::string& extra = "") {
    const std::filesystem::path path = dir_ / name;
    std::ofstream(path) << absl::StrCat(
        "build_target: {python_version: 3.11, cuda_version: cpu, pytorch_version: 2.4.0}\n"
        "projects:\n"
        "  - name: pure\n"
        "    repo_url: ", pure_.string(), "\n", extra,
        "    build_command: ", build_command,
        "pytorch_base_images: {\"2.4.0\": {cpu: ", kBaseImage, "}}\n");
    return path.string();
  }

  static std::string StampAndBuild(int sleep_seconds) {
    return absl::StrCat(
        "      sed -i \"s/^version = \\\"0.1.0\\\"/version = \\\"0.1.0+torch$CWB_PYTORCH_VERSION\\\"/\" pyproject.toml\n"
        "      echo cwb-e2e-building\n"
        "      sleep ", sleep_seconds, "\n"
        "      pip wheel . --no-deps --no-build-isolation -w \"$CWB_OUT\"\n");
  }

  std::vector<std::string> Cli(std::vector<std::string> args) {
    std::vector<std::string> argv = {CWB_CLI_BINARY, "--coordinator", address_, "--token-file",
                                     (dir_ / "client-token").string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }

  // Runs the CLI to completion; returns (exit code, output).
  std::pair<int, std::string> RunCli(std::vector<std::string> args, seconds timeout = seconds(120)) {
    ChildProcess cli(Cli(std::move(args)));
    const int code = cli.Wait(timeout);
    return {code, cli.Output()};
  }

  std::string Submit(const std::string& config) {
    auto [code, output] = RunCli({"submit", config, "--json"});
    EXPECT_EQ(code, 0) << output;
    v1::BuildInfo build;
    EXPECT_TRUE(FromJson(output, &build).ok()) << output;
    return build.build_id();
  }

  v1::BuildInfo Status(const std::string& build_id) {
    auto [code, output] = RunCli({"status", build_id, "--json"});
    v1::BuildInfo build;
    EXPECT_TRUE(FromJson(output, &build).ok()) << output;
    return build;
  }

  void TearDown() override {
    // Agents stop gracefully (their builds are cancelled and containers removed); containers of
    // agents a test killed are removed here.
    for (auto& agent : agents_) {
      agent->Signal(SIGCONT);
      agent->Signal(SIGTERM);
    }
    for (auto& agent : agents_) agent->Wait(seconds(60));
    for (int i = 1; i <= 2; ++i) {
      const std::vector<std::string> names = absl::StrSplit(
          MustRun({"podman", "ps", "-aq", "--filter", absl::StrCat("label=cwb.agent=agent-", i)}),
          '\n', absl::SkipEmpty());
      for (const std::string& name : names) MustRun({"podman", "rm", "--force", "--time", "0", name});
    }
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);  // some tests leave gigabytes of wheels and logs
  }

  // Polls `cwb status` until `done` holds (real processes: there is no event to wait on here).
  v1::BuildInfo WaitForBuild(const std::string& build_id,
                             const std::function<bool(const v1::BuildInfo&)>& done,
                             seconds timeout = seconds(120)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    v1::BuildInfo build = Status(build_id);
    while (!done(build) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      build = Status(build_id);
    }
    return build;
  }
  static int AgentIndex(const std::string& agent_id) { return agent_id == "agent-1" ? 0 : 1; }

  // Waits until the coordinator is writing an upload (a temporary file exists in its store).
  bool WaitForUploadInFlight() {
    const std::filesystem::path uploads = dir_ / "coordinator" / "uploads";
    for (int i = 0; i < 6000; ++i) {
      std::error_code error;
      for (auto it = std::filesystem::recursive_directory_iterator(uploads, error);
           !error && it != std::filesystem::recursive_directory_iterator(); it.increment(error)) {
        if (it->path().filename().string().find(".cwb-tmp-") != std::string::npos) return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  // No temporary file is left anywhere in the coordinator's store.
  void ExpectNoTemporaryFiles() {
    std::error_code error;
    for (auto it = std::filesystem::recursive_directory_iterator(dir_ / "coordinator", error);
         !error && it != std::filesystem::recursive_directory_iterator(); it.increment(error)) {
      EXPECT_EQ(it->path().filename().string().find(".cwb-tmp-"), std::string::npos) << it->path();
    }
  }

  std::filesystem::path dir_, demo_, pure_;
  std::string address_;
  std::unique_ptr<ChildProcess> coordinator_;
  std::vector<std::unique_ptr<ChildProcess>> agents_;
};

}  // namespace cwb::testing
