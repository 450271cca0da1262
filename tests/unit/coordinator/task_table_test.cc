// The task table: counts and the queue kept in step with states, attempts bound and ended, tasks
// queued again or failed at the retry limit, cancellation, fail_fast, retries and views.
#include "coordinator/task_table.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/coordinator/coordinator_parts.h"

namespace cwb {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using testing::MakeBuildHeader;
using testing::MakeTask;

class TaskTableTest : public ::testing::Test {
 protected:
  // Build b1 with tasks t1, t2 and t3, all queued.
  BuildRecord& AddThree(bool fail_fast = false, uint32_t max_parallel = 0) {
    std::vector<TaskRecord> tasks;
    for (const char* id : {"t1", "t2", "t3"}) tasks.push_back(MakeTask("b1", id));
    for (TaskRecord& task : tasks) task.info.mutable_spec()->mutable_image()->set_content_hash("h1");
    table_.AddImage("h1", "FROM base");
    return table_.AddBuild(MakeBuildHeader("b1", fail_fast, max_parallel), std::move(tasks));
  }
  TaskRecord& Task(const std::string& id) { return *table_.Find("b1", id); }
  // Starts attempt `attempt` of `id` on `agent`.
  void Start(const std::string& id, const std::string& attempt, const std::string& agent = "agent-1") {
    table_.StartAttempt(Task(id), attempt, agent, {}, 0, 1000, changes_);
  }
  v1::BuildInfo View(v1::TaskView view = v1::TASK_VIEW_FULL) {
    v1::BuildInfo out;
    table_.FillBuildView(*table_.FindBuild("b1"), view, &out);
    return out;
  }

