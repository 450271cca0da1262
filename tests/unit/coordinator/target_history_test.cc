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
  history.Record(first, true, batch);
  EXPECT_EQ(history.ExpectedMs(first.spec()), 4000);
  history.Record(Ran(1, 2001), true, batch);
  EXPECT_EQ(history.ExpectedMs(first.spec()), 3000);
  EXPECT_EQ(batch.targets.at(TargetHistory::TargetKey(first.spec())).duration_ms, 3000);
  history.Record(Ran(1, 100001), false, batch);  // a failed build's time teaches nothing
  EXPECT_EQ(history.ExpectedMs(first.spec()), 3000);
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
  history.Record(Ran(0, 0), true, batch);
  history.Record(Ran(5000, 4000), true, batch);
  EXPECT_EQ(history.ExpectedMs(Ran(0, 0).spec()), -1);
  EXPECT_TRUE(batch.targets.empty());
  history.Load({{TargetHistory::TargetKey(Ran(0, 0).spec()), TargetRecord{7, {}}}});
  EXPECT_EQ(history.ExpectedMs(Ran(0, 0).spec()), 7);
  EXPECT_EQ(history.LastUse(Ran(0, 0).spec()), nullptr);
}

v1::ResourceUse Use(uint64_t peak, uint32_t jobs, bool oom) {
  v1::ResourceUse use;
  use.set_peak_memory_bytes(peak);
  use.set_cpu_ms(1000);
  use.set_wall_ms(500);
  use.set_jobs(jobs);
  use.set_out_of_memory(oom);
  return use;
}

TEST(TargetHistoryTest, TheLastMeasuredUseIsKeptFromSuccessesAndOutOfMemoryKillsOnly) {
  TargetHistory history;
  StoreBatch batch;
  v1::TaskInfo task = Ran(1000, 5000);
  *task.mutable_use() = Use(3 << 20, 4, false);
  history.Record(task, true, batch);
  ASSERT_NE(history.LastUse(task.spec()), nullptr);
  EXPECT_EQ(history.LastUse(task.spec())->peak_memory_bytes(), 3u << 20);
  const std::string key = TargetHistory::TargetKey(task.spec());
  EXPECT_EQ(batch.targets.at(key).use.jobs(), 4u);
  EXPECT_EQ(batch.targets.at(key).duration_ms, 4000);

  *task.mutable_use() = Use(9 << 20, 8, false);
  history.Record(task, false, batch);  // failed for another reason: its use says nothing of the build's needs
  EXPECT_EQ(history.LastUse(task.spec())->jobs(), 4u);

  *task.mutable_use() = Use(8 << 20, 8, true);
  history.Record(task, false, batch);  // out of memory: learnt, its time not
  EXPECT_TRUE(history.LastUse(task.spec())->out_of_memory());
  EXPECT_EQ(history.LastUse(task.spec())->jobs(), 8u);
  EXPECT_EQ(history.ExpectedMs(task.spec()), 4000);
  EXPECT_EQ(batch.targets.at(key).duration_ms, 4000);
  EXPECT_TRUE(batch.targets.at(key).use.out_of_memory());
}

TEST(TargetHistoryTest, ANeverMeasuredTargetIsPredictedFromItsLargestSiblingOfTheSameCuda) {
  TargetHistory history;
  StoreBatch batch;
  v1::TaskInfo small = Ran(1000, 5000), large = Ran(1000, 5000), other_cuda = Ran(1000, 5000);
  small.mutable_spec()->mutable_axes(2)->set_value("2.5");  // demo, cpu, torch 2.5
  *small.mutable_use() = Use(2 << 20, 2, false);
  large.mutable_spec()->mutable_axes(0)->set_value("3.12");  // demo, cpu, Python 3.12
  *large.mutable_use() = Use(6 << 20, 4, false);
  other_cuda.mutable_spec()->mutable_axes(1)->set_value("12.4");
  *other_cuda.mutable_use() = Use(50 << 20, 8, false);
  v1::TaskInfo never = Ran(0, 0);  // demo, cpu, torch 2.4, Python 3.11: never built
  EXPECT_EQ(history.LastUse(never.spec()), nullptr);
  for (const v1::TaskInfo& task : {small, large, other_cuda}) history.Record(task, true, batch);
  ASSERT_NE(history.LastUse(never.spec()), nullptr);
  EXPECT_EQ(history.LastUse(never.spec())->peak_memory_bytes(), 6u << 20);  // the largest, of CUDA "cpu" only
  // An out-of-memory kill predicts only its own target.
  v1::TaskInfo killed = Ran(1000, 5000);
  killed.mutable_spec()->mutable_axes(2)->set_value("2.6");
  *killed.mutable_use() = Use(9 << 20, 8, true);
  history.Record(killed, false, batch);
  EXPECT_EQ(history.LastUse(never.spec())->peak_memory_bytes(), 6u << 20);
  EXPECT_TRUE(history.LastUse(killed.spec())->out_of_memory());
  // The same after a restart, from the stored records.
  TargetHistory loaded;
  loaded.Load({batch.targets.begin(), batch.targets.end()});
  ASSERT_NE(loaded.LastUse(never.spec()), nullptr);
  EXPECT_EQ(loaded.LastUse(never.spec())->peak_memory_bytes(), 6u << 20);
  // Another project learns nothing from demo's.
  v1::TaskInfo stranger = never;
  stranger.mutable_spec()->set_project("other");
  EXPECT_EQ(loaded.LastUse(stranger.spec()), nullptr);
}

}  // namespace
}  // namespace cwb
