// Builds placed by the resources they really use, with real processes: the coordinator, an agent
// given a small share of this host (`--cores`, `--memory`), builds in podman containers whose
// cgroups (v1 here) the agent measures and limits. Builds allocate real memory; the kernel's OOM
// killer ends the ones past the limit.
#include <algorithm>

#include "tests/integration/cluster_fixture.h"

namespace cwb::testing {
namespace {

class ResourceUseTest : public ClusterTest {
 protected:
  void StartSmallAgent(std::vector<std::string> resources) {
    std::vector<std::string> argv = {CWB_AGENT_BINARY, "serve", "--coordinator", address_, "--agent-id", "agent-1",
                                     "--work-dir", (dir_ / "agent-1").string(), "--network", "host",
                                     "--stop-grace", "5", "--token-file", (dir_ / "agent-token").string()};
    argv.insert(argv.end(), resources.begin(), resources.end());
    agents_.push_back(std::make_unique<ChildProcess>(argv));
    ASSERT_FALSE(agents_.back()->WaitForLine("serving", seconds(30)).empty()) << agents_.back()->Output();
    ASSERT_THAT(agents_.back()->Output(), ::testing::HasSubstr("each build runs in a cgroup below /cwb/agent-1"));
  }

  v1::BuildInfo RunToEnd(const std::string& config, std::vector<std::string> flags = {}) {
    std::vector<std::string> args = {"submit", config, "--json"};
    args.insert(args.end(), flags.begin(), flags.end());
    auto [code, output] = RunCli(args);
    EXPECT_EQ(code, 0) << output;
    v1::BuildInfo submitted;
    EXPECT_TRUE(FromJson(output, &submitted).ok()) << output;
    return WaitForBuild(submitted.build_id(), [](const v1::BuildInfo& b) { return b.finished(); }, seconds(300));
  }