  testing::SetQueue queue_;
  TaskTable table_{queue_, /*retry_limit=*/2};
  ChangeSet changes_;
  testing::TestReceivers receivers_;
};

TEST_F(TaskTableTest, AddedTasksAreCountedAndQueuedInMatrixOrder) {
  BuildRecord& build = AddThree();
  EXPECT_EQ(build.counts[v1::TASK_STATE_QUEUED], 3u);
  EXPECT_EQ(queue_.queued.size(), 3u);
  EXPECT_EQ(Task("t3").index, 2u);
  EXPECT_THAT(table_.build_order(), ElementsAre("b1"));
  EXPECT_EQ(table_.Totals()[v1::TASK_STATE_QUEUED], 3u);
  EXPECT_FALSE(build.finished());
}

TEST_F(TaskTableTest, AStartedAttemptIsBoundAndSentWithItsDockerfile) {
  AddThree();
  Start("t1", "x1");
  EXPECT_EQ(Task("t1").info.state(), v1::TASK_STATE_ASSIGNED);
  EXPECT_EQ(Task("t1").info.attempts(), 1u);
  EXPECT_FALSE(queue_.queued.count({"b1", "t1"}));
  EXPECT_EQ(table_.FindAttempt("x1"), &Task("t1"));
  EXPECT_THAT(table_.AttemptsOf("agent-1"), ElementsAre("x1"));
  auto agent = std::make_shared<testing::RecordingChannel>();
  receivers_.channels["agent-1"] = agent;
  CommitWriter::Commit commit = changes_.Take(receivers_.Get());
  EXPECT_THAT(receivers_.looked_up, ElementsAre("agent-1"));
  testing::Deliver(commit);
  ASSERT_EQ(agent->Assignments().size(), 1u);
  EXPECT_EQ(agent->Assignments()[0].spec().image().dockerfile(), "FROM base");
  EXPECT_EQ(agent->Assignments()[0].attempt_id(), "x1");
  ASSERT_EQ(commit.batch.attempts_started.size(), 1u);
  EXPECT_EQ(commit.batch.attempts_started[0].agent_id, "agent-1");
  EXPECT_EQ(commit.batch.tasks.size(), 1u);
  // The record itself keeps no Dockerfile: the table holds it once.
  EXPECT_TRUE(Task("t1").info.spec().image().dockerfile().empty());
}

TEST_F(TaskTableTest, AnEndedAttemptIsUnboundRecordedAndItsUploadsDiscarded) {
  AddThree();
  Start("t1", "x1");
  table_.EndAttempt(Task("t1"), "failed", 2000, changes_);
  EXPECT_EQ(table_.FindAttempt("x1"), nullptr);
  EXPECT_THAT(table_.AttemptsOf("agent-1"), IsEmpty());
  // Ending it again records nothing twice.
  table_.EndAttempt(Task("t1"), "failed", 3000, changes_);
  CommitWriter::Commit commit = changes_.Take(receivers_.Get());
  ASSERT_EQ(commit.batch.attempts_ended.size(), 1u);
  EXPECT_EQ(commit.batch.attempts_ended[0].outcome, "failed");
  EXPECT_THAT(commit.batch.uploads_deleted, ElementsAre("x1"));
}

TEST_F(TaskTableTest, ALostAttemptIsQueuedAgainUntilTheRetryLimit) {
  AddThree();
  Start("t1", "x1");
  table_.RequeueOrFail(Task("t1"), "agent-1 went away", 2000, changes_);
  EXPECT_EQ(Task("t1").info.state(), v1::TASK_STATE_QUEUED);
  EXPECT_EQ(Task("t1").info.message(), "agent-1 went away; queued again (1 of 2 attempts used)");
  EXPECT_TRUE(Task("t1").info.attempt_id().empty());
  EXPECT_TRUE(queue_.queued.count({"b1", "t1"}));
  Start("t1", "x2");
  table_.RequeueOrFail(Task("t1"), "agent-1 went away", 3000, changes_);
  EXPECT_EQ(Task("t1").info.state(), v1::TASK_STATE_FAILED);
  EXPECT_EQ(Task("t1").info.message(), "agent-1 went away; gave up after 2 attempts");
  EXPECT_EQ(Task("t1").info.finished_at_ms(), 3000);
}

TEST_F(TaskTableTest, CancellingARunningTaskTellsItsAgent) {
  BuildRecord& build = AddThree();
  Start("t1", "x1");
  changes_.Take(receivers_.Get());
  receivers_.looked_up.clear();
  EXPECT_EQ(table_.CancelBuild(build, "", 5000, changes_), 3u);
  EXPECT_EQ(build.counts[v1::TASK_STATE_CANCELLED], 3u);
  EXPECT_TRUE(build.finished());
  EXPECT_THAT(queue_.queued, IsEmpty());
  changes_.Take(receivers_.Get());
  EXPECT_THAT(receivers_.looked_up, ElementsAre("agent-1"));  // one cancel, for the one running
  EXPECT_EQ(Task("t2").info.message(), "cancelled by a user");
  EXPECT_EQ(table_.CancelBuild(build, "", 6000, changes_), 0u);  // nothing left to cancel
}

TEST_F(TaskTableTest, AFailureInAFailFastBuildCancelsTheRest) {
  AddThree(/*fail_fast=*/true);
  Start("t1", "x1");
  table_.EndAttempt(Task("t1"), "failed", 2000, changes_);
  table_.SetState(Task("t1"), v1::TASK_STATE_FAILED);
  EXPECT_EQ(Task("t2").info.state(), v1::TASK_STATE_QUEUED);  // not until the call ends
  table_.ApplyFailFast(2000, changes_);
  EXPECT_EQ(Task("t2").info.state(), v1::TASK_STATE_CANCELLED);
  EXPECT_EQ(Task("t3").info.message(), "fail_fast: task t1 failed");
  EXPECT_EQ(Task("t1").info.state(), v1::TASK_STATE_FAILED);
}

TEST_F(TaskTableTest, RetryQueuesOnlyFailedAndCancelledTasks) {
  BuildRecord& build = AddThree();
  Start("t1", "x1");
  table_.EndAttempt(Task("t1"), "failed", 2000, changes_);
  table_.SetState(Task("t1"), v1::TASK_STATE_FAILED);
  table_.Cancel(Task("t2"), "no", 2000, changes_);
  EXPECT_EQ(table_.Retry(build, {}, 3000, changes_), 2u);
  EXPECT_EQ(Task("t1").info.state(), v1::TASK_STATE_QUEUED);
  EXPECT_EQ(Task("t1").info.attempts(), 0u);
  EXPECT_EQ(Task("t2").info.message(), "retried by a user");
  EXPECT_EQ(Task("t2").info.queued_at_ms(), 3000);
  EXPECT_EQ(queue_.queued.size(), 3u);
}

TEST_F(TaskTableTest, MaxParallelCountsAssignedAndRunningTasks) {
  AddThree(false, /*max_parallel=*/1);
  EXPECT_FALSE(table_.AtParallelLimit({"b1", "t2"}));
  Start("t1", "x1");
  EXPECT_TRUE(table_.AtParallelLimit({"b1", "t2"}));
  table_.SetState(Task("t1"), v1::TASK_STATE_RUNNING);
  EXPECT_TRUE(table_.AtParallelLimit({"b1", "t2"}));
  table_.EndAttempt(Task("t1"), "succeeded", 2000, changes_);
  table_.SetState(Task("t1"), v1::TASK_STATE_SUCCEEDED);
  EXPECT_FALSE(table_.AtParallelLimit({"b1", "t2"}));
}

TEST_F(TaskTableTest, WatchersGetSummariesAndTheFinishedFlag) {
  BuildRecord& build = AddThree();
  auto watcher = std::make_shared<BuildWatcher>();
  build.watchers.push_back(watcher);
  for (const char* id : {"t1", "t2", "t3"}) table_.Cancel(Task(id), "stop", 1000, changes_);
  CommitWriter::Commit commit = changes_.Take(receivers_.Get());
  testing::Deliver(commit);
  std::vector<bool> finished;
  v1::BuildEvent event;
  while (watcher->Next(&event, std::chrono::milliseconds(0))) {
    EXPECT_TRUE(event.task().spec().source().repo_url().empty());
    EXPECT_EQ(event.task().spec().axes_size(), 3);
    finished.push_back(event.build_finished());
  }
  EXPECT_THAT(finished, ElementsAre(false, false, true));
}

TEST_F(TaskTableTest, ViewsCarryCountsAndAsMuchOfEachTaskAsAsked) {
  AddThree();
  Task("t1").info.mutable_spec()->mutable_source()->set_repo_url("https://example.com/demo.git");
  table_.Cancel(Task("t1"), "no", 1000, changes_);
  v1::BuildInfo full = View();
  EXPECT_EQ(full.total(), 3u);
  EXPECT_EQ(full.cancelled(), 1u);
  EXPECT_FALSE(full.finished());
  EXPECT_EQ(full.tasks(0).spec().source().repo_url(), "https://example.com/demo.git");
  v1::BuildInfo summary = View(v1::TASK_VIEW_SUMMARY);
  EXPECT_TRUE(summary.tasks(0).spec().source().repo_url().empty());
  EXPECT_EQ(summary.tasks(0).message(), "no");
  EXPECT_EQ(View(v1::TASK_VIEW_NONE).tasks_size(), 0);
}

TEST_F(TaskTableTest, ListWheelsGivesTheWheelsOfSucceededTasksWithTheirAxes) {
  AddThree();
  Start("t2", "x2");
  v1::ArtifactInfo* artifact = Task("t2").info.add_artifacts();
  artifact->set_filename("demo-1.0-py3-none-any.whl");
  table_.EndAttempt(Task("t2"), "succeeded", 2000, changes_);
  table_.SetState(Task("t2"), v1::TASK_STATE_SUCCEEDED);
  std::vector<StoredWheel> wheels = table_.ListWheels();
  ASSERT_EQ(wheels.size(), 1u);
  EXPECT_EQ(wheels[0].task_id, "t2");
  EXPECT_EQ(wheels[0].artifact.filename(), "demo-1.0-py3-none-any.whl");
  EXPECT_EQ(wheels[0].axes.size(), 3u);
}

}  // namespace
}  // namespace cwb
