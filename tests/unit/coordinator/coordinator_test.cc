// The coordinator's task state machine, leases, reconciliation and restart, driven by a fake
// clock and fake agent channels (no gRPC), with real SQLite in a temporary directory.
#include "coordinator/coordinator.h"

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/digest.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/fake_clock.h"

namespace cwb {
namespace {

namespace fs = std::filesystem;
using testing::FakeClock;

// Records what the coordinator sends to one agent.
class RecordingChannel final : public AgentChannel {
 public:
  void Send(const v1::CoordinatorMessage& message) override { sent.push_back(message); }
  void Close() override { closed = true; }
  std::vector<v1::Assignment> Assignments() const {
    std::vector<v1::Assignment> out;
    for (const auto& m : sent) if (m.has_assignment()) out.push_back(m.assignment());
    return out;
  }
  std::vector<std::string> Cancels() const {
    std::vector<std::string> out;
    for (const auto& m : sent) if (m.has_cancel()) out.push_back(m.cancel().attempt_id());
    return out;
  }
  std::vector<v1::CoordinatorMessage> sent;
  bool closed = false;
};

constexpr char kConfig[] = R"(build_matrix:
  python_version: [3.11]
  cuda_version: [cpu]
  pytorch_version: [2.4.0, 2.5.0]
projects:
  - name: demo
    repo_url: https://example.com/demo.git
pytorch_base_images:
  "2.4.0": {cpu: base:1}
  "2.5.0": {cpu: base:1}
)";

class CoordinatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.data_dir = fs::path(::testing::TempDir()) /
                        absl::StrCat("coordinator_", ::getpid(), "_",
                                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(options_.data_dir);
    options_.lease = std::chrono::seconds(10);
    options_.retry_limit = 2;
    Restart();
  }

  void Restart() {
    coordinator_.reset();
    auto created = Coordinator::Create(options_, clock_);
    ASSERT_TRUE(created.ok()) << created.status();
    coordinator_ = *std::move(created);
  }

  std::string Submit() {
    v1::SubmitBuildRequest request;
    request.set_config_yaml(kConfig);
    request.set_config_name("c.yaml");
    absl::StatusOr<v1::BuildInfo> build = coordinator_->Submit(request);
    EXPECT_TRUE(build.ok()) << build.status();
    return build->build_id();
  }

  std::shared_ptr<RecordingChannel> Connect(const std::string& id, int slots = 1,
                                            std::vector<v1::RunningAttempt> running = {},
                                            v1::RegisterAck* ack = nullptr) {
    auto channel = std::make_shared<RecordingChannel>();
    v1::Register reg;
    reg.set_agent_id(id);
    reg.mutable_capabilities()->set_slots(slots);
    for (const auto& r : running) *reg.add_running() = r;
    absl::StatusOr<v1::RegisterAck> result = coordinator_->Register(reg, channel);
    EXPECT_TRUE(result.ok()) << result.status();
    if (ack != nullptr) *ack = *result;
    return channel;
  }

  v1::TaskInfo Task(const std::string& build, int index) {
    return coordinator_->GetBuild(build)->tasks(index);
  }

  void Report(const std::string& agent, const v1::Assignment& a, v1::TaskState state,
              std::vector<std::string> files = {}) {
    v1::TaskStatusUpdate update;
    update.set_build_id(a.build_id());
    update.set_task_id(a.spec().id());
    update.set_attempt_id(a.attempt_id());
    update.set_state(state);
    update.set_message(state == v1::TASK_STATE_FAILED ? "exit 2" : "ok");
    for (const std::string& f : files) update.add_artifact_filenames(f);
    coordinator_->OnStatus(agent, update);
  }

  // Uploads a wheel for an attempt the way the service does.
  absl::Status Upload(const v1::Assignment& a, const std::string& filename, const std::string& bytes) {
    v1::UploadHeader header;
    header.set_build_id(a.build_id());
    header.set_task_id(a.spec().id());
    header.set_attempt_id(a.attempt_id());
    header.set_filename(filename);
    header.set_size_bytes(bytes.size());
    if (absl::Status s = coordinator_->CheckUpload(header); !s.ok()) return s;
    auto upload = coordinator_->artifacts().BeginUpload(a.attempt_id(), filename, bytes.size());
    if (!upload.ok()) return upload.status();
    if (absl::Status s = (*upload)->Write(bytes); !s.ok()) return s;
    auto path = (*upload)->Commit(Sha256Hex(bytes));
    if (!path.ok()) return path.status();
    v1::ArtifactInfo info;
    info.set_filename(filename);
    info.set_size_bytes(bytes.size());
    info.set_sha256(Sha256Hex(bytes));
    info.set_wheelhouse_path("wheelhouse/py311/cudacpu/linux_x86_64/" + filename);
    return coordinator_->RecordUpload(header, info, *path);
  }

