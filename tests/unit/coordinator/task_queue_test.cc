#include "coordinator/task_queue.h"

#include "common/rpc/task_proto.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cwb {
namespace {

v1::TaskSpec Spec(const std::string& cuda, std::vector<std::string> labels = {}) {
  v1::TaskSpec spec;
  spec.set_project("demo");
  AppendAxes({{"python_version", "3.11"}, {"cuda_version", cuda}, {"pytorch_version", "2.4.0"}, {"cxx11_abi", "TRUE"}},
             spec.mutable_axes());
  for (const std::string& label : labels) spec.add_required_labels(label);
  return spec;
}

std::vector<std::string> Order(TaskQueue::Group& group) {
  std::vector<std::string> out;
  for (const auto& [order, key] : group.tasks) out.push_back(key.second);
  return out;
}

TEST(TaskQueueTest, EarlierBuildsFirstThenLongestExpectedThenMatrixOrder) {
  TaskQueue queue;
  queue.Push({"b2", "late"}, Spec("cpu"), v1::TASK_STEP_WHOLE, {2, 999999, 0});
  queue.Push({"b1", "short"}, Spec("cpu"), v1::TASK_STEP_WHOLE, {1, 10, 0});
  queue.Push({"b1", "long"}, Spec("cpu"), v1::TASK_STEP_WHOLE, {1, 5000, 1});
  queue.Push({"b1", "unknown-b"}, Spec("cpu"), v1::TASK_STEP_WHOLE, {1, -1, 3});
  queue.Push({"b1", "unknown-a"}, Spec("cpu"), v1::TASK_STEP_WHOLE, {1, -1, 2});
  queue.Push({"b1", "short-too"}, Spec("cpu"), v1::TASK_STEP_WHOLE, {1, 10, 4});
  ASSERT_EQ(queue.groups().size(), 1u);
  EXPECT_THAT(Order(queue.groups().begin()->second),
              ::testing::ElementsAre("unknown-a", "unknown-b", "long", "short", "short-too", "late"));
  queue.Remove({"b1", "long"});
  queue.Remove({"b1", "never-queued"});
  EXPECT_EQ(queue.size(), 5u);
  EXPECT_THAT(Order(queue.groups().begin()->second), ::testing::Not(::testing::Contains("long")));
}

TEST(TaskQueueTest, GroupsByWhatTasksAskOfAnAgentOnly) {
  TaskQueue queue;
  v1::TaskSpec other_project = Spec("12.4", {"pool=b", "pool=a"});
  other_project.set_project("other");
  other_project.set_build_command("make");
  queue.Push({"b", "1"}, Spec("12.4", {"pool=a", "pool=b"}), v1::TASK_STEP_WHOLE, {1, -1, 0});
  queue.Push({"b", "2"}, other_project, v1::TASK_STEP_WHOLE, {1, -1, 1});
  queue.Push({"b", "3"}, Spec("cpu"), v1::TASK_STEP_WHOLE, {1, -1, 2});
  ASSERT_EQ(queue.groups().size(), 2u);
  for (auto& [key, group] : queue.groups()) {
    const bool gpu = group.requirements.axes(1).value() == "12.4";
    EXPECT_EQ(group.tasks.size(), gpu ? 2u : 1u);
    EXPECT_EQ(group.fresh.size(), gpu ? 2u : 1u);
    EXPECT_EQ(group.requirements.axes_size(), 3);  // cxx11_abi plays no part in matching
    EXPECT_TRUE(group.requirements.project().empty());
  }
}

TEST(TaskQueueTest, ABuildAndASmokeTestWaitInGroupsOfTheirOwn) {
  TaskQueue queue;
  v1::TaskSpec cell = Spec("12.4");
  cell.set_test_command("python -c 'import saxpy'");
  queue.Push({"b", "1"}, cell, v1::TASK_STEP_BUILD, {1, -1, 0});
  queue.Push({"b", "2"}, cell, v1::TASK_STEP_TEST, {1, 0, 1});
  queue.Push({"b", "3"}, cell, v1::TASK_STEP_BUILD, {1, -1, 2});
  ASSERT_EQ(queue.groups().size(), 2u);
  for (const auto& [key, group] : queue.groups()) {
    EXPECT_EQ(group.needs_gpu, group.step == v1::TASK_STEP_TEST);  // only the smoke test holds a GPU
    EXPECT_EQ(group.tasks.size(), group.step == v1::TASK_STEP_TEST ? 1u : 2u);
  }
}

}  // namespace
}  // namespace cwb