  // How many pairs of the build's tasks were running at the same time.
  static int OverlappingPairs(const v1::BuildInfo& build) {
    int pairs = 0;
    for (int i = 0; i < build.tasks_size(); ++i) {
      for (int j = i + 1; j < build.tasks_size(); ++j) {
        const v1::TaskInfo &a = build.tasks(i), &b = build.tasks(j);
        pairs += a.started_at_ms() < b.finished_at_ms() && b.started_at_ms() < a.finished_at_ms();
      }
    }
    return pairs;
  }
};

// Allocates (and touches) MAX_JOBS x 200 MiB, as parallel compile jobs would, then builds.
constexpr char kJobsSizedBuild[] =
    "|\n"
    "      python3 -c \"import os; x = b'x' * (int(os.environ['MAX_JOBS']) * 200 * 2**20); print('held', len(x) >> 20, 'MiB')\"\n"
    "      pip wheel . --no-deps --no-build-isolation -w \"$CWB_OUT\"\n";

TEST_F(ResourceUseTest, AnOutOfMemoryKillIsReportedAndRetriedWithHalfTheJobs) {
  StartCoordinator();
  StartSmallAgent({"--memory", "600M", "--max-jobs", "4", "--slots", "1"});
  // 4 jobs: 800 MiB past the 600 MiB limit, killed; again with 2 jobs: 400 MiB, built.
  v1::BuildInfo build = RunToEnd(WriteOneTaskConfig("halved.yaml", kJobsSizedBuild));
  ASSERT_EQ(build.tasks_size(), 1);
  v1::TaskInfo task = build.tasks(0);
  EXPECT_EQ(task.state(), v1::TASK_STATE_SUCCEEDED) << task.message();
  EXPECT_EQ(task.attempts(), 2u);
  EXPECT_TRUE(task.memory_retried());
  EXPECT_EQ(task.share().jobs(), 2u);
  EXPECT_EQ(task.use().jobs(), 2u);
  EXPECT_FALSE(task.use().out_of_memory());
  EXPECT_GT(task.use().peak_memory_bytes(), 400ull << 20);  // the whole tree, not one process's RSS
  EXPECT_LE(task.use().peak_memory_bytes(), 600ull << 20);
  EXPECT_GT(task.use().cpu_ms(), 0u);
  EXPECT_EQ(task.use().memory_limit_bytes(), 600ull << 20);

  // A build past the limit whatever its jobs fails, saying so, after one retry.
  build = RunToEnd(WriteOneTaskConfig(
      "hungry.yaml", "python3 -c \"x = b'x' * (1000 * 2**20)\" && pip wheel . --no-deps -w \"$CWB_OUT\"\n"));
  task = build.tasks(0);
  EXPECT_EQ(task.state(), v1::TASK_STATE_FAILED);
  EXPECT_EQ(task.attempts(), 2u);
  EXPECT_TRUE(std::regex_search(task.message(), std::regex(R"(^out of memory \(peak 0\.[0-9]+ GiB of 0\.59 GiB\): )")))
      << task.message();
  EXPECT_TRUE(task.use().out_of_memory());
  auto [code, log] = RunCli({"logs", build.build_id(), task.spec().id()});
  EXPECT_THAT(log, ::testing::HasSubstr("with MAX_JOBS="));
  EXPECT_THAT(log, ::testing::HasSubstr("; it ran out of memory"));
}

TEST_F(ResourceUseTest, BuildsRunTogetherOnceTheirMeasuredPeaksFitAndOneAtATimeBefore) {
  StartCoordinator();
  StartSmallAgent({"--memory", "3G", "--cores", "2"});  // slots: as cores and memory allow
  const std::string config = WriteConfig("four.yaml", StampAndBuild(2));
  // Nothing of a project measured: its first build is taken to need 2 GiB, so no two such fit in
  // 3 GiB at once; once one of a project is measured, its siblings are predicted from it.
  v1::BuildInfo first = RunToEnd(config);
  ASSERT_EQ(first.tasks_size(), 4);
  int defaults = 0;
  for (const v1::TaskInfo& task : first.tasks()) {
    EXPECT_EQ(task.state(), v1::TASK_STATE_SUCCEEDED) << task.message();
    if (!task.share().predicted()) {
      ++defaults;
      EXPECT_EQ(task.share().memory_bytes(), 2ull << 30);
    }
    EXPECT_GT(task.use().peak_memory_bytes(), 0u);
    EXPECT_LT(task.use().peak_memory_bytes(), 1ull << 30) << task.use().DebugString();
  }
  EXPECT_FALSE(first.tasks(0).share().predicted());  // the first of all knew nothing
  EXPECT_GE(defaults, 1);
  EXPECT_LE(defaults, 2);  // at most the first of each project
  for (int i = 0; i < first.tasks_size(); ++i) {
    for (int j = i + 1; j < first.tasks_size(); ++j) {
      const v1::TaskInfo &a = first.tasks(i), &b = first.tasks(j);
      const bool overlapped = a.started_at_ms() < b.finished_at_ms() && b.started_at_ms() < a.finished_at_ms();
      EXPECT_FALSE(overlapped && !a.share().predicted() && !b.share().predicted())
          << "two builds on the 2 GiB default ran at once in 3 GiB";
      if (overlapped) {
        EXPECT_LE(a.share().memory_bytes() + b.share().memory_bytes(), 3ull << 30);
      }
    }
  }
  // Measured now: each predicted from its peak, two at once (one core each).
  v1::BuildInfo second = RunToEnd(config, {"--no-cache"});
  for (const v1::TaskInfo& task : second.tasks()) {
    EXPECT_EQ(task.state(), v1::TASK_STATE_SUCCEEDED) << task.message();
    EXPECT_TRUE(task.share().predicted());
    EXPECT_LT(task.share().memory_bytes(), 3ull << 29);  // under half of the agent's
  }
  EXPECT_GE(OverlappingPairs(second), 2);
}

}  // namespace
}  // namespace cwb::testing