  CoordinatorOptions options_;
  FakeClock clock_;
  std::unique_ptr<Coordinator> coordinator_;
};

TEST_F(CoordinatorTest, QueuedTasksSayWhyUntilAnAgentComes) {
  const std::string build = Submit();
  coordinator_->Tick();
  EXPECT_EQ(Task(build, 0).state(), v1::TASK_STATE_QUEUED);
  EXPECT_EQ(Task(build, 0).waiting_reason(), "waiting: no agent is connected");
  auto agent = Connect("a1", 1);
  coordinator_->Tick();
  ASSERT_EQ(agent->Assignments().size(), 1u);  // one slot
  EXPECT_EQ(Task(build, 0).state(), v1::TASK_STATE_ASSIGNED);
  EXPECT_EQ(Task(build, 0).agent_id(), "a1");
  EXPECT_EQ(Task(build, 1).waiting_reason(), "waiting: every agent that can run it is busy");
  ASSERT_TRUE(agent->sent.front().has_ack());  // the ack goes out first
}

TEST_F(CoordinatorTest, HappyPathPublishesTheWheelExactlyOnce) {
  const std::string build = Submit();
  auto agent = Connect("a1", 2);
  coordinator_->Tick();
  ASSERT_EQ(agent->Assignments().size(), 2u);
  const v1::Assignment a = agent->Assignments()[0];
  Report("a1", a, v1::TASK_STATE_RUNNING);
  EXPECT_EQ(Task(build, 0).state(), v1::TASK_STATE_RUNNING);
  ASSERT_TRUE(Upload(a, "demo-1.0-cp311-cp311-linux_x86_64.whl", "wheel").ok());
  Report("a1", a, v1::TASK_STATE_SUCCEEDED, {"demo-1.0-cp311-cp311-linux_x86_64.whl"});
  v1::TaskInfo task = Task(build, 0);
  ASSERT_EQ(task.state(), v1::TASK_STATE_SUCCEEDED);
  ASSERT_EQ(task.artifacts_size(), 1);
  auto found = coordinator_->FindArtifact(build, task.spec().id(), "demo-1.0-cp311-cp311-linux_x86_64.whl");
  ASSERT_TRUE(found.ok());
  EXPECT_TRUE(fs::exists(found->second));
  // A second SUCCEEDED (a duplicate, or a late copy) changes nothing and is refused.
  Report("a1", a, v1::TASK_STATE_FAILED);
  EXPECT_EQ(Task(build, 0).state(), v1::TASK_STATE_SUCCEEDED);
  EXPECT_TRUE(absl::IsFailedPrecondition(Upload(a, "demo-1.0-cp311-cp311-linux_x86_64.whl", "x")));
}

TEST_F(CoordinatorTest, SameNamedWheelsOfTwoVariantsNeverOverwriteEachOther) {
  const std::string build = Submit();  // torch 2.4.0 and 2.5.0: the same wheel name, by mistake
  auto agent = Connect("a1", 2);
  coordinator_->Tick();
  const auto a = agent->Assignments();
  ASSERT_EQ(a.size(), 2u);
  const std::string name = "demo-1.0-cp311-cp311-linux_x86_64.whl";
  ASSERT_TRUE(Upload(a[0], name, "built against torch 2.4").ok());
  Report("a1", a[0], v1::TASK_STATE_SUCCEEDED, {name});
  ASSERT_TRUE(Upload(a[1], name, "built against torch 2.5").ok());
  Report("a1", a[1], v1::TASK_STATE_SUCCEEDED, {name});
  EXPECT_EQ(Task(build, 0).state(), v1::TASK_STATE_SUCCEEDED);
  EXPECT_EQ(Task(build, 1).state(), v1::TASK_STATE_FAILED);
  EXPECT_THAT(Task(build, 1).message(), ::testing::HasSubstr("two variants built wheels with the same name"));
  auto found = coordinator_->FindArtifact(build, Task(build, 0).spec().id(), name);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(Sha256File(found->second).value(), Sha256Hex("built against torch 2.4"));
}

