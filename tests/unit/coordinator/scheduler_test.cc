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
// `step`: what the attempt does (a TEST of a CUDA cell holds a GPU).
Choice Choose(const v1::TaskSpec& task, std::vector<AgentSlots> agents, v1::TaskStep step = v1::TASK_STEP_TEST) {
  Eligibility eligible = FindEligible(task, agents, NeedsGpu(task, step));
  AgentSlots* agent = PickAgent(task, step, nullptr, agents, eligible.agents).agent;
  if (agent != nullptr) return {agent->agent_id, ""};
  return {"", eligible.waiting_reason};
}

TEST(SchedulerTest, IncompatibilityReasons) {
  EXPECT_EQ(Incompatibility(Task("cpu"), Agent(0, ""), true), std::nullopt);
  EXPECT_EQ(Incompatibility(Task("cpu"), Agent(1, "12.4"), true), std::nullopt);
  EXPECT_EQ(Incompatibility(Task("12.1"), Agent(0, ""), true), "needs a GPU");
  EXPECT_EQ(Incompatibility(Task("12.4"), Agent(1, "12.2"), true),
            "needs a driver for CUDA 12.4 (the agent's supports 12.2)");
  EXPECT_EQ(Incompatibility(Task("12.1"), Agent(1, "12.4"), true), std::nullopt);
  EXPECT_EQ(Incompatibility(Task("cpu", {"pool=release"}), Agent(0, "", {"pool=dev"}), true),
            "needs label 'pool=release'");
  EXPECT_EQ(Incompatibility(Task("cpu", {"pool=release"}), Agent(0, "", {"x", "pool=release"}), true),
            std::nullopt);
}

