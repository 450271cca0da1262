// Publishing: a succeeded attempt's wheels go into its build's wheelhouse once, only from the
// session holding the attempt, and a published name never changes content (a later build of the
// same version gets a build tag).
#include <filesystem>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/coordinator/coordinator_fixture.h"

namespace cwb {
namespace {

namespace fs = std::filesystem;
using namespace cwb::testing;

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

TEST_F(CoordinatorTest, OnlyTheSessionHoldingAnAttemptUploadsAndANameNeverChanges) {
  Submit();
  auto agent = Connect("a1", 1);
  coordinator_->Tick();
  const v1::Assignment a = agent->Assignments()[0];
  const std::string wheel = "demo-1.0-cp311-cp311-linux_x86_64.whl";
  v1::UploadHeader header;
  header.set_build_id(a.build_id());
  header.set_task_id(a.spec().id());
  header.set_attempt_id(a.attempt_id());
  header.set_filename(wheel);
  for (const std::string& session : {std::string(""), std::string("not-the-secret")}) {
    header.set_session(session);
    absl::Status refused = coordinator_->CheckUpload(header);
    EXPECT_TRUE(absl::IsPermissionDenied(refused)) << refused;
    EXPECT_THAT(std::string(refused.message()), ::testing::HasSubstr("does not come from the session of agent a1"));
  }
  // After the agent registers again, its old session's secret no longer uploads.
  const std::string old_session = sessions_["a1"];
  v1::RunningAttempt running;
  running.set_attempt_id(a.attempt_id());
  agent = Connect("a1", 1, {running});
  header.set_session(old_session);
  EXPECT_TRUE(absl::IsPermissionDenied(coordinator_->CheckUpload(header)));
  header.set_session(sessions_["a1"]);
  EXPECT_TRUE(coordinator_->CheckUpload(header).ok());

  ASSERT_TRUE(Upload(a, wheel, "first bytes").ok());
  EXPECT_TRUE(Upload(a, wheel, "first bytes").ok());  // the same again (a retry) is fine
  absl::Status changed = Upload(a, wheel, "other bytes");
  EXPECT_TRUE(absl::IsInvalidArgument(changed)) << changed;
  EXPECT_THAT(std::string(changed.message()), ::testing::HasSubstr("a wheel cannot change within an attempt"));
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

TEST_F(CoordinatorTest, ARebuildOfTheSameVersionGetsABuildTagAndTheOldNameKeepsItsBytes) {
  const std::string config = R"(build_target: {python_version: 3.11, cuda_version: cpu, pytorch_version: 2.4.0}
projects:
  - name: demo
    repo_url: https://example.com/demo.git
pytorch_base_images: {"2.4.0": {cpu: base:1}}
)";
  const std::string name = "demo-1.0-cp311-cp311-linux_x86_64.whl";
  auto agent = Connect("a1", 1);
  // Each build runs its one task to success with `bytes` as the wheel.
  auto build_with = [&](const std::string& bytes) {
    const std::string build = Submit(config, /*no_cache=*/true);
    coordinator_->Tick();
    const v1::Assignment a = agent->Assignments().back();
    EXPECT_EQ(a.build_id(), build);
    EXPECT_TRUE(Upload(a, name, bytes).ok());
    Report("a1", a, v1::TASK_STATE_SUCCEEDED, {name});
    return Task(build, 0);
  };
  const v1::TaskInfo first = build_with("first bytes");
  ASSERT_EQ(first.state(), v1::TASK_STATE_SUCCEEDED);
  EXPECT_EQ(first.artifacts(0).filename(), name);
  const v1::TaskInfo again = build_with("first bytes");  // the same bytes: the same name
  EXPECT_EQ(again.artifacts(0).filename(), name);
  const v1::TaskInfo rebuilt = build_with("other bytes");
  ASSERT_EQ(rebuilt.state(), v1::TASK_STATE_SUCCEEDED) << rebuilt.message();
  EXPECT_EQ(rebuilt.artifacts(0).filename(), "demo-1.0-1-cp311-cp311-linux_x86_64.whl");
  EXPECT_EQ(rebuilt.artifacts(0).wheelhouse_path(), "wheelhouse/py311/cudacpu/linux_x86_64/demo-1.0-1-cp311-cp311-linux_x86_64.whl");
  auto found = coordinator_->FindArtifact(rebuilt.build_id(), rebuilt.spec().id(), rebuilt.artifacts(0).filename());
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(Sha256File(found->second).value(), Sha256Hex("other bytes"));

  // After a restart the names are known still: a third content gets build tag 2.
  Restart();
  agent = Connect("a1", 1);
  const v1::TaskInfo third = build_with("third bytes");
  EXPECT_EQ(third.artifacts(0).filename(), "demo-1.0-2-cp311-cp311-linux_x86_64.whl");
  // Every published name still holds what it held: the index never changes a file under a pin.
  std::map<std::string, std::string> digests;
  absl::StatusOr<std::vector<StoredWheel>> wheels = coordinator_->ListWheels();
  ASSERT_TRUE(wheels.ok()) << wheels.status();
  for (const StoredWheel& wheel : *wheels) {
    auto [it, inserted] = digests.emplace(wheel.artifact.filename(), wheel.artifact.sha256());
    EXPECT_EQ(it->second, wheel.artifact.sha256()) << wheel.artifact.filename();
  }
  EXPECT_EQ(digests.size(), 3u);
}

}  // namespace
}  // namespace cwb