TEST_F(CoordinatorTest, SuccessWithoutTheUploadFails) {
  const std::string build = Submit();
  auto agent = Connect("a1", 1);
  coordinator_->Tick();
  const v1::Assignment a = agent->Assignments()[0];
  Report("a1", a, v1::TASK_STATE_SUCCEEDED, {"demo-1.0-cp311-cp311-linux_x86_64.whl"});
  EXPECT_EQ(Task(build, 0).state(), v1::TASK_STATE_FAILED);
  EXPECT_THAT(Task(build, 0).message(), ::testing::HasSubstr("never uploaded it"));
}

TEST_F(CoordinatorTest, SilentAgentLosesItsTaskWhichRunsElsewhere) {
  const std::string build = Submit();
  auto first = Connect("a1", 1);
  coordinator_->Tick();
  const v1::Assignment lost = first->Assignments()[0];
  clock_.Advance(std::chrono::seconds(9));
  coordinator_->Heartbeat("a1", first.get());
  clock_.Advance(std::chrono::seconds(9));
  coordinator_->Tick();
  EXPECT_EQ(Task(build, 0).state(), v1::TASK_STATE_ASSIGNED);  // the heartbeat renewed the lease
  clock_.Advance(std::chrono::seconds(2));
  auto second = Connect("a2", 2);
  coordinator_->Tick();
  EXPECT_TRUE(first->closed);
  v1::TaskInfo task = Task(build, 0);
  EXPECT_EQ(task.agent_id(), "a2");
  EXPECT_EQ(task.attempts(), 2u);
  EXPECT_NE(task.attempt_id(), lost.attempt_id());
  // The first agent's late result is refused.
  Report("a1", lost, v1::TASK_STATE_FAILED);
  EXPECT_EQ(Task(build, 0).state(), v1::TASK_STATE_ASSIGNED);
}

TEST_F(CoordinatorTest, RetryLimitEndsInFailureWithTheReason) {
  const std::string build = Submit();
  for (int i = 0; i < 2; ++i) {
    auto agent = Connect("a" + std::to_string(i), 2);
    coordinator_->Tick();
    clock_.Advance(std::chrono::seconds(11));
    coordinator_->Tick();
  }
  v1::TaskInfo task = Task(build, 0);
  EXPECT_EQ(task.state(), v1::TASK_STATE_FAILED);
  EXPECT_EQ(task.attempts(), 2u);
  EXPECT_THAT(task.message(), ::testing::MatchesRegex(".*silent for more than 10000 ms; gave up after 2 attempts"));
}

TEST_F(CoordinatorTest, CancelTellsTheAgentAndEndsTheTaskOnce) {
  const std::string build = Submit();
  auto agent = Connect("a1", 2);
  coordinator_->Tick();
  const v1::Assignment a = agent->Assignments()[0];
  EXPECT_EQ(coordinator_->Cancel(build, "").value(), 2u);
  EXPECT_THAT(agent->Cancels(), ::testing::Contains(a.attempt_id()));
  EXPECT_EQ(Task(build, 0).state(), v1::TASK_STATE_CANCELLED);
  Report("a1", a, v1::TASK_STATE_CANCELLED);  // the agent confirms: nothing changes
  EXPECT_EQ(coordinator_->GetBuild(build)->cancelled(), 2u);
  EXPECT_EQ(coordinator_->Retry(build, {}).value(), 2u);
  EXPECT_EQ(Task(build, 0).state(), v1::TASK_STATE_QUEUED);
  EXPECT_TRUE(absl::IsNotFound(coordinator_->Cancel("nope", "").status()));
  EXPECT_TRUE(absl::IsNotFound(coordinator_->Retry(build, {"nope"}).status()));
}

TEST_F(CoordinatorTest, RestartResumesAndReconcilesRunningAttempts) {
  const std::string build = Submit();
  auto agent = Connect("a1", 2);
  coordinator_->Tick();
  const auto assignments = agent->Assignments();
  ASSERT_EQ(assignments.size(), 2u);
  Report("a1", assignments[0], v1::TASK_STATE_RUNNING);

  Restart();  // the coordinator dies and comes back from SQLite
  EXPECT_EQ(Task(build, 0).state(), v1::TASK_STATE_RUNNING);
  coordinator_->Tick();
  EXPECT_EQ(Task(build, 0).state(), v1::TASK_STATE_RUNNING);  // within the grace: not lost

  // The agent comes back still running the first attempt only.
  v1::RunningAttempt running;
  running.set_build_id(build);
  running.set_task_id(assignments[0].spec().id());
  running.set_attempt_id(assignments[0].attempt_id());
  v1::RegisterAck ack;
  auto again = Connect("a1", 2, {running}, &ack);
  EXPECT_TRUE(ack.abandon_attempts().empty());
  coordinator_->Tick();
  v1::TaskInfo first = Task(build, 0), second = Task(build, 1);
  EXPECT_EQ(first.attempt_id(), assignments[0].attempt_id());  // reconciled, not run again
  EXPECT_EQ(first.attempts(), 1u);
  EXPECT_EQ(second.attempts(), 2u);  // the agent had lost it: it was queued and assigned again
  ASSERT_EQ(again->Assignments().size(), 1u);
  EXPECT_EQ(again->Assignments()[0].spec().id(), second.spec().id());
}

