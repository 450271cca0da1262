// The coordinator's metrics: gauges read from the task table and agent registry at scrape time,
// build durations by end state.
#include "coordinator/coordinator_metrics.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "coordinator/agent_registry.h"
#include "tests/fakes/fake_clock.h"
#include "tests/unit/coordinator/coordinator_parts.h"

namespace cwb {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::MakeBuildHeader;
using testing::MakeTask;

TEST(CoordinatorMetricsTest, GaugesShowTheTasksAndAgentsAsTheyAreAtTheScrape) {
  testing::FakeClock clock;
  testing::SetQueue queue;
  TaskTable tasks(queue, 3);
  AgentRegistry agents({}, clock, tasks);
  std::mutex mutex;
  CoordinatorMetrics metrics;
  bool writable = true;
  metrics.AddGauges(mutex, tasks, agents, [&writable] { return writable; });
  EXPECT_THAT(metrics.registry().Render(), HasSubstr("cwb_queue_length 0\n"));
  EXPECT_THAT(metrics.registry().Render(), HasSubstr("cwb_state_writable 1\n"));
  writable = false;
  EXPECT_THAT(metrics.registry().Render(), HasSubstr("cwb_state_writable 0\n"));
  std::vector<TaskRecord> records;
  records.push_back(MakeTask("b1", "t1"));
  records.push_back(MakeTask("b1", "t2", v1::TASK_STATE_FAILED));
  records.push_back(MakeTask("b1", "t3", v1::TASK_STATE_BUILT));  // built, waiting for a GPU to test
  tasks.AddBuild(MakeBuildHeader("b1"), std::move(records));
  ChangeSet changes;
  v1::Register request;
  request.set_agent_id("a1");
  ASSERT_TRUE(agents.Register(request, std::make_shared<testing::RecordingChannel>(), changes).ok());
  const std::string text = metrics.registry().Render();
  EXPECT_THAT(text, HasSubstr("cwb_queue_length 2\n"));
  EXPECT_THAT(text, HasSubstr("cwb_tasks{state=\"queued\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("cwb_tasks{state=\"built\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("cwb_tasks{state=\"failed\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("cwb_agents_connected 1\n"));
}

TEST(CoordinatorMetricsTest, BuildDurationsAreObservedByEndStateOnlyForTasksThatRan) {
  CoordinatorMetrics metrics;
  v1::TaskInfo never_ran = MakeTask("b1", "t1", v1::TASK_STATE_CANCELLED).info;
  metrics.ObserveEnd(never_ran);
  EXPECT_THAT(metrics.registry().Render(), Not(HasSubstr("cwb_build_duration_seconds_count")));
  v1::TaskInfo ran = MakeTask("b1", "t2", v1::TASK_STATE_SUCCEEDED).info;
  ran.set_started_at_ms(1000);
  ran.set_finished_at_ms(4000);
  metrics.ObserveEnd(ran);
  EXPECT_THAT(metrics.registry().Render(), HasSubstr("cwb_build_duration_seconds_sum{state=\"succeeded\"} 3\n"));
}

TEST(CoordinatorMetricsTest, MeasuredPeaksAndOutOfMemoryAttemptsAreObserved) {
  CoordinatorMetrics metrics;
  metrics.ObserveUse({});  // not measured: nothing
  EXPECT_THAT(metrics.registry().Render(), Not(HasSubstr("cwb_build_peak_memory_gibibytes_count")));
  v1::ResourceUse use;
  use.set_jobs(4);
  use.set_peak_memory_bytes(3ull << 30);
  metrics.ObserveUse(use);
  use.set_out_of_memory(true);
  metrics.ObserveUse(use);
  const std::string text = metrics.registry().Render();
  EXPECT_THAT(text, HasSubstr("cwb_build_peak_memory_gibibytes_bucket{le=\"2\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("cwb_build_peak_memory_gibibytes_bucket{le=\"4\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("cwb_build_peak_memory_gibibytes_sum 6\n"));
  EXPECT_THAT(text, HasSubstr("cwb_builds_out_of_memory_total 1\n"));
}

TEST(CoordinatorMetricsTest, CountersAreRegisteredUnderTheirNames) {
  CoordinatorMetrics metrics;
  metrics.uploaded_bytes().Add(10);
  metrics.result_cache_hits().Add();
  metrics.queue_wait().Observe(0.2);
  const std::string text = metrics.registry().Render();
  EXPECT_THAT(text, HasSubstr("cwb_uploaded_bytes_total 10\n"));
  EXPECT_THAT(text, HasSubstr("cwb_result_cache_hits_total 1\n"));
  EXPECT_THAT(text, HasSubstr("cwb_queue_wait_seconds_count 1\n"));
}

}  // namespace
}  // namespace cwb
