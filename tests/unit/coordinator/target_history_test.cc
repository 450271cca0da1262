// What the coordinator learns of each target's build time.
#include "coordinator/target_history.h"

#include "gtest/gtest.h"
#include "tests/unit/coordinator/coordinator_parts.h"

namespace cwb {
namespace {

v1::TaskInfo Ran(int64_t started, int64_t finished) {
  v1::TaskInfo task = testing::MakeTask("b1", "t1").info;
  task.set_started_at_ms(started);
  task.set_finished_at_ms(finished);
  return task;
}

TEST(TargetHistoryTest, TimeLeftComesFromTheLastBuildElseFromThePaceSoFar) {
  EXPECT_EQ(TargetHistory::EstimateLeftMs(600000, 10000, 1, 4), 450000);  // history: 3/4 of 10 min
  EXPECT_EQ(TargetHistory::EstimateLeftMs(-1, 60000, 1, 4), 180000);      // pace: 1/4 took a minute
  EXPECT_EQ(TargetHistory::EstimateLeftMs(-1, 60000, 0, 4), -1);          // nothing done: no pace
  EXPECT_EQ(TargetHistory::EstimateLeftMs(-1, 60000, 4, 4), 0);
  EXPECT_EQ(TargetHistory::EstimateLeftMs(600000, 0, 0, 0), -1);          // no total: no figure
}

TEST(TargetHistoryTest, UnknownTargetsAreMinusOneAndRecentBuildsWeighMost) {
  TargetHistory history;
  StoreBatch batch;
  const v1::TaskInfo first = Ran(1000, 5000);
  EXPECT_EQ(history.ExpectedMs(first.spec()), -1);
  history.Record(first, batch);
  EXPECT_EQ(history.ExpectedMs(first.spec()), 4000);
  history.Record(Ran(1, 2001), batch);
  EXPECT_EQ(history.ExpectedMs(first.spec()), 3000);
  EXPECT_EQ(batch.target_durations.at(TargetHistory::TargetKey(first.spec())), 3000);
}

TEST(TargetHistoryTest, TheKeyIsTheProjectAndEveryAxisNotTheRestOfTheSpec) {
  v1::TaskSpec a = testing::MakeTask("b1", "t1").info.spec();
  v1::TaskSpec b = a;
  b.set_build_command("make other");
  b.set_id("t2");
  EXPECT_EQ(TargetHistory::TargetKey(a), TargetHistory::TargetKey(b));
  EXPECT_EQ(TargetHistory::TargetKey(a), "demo|python_version=3.11|cuda_version=cpu|pytorch_version=2.4");
}

TEST(TargetHistoryTest, ATaskThatNeverRanTeachesNothing) {
  TargetHistory history;
  StoreBatch batch;
  history.Record(Ran(0, 0), batch);
  history.Record(Ran(5000, 4000), batch);
  EXPECT_EQ(history.ExpectedMs(Ran(0, 0).spec()), -1);
  EXPECT_TRUE(batch.target_durations.empty());
  history.Load({{TargetHistory::TargetKey(Ran(0, 0).spec()), 7}});
  EXPECT_EQ(history.ExpectedMs(Ran(0, 0).spec()), 7);
}

}  // namespace
}  // namespace cwb
