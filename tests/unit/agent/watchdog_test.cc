// RunWatchdog on a fake clock: the alive file's age is set on the clock's wall time, so what the
// watchdog does at each look is decided by the test, without waiting for real time.
#include "agent/watchdog.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "agent/watchdog_command.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_process_runner.h"
#include "tests/support/temp_dir.h"

namespace cwb {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::FakeClock;
using testing::FakeProcessRunner;

class WatchdogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::FreshTestDir("watchdog");
    options_.alive = dir_ / "alive" / "t-a1";
    options_.remove = {dir_ / "tasks" / "t" / "a1"};
    options_.stop_command = {"podman", "rm", "--force", "--time", "0", "cwb-t-a1"};
    fs::create_directories(options_.alive.parent_path());
    fs::create_directories(options_.remove[0] / "src");
    std::ofstream(options_.alive) << "";
    TouchedAgo(std::chrono::seconds(0));
  }
  // Sets the alive file's time to `ago` before the fake clock's now.
  void TouchedAgo(std::chrono::seconds ago) {
    fs::last_write_time(options_.alive, std::chrono::file_clock::from_sys(clock_.WallNow() - ago));
  }
  int Run() { return RunWatchdog(options_, clock_, runner_, report_); }

  fs::path dir_;
  FakeClock clock_;
  FakeProcessRunner runner_;
  WatchdogOptions options_;
  std::ostringstream report_;
};

TEST_F(WatchdogTest, ExitsWithoutStoppingAnythingWhenTheAttemptEnds) {
  int code = -1;
  std::thread watchdog([&] { code = Run(); });
  ASSERT_TRUE(clock_.WaitForSleepers(1));  // fresh: it waits for its next look
  fs::remove(options_.alive);              // the agent ended the attempt
  clock_.Advance(options_.poll);
  watchdog.join();
  EXPECT_EQ(code, 0);
  EXPECT_TRUE(runner_.specs().empty());
  EXPECT_TRUE(fs::exists(options_.remove[0]));
  EXPECT_EQ(report_.str(), "");
}

TEST_F(WatchdogTest, KeepsWatchingWhileTheAgentTouchesTheFile) {
  int code = -1;
  std::thread watchdog([&] { code = Run(); });
  for (int look = 0; look < 30; ++look) {  // a minute of looks, the file touched at each
    ASSERT_TRUE(clock_.WaitForSleeperUntil(clock_.SteadyNow() + options_.poll));
    clock_.Advance(options_.poll);
    TouchedAgo(std::chrono::seconds(1));
  }
  ASSERT_TRUE(clock_.WaitForSleeperUntil(clock_.SteadyNow() + options_.poll));
  EXPECT_TRUE(runner_.specs().empty());
  fs::remove(options_.alive);
  clock_.Advance(options_.poll);
  watchdog.join();
  EXPECT_EQ(code, 0);
}

TEST_F(WatchdogTest, AStaleFileStopsTheContainerAndRemovesTheWorkspace) {
  runner_.Script({{"podman", "rm"}, {}, 0});
  int code = -1;
  std::thread watchdog([&] { code = Run(); });
  ASSERT_TRUE(clock_.WaitForSleepers(1));
  clock_.Advance(options_.stale);  // exactly stale: not yet
  ASSERT_TRUE(clock_.WaitForSleeperUntil(clock_.SteadyNow() + options_.poll));
  EXPECT_TRUE(runner_.specs().empty());
  clock_.Advance(options_.poll);  // past stale: the agent is gone
  watchdog.join();
  EXPECT_EQ(code, 0);
  ASSERT_EQ(runner_.specs().size(), 1u);
  EXPECT_EQ(runner_.specs()[0].argv, options_.stop_command);
  EXPECT_FALSE(fs::exists(options_.remove[0]));
  EXPECT_FALSE(fs::exists(options_.alive));
  EXPECT_THAT(report_.str(), HasSubstr("untouched for 22s (its agent is gone); podman rm --force --time 0 cwb-t-a1"));
  EXPECT_THAT(report_.str(), HasSubstr("removed " + options_.remove[0].string()));
}

TEST_F(WatchdogTest, AFailedStopIsItsExitCodeAndTheWorkspaceStillGoes) {
  runner_.Script({{"podman", "rm"}, {"Error: no such engine"}, 125});
  TouchedAgo(std::chrono::seconds(60));  // stale at the first look: no waiting at all
  EXPECT_EQ(Run(), 1);
  EXPECT_FALSE(fs::exists(options_.remove[0]));
  EXPECT_THAT(report_.str(), HasSubstr("cwb-t-a1: exit 125"));
}