TEST_F(CoordinatorTest, RestartRemovesDebrisButKeepsCurrentUploads) {
  const std::string build = Submit();
  auto agent = Connect("a1", 2);
  coordinator_->Tick();
  const v1::Assignment current = agent->Assignments()[0];
  ASSERT_TRUE(Upload(current, "demo-1.0-cp311-cp311-linux_x86_64.whl", "wheel").ok());
  const fs::path uploads = options_.data_dir / "uploads";
  std::ofstream(uploads / current.attempt_id() / ".demo-1.0-py3-none-any.whl.cwb-tmp-1-0") << "partial";
  fs::create_directories(uploads / "a-gone");
  std::ofstream(uploads / "a-gone" / "old-1.0-py3-none-any.whl") << "stale";
  Restart();
  EXPECT_TRUE(fs::exists(uploads / current.attempt_id() / "demo-1.0-cp311-cp311-linux_x86_64.whl"));
  EXPECT_FALSE(fs::exists(uploads / current.attempt_id() / ".demo-1.0-py3-none-any.whl.cwb-tmp-1-0"));
  EXPECT_FALSE(fs::exists(uploads / "a-gone"));
}

TEST_F(CoordinatorTest, AgentThatNeverReturnsAfterARestartLosesItsTasks) {
  const std::string build = Submit();
  auto agent = Connect("a1", 2);
  coordinator_->Tick();
  Restart();
  clock_.Advance(std::chrono::seconds(11));
  coordinator_->Tick();
  EXPECT_EQ(Task(build, 0).state(), v1::TASK_STATE_QUEUED);
  EXPECT_THAT(Task(build, 0).message(), ::testing::HasSubstr("agent a1 was silent"));
  EXPECT_EQ(Task(build, 0).waiting_reason(), "waiting: no agent is connected");
}

TEST_F(CoordinatorTest, StaleAttemptReportedOnRegisterIsAbandoned) {
  const std::string build = Submit();
  v1::RunningAttempt ghost;
  ghost.set_build_id(build);
  ghost.set_task_id("whatever");
  ghost.set_attempt_id("a000000000000");
  v1::RegisterAck ack;
  Connect("a1", 1, {ghost}, &ack);
  EXPECT_THAT(ack.abandon_attempts(), ::testing::ElementsAre("a000000000000"));
}

TEST_F(CoordinatorTest, WatchersSeeEveryChangeAndTheEnd) {
  const std::string build = Submit();
  v1::BuildInfo snapshot;
  auto watcher = coordinator_->Watch(build, &snapshot);
  ASSERT_TRUE(watcher.ok());
  EXPECT_EQ(snapshot.tasks_size(), 2);
  ASSERT_TRUE(coordinator_->Cancel(build, "").ok());
  v1::BuildEvent event;
  ASSERT_TRUE((*watcher)->Next(&event, std::chrono::milliseconds(0)));
  EXPECT_FALSE(event.build_finished());
  ASSERT_TRUE((*watcher)->Next(&event, std::chrono::milliseconds(0)));
  EXPECT_TRUE(event.build_finished());
  EXPECT_EQ(event.task().state(), v1::TASK_STATE_CANCELLED);
}

TEST_F(CoordinatorTest, BadConfigOverRpcListsEveryError) {
  v1::SubmitBuildRequest request;
  request.set_config_yaml("build_matrix: {python_version: [three]}\nprojects: []\n");
  request.set_config_name("rpc.yaml");
  absl::StatusOr<v1::BuildInfo> build = coordinator_->Submit(request);
  ASSERT_TRUE(absl::IsInvalidArgument(build.status()));
  EXPECT_THAT(std::string(build.status().message()), ::testing::HasSubstr("rpc.yaml:1:33: build_matrix.python_version[0]"));
  EXPECT_THAT(std::string(build.status().message()), ::testing::HasSubstr("rpc.yaml:2:11: projects"));
}

}  // namespace
}  // namespace cwb
