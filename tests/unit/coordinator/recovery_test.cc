// A coordinator's memory rebuilt from stored state, and the debris of a crash cleared.
#include "coordinator/recovery.h"

#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/config/builtin_template.h"
#include "common/config/dockerfile_renderer.h"
#include "common/rpc/task_proto.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/fake_clock.h"
#include "tests/unit/coordinator/coordinator_parts.h"

namespace cwb {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using testing::MakeBuildHeader;
using testing::MakeTask;

class RecoveryTest : public ::testing::Test {
 protected:
  testing::FakeClock clock_;
  testing::SetQueue queue_;
  TaskTable tasks_{queue_, 3};
  AgentRegistry agents_{{}, clock_, tasks_};
  TargetHistory history_;
};

StoredTask Stored(const std::string& build, const std::string& id, v1::TaskState state, int template_index,
                  const std::string& attempt = "", const std::string& agent = "") {
  StoredTask task{MakeTask(build, id, state).info, template_index};
  task.info.set_attempt_id(attempt);
  task.info.set_agent_id(agent);
  return task;
}

TEST_F(RecoveryTest, TasksComeBackCountedQueuedAndBoundAndAgentsDisconnected) {
  StoredState state;
  state.builds = {MakeBuildHeader("b1"), MakeBuildHeader("b2")};
  state.tasks = {Stored("b1", "t1", v1::TASK_STATE_QUEUED, 0), Stored("b1", "t2", v1::TASK_STATE_RUNNING, 0, "x2", "a1"),
                 Stored("b2", "t1", v1::TASK_STATE_SUCCEEDED, 0, "x3", "a1")};
  v1::AgentInfo agent;
  agent.set_agent_id("a1");
  agent.set_connected(true);
  state.agents = {agent};
  state.targets = {{"demo|x=1", TargetRecord{42, {}}}};
  Recover(std::move(state), tasks_, agents_, history_);
  EXPECT_THAT(tasks_.build_order(), ElementsAre("b1", "b2"));
  EXPECT_EQ(queue_.queued.size(), 1u);
  EXPECT_EQ(tasks_.FindAttempt("x2"), tasks_.Find("b1", "t2"));
  EXPECT_EQ(tasks_.FindAttempt("x3"), nullptr);  // its task ended
  EXPECT_THAT(tasks_.AttemptsOf("a1"), ElementsAre("x2"));
  EXPECT_EQ(tasks_.Find("b1", "t2")->index, 1u);
  EXPECT_EQ(agents_.connected(), 0u);
  ASSERT_EQ(agents_.agents().size(), 1u);
  EXPECT_FALSE(agents_.agents().at("a1").info.connected());
}

TEST_F(RecoveryTest, AnAgentKnownOnlyFromAnAttemptIsExpectedBack) {
  StoredState state;
  state.builds = {MakeBuildHeader("b1")};
  state.tasks = {Stored("b1", "t1", v1::TASK_STATE_ASSIGNED, 0, "x1", "a9")};
  Recover(std::move(state), tasks_, agents_, history_);
  ASSERT_TRUE(agents_.agents().count("a9"));
  EXPECT_EQ(agents_.agents().at("a9").info.agent_id(), "a9");
}

TEST_F(RecoveryTest, ImagesComeBackByTheirHash) {
  StoredState state;
  state.builds = {MakeBuildHeader("b1")};
  StoredTask row = Stored("b1", "t1", v1::TASK_STATE_QUEUED, -1);
  row.info.mutable_spec()->mutable_image()->set_content_hash("h1");
  state.tasks = {row};
  state.images["h1"] = "FROM base";
  Recover(std::move(state), tasks_, agents_, history_);
  ASSERT_NE(tasks_.FindImage("h1"), nullptr);
  EXPECT_EQ(*tasks_.FindImage("h1"), "FROM base");
}

TEST_F(RecoveryTest, RowsFromBeforeRenderedDockerfilesAreRenderedFromTheirTemplate) {
  // A row of schema 1 (its template in its spec) and one of schema 2 (by index into its build's).
  v1::TaskSpec spec = MakeTask("b1", "t1").info.spec();
  spec.mutable_image()->set_base_image("base:1");
  spec.mutable_image()->set_template_origin("builtin");
  absl::StatusOr<RenderedImage> image =
      RenderDockerfile({std::string(BuiltinDockerfileTemplate()), "builtin", "base:1", AxesFromProto(spec), {}, {}});
  ASSERT_TRUE(image.ok());
  spec.mutable_image()->set_content_hash(image->content_hash);
  StoredState state;
  state.builds = {MakeBuildHeader("b1"), MakeBuildHeader("b2")};
  StoredTask first{MakeTask("b1", "t1").info, -1};
  *first.info.mutable_spec() = spec;
  first.info.mutable_spec()->mutable_image()->set_dockerfile_template(std::string(BuiltinDockerfileTemplate()));
  StoredTask second{MakeTask("b2", "t1").info, 0};
  *second.info.mutable_spec() = spec;
  state.templates["b2"] = {std::string(BuiltinDockerfileTemplate())};
  state.tasks = {first, second};
  Recover(std::move(state), tasks_, agents_, history_);
  ASSERT_NE(tasks_.FindImage(image->content_hash), nullptr);
  EXPECT_EQ(*tasks_.FindImage(image->content_hash), image->dockerfile);
  EXPECT_TRUE(tasks_.Find("b1", "t1")->info.spec().image().dockerfile_template().empty());
}

TEST_F(RecoveryTest, ATemplateThatNoLongerRendersToItsImageGivesNoImage) {
  StoredState state;
  state.builds = {MakeBuildHeader("b1")};
  StoredTask row = Stored("b1", "t1", v1::TASK_STATE_QUEUED, -1);
  row.info.mutable_spec()->mutable_image()->set_content_hash(std::string(64, 'a'));
  row.info.mutable_spec()->mutable_image()->set_dockerfile_template("FROM {{base_image}}");
  state.tasks = {row};
  Recover(std::move(state), tasks_, agents_, history_);
  EXPECT_EQ(tasks_.FindImage(std::string(64, 'a')), nullptr);
  EXPECT_EQ(tasks_.Find("b1", "t1")->info.state(), v1::TASK_STATE_QUEUED);
}

TEST_F(RecoveryTest, DebrisOfACrashIsRemovedAndCurrentUploadsKept) {
  const fs::path dir = fs::path(::testing::TempDir()) / absl::StrCat("recovery_", ::getpid());
  fs::remove_all(dir);
  for (const char* sub : {"uploads/x1", "uploads/x9", "builds/b1/wheelhouse"}) fs::create_directories(dir / sub);
  std::ofstream(dir / "uploads/x1/demo.whl") << "current";
  std::ofstream(dir / "uploads/x1/demo.whl.cwb-tmp-1") << "partial";
  std::ofstream(dir / "uploads/x9/old.whl") << "stale";
  std::ofstream(dir / "builds/b1/wheelhouse/demo.whl.cwb-tmp-2") << "partial";
  StoredState state;
  state.builds = {MakeBuildHeader("b1")};
  state.tasks = {Stored("b1", "t1", v1::TASK_STATE_RUNNING, 0, "x1", "a1")};
  Recover(std::move(state), tasks_, agents_, history_);
  RemoveDebris(dir, tasks_);
  EXPECT_TRUE(fs::exists(dir / "uploads/x1/demo.whl"));
  EXPECT_FALSE(fs::exists(dir / "uploads/x1/demo.whl.cwb-tmp-1"));
  EXPECT_FALSE(fs::exists(dir / "uploads/x9"));
  EXPECT_FALSE(fs::exists(dir / "builds/b1/wheelhouse/demo.whl.cwb-tmp-2"));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace cwb