TEST(SchedulerTest, ACudaCellIsBuiltWithoutAGpuAndSmokeTestedOnOne) {
  v1::TaskSpec task = Task("12.4");
  task.set_test_command("python -c 'import saxpy'");
  EXPECT_EQ(FirstStep(task), v1::TASK_STEP_BUILD);
  EXPECT_EQ(NextStep(task, v1::TASK_STATE_QUEUED), v1::TASK_STEP_BUILD);
  EXPECT_EQ(NextStep(task, v1::TASK_STATE_BUILT), v1::TASK_STEP_TEST);
  EXPECT_FALSE(NeedsGpu(task, v1::TASK_STEP_BUILD));
  EXPECT_TRUE(NeedsGpu(task, v1::TASK_STEP_TEST));
  EXPECT_EQ(Incompatibility(task, Agent(0, ""), NeedsGpu(task, v1::TASK_STEP_BUILD)), std::nullopt);
  v1::AgentCapabilities cpu = Agent(0, ""), gpu = Agent(1, "12.4");
  std::vector<AgentSlots> agents = {{"cpu", &cpu, 4}, {"gpu", &gpu, 1}};
  EXPECT_EQ(Choose(task, agents, v1::TASK_STEP_BUILD).agent, "cpu");  // the most free slots, GPU or not
  EXPECT_EQ(Choose(task, agents, v1::TASK_STEP_TEST).agent, "gpu");
  Choice waits = Choose(task, {{"cpu", &cpu, 4}}, v1::TASK_STEP_TEST);
  EXPECT_EQ(waits.reason, "waiting: no connected agent can run it (needs a GPU)");
  // A build that must see a GPU holds one, and tests in the same attempt.
  task.set_build_needs_gpu(true);
  EXPECT_EQ(FirstStep(task), v1::TASK_STEP_WHOLE);
  EXPECT_TRUE(NeedsGpu(task, v1::TASK_STEP_WHOLE));
  // Without a smoke test there is nothing to hold a GPU for.
  v1::TaskSpec untested = Task("12.4");
  EXPECT_EQ(FirstStep(untested), v1::TASK_STEP_WHOLE);
  EXPECT_FALSE(NeedsGpu(untested, v1::TASK_STEP_WHOLE));
  EXPECT_FALSE(NeedsGpu(Task("cpu"), v1::TASK_STEP_TEST));
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
  EXPECT_THAT(FindEligible(Task("12.1"), agents, true).agents, ::testing::ElementsAre(2));
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
  EXPECT_EQ(Incompatibility(HostTask("3.12", "13.0", "2.11"), host, true), std::nullopt);
  EXPECT_EQ(Incompatibility(HostTask("3.12", "13.0", "2.11.0"), host, true), std::nullopt);
  EXPECT_EQ(Incompatibility(HostTask("3.11", "13.0", "2.11"), host, true),
            "needs Python 3.11 (the agent builds on its host with Python 3.12)");
  EXPECT_EQ(Incompatibility(HostTask("3.12", "13.0", "2.1"), host, true),
            "needs PyTorch 2.1 (the agent's host Python has 2.11.0+cu130)");
  EXPECT_EQ(Incompatibility(HostTask("3.12", "12.8", "2.11"), host, true),
            "needs CUDA 12.8 (the agent's PyTorch is built for 13.0)");
  // A container agent brings each task's own Python and torch in its image.
  EXPECT_EQ(Incompatibility(HostTask("3.9", "12.8", "2.1"), Agent(1, "13.0"), true), std::nullopt);
  v1::AgentCapabilities no_torch = Agent(0, "");
  no_torch.mutable_host_toolchain()->set_python_version("3.11");
  EXPECT_EQ(Incompatibility(HostTask("3.11", "cpu", "2.4.0"), no_torch, true),
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

constexpr uint64_t kGiB = 1ull << 30;

v1::AgentCapabilities Host(uint32_t cores, uint64_t memory, uint32_t max_jobs = 0) {
  v1::AgentCapabilities caps = Agent(1, "13.0");
  caps.set_slots(cores);
  caps.set_cpu_cores(cores);
  caps.set_memory_bytes(memory);
  caps.set_max_jobs(max_jobs);
  return caps;
}

AgentSlots Free(const std::string& id, const v1::AgentCapabilities& caps) {
  return {id, &caps, static_cast<int>(caps.slots()), -1, caps.cpu_cores(), static_cast<int64_t>(caps.memory_bytes())};
}

v1::ResourceUse Measured(uint64_t peak, uint64_t cpu_ms, int64_t wall_ms, uint32_t jobs, bool oom = false) {
  v1::ResourceUse use;
  use.set_peak_memory_bytes(peak);
  use.set_cpu_ms(cpu_ms);
  use.set_wall_ms(wall_ms);
  use.set_jobs(jobs);
  use.set_out_of_memory(oom);
  return use;
}

TEST(SchedulerTest, AFirstBuildGetsTheConservativeDefaultsWithinTheAgent) {
  v1::ResourceShare cuda = ShareFor(Task("12.4"), nullptr, Host(16, 128 * kGiB));
  EXPECT_EQ(cuda.cores(), 8u);
  EXPECT_EQ(cuda.memory_bytes(), 32 * kGiB);  // 4 GiB per core
  EXPECT_EQ(cuda.jobs(), 4u);
  EXPECT_EQ(cuda.nvcc_threads(), 2u);         // MAX_JOBS x NVCC_THREADS = the cores given
  EXPECT_FALSE(cuda.predicted());
  v1::ResourceShare small = ShareFor(Task("12.4"), nullptr, Host(4, 8 * kGiB));
  EXPECT_EQ(small.cores(), 4u);
  EXPECT_EQ(small.memory_bytes(), 8 * kGiB);  // never more than the agent has
  v1::AgentCapabilities split = Host(16, 128 * kGiB);
  split.set_gpu_slots(4);  // --gpus-per-task: the host is split per GPU for builds that hold one
  v1::TaskSpec holds_gpu = Task("12.4");
  holds_gpu.set_build_needs_gpu(true);
  EXPECT_EQ(ShareFor(holds_gpu, nullptr, split).cores(), 4u);
  EXPECT_EQ(ShareFor(holds_gpu, nullptr, split).memory_bytes(), 16 * kGiB);
  EXPECT_EQ(ShareFor(Task("12.4"), nullptr, split).cores(), 8u);  // the usual CUDA build holds no GPU
  // A smoke test is given one core and 2 GiB.
  EXPECT_EQ(ShareForTest(split).cores(), 1u);
  EXPECT_EQ(ShareForTest(split).memory_bytes(), 2 * kGiB);
  v1::ResourceShare cpu = ShareFor(Task("cpu"), nullptr, Host(16, 128 * kGiB));
  EXPECT_EQ(cpu.cores(), 1u);
  EXPECT_EQ(cpu.memory_bytes(), 2 * kGiB);
  EXPECT_EQ(cpu.jobs(), 16u);  // the agent's default MAX_JOBS: min(cores, memory / 4 GiB)
  EXPECT_EQ(cpu.nvcc_threads(), 0u);
  EXPECT_EQ(ShareFor(Task("cpu"), nullptr, Host(2, 24 * kGiB, 4)).jobs(), 4u);  // the operator's --max-jobs
  // An agent that reports no resources is placed by slots alone.
  v1::ResourceShare none = ShareFor(Task("12.4"), nullptr, Agent(1, "13.0"));
  EXPECT_EQ(none.cores(), 0u);
  EXPECT_EQ(none.memory_bytes(), 0u);
}

TEST(SchedulerTest, AMeasuredTargetIsPredictedFromItsPeakAndAverageParallelism) {
  // 10 GiB at most; 4 cores busy on average (CPU time 4x the wall time) with MAX_JOBS=16.
  const v1::ResourceUse last = Measured(10 * kGiB, 400000, 100000, 16);
  v1::ResourceShare share = ShareFor(Task("12.4"), &last, Host(16, 128 * kGiB));
  EXPECT_TRUE(share.predicted());
  EXPECT_EQ(share.cores(), 4u);
  EXPECT_EQ(share.memory_bytes(), 12 * kGiB + (256u << 20));  // x1.2 + 256 MiB
  EXPECT_EQ(share.jobs(), 16u);
  EXPECT_EQ(share.nvcc_threads(), 1u);
  // Killed out of memory: half the jobs, and all the memory it had.
  const v1::ResourceUse killed = Measured(16 * kGiB, 100000, 100000, 8, true);
  v1::ResourceShare again = ShareFor(Task("12.4"), &killed, Host(16, 128 * kGiB));
  EXPECT_EQ(again.jobs(), 4u);
  EXPECT_EQ(again.memory_bytes(), 16 * kGiB);
  const v1::ResourceUse one = Measured(kGiB, 1000, 1000, 1, true);
  EXPECT_EQ(ShareFor(Task("cpu"), &one, Host(2, 4 * kGiB)).jobs(), 1u);  // never below one
}

TEST(SchedulerTest, PredictedPeaksNeverAddUpPastAnAgentsMemory) {
  const v1::AgentCapabilities host = Host(16, 40 * kGiB);
  std::vector<AgentSlots> agents = {Free("big", host)};
  const std::vector<size_t> eligible = {0};
  const v1::ResourceUse last = Measured(15 * kGiB, 200000, 100000, 8);  // 18.25 GiB predicted, 2 cores
  Placement first = PickAgent(Task("12.4"), v1::TASK_STEP_WHOLE, &last, agents, eligible);
  ASSERT_NE(first.agent, nullptr);
  Take(first, true);
  Placement second = PickAgent(Task("12.4"), v1::TASK_STEP_WHOLE, &last, agents, eligible);
  ASSERT_NE(second.agent, nullptr);  // two at once: 36.5 of 40 GiB
  Take(second, true);
  EXPECT_EQ(PickAgent(Task("12.4"), v1::TASK_STEP_WHOLE, &last, agents, eligible).agent, nullptr);  // a third would not fit
  EXPECT_EQ(agents[0].free_cores, 12);
  // A small build still fits beside them (cores and memory left).
  const v1::ResourceUse tiny = Measured(512u << 20, 1000, 1000, 1);
  EXPECT_NE(PickAgent(Task("12.4"), v1::TASK_STEP_WHOLE, &tiny, agents, eligible).agent, nullptr);
}

TEST(SchedulerTest, BuildsSpreadToTheAgentLeftWithTheMostFreeCores) {
  const v1::AgentCapabilities small = Host(8, 64 * kGiB), large = Host(32, 64 * kGiB);
  std::vector<AgentSlots> agents = {Free("small", small), Free("large", large)};
  const std::vector<size_t> eligible = {0, 1};
  const v1::ResourceUse last = Measured(4 * kGiB, 600000, 100000, 8);  // 6 cores
  for (int i = 0; i < 4; ++i) {
    Placement placement = PickAgent(Task("12.4"), v1::TASK_STEP_WHOLE, &last, agents, eligible);
    ASSERT_NE(placement.agent, nullptr);
    EXPECT_EQ(placement.agent->agent_id, "large") << i;  // 32, 26, 20, 14 cores free before
    Take(placement, true);
  }
  Placement fifth = PickAgent(Task("12.4"), v1::TASK_STEP_WHOLE, &last, agents, eligible);
  EXPECT_EQ(fifth.agent->agent_id, "small");  // 8 free against 8 on large: ties go by more memory
}

}  // namespace
}  // namespace cwb
