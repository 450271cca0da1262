// Line splitting, the task log, and the Boost.Process runner (with real /bin/sh children; the
// kill grace runs on a fake clock, so nothing waits on wall time).
#include <fcntl.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "common/process/boost_process_runner.h"
#include "common/process/line_splitter.h"
#include "agent/log_sink.h"
#include "common/base/cancellation.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/fake_clock.h"

namespace cwb {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using testing::FakeClock;

std::vector<std::string> Split(std::initializer_list<std::string_view> chunks, size_t max = 8) {
  std::vector<std::string> lines;
  LineSplitter splitter(max, [&](std::string_view l) { lines.emplace_back(l); });
  for (std::string_view chunk : chunks) splitter.Feed(chunk);
  splitter.Finish();
  return lines;
}

TEST(LineSplitterTest, SplitsOnNewlinesCarriageReturnsAndLength) {
  EXPECT_THAT(Split({"ab\ncd", "e\r\nf\rg"}), ElementsAre("ab", "cde", "f", "g"));
  EXPECT_THAT(Split({"0123456789ab\n"}), ElementsAre("01234567", "89ab"));
  EXPECT_THAT(Split({"\n\n"}), ElementsAre("", ""));
  EXPECT_THAT(Split({"tail"}), ElementsAre("tail"));
}

TEST(LogSinkTest, TimestampsTailAndCap) {
  FakeClock clock;
  const auto path = std::filesystem::path(::testing::TempDir()) / "sink" / "t.log";
  std::vector<std::string> live;
  auto sink = LogSink::Open(path, clock, [&](const LogLine& l) { live.push_back(l.source + ":" + l.text); },
                            {3, 200});
  ASSERT_TRUE(sink.ok());
  for (int i = 0; i < 10; ++i) (*sink)->Write("build", "line " + std::to_string(i));
  (*sink)->Flush();
  EXPECT_EQ(live.size(), 10u);
  EXPECT_THAT((*sink)->Tail(), ElementsAre("line 7", "line 8", "line 9"));
  std::stringstream text;
  text << std::ifstream(path).rdbuf();
  EXPECT_THAT(text.str(), ::testing::StartsWith("2026-01-02T03:00:00.000Z [build] line 0\n"));
  EXPECT_THAT(text.str(), ::testing::HasSubstr("[cwb] log cut here: it reached the limit of 200 bytes"));
  EXPECT_LE(text.str().size(), 200u + 100u);
}

TEST(LogSinkTest, SecretsAreMaskedInTheFileAndTheLiveStream) {
  FakeClock clock;
  const auto path = std::filesystem::path(::testing::TempDir()) / "sink" / "secret.log";
  std::vector<std::string> live;
  LogSink::Options options;
  options.secrets = {"hf_abc123", "p4ss"};
  auto sink = LogSink::Open(path, clock, [&](const LogLine& l) { live.push_back(l.text); }, options);
  ASSERT_TRUE(sink.ok());
  (*sink)->Write("build", "token=hf_abc123 and hf_abc123hf_abc123, pw p4ss");
  (*sink)->Flush();
  EXPECT_THAT(live, ElementsAre("token=*** and ******, pw ***"));
  std::stringstream text;
  text << std::ifstream(path).rdbuf();
  EXPECT_THAT(text.str(), ::testing::HasSubstr("token=*** and ******, pw ***"));
  EXPECT_EQ(text.str().find("hf_abc123"), std::string::npos);
  EXPECT_EQ(MaskSecrets("aaaa", {"aa"}), "******");
  EXPECT_EQ(MaskSecrets("x", {""}), "x");
}

TEST(BoostProcessRunnerTest, MergesOutputAndReportsExitCodes) {
  BoostProcessRunner runner;
  std::vector<std::string> lines;
  absl::StatusOr<ProcessExit> exit = runner.Run(
      {{"/bin/sh", "-c", "echo out; echo err >&2; exit 3"}},
      [&](std::string_view l) { lines.emplace_back(l); }, nullptr);
  ASSERT_TRUE(exit.ok());
  EXPECT_EQ(exit->exit_code, 3);
  EXPECT_FALSE(exit->ok());
  EXPECT_THAT(lines, ::testing::UnorderedElementsAre("out", "err"));
}

TEST(BoostProcessRunnerTest, StderrApartKeepsLinesWholeThatOnePipeWouldSplice) {
  // Half a stdout line, a whole stderr line, the rest of the stdout line: on one pipe the
  // stderr line lands in the middle of the stdout one (as make -j and ninja interleave them).
  const std::string script = "printf 'compiling a'; printf 'warning: w\\n' >&2; printf 'bc.o\\n'";
  BoostProcessRunner runner;
  std::vector<std::string> merged;
  ASSERT_TRUE(runner.Run({{"/bin/sh", "-c", script}}, [&](std::string_view l) { merged.emplace_back(l); }, nullptr).ok());
  EXPECT_THAT(merged, ::testing::ElementsAre("compiling awarning: w", "bc.o"));

  std::vector<std::string> lines;
  ProcessSpec spec{{"/bin/sh", "-c", script}};
  spec.on_stderr_line = [&](std::string_view l) { lines.push_back("stderr: " + std::string(l)); };
  absl::StatusOr<ProcessExit> exit = runner.Run(spec, [&](std::string_view l) { lines.emplace_back(l); }, nullptr);
  ASSERT_TRUE(exit.ok());
  EXPECT_TRUE(exit->ok());
  EXPECT_THAT(lines, ::testing::UnorderedElementsAre("stderr: warning: w", "compiling abc.o"));
}

TEST(BoostProcessRunnerTest, StderrCanBeDiscardedWhereStdoutIsData) {
  BoostProcessRunner runner;
  ProcessSpec spec{{"/bin/sh", "-c", "echo 'Emulate Docker CLI using podman.' >&2; echo cwb-1-a1; echo cwb-2-a1"}};
  spec.discard_stderr = true;
  absl::StatusOr<CapturedRun> run = RunAndCapture(runner, spec);
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(run->output, "cwb-1-a1\ncwb-2-a1");
}

TEST(BoostProcessRunnerTest, EnvironmentAndWorkingDirectory) {
  BoostProcessRunner runner;
  ProcessSpec spec{{"sh", "-c", "echo \"$CWB_TEST_VALUE\"; pwd"}, {{"CWB_TEST_VALUE", "a b;c"}}, "/tmp"};
  absl::StatusOr<CapturedRun> run = RunAndCapture(runner, spec);
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(run->output, "a b;c\n/tmp");
}

TEST(BoostProcessRunnerTest, MissingBinaryIsNotFound) {
  BoostProcessRunner runner;
  absl::StatusOr<ProcessExit> exit = runner.Run({{"cwb-no-such-binary"}}, [](std::string_view) {}, nullptr);
  EXPECT_TRUE(absl::IsNotFound(exit.status())) << exit.status();
}

TEST(BoostProcessRunnerTest, CancellationSendsSigterm) {
  BoostProcessRunner runner;
  Cancellation cancel;
  absl::StatusOr<ProcessExit> exit = runner.Run(
      {{"/bin/sh", "-c", "echo started; exec sleep 300"}},
      [&](std::string_view line) {
        if (line == "started") cancel.Cancel("test");
      },
      &cancel);
  ASSERT_TRUE(exit.ok());
  EXPECT_TRUE(exit->cancelled);
  EXPECT_EQ(exit->signal, SIGTERM);
}

// A process another thread starts while a run's output pipe is open must not inherit it (or that
// run's output would not end until the other process exits): the runner's pipes are close-on-exec
// from their creation. Seen from inside a run, every pipe this process holds has FD_CLOEXEC.
// The pipes this process holds and could hand to a child (not close-on-exec): fd -> pipe.
std::map<int, std::string> InheritablePipes() {
  std::map<int, std::string> pipes;
  for (const auto& entry : fs::directory_iterator("/proc/self/fd")) {
    std::error_code error;
    const fs::path target = fs::read_symlink(entry.path(), error);
    if (error || !target.string().starts_with("pipe:")) continue;
    const int fd = std::stoi(entry.path().filename().string());
    if ((::fcntl(fd, F_GETFD) & FD_CLOEXEC) == 0) pipes[fd] = target.string();
  }
  return pipes;
}

TEST(BoostProcessRunnerTest, OutputPipesAreNeverInheritedByOtherProcesses) {
  BoostProcessRunner runner;
  const std::map<int, std::string> before = InheritablePipes();  // the test's own stdout, say
  std::map<int, std::string> during;
  absl::StatusOr<ProcessExit> exit = runner.Run(
      {{"/bin/sh", "-c", "echo started"}},
      [&](std::string_view line) {
        if (line == "started") during = InheritablePipes();
      },
      nullptr);
  ASSERT_TRUE(exit.ok());
  EXPECT_EQ(during, before);
}

TEST(BoostProcessRunnerTest, ProcessIgnoringSigtermIsKilledAfterTheGrace) {
  FakeClock clock;
  BoostProcessRunner runner(clock);
  Cancellation cancel;
  std::thread advancer;
  ProcessSpec spec{{"/bin/sh", "-c", "trap '' TERM; echo started; while :; do sleep 1; done"}};
  spec.kill_grace = std::chrono::seconds(30);
  absl::StatusOr<ProcessExit> exit = runner.Run(
      spec,
      [&](std::string_view line) {
        if (line != "started") return;
        cancel.Cancel("test");
        advancer = std::thread([&] {
          EXPECT_TRUE(clock.WaitForSleepers(1));  // the killer waits out the grace on the fake clock
          clock.Advance(std::chrono::seconds(30));
        });
      },
      &cancel);
  advancer.join();
  ASSERT_TRUE(exit.ok());
  EXPECT_TRUE(exit->cancelled);
  EXPECT_EQ(exit->signal, SIGKILL);
}

}  // namespace
}  // namespace cwb
