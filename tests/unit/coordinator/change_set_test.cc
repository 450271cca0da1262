// The per-call change set: rows written once per call, deliveries only through the commit and in
// order, messages to agents that are gone dropped, uploads discarded after the write.
#include "coordinator/change_set.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/recording_agent_channel.h"
#include "tests/unit/coordinator/coordinator_parts.h"

namespace cwb {
namespace {

using ::testing::ElementsAre;
using testing::MakeTask;
using testing::RecordingChannel;

using Receivers = testing::TestReceivers;
using testing::Deliver;

v1::CoordinatorMessage Cancel(const std::string& attempt) {
  v1::CoordinatorMessage message;
  message.mutable_cancel()->set_attempt_id(attempt);
  return message;
}

TEST(ChangeSetTest, ATaskChangedTwiceIsOneRowWithItsLastState) {
  ChangeSet changes;
  TaskRecord task = MakeTask("b1", "t1");
  changes.Persist(task);
  task.info.set_state(v1::TASK_STATE_RUNNING);
  changes.Persist(task);
  EXPECT_TRUE(task.dirty);
  Receivers receivers;
  CommitWriter::Commit commit = changes.Take(receivers.Get());
  ASSERT_EQ(commit.batch.tasks.size(), 1u);
  EXPECT_EQ(commit.batch.tasks[0].task_id, "t1");
  EXPECT_EQ(commit.batch.tasks[0].state, v1::TASK_STATE_RUNNING);
  EXPECT_FALSE(task.dirty);
  v1::TaskInfo row;
  ASSERT_TRUE(row.ParseFromString(commit.batch.tasks[0].info));
  EXPECT_FALSE(row.has_spec());  // stored once, at insertion
  EXPECT_TRUE(task.info.has_spec());
  // Taken once: the next call starts empty.
  EXPECT_TRUE(changes.Take(receivers.Get()).batch.empty());
}

TEST(ChangeSetTest, MessagesAndEventsWaitForTheCommitAndKeepTheirOrder) {
  ChangeSet changes;
  Receivers receivers;
  auto agent = std::make_shared<RecordingChannel>();
  receivers.channels["a1"] = agent;
  auto watcher = std::make_shared<BuildWatcher>();
  changes.Send("a1", Cancel("x1"));
  v1::BuildEvent event;
  event.mutable_task()->set_build_id("b1");
  changes.Publish({watcher}, event);
  changes.Send("a1", Cancel("x2"));
  CommitWriter::Commit commit = changes.Take(receivers.Get());
  EXPECT_TRUE(agent->sent.empty());  // nothing is seen before the batch is written
  v1::BuildEvent got;
  EXPECT_FALSE(watcher->Next(&got, std::chrono::milliseconds(0)));
  Deliver(commit);
  EXPECT_THAT(agent->Cancels(), ElementsAre("x1", "x2"));
  ASSERT_TRUE(watcher->Next(&got, std::chrono::milliseconds(0)));
  EXPECT_EQ(got.task().build_id(), "b1");
}

TEST(ChangeSetTest, AMessageForAnAgentWithoutASessionIsDropped) {
  ChangeSet changes;
  Receivers receivers;
  changes.Send("gone", Cancel("x1"));
  CommitWriter::Commit commit = changes.Take(receivers.Get());
  EXPECT_TRUE(commit.deliveries.empty());
}

TEST(ChangeSetTest, UploadsGoFromTheStoreWithTheBatchAndFromDiskAfterIt) {
  ChangeSet changes;
  Receivers receivers;
  changes.AttemptEnded({"b1", "t1"}, "a1");
  changes.WakeLogReaders();
  CommitWriter::Commit commit = changes.Take(receivers.Get());
  EXPECT_THAT(commit.batch.uploads_deleted, ElementsAre("a1"));
  EXPECT_TRUE(receivers.discarded.empty());
  EXPECT_EQ(receivers.log_wakes, 0);
  Deliver(commit);
  EXPECT_THAT(receivers.discarded, ElementsAre("a1"));
  EXPECT_EQ(receivers.log_wakes, 1);
}

TEST(ChangeSetTest, AScheduleRequestIsTakenOnce) {
  ChangeSet changes;
  EXPECT_FALSE(changes.TakeScheduleRequest());
  changes.ScheduleSoon();
  changes.ScheduleSoon();
  EXPECT_TRUE(changes.TakeScheduleRequest());
  EXPECT_FALSE(changes.TakeScheduleRequest());
}

}  // namespace
}  // namespace cwb
