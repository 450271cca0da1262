#include "agent/cli_container_runtime.h"

#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/fake_process_runner.h"

namespace cwb {
namespace {

using ::testing::ElementsAre;
using testing::FakeProcessRunner;

ContainerRunRequest Request() {
  ContainerRunRequest request;
  request.name = "cwb-t-a";
  request.image = "img:1";
  request.command = {"/bin/sh", "/cwb/ctl/build.sh"};
  return request;
}

TEST(CliContainerRuntimeTest, ImageExistsMapsExitCodes) {
  FakeProcessRunner runner;
  CliContainerRuntime runtime({EngineKind::kPodman}, runner);
  runner.Script({{"podman", "image", "exists", "yes:1"}, {}, 0});
  runner.Script({{"podman", "image", "exists", "no:1"}, {}, 1});
  runner.Script({{"podman", "image", "exists", "broken:1"}, {"Error: storage is corrupt"}, 125});
  EXPECT_EQ(runtime.ImageExists("yes:1").value(), true);
  EXPECT_EQ(runtime.ImageExists("no:1").value(), false);
  absl::StatusOr<bool> broken = runtime.ImageExists("broken:1");
  ASSERT_FALSE(broken.ok());
  EXPECT_THAT(std::string(broken.status().message()), ::testing::HasSubstr("storage is corrupt"));
}

TEST(CliContainerRuntimeTest, RunRemovesLeftoverThenRunsThenRemoves) {
  FakeProcessRunner runner;
  CliContainerRuntime runtime({EngineKind::kDocker}, runner);
  runner.Script({{"docker", "run"}, {"hello"}, 0});
  std::vector<std::string> lines;
  absl::StatusOr<ContainerExit> exit = runtime.RunContainer(
      Request(), [&](std::string_view l) { lines.emplace_back(l); }, nullptr,
      std::chrono::seconds(30));
  ASSERT_TRUE(exit.ok());
  EXPECT_EQ(exit->exit_code, 0);
  EXPECT_FALSE(exit->cancelled);
  EXPECT_THAT(lines, ElementsAre("hello"));
  EXPECT_THAT(runner.Commands(),
              ElementsAre("docker rm --force cwb-t-a",
                          "docker run --name cwb-t-a --init img:1 /bin/sh /cwb/ctl/build.sh",
                          "docker rm --force cwb-t-a"));
}

TEST(CliContainerRuntimeTest, SecretsReachTheEngineThroughItsEnvironment) {
  FakeProcessRunner runner;
  CliContainerRuntime runtime({EngineKind::kPodman}, runner);
  ContainerRunRequest request = Request();
  request.secret_env = {{"HF_TOKEN", "hf_supersecret"}};
  ASSERT_TRUE(runtime.RunContainer(request, [](std::string_view) {}, nullptr, std::chrono::seconds(1)).ok());
  const ProcessSpec run = runner.specs()[1];
  EXPECT_THAT(run.env, ElementsAre(std::pair<std::string, std::string>("HF_TOKEN", "hf_supersecret")));
  for (const std::string& arg : run.argv) EXPECT_EQ(arg.find("hf_supersecret"), std::string::npos);
}

TEST(CliContainerRuntimeTest, EngineExitCodesAreDescribed) {
  for (auto [code, text] : std::vector<std::pair<int, std::string>>{
           {125, "the container engine could not run the container (exit 125)"},
           {126, "the container's command could not be invoked (exit 126)"},
           {127, "the container's command was not found (exit 127)"},
           {3, "the build command exited with status 3"}}) {
    FakeProcessRunner runner;
    CliContainerRuntime runtime({EngineKind::kPodman}, runner);
    runner.Script({{"podman", "run"}, {}, code});
    absl::StatusOr<ContainerExit> exit =
        runtime.RunContainer(Request(), [](std::string_view) {}, nullptr, std::chrono::seconds(1));
    ASSERT_TRUE(exit.ok());
    EXPECT_EQ(exit->exit_code, code);
    EXPECT_EQ(exit->description, text);
  }
}

TEST(CliContainerRuntimeTest, CancellationStopsTheContainerWithTheGraceThenRemovesIt) {
  FakeProcessRunner runner;
  // The attached `podman run` returns once `podman stop` has stopped the container: the fake
  // run blocks until its own (kill) cancellation or the stop below answers.
  Cancellation container_stopped;
  runner.Script({{"podman", "stop"}, {}, 0});
  Cancellation cancel;
  std::thread canceller([&] {
    EXPECT_TRUE(runner.WaitForCommand("podman run"));
    cancel.Cancel("user asked");
    EXPECT_TRUE(runner.WaitForCommand("podman stop"));
    container_stopped.Cancel("stopped");
  });
  std::vector<std::string> lines;
  // Emulate the engine: the run returns 143 when the container is stopped.
  class StoppableRunner final : public ProcessRunner {
   public:
    StoppableRunner(FakeProcessRunner& inner, Cancellation& stopped) : inner_(inner), stopped_(stopped) {}
    absl::StatusOr<ProcessExit> Run(const ProcessSpec& spec, const LineCallback& on_line,
                                    Cancellation* cancel) override {
      absl::StatusOr<ProcessExit> exit = inner_.Run(spec, on_line, cancel);
      if (spec.argv[1] == "run") {
        stopped_.Wait();
        exit->exit_code = 143;
      }
      return exit;
    }
   private:
    FakeProcessRunner& inner_;
    Cancellation& stopped_;
  } stoppable(runner, container_stopped);
  CliContainerRuntime stoppable_runtime({EngineKind::kPodman}, stoppable);
  absl::StatusOr<ContainerExit> exit = stoppable_runtime.RunContainer(
      Request(), [&](std::string_view l) { lines.emplace_back(l); }, &cancel,
      std::chrono::seconds(7));
  canceller.join();
  ASSERT_TRUE(exit.ok());
  EXPECT_TRUE(exit->cancelled);
  EXPECT_EQ(exit->description, "cancelled: user asked");
  EXPECT_THAT(runner.Commands(),
              ElementsAre("podman rm --force --time 0 cwb-t-a",
                          "podman run --name cwb-t-a --init img:1 /bin/sh /cwb/ctl/build.sh",
                          "podman stop --time 7 cwb-t-a", "podman rm --force --time 0 cwb-t-a"));
  EXPECT_THAT(lines, ElementsAre("cwb: stopping container cwb-t-a (SIGTERM, SIGKILL after 7s): "
                                 "user asked"));
}

TEST(CliContainerRuntimeTest, FailedStopKillsTheClient) {
  FakeProcessRunner runner;
  runner.Script({{"podman", "stop"}, {"Error: engine not answering"}, 125});
  runner.Script({{"podman", "run"}, {}, 0, /*block_until_cancelled=*/true});
  CliContainerRuntime runtime({EngineKind::kPodman}, runner);
  Cancellation cancel;
  std::thread canceller([&] {
    EXPECT_TRUE(runner.WaitForCommand("podman run"));
    cancel.Cancel("stop it");
  });
  absl::StatusOr<ContainerExit> exit =
      runtime.RunContainer(Request(), [](std::string_view) {}, &cancel, std::chrono::seconds(1));
  canceller.join();
  ASSERT_TRUE(exit.ok());
  EXPECT_TRUE(exit->cancelled);
  EXPECT_EQ(runner.Commands().back(), "podman rm --force --time 0 cwb-t-a");
}

TEST(CliContainerRuntimeTest, ListedNamesAreStdoutOnly) {
  FakeProcessRunner runner;
  CliContainerRuntime runtime({EngineKind::kDocker, "/usr/bin/docker"}, runner);
  runner.Script({{"/usr/bin/docker", "ps"}, {"cwb-t-a1", "", "cwb-u-a2"}, 0});
  absl::StatusOr<std::vector<std::string>> names = runtime.ListContainers("cwb.agent", "a");
  ASSERT_TRUE(names.ok());
  EXPECT_THAT(*names, ElementsAre("cwb-t-a1", "cwb-u-a2"));
  ASSERT_EQ(runner.specs().size(), 1u);
  EXPECT_TRUE(runner.specs()[0].discard_stderr);  // a shim's note on stderr is no container
}

TEST(CliContainerRuntimeTest, ParseEngineKind) {
  EXPECT_EQ(ParseEngineKind("docker").value(), EngineKind::kDocker);
  EXPECT_EQ(ParseEngineKind("podman").value(), EngineKind::kPodman);
  EXPECT_FALSE(ParseEngineKind("lxc").ok());
}

}  // namespace
}  // namespace cwb
