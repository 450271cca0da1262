// AttemptCgroup against a directory laid out as the kernel's cgroup filesystems are: what it
// writes to make an attempt's cgroup and how it reads the counters. The kernel's own behaviour
// (rmdir of a live cgroup, counters of a real build) is tested with real processes in
// tests/integration/resource_use_test.cc.
#include "agent/attempt_cgroup.h"

#include <fstream>
#include <sstream>

#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"

namespace cwb {
namespace {

namespace fs = std::filesystem;

void Write(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

std::string Read(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(AttemptCgroupTest, VersionOneLimitsAndReadsTheMemoryAndCpuacctHierarchies) {
  const fs::path root = testing::FreshTestDir("cgroup_v1");
  Write(root / "memory" / "memory.max_usage_in_bytes", "0\n");
  Write(root / "cpuacct" / "cpuacct.usage", "0\n");
  EXPECT_EQ(AttemptCgroup::Detect(root).value(), AttemptCgroup::Version::kV1);
  AttemptCgroup cgroup(root, AttemptCgroup::Version::kV1, "/cwb/agent-1/a42");
  Write(root / "memory/cwb/agent-1/a42/memory.memsw.limit_in_bytes", "max");  // the kernel accounts swap
  ASSERT_TRUE(cgroup.Create(600ull << 20).ok());
  EXPECT_EQ(Read(root / "memory/cwb/agent-1/a42/memory.limit_in_bytes"), "629145600");
  EXPECT_EQ(Read(root / "memory/cwb/agent-1/a42/memory.memsw.limit_in_bytes"), "629145600");
  EXPECT_TRUE(fs::is_directory(root / "cpuacct/cwb/agent-1/a42"));
  ASSERT_EQ(cgroup.JoinFiles().size(), 2u);
  EXPECT_EQ(cgroup.JoinFiles()[0], root / "memory/cwb/agent-1/a42/cgroup.procs");
  EXPECT_EQ(cgroup.JoinFiles()[1], root / "cpuacct/cwb/agent-1/a42/cgroup.procs");

  Write(root / "memory/cwb/agent-1/a42/memory.max_usage_in_bytes", "629145600\n");
  Write(root / "memory/cwb/agent-1/a42/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
  Write(root / "cpuacct/cwb/agent-1/a42/cpuacct.usage", "190500000000\n");
  ResourceUse use = cgroup.Read().value();
  EXPECT_EQ(use.peak_memory_bytes, 600ull << 20);
  EXPECT_EQ(use.cpu_time_ns, 190500000000u);
  EXPECT_EQ(use.oom_kills, 2u);
  EXPECT_EQ(DescribeUse(use), "0.59 GiB of memory at most, 3m10s of CPU time, 2 process(es) killed out of memory");
}

TEST(AttemptCgroupTest, VersionTwoEnablesTheMemoryControllerOnTheWayDown) {
  const fs::path root = testing::FreshTestDir("cgroup_v2");
  Write(root / "cgroup.controllers", "cpuset cpu io memory pids\n");
  EXPECT_EQ(AttemptCgroup::Detect(root).value(), AttemptCgroup::Version::kV2);
  AttemptCgroup cgroup(root, AttemptCgroup::Version::kV2, "/cwb/agent-1/a42");
  Write(root / "cwb/agent-1/a42/memory.swap.max", "max");
  ASSERT_TRUE(cgroup.Create(1ull << 30).ok());
  EXPECT_EQ(Read(root / "cgroup.subtree_control"), "+memory");
  EXPECT_EQ(Read(root / "cwb/cgroup.subtree_control"), "+memory");
  EXPECT_EQ(Read(root / "cwb/agent-1/cgroup.subtree_control"), "+memory");
  EXPECT_EQ(Read(root / "cwb/agent-1/a42/memory.max"), "1073741824");
  EXPECT_EQ(Read(root / "cwb/agent-1/a42/memory.swap.max"), "0");
  EXPECT_EQ(cgroup.JoinFiles(), std::vector<fs::path>{root / "cwb/agent-1/a42/cgroup.procs"});

  Write(root / "cwb/agent-1/a42/memory.peak", "325304320\n");
  Write(root / "cwb/agent-1/a42/cpu.stat", "usage_usec 228868\nuser_usec 65382\nsystem_usec 163486\n");
  Write(root / "cwb/agent-1/a42/memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\noom_group_kill 0\n");
  ResourceUse use = cgroup.Read().value();
  EXPECT_EQ(use.peak_memory_bytes, 325304320u);
  EXPECT_EQ(use.cpu_time_ns, 228868000u);
  EXPECT_EQ(use.oom_kills, 1u);
}

TEST(AttemptCgroupTest, OutOfMemoryIsAKillCountedOrASigkillAtTheLimit) {
  constexpr uint64_t kLimit = 600ull << 20;
  EXPECT_TRUE(RanOutOfMemory({100, 0, 1, 0}, 1, kLimit));             // the kernel counted a kill
  EXPECT_TRUE(RanOutOfMemory({kLimit, 0, 0, 0}, 137, kLimit));        // SIGKILLed at the limit
  EXPECT_TRUE(RanOutOfMemory({kLimit - (10ull << 20), 0, 0, 0}, 137, kLimit));
  EXPECT_TRUE(RanOutOfMemory({100, 0, 0, 3}, 137, kLimit));           // the limit was reached
  EXPECT_FALSE(RanOutOfMemory({kLimit / 2, 0, 0, 0}, 137, kLimit));   // killed by someone else
  EXPECT_FALSE(RanOutOfMemory({kLimit, 0, 0, 5}, 1, kLimit));         // at the limit (page cache), failed otherwise
  EXPECT_FALSE(RanOutOfMemory({kLimit, 0, 0, 0}, 137, 0));            // no limit: nothing says so
}

TEST(AttemptCgroupTest, WithoutAHierarchyOrItsCountersThereIsNothingToMeasure) {
  const fs::path root = testing::FreshTestDir("cgroup_none");
  EXPECT_TRUE(absl::IsNotFound(AttemptCgroup::Detect(root).status()));
  fs::create_directories(root / "memory");  // v1 without its counters (a cgroupfs not mounted)
  EXPECT_TRUE(absl::IsNotFound(AttemptCgroup::Detect(root).status()));
  AttemptCgroup cgroup(root, AttemptCgroup::Version::kV2, "/cwb/x/a1");
  fs::create_directories(root / "cwb/x/a1");
  Write(root / "cwb/x/a1/memory.peak", "lots\n");
  Write(root / "cwb/x/a1/cpu.stat", "usage_usec 1\n");
  EXPECT_EQ(cgroup.Read().status().message(), (root / "cwb/x/a1/memory.peak").string() + ": not a number: 'lots'");
}

}  // namespace
}  // namespace cwb
