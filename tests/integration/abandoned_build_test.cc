// A build whose agent was SIGKILLed stops within 30 s and its workspace goes, for each runtime:
// podman, docker (Debian's podman-docker shim over podman, as no docker engine runs here) and the
// host runtime, and so does its cgroup where it had one (podman, host). The agent is killed while
// its build sleeps; nothing restarts it.
#include <signal.h>

#include "agent/host_runtime.h"
#include "tests/integration/cluster_fixture.h"

namespace cwb::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

constexpr auto kStopsWithin = std::chrono::seconds(30);

class AbandonedBuildTest : public ClusterTest {
 protected:
  struct Abandoned {
    std::string run;      // the container (or host run) of the build
    fs::path workspace;   // the attempt's workspace
    std::vector<fs::path> cgroup_dirs;  // the attempt's cgroup, in each hierarchy it was made in
    std::chrono::steady_clock::time_point killed;
  };

  // Starts one agent with `extra` flags, has it build something that never ends, and SIGKILLs it
  // once the build runs.
  Abandoned KillAgentMidBuild(const std::vector<std::string>& extra) {
    StartCoordinator();
    StartAgents(1, {}, extra);
    const std::string config = WriteOneTaskConfig("endless.yaml", "|\n      echo cwb-endless-started\n      sleep 600\n");
    const std::string build_id = Submit(config);
    const v1::BuildInfo running = WaitForBuild(build_id, [](const v1::BuildInfo& b) {
      return b.tasks(0).state() == v1::TASK_STATE_RUNNING;
    });
    EXPECT_EQ(running.tasks(0).state(), v1::TASK_STATE_RUNNING);
    const std::string task = running.tasks(0).spec().id();
    // The build runs once its first line reached the coordinator; its attempt is the one
    // workspace of the task on the agent.
    const fs::path work = dir_ / "agent-1";
    Abandoned abandoned;
    for (int i = 0; i < 600 && abandoned.run.empty(); ++i) {
      if (RunCli({"logs", build_id, task}).second.find("cwb-endless-started") != std::string::npos) {
        for (const auto& attempt : fs::directory_iterator(work / "tasks" / task)) {
          abandoned.run = absl::StrCat("cwb-", task, "-", attempt.path().filename().string());
          abandoned.workspace = attempt.path();
          abandoned.cgroup_dirs = CgroupDirs(attempt.path().filename().string());
        }
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
    }
    EXPECT_FALSE(abandoned.run.empty()) << agents_[0]->Output();
    EXPECT_TRUE(fs::exists(abandoned.workspace));
    agents_[0]->Signal(SIGKILL);
    agents_[0]->Wait(seconds(30));
    abandoned.killed = std::chrono::steady_clock::now();
    return abandoned;
  }

  // Polls until `gone` holds; true when it did within kStopsWithin of the kill.
  static bool GoneInTime(const Abandoned& abandoned, const std::function<bool()>& gone) {
    while (!gone()) {
      if (std::chrono::steady_clock::now() > abandoned.killed + kStopsWithin) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    return true;
  }

  // Where agent-1's attempt `attempt` has a cgroup: below the unified hierarchy (v2) or below each
  // v1 hierarchy.
  static std::vector<fs::path> CgroupDirs(const std::string& attempt) {
    const fs::path root = "/sys/fs/cgroup";
    const fs::path below = fs::path("cwb") / "agent-1" / attempt;
    std::vector<fs::path> dirs;
    std::error_code error;
    if (fs::is_directory(root / below, error)) dirs.push_back(root / below);
    for (const fs::directory_entry& hierarchy : fs::directory_iterator(root, error)) {
      if (!hierarchy.is_symlink(error) && fs::is_directory(hierarchy.path() / below, error)) {
        dirs.push_back(hierarchy.path() / below);
      }
    }
    return dirs;
  }
  static bool CgroupGone(const Abandoned& abandoned) {
    for (const fs::path& dir : abandoned.cgroup_dirs) {
      if (fs::exists(dir)) return false;
    }
    return true;
  }

  static bool ContainerGone(const std::string& run) {
    return MustRun({"podman", "ps", "-aq", "--filter", absl::StrCat("name=^", run, "$")}).empty();
  }

  void ExpectReported(const Abandoned& abandoned) {
    std::ifstream in(dir_ / "agent-1" / "logs" / "watchdog.log");
    const std::string report((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_THAT(report, HasSubstr("(its agent is gone)"));
    EXPECT_THAT(report, HasSubstr(abandoned.run));
    EXPECT_THAT(report, HasSubstr("removed " + abandoned.workspace.string()));
  }
  void ExpectCgroupReported(const Abandoned& abandoned) {
    std::ifstream in(dir_ / "agent-1" / "logs" / "watchdog.log");
    const std::string report((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_THAT(report, HasSubstr("removed cgroup /cwb/agent-1/" + abandoned.workspace.filename().string()));
  }
};

TEST_F(AbandonedBuildTest, APodmanBuildStopsWhenItsAgentDies) {
  const Abandoned abandoned = KillAgentMidBuild({});
  ASSERT_FALSE(abandoned.run.empty());
  EXPECT_FALSE(ContainerGone(abandoned.run));  // the agent is gone; its build is not, yet
  EXPECT_FALSE(abandoned.cgroup_dirs.empty());
  EXPECT_TRUE(GoneInTime(abandoned, [&] {
    return ContainerGone(abandoned.run) && !fs::exists(abandoned.workspace) && CgroupGone(abandoned);
  })) << "container " << abandoned.run << ", " << abandoned.workspace << " or its cgroup still there after "
      << kStopsWithin.count() << " s";
  ExpectReported(abandoned);
  ExpectCgroupReported(abandoned);
}

TEST_F(AbandonedBuildTest, ADockerBuildStopsWhenItsAgentDies) {
  if (!fs::exists("/usr/bin/docker")) GTEST_FAIL() << "no /usr/bin/docker: scripts/install-deps.sh installs podman-docker";
  const Abandoned abandoned = KillAgentMidBuild({"--runtime", "docker", "--runtime-binary", "/usr/bin/docker"});
  ASSERT_FALSE(abandoned.run.empty());
  EXPECT_FALSE(ContainerGone(abandoned.run));
  EXPECT_TRUE(GoneInTime(abandoned, [&] { return ContainerGone(abandoned.run) && !fs::exists(abandoned.workspace); }));
  ExpectReported(abandoned);
}

TEST_F(AbandonedBuildTest, AHostRuntimeBuildStopsWhenItsAgentDies) {
  const std::string python = MakeStandInToolchain(dir_ / "toolchain");
  const Abandoned abandoned = KillAgentMidBuild({"--runtime", "host", "--host-python", python, "--nvidia-smi",
                                                 "/nonexistent/nvidia-smi"});
  ASSERT_FALSE(abandoned.run.empty());
  EXPECT_FALSE(HostRunProcesses(abandoned.run).empty());
  EXPECT_FALSE(abandoned.cgroup_dirs.empty());
  EXPECT_TRUE(GoneInTime(abandoned, [&] {
    return HostRunProcesses(abandoned.run).empty() && !fs::exists(abandoned.workspace) && CgroupGone(abandoned);
  })) << "processes of " << abandoned.run << ", " << abandoned.workspace << " or its cgroup still there";
  ExpectReported(abandoned);
  ExpectCgroupReported(abandoned);
}

}  // namespace
}  // namespace cwb::testing
