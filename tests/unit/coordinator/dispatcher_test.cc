// The dispatcher over a real task table and agent registry: dispatch order, slots, GPU slots,
// max_parallel, and the reasons waiting tasks show.
#include "coordinator/dispatcher.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/fake_clock.h"
#include "tests/unit/coordinator/coordinator_parts.h"

namespace cwb {
namespace {

using ::testing::ElementsAre;
using testing::FakeClock;
using testing::MakeBuildHeader;
using testing::MakeTask;
using testing::RecordingChannel;

class DispatcherTest : public ::testing::Test {
 protected:
  // A build of `count` tasks (t0, t1, ...), on `cuda` ("cpu" or a version: a build that holds a GPU).
  static TaskRecord Numbered(const std::string& build, int i, const std::string& cuda = "cpu") {
    TaskRecord task = MakeTask(build, "t" + std::to_string(i));
    task.info.mutable_spec()->mutable_axes(1)->set_value(cuda);
    task.info.mutable_spec()->set_build_needs_gpu(cuda != "cpu");
    task.info.mutable_spec()->mutable_axes(2)->set_value(std::to_string(i));  // a target of its own
    task.info.set_queued_at_ms(1000);
    return task;
  }
  void AddBuild(const std::string& build, int count, const std::string& cuda = "cpu", uint32_t max_parallel = 0) {
    std::vector<TaskRecord> tasks;
    for (int i = 0; i < count; ++i) tasks.push_back(Numbered(build, i, cuda));
    tasks_.AddBuild(MakeBuildHeader(build, false, max_parallel), std::move(tasks));
  }
  std::shared_ptr<RecordingChannel> Connect(const std::string& id, uint32_t slots, int gpus = 0, uint32_t gpu_slots = 0) {
    auto channel = std::make_shared<RecordingChannel>();
    receivers_.channels[id] = channel;
    v1::Register request;
    request.set_agent_id(id);
    request.mutable_capabilities()->set_slots(slots);
    for (int i = 0; i < gpus; ++i) request.mutable_capabilities()->add_gpus()->set_index(i);
    request.mutable_capabilities()->set_driver_cuda_version("12.4");
    request.mutable_capabilities()->set_gpu_slots(gpu_slots);
    EXPECT_TRUE(agents_.Register(request, channel, changes_).ok());
    return channel;
  }
  // Schedules, then delivers what it sent; the ids of the tasks assigned, in order.
  std::vector<std::string> Schedule() {
    dispatcher_.Schedule(tasks_, agents_, 3000, changes_);
    CommitWriter::Commit commit = changes_.Take(receivers_.Get());
    std::vector<std::string> assigned;
    for (const auto& attempt : commit.batch.attempts_started) assigned.push_back(attempt.task_id);
    testing::Deliver(commit);
    return assigned;
  }
  TaskRecord& Task(const std::string& build, const std::string& id) { return *tasks_.Find(build, id); }

  FakeClock clock_;
  MetricsRegistry metrics_;
  Histogram& queue_wait_ = metrics_.HistogramOf("wait", "", {1, 10});
  TargetHistory history_;
  Dispatcher dispatcher_{history_, queue_wait_, /*time_limit_s=*/120};
  TaskTable tasks_{dispatcher_, 3};
  AgentRegistry agents_{{}, clock_, tasks_};
  ChangeSet changes_;
  testing::TestReceivers receivers_;
};

TEST_F(DispatcherTest, WithNoAgentTasksWaitAndSayWhy) {
  AddBuild("b1", 2);
  EXPECT_TRUE(Schedule().empty());
  EXPECT_EQ(dispatcher_.queued(), 2u);
  EXPECT_EQ(Task("b1", "t0").info.waiting_reason(), "waiting: no agent is connected");
}

TEST_F(DispatcherTest, AgentsGetAsManyTasksAsTheyHaveSlotsInDispatchOrder) {
  StoreBatch learnt;
  for (auto [i, took] : {std::pair{0, 10}, {2, 60000}}) {  // t0 is known to be short, t2 long
    v1::TaskInfo ran = Numbered("b0", i).info;
    ran.set_started_at_ms(1);
    ran.set_finished_at_ms(1 + took);
    history_.Record(ran, true, learnt);
  }
  AddBuild("b1", 3);
  auto agent = Connect("a1", 2);
  // An unknown duration counts as longest, then the longest known; the short one waits.
  EXPECT_THAT(Schedule(), ElementsAre("t1", "t2"));
  EXPECT_EQ(Task("b1", "t0").info.waiting_reason(), "waiting: every agent that can run it is busy");
  ASSERT_EQ(agent->Assignments().size(), 2u);
  EXPECT_EQ(agent->Assignments()[0].time_limit_s(), 120u);
  EXPECT_EQ(queue_wait_.Take().count, 2u);
}

TEST_F(DispatcherTest, TheAgentWithTheMostFreeSlotsIsPicked) {
  AddBuild("b1", 3);
  Connect("a1", 1);
  Connect("a2", 2);
  Schedule();
  EXPECT_EQ(Task("b1", "t0").info.agent_id(), "a2");
  EXPECT_EQ(Task("b1", "t1").info.agent_id(), "a1");  // a tie (1 and 1): the first by id
  EXPECT_EQ(Task("b1", "t2").info.agent_id(), "a2");
}

TEST_F(DispatcherTest, GpuTasksWaitForAGpuAndTakeOneSlotEach) {
  AddBuild("b1", 3, "12.1");
  Connect("cpu-only", 4);
  EXPECT_TRUE(Schedule().empty());
  EXPECT_EQ(Task("b1", "t0").info.waiting_reason(), "waiting: no connected agent can run it (needs a GPU)");
  Connect("gpu", 4, /*gpus=*/2, /*gpu_slots=*/2);
  EXPECT_EQ(Schedule().size(), 2u);  // two GPU slots, though four slots
  EXPECT_EQ(Task("b1", "t2").info.state(), v1::TASK_STATE_QUEUED);
}

TEST_F(DispatcherTest, ABuildAtItsMaxParallelWaitsWhileOthersGoOn) {
  AddBuild("b1", 3, "cpu", /*max_parallel=*/1);
  AddBuild("b2", 1);
  Connect("a1", 4);
  EXPECT_THAT(Schedule(), ElementsAre("t0", "t0"));  // b1's first, then b2's
  EXPECT_EQ(Task("b2", "t0").info.state(), v1::TASK_STATE_ASSIGNED);
  EXPECT_EQ(Task("b1", "t1").info.state(), v1::TASK_STATE_QUEUED);
}

TEST_F(DispatcherTest, ANewAgentIsSeenByGroupsRememberedBefore) {
  AddBuild("b1", 1);
  Connect("a1", 0);  // no slots
  EXPECT_TRUE(Schedule().empty());
  Connect("a2", 1);  // the epoch moves: the group's eligible agents are computed again
  EXPECT_THAT(Schedule(), ElementsAre("t0"));
  EXPECT_EQ(Task("b1", "t0").info.agent_id(), "a2");
}

}  // namespace
}  // namespace cwb