// A cgroup v2 hierarchy stand-in: the root's cgroup.controllers, the attempt's cgroup with the
// engine's below it. A directory rmdir refuses (a file in it) stands for a cgroup a process still
// runs in.
class WatchdogCgroupTest : public WatchdogTest {
 protected:
  void SetUp() override {
    WatchdogTest::SetUp();
    options_.cgroup_root = dir_ / "cgroup";
    options_.cgroup = "/cwb/agent-a/a1";
    fs::create_directories(options_.cgroup_root / "cwb/agent-a/a1/libpod-0123");
    std::ofstream(options_.cgroup_root / "cgroup.controllers") << "cpu memory\n";
    runner_.Script({{"podman", "rm"}, {}, 0});
    TouchedAgo(std::chrono::seconds(60));
  }
  fs::path AttemptDir() const { return options_.cgroup_root / "cwb/agent-a/a1"; }
};

TEST_F(WatchdogCgroupTest, TheStoppedBuildsCgroupGoesWithWhatTheEngineLeftBelowIt) {
  EXPECT_EQ(Run(), 0);
  EXPECT_FALSE(fs::exists(AttemptDir()));
  EXPECT_TRUE(fs::exists(options_.cgroup_root / "cwb/agent-a"));  // the agent's own stays
  EXPECT_THAT(report_.str(), HasSubstr("removed cgroup /cwb/agent-a/a1"));
}

TEST_F(WatchdogCgroupTest, ACgroupStillInUseIsRemovedOnceItEmpties) {
  std::ofstream(AttemptDir() / "libpod-0123" / "busy") << "";
  std::thread watchdog([&] { Run(); });
  ASSERT_TRUE(clock_.WaitForSleepers(1));  // the first try failed: waiting for it to empty
  EXPECT_TRUE(fs::exists(AttemptDir()));
  fs::remove(AttemptDir() / "libpod-0123" / "busy");  // its last process exited
  clock_.Advance(kCgroupRetryEvery);
  watchdog.join();
  EXPECT_FALSE(fs::exists(AttemptDir()));
  EXPECT_THAT(report_.str(), HasSubstr("removed cgroup /cwb/agent-a/a1"));
}

TEST_F(WatchdogCgroupTest, ACgroupThatNeverEmptiesIsReportedAfterTheWait) {
  std::ofstream(AttemptDir() / "libpod-0123" / "busy") << "";
  std::thread watchdog([&] { Run(); });
  ASSERT_TRUE(clock_.WaitForSleepers(1));
  clock_.Advance(kCgroupEmptiesWithin);
  watchdog.join();
  EXPECT_TRUE(fs::exists(AttemptDir()));
  EXPECT_THAT(report_.str(), HasSubstr("cannot remove cgroup " + (AttemptDir() / "libpod-0123").string()));
  EXPECT_FALSE(fs::exists(options_.remove[0]));  // the rest was done all the same
}

TEST_F(WatchdogTest, TheCommandLineItWritesIsTheOneItReads) {
  options_.stale = std::chrono::seconds(7);
  options_.poll = std::chrono::seconds(3);
  options_.remove.push_back(dir_ / "artifacts" / "t" / "a1");
  options_.log = dir_ / "watchdog.log";
  std::vector<std::string> argv = {"cwb-agent"};
  for (const std::string& arg : WatchdogArgs(options_)) argv.push_back(arg);
  CLI::App app;
  WatchdogFlags flags;
  AddWatchdogCommand(app, flags);
  std::vector<const char*> args;
  for (const std::string& arg : argv) args.push_back(arg.c_str());
  app.parse(static_cast<int>(args.size()), args.data());
  EXPECT_EQ(flags.options.alive, options_.alive);
  EXPECT_EQ(flags.stale_s, 7);
  EXPECT_EQ(flags.poll_s, 3);
  EXPECT_EQ(flags.options.remove, options_.remove);
  EXPECT_EQ(flags.options.log, options_.log);
  EXPECT_EQ(flags.options.stop_command, options_.stop_command);
  EXPECT_EQ(flags.options.host_run, "");
  EXPECT_EQ(flags.options.cgroup, "");
  options_.cgroup = "/cwb/agent-a/a1";
  options_.cgroup_root = dir_ / "cgroup";
  argv = {"cwb-agent"};
  for (const std::string& arg : WatchdogArgs(options_)) argv.push_back(arg);
  args.clear();
  for (const std::string& arg : argv) args.push_back(arg.c_str());
  WatchdogFlags again;
  CLI::App app_again;
  AddWatchdogCommand(app_again, again);
  app_again.parse(static_cast<int>(args.size()), args.data());
  EXPECT_EQ(again.options.cgroup, options_.cgroup);
  EXPECT_EQ(again.options.cgroup_root, options_.cgroup_root);
  EXPECT_EQ(again.options.stop_command, options_.stop_command);
}

}  // namespace
}  // namespace cwb
