// A CUDA cell with a smoke test in two steps: built on any agent (no GPU), its wheels held back
// unpublished, then smoke-tested on an agent with a GPU, and only then published; with no GPU
// anywhere it waits, saying so, or with allow_untested is published marked untested.
#include <filesystem>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/coordinator/coordinator_fixture.h"

namespace cwb {
namespace {

namespace fs = std::filesystem;
using namespace cwb::testing;

constexpr char kCudaCell[] = R"(build_matrix:
  python_version: [3.11]
  cuda_version: ["12.4"]
  pytorch_version: [2.4.0]
projects:
  - name: demo
    repo_url: https://example.com/demo.git
    test_command: python -c 'import demo'
pytorch_base_images:
  "2.4.0": {"12.4": base:cu}
)";
constexpr char kWheel[] = "demo-1.0-cp311-cp311-linux_x86_64.whl";

class CoordinatorStepsTest : public CoordinatorTest {
 protected:
  std::shared_ptr<RecordingChannel> ConnectGpu(const std::string& id) {
    v1::Register reg;
    reg.set_agent_id(id);
    reg.mutable_capabilities()->set_slots(1);
    reg.mutable_capabilities()->add_gpus()->set_index(0);
    reg.mutable_capabilities()->set_driver_cuda_version("12.8");
    auto channel = std::make_shared<RecordingChannel>();
    absl::StatusOr<v1::RegisterAck> ack = coordinator_->Register(reg, channel);
    EXPECT_TRUE(ack.ok()) << ack.status();
    if (ack.ok()) sessions_[id] = ack->session();
    return channel;
  }
  // The build step of the only task, run on a GPU-less agent to BUILT.
  v1::Assignment BuildOnCpuAgent(const std::string& build) {
    auto cpu = Connect("cpu", 2);
    coordinator_->Tick();
    EXPECT_EQ(cpu->Assignments().size(), 1u);
    const v1::Assignment a = cpu->Assignments().at(0);
    EXPECT_EQ(a.step(), v1::TASK_STEP_BUILD);
    Report("cpu", a, v1::TASK_STATE_RUNNING);
    EXPECT_TRUE(Upload(a, kWheel, "cuda wheel").ok());
    Report("cpu", a, v1::TASK_STATE_BUILT, {kWheel});
    return a;
  }
  v1::DownloadHeldWheelRequest HeldRequest(const v1::Assignment& a, const std::string& session) {
    v1::DownloadHeldWheelRequest request;
    request.set_build_id(a.build_id());
    request.set_task_id(a.spec().id());
    request.set_attempt_id(a.attempt_id());
    request.set_filename(kWheel);
    request.set_session(session);
    return request;
  }
};

TEST_F(CoordinatorStepsTest, BuiltWithoutAGpuHeldBackThenTestedOnOneAndPublished) {
  const std::string build = Submit(kCudaCell);
  const v1::Assignment built = BuildOnCpuAgent(build);
  v1::TaskInfo task = Task(build, 0);
  EXPECT_EQ(task.state(), v1::TASK_STATE_BUILT);
  EXPECT_EQ(task.message(), "built 1 wheel(s), held back until its smoke test passes on a GPU");
  EXPECT_EQ(task.waiting_reason(), "waiting: no connected agent can run it (needs a GPU)");
  ASSERT_EQ(task.held_artifacts_size(), 1);
  EXPECT_EQ(task.artifacts_size(), 0);
  EXPECT_TRUE(coordinator_->ListWheels()->empty());  // nothing in the index yet
  EXPECT_TRUE(fs::exists(coordinator_->artifacts().HeldPath(built.attempt_id(), kWheel)));
  v1::BuildInfo view = coordinator_->GetBuild(build, v1::TASK_VIEW_NONE).value();
  EXPECT_EQ(view.awaiting_test(), 1u);
  EXPECT_FALSE(view.finished());

  // A GPU agent takes the smoke test, with the held wheel to download.
  auto gpu = ConnectGpu("gpu");
  coordinator_->Tick();
  ASSERT_EQ(gpu->Assignments().size(), 1u);
  const v1::Assignment test = gpu->Assignments()[0];
  EXPECT_EQ(test.step(), v1::TASK_STEP_TEST);
  ASSERT_EQ(test.held_wheels_size(), 1);
  EXPECT_EQ(test.held_wheels(0).filename(), kWheel);
  auto held = coordinator_->FindHeldWheel(HeldRequest(test, sessions_["gpu"]));
  ASSERT_TRUE(held.ok()) << held.status();
  EXPECT_EQ(held->first.sha256(), Sha256Hex("cuda wheel"));
  // Only the session holding the test attempt gets it, and only for a current test attempt.
  EXPECT_TRUE(absl::IsPermissionDenied(coordinator_->FindHeldWheel(HeldRequest(test, sessions_["cpu"])).status()));
  EXPECT_TRUE(absl::IsFailedPrecondition(coordinator_->FindHeldWheel(HeldRequest(built, sessions_["cpu"])).status()));
  v1::DownloadHeldWheelRequest other = HeldRequest(test, sessions_["gpu"]);
  other.set_filename("other-1.0-py3-none-any.whl");
  EXPECT_TRUE(absl::IsNotFound(coordinator_->FindHeldWheel(other).status()));

  Report("gpu", test, v1::TASK_STATE_RUNNING);
  EXPECT_EQ(Task(build, 0).step(), v1::TASK_STEP_TEST);
  Report("gpu", test, v1::TASK_STATE_SUCCEEDED);
  task = Task(build, 0);
  ASSERT_EQ(task.state(), v1::TASK_STATE_SUCCEEDED);
  ASSERT_EQ(task.artifacts_size(), 1);
  EXPECT_EQ(task.held_artifacts_size(), 0);
  EXPECT_FALSE(task.untested());
  EXPECT_EQ(coordinator_->ListWheels()->size(), 1u);
  EXPECT_TRUE(fs::exists(coordinator_->FindArtifact(build, task.spec().id(), kWheel)->second));
  EXPECT_FALSE(fs::exists(coordinator_->artifacts().HeldPath(built.attempt_id(), kWheel).parent_path()));
  EXPECT_TRUE(coordinator_->GetBuild(build, v1::TASK_VIEW_NONE)->finished());
}

TEST_F(CoordinatorStepsTest, AFailedSmokeTestPublishesNothingAndALostOneWaitsAgain) {
  const std::string build = Submit(kCudaCell);
  const v1::Assignment built = BuildOnCpuAgent(build);
  auto gpu = ConnectGpu("gpu");
  coordinator_->Tick();
  ASSERT_EQ(gpu->Assignments().size(), 1u);
  // The GPU agent goes silent: the test, not the build, waits again.
  Report("gpu", gpu->Assignments()[0], v1::TASK_STATE_RUNNING);
  clock_.Advance(std::chrono::seconds(11));
  coordinator_->Heartbeat("cpu", nullptr);
  coordinator_->Tick();
  v1::TaskInfo task = Task(build, 0);
  EXPECT_EQ(task.state(), v1::TASK_STATE_BUILT);
  EXPECT_THAT(task.message(), ::testing::HasSubstr("its smoke test waits again"));
  EXPECT_EQ(task.held_artifacts_size(), 1);

  auto gpu2 = ConnectGpu("gpu2");
  coordinator_->Tick();
  ASSERT_EQ(gpu2->Assignments().size(), 1u);
  const v1::Assignment test = gpu2->Assignments()[0];
  EXPECT_EQ(test.step(), v1::TASK_STEP_TEST);
  Report("gpu2", test, v1::TASK_STATE_RUNNING);
  Report("gpu2", test, v1::TASK_STATE_FAILED);
  task = Task(build, 0);
  EXPECT_EQ(task.state(), v1::TASK_STATE_FAILED);
  EXPECT_EQ(task.artifacts_size(), 0);
  EXPECT_EQ(task.held_artifacts_size(), 0);
  EXPECT_TRUE(coordinator_->ListWheels()->empty());
  EXPECT_FALSE(fs::exists(coordinator_->artifacts().HeldPath(built.attempt_id(), kWheel)));
}

TEST_F(CoordinatorStepsTest, AllowUntestedPublishesMarkedUntestedWhenNoAgentHasAGpu) {
  std::string config = kCudaCell;
  config.insert(0, "allow_untested: true\n");
  const std::string build = Submit(config);
  BuildOnCpuAgent(build);
  v1::TaskInfo task = Task(build, 0);
  ASSERT_EQ(task.state(), v1::TASK_STATE_SUCCEEDED);
  EXPECT_TRUE(task.untested());
  EXPECT_THAT(task.message(), ::testing::StartsWith("published untested (allow_untested): its smoke test needs a GPU, "
                                                    "and waiting: no connected agent can run it (needs a GPU)"));
  EXPECT_EQ(task.artifacts_size(), 1);
  EXPECT_EQ(coordinator_->ListWheels()->size(), 1u);
  v1::BuildInfo view = coordinator_->GetBuild(build, v1::TASK_VIEW_NONE).value();
  EXPECT_EQ(view.untested(), 1u);
  EXPECT_TRUE(view.finished());
  EXPECT_TRUE(view.allow_untested());
  // Without allow_untested the same build waits for a GPU.
  const std::string strict = Submit(kCudaCell);
  auto cpu = Connect("cpu", 2);
  coordinator_->Tick();
  const v1::Assignment a = cpu->Assignments().back();
  Report("cpu", a, v1::TASK_STATE_RUNNING);
  ASSERT_TRUE(Upload(a, "demo-1.0-cp311-cp311-linux_x86_64.whl", "cuda wheel").ok());
  Report("cpu", a, v1::TASK_STATE_BUILT, {kWheel});
  EXPECT_EQ(Task(strict, 0).state(), v1::TASK_STATE_BUILT);
}

TEST_F(CoordinatorStepsTest, ABuiltTaskAndItsHeldWheelSurviveARestart) {
  const std::string build = Submit(kCudaCell);
  const v1::Assignment built = BuildOnCpuAgent(build);
  Restart();
  EXPECT_EQ(Task(build, 0).state(), v1::TASK_STATE_BUILT);
  EXPECT_TRUE(fs::exists(coordinator_->artifacts().HeldPath(built.attempt_id(), kWheel)));
  auto gpu = ConnectGpu("gpu");
  coordinator_->Tick();
  ASSERT_EQ(gpu->Assignments().size(), 1u);
  EXPECT_EQ(gpu->Assignments()[0].step(), v1::TASK_STEP_TEST);
  // Cancelled while waiting: its held wheel goes.
  ASSERT_TRUE(coordinator_->Cancel(build, "", kSubmitter).ok());
  EXPECT_EQ(Task(build, 0).state(), v1::TASK_STATE_CANCELLED);
  EXPECT_FALSE(fs::exists(coordinator_->artifacts().HeldPath(built.attempt_id(), kWheel)));
}

}  // namespace
}  // namespace cwb
