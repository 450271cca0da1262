#include "coordinator/scheduler.h"

#include "common/rpc/task_proto.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cwb {
namespace {

v1::TaskSpec Task(const std::string& cuda, std::vector<std::string> labels = {}) {
  v1::TaskSpec spec;
  spec.set_id("t");
  v1::AxisValue* axis = spec.add_axes();
  axis->set_name("cuda_version");
  axis->set_value(cuda);
  for (const std::string& label : labels) spec.add_required_labels(label);
  return spec;
}

v1::AgentCapabilities Agent(int gpus, const std::string& cuda, std::vector<std::string> labels = {}) {
  v1::AgentCapabilities caps;
  for (int i = 0; i < gpus; ++i) caps.add_gpus()->set_index(i);
  caps.set_driver_cuda_version(cuda);
  for (const std::string& label : labels) caps.add_labels(label);
  caps.set_slots(2);
  return caps;
}

// What the coordinator does for one task: find the eligible agents, then pick one of them.
struct Choice {
  std::string agent;   // empty: none now
  std::string reason;  // the waiting reason when none
};
Choice Choose(const v1::TaskSpec& task, std::vector<AgentSlots> agents) {
  Eligibility eligible = FindEligible(task, agents);
  AgentSlots* agent = PickAgent(NeedsGpu(task), agents, eligible.agents);
  if (agent != nullptr) return {agent->agent_id, ""};
  return {"", eligible.waiting_reason};
}

TEST(SchedulerTest, IncompatibilityReasons) {
  EXPECT_EQ(Incompatibility(Task("cpu"), Agent(0, "")), std::nullopt);
  EXPECT_EQ(Incompatibility(Task("cpu"), Agent(1, "12.4")), std::nullopt);
  EXPECT_EQ(Incompatibility(Task("12.1"), Agent(0, "")), "needs a GPU");
  EXPECT_EQ(Incompatibility(Task("12.4"), Agent(1, "12.2")),
            "needs a driver for CUDA 12.4 (the agent's supports 12.2)");
  EXPECT_EQ(Incompatibility(Task("12.1"), Agent(1, "12.4")), std::nullopt);
  EXPECT_EQ(Incompatibility(Task("cpu", {"pool=release"}), Agent(0, "", {"pool=dev"})),
            "needs label 'pool=release'");
  EXPECT_EQ(Incompatibility(Task("cpu", {"pool=release"}), Agent(0, "", {"x", "pool=release"})),
            std::nullopt);
}

TEST(SchedulerTest, ChoosesTheCompatibleAgentWithTheMostFreeSlots) {
  v1::AgentCapabilities cpu = Agent(0, ""), old_gpu = Agent(1, "11.8"), gpu = Agent(2, "12.4");
  std::vector<AgentSlots> agents = {{"cpu", &cpu, 4}, {"old", &old_gpu, 3}, {"new", &gpu, 1}};
  EXPECT_EQ(Choose(Task("12.1"), agents).agent, "new");
  EXPECT_EQ(Choose(Task("cpu"), agents).agent, "cpu");
  agents[2].free_slots = 0;
  Choice choice = Choose(Task("12.1"), agents);
  EXPECT_EQ(choice.agent, "");
  EXPECT_EQ(choice.reason, "waiting: every agent that can run it is busy");
  // Eligibility lists the agents that could ever run it, busy or not.
  EXPECT_THAT(FindEligible(Task("12.1"), agents).agents, ::testing::ElementsAre(2));
}

TEST(SchedulerTest, ReasonsWhenNobodyCanRunIt) {
  EXPECT_EQ(Choose(Task("12.1"), {}).reason, "waiting: no agent is connected");
  v1::AgentCapabilities cpu = Agent(0, ""), old_gpu = Agent(1, "11.8");
  EXPECT_EQ(Choose(Task("12.1"), {{"cpu", &cpu, 1}, {"old", &old_gpu, 1}}).reason,
            "waiting: no connected agent can run it (needs a GPU; needs a driver for CUDA 12.1 "
            "(the agent's supports 11.8))");
}

TEST(SchedulerTest, TiesGoToTheSmallerId) {
  v1::AgentCapabilities a = Agent(0, ""), b = Agent(0, "");
  EXPECT_EQ(Choose(Task("cpu"), {{"b", &b, 1}, {"a", &a, 1}}).agent, "a");
}

v1::TaskSpec HostTask(const std::string& python, const std::string& cuda, const std::string& torch) {
  v1::TaskSpec spec;
  AppendAxes({{"python_version", python}, {"cuda_version", cuda}, {"pytorch_version", torch}}, spec.mutable_axes());
  return spec;
}

TEST(SchedulerTest, HostRuntimeAgentsRunOnlyWhatTheirPythonAndTorchMatch) {
  v1::AgentCapabilities host = Agent(1, "13.0");
  host.mutable_host_toolchain()->set_python_version("3.12");
  host.mutable_host_toolchain()->set_torch_version("2.11.0+cu130");
  host.mutable_host_toolchain()->set_torch_cuda_version("13.0");
  EXPECT_EQ(Incompatibility(HostTask("3.12", "13.0", "2.11"), host), std::nullopt);
  EXPECT_EQ(Incompatibility(HostTask("3.12", "13.0", "2.11.0"), host), std::nullopt);
  EXPECT_EQ(Incompatibility(HostTask("3.11", "13.0", "2.11"), host),
            "needs Python 3.11 (the agent builds on its host with Python 3.12)");
  EXPECT_EQ(Incompatibility(HostTask("3.12", "13.0", "2.1"), host),
            "needs PyTorch 2.1 (the agent's host Python has 2.11.0+cu130)");
  EXPECT_EQ(Incompatibility(HostTask("3.12", "12.8", "2.11"), host),
            "needs CUDA 12.8 (the agent's PyTorch is built for 13.0)");
  // A container agent brings each task's own Python and torch in its image.
  EXPECT_EQ(Incompatibility(HostTask("3.9", "12.8", "2.1"), Agent(1, "13.0")), std::nullopt);
  v1::AgentCapabilities no_torch = Agent(0, "");
  no_torch.mutable_host_toolchain()->set_python_version("3.11");
  EXPECT_EQ(Incompatibility(HostTask("3.11", "cpu", "2.4.0"), no_torch),
            "needs PyTorch 2.4.0 (the agent's host Python has none)");
}

TEST(SchedulerTest, GpuTasksNeedAFreeGpuSlotCpuTasksDoNot) {
  v1::AgentCapabilities gpu = Agent(2, "13.0");
  gpu.set_slots(4);
  gpu.set_gpu_slots(2);
  std::vector<AgentSlots> agents = {{"gpu", &gpu, 2, 0}};  // both GPUs busy, two slots free
  Choice choice = Choose(Task("12.1"), agents);
  EXPECT_EQ(choice.agent, "");
  EXPECT_EQ(choice.reason, "waiting: every agent that can run it is busy");
  EXPECT_EQ(Choose(Task("cpu"), agents).agent, "gpu");
  agents[0].free_gpu_slots = 1;
  EXPECT_EQ(Choose(Task("12.1"), agents).agent, "gpu");
  agents[0].free_gpu_slots = -1;  // GPUs shared: only slots count
  EXPECT_EQ(Choose(Task("12.1"), agents).agent, "gpu");
}

}  // namespace
}  // namespace cwb
