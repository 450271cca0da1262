#include "client/build_view.h"

#include <stdlib.h>

#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "client/table.h"

namespace cwb {
namespace {

v1::TaskInfo Task(int i, v1::TaskState state) {
  v1::TaskInfo task;
  task.mutable_spec()->set_id(absl::StrCat("t", i));
  task.mutable_spec()->set_project("demo");
  task.set_state(state);
  return task;
}

// A build of `n` tasks: the first `running` running, the next `failed` failed, every tenth of the
// rest succeeded, the others queued.
v1::BuildInfo Build(int n, int running, int failed) {
  v1::BuildInfo build;
  build.set_build_id("b1");
  for (int i = 0; i < n; ++i) {
    v1::TaskState state = v1::TASK_STATE_QUEUED;
    if (i < running) {
      state = v1::TASK_STATE_RUNNING;
    } else if (i < running + failed) {
      state = v1::TASK_STATE_FAILED;
    } else if (i % 10 == 0) {
      state = v1::TASK_STATE_SUCCEEDED;
    }
    *build.add_tasks() = Task(n - 1 - i, state);  // matrix order is not state order
  }
  return build;
}

TEST(LiveBuildViewTest, ALargeBuildShowsRunningAndFailedTasksFirstAndCountsTheRest) {
  std::ostringstream out;
  LiveBuildView view(out, /*terminal=*/true, [] { return TerminalSize{200, 60}; });
  view.Snapshot(Build(1000, 3, 2), 0);
  const std::string text = out.str();
  const std::vector<std::string> lines = absl::StrSplit(text, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), static_cast<size_t>(LiveBuildView::kMaxRows) + 3);  // header, rows, more, bar
  EXPECT_THAT(lines[1], ::testing::HasSubstr("t999"));  // the first running task
  EXPECT_THAT(lines[1], ::testing::HasSubstr("running"));
  EXPECT_THAT(lines[4], ::testing::HasSubstr("failed"));
  EXPECT_THAT(lines[6], ::testing::HasSubstr("queued"));
  EXPECT_THAT(text, ::testing::HasSubstr("... and 960 more (861 queued, 99 succeeded)"));
  EXPECT_THAT(text, ::testing::HasSubstr("] 101/1000"));
}

// The lines of the last redraw: what follows the last "move up" escape, or all of `text`.
std::vector<std::string> LastDraw(const std::string& text) {
  const size_t up = text.rfind("F\x1b[2K");
  std::string last = up == std::string::npos ? text : text.substr(text.rfind("\x1b[", up)) ;
  std::vector<std::string> lines = absl::StrSplit(last, '\n', absl::SkipEmpty());
  for (std::string& line : lines) {
    for (size_t at; (at = line.find("\x1b[")) != std::string::npos;) {
      line.erase(at, line.find_first_of("FKm", at) + 1 - at);  // cursor moves, clears, colours
    }
  }
  return lines;
}

TEST(LiveBuildViewTest, EveryRedrawFitsTheTerminalAsItIsNow) {
  v1::BuildInfo build = Build(100, 30, 5);
  for (v1::TaskInfo& task : *build.mutable_tasks()) {
    task.mutable_spec()->set_id(absl::StrFormat("9f3c2a71d0e4%04s", task.spec().id()));
    task.mutable_spec()->set_project("flash-attention-with-a-long-name");
    for (const char* value : {"3.12", "12.4", "2.5.1", "cxx11abiFALSE"}) {
      task.mutable_spec()->add_axes()->set_value(value);
    }
    task.set_agent_id("gpu-builder-eu-west-17.example.internal");
  }
  TerminalSize size{80, 24};
  std::ostringstream out;
  LiveBuildView view(out, /*terminal=*/true, [&] { return size; });
  view.Snapshot(build, 0);
  std::vector<std::string> lines = LastDraw(out.str());
  ASSERT_EQ(lines.size(), 24u - 1);  // 20 task rows, header, "... and", bar; the cursor below
  for (const std::string& line : lines) EXPECT_LE(VisibleColumns(line), 79u) << line;
  EXPECT_THAT(lines[0], ::testing::StartsWith("TASK  "));
  EXPECT_THAT(lines[1], ::testing::StartsWith("9f3c2a71d0e4 t99  "));  // ids whole
  EXPECT_THAT(lines[1], ::testing::HasSubstr("running"));
  EXPECT_THAT(lines[1], ::testing::HasSubstr("~"));  // long names cut, visibly
  EXPECT_THAT(lines[22], ::testing::HasSubstr("] 11/100"));  // 5 failed, 6 succeeded

  size = {200, 50};  // the window grew: the next redraw uses it
  view.Tick(2000);
  lines = LastDraw(out.str());
  ASSERT_EQ(lines.size(), 43u);  // kMaxRows rows and three other lines
  EXPECT_THAT(lines[1], ::testing::HasSubstr("flash-attention-with-a-long-name"));
  EXPECT_THAT(lines[1], ::testing::HasSubstr("3.12/12.4/2.5.1/cxx11abiFALSE"));
  EXPECT_THAT(lines[1], ::testing::HasSubstr("gpu-builder-eu-west-17.example.internal"));
}

TEST(BuildViewTest, ProgressSaysHowFarAndCountsTheTimeLeftDown) {
  v1::TaskInfo task = Task(1, v1::TASK_STATE_RUNNING);
  EXPECT_EQ(ProgressText(task, 0), "");  // the build said nothing of its progress
  task.mutable_progress()->set_done(312);
  task.mutable_progress()->set_total(545);
  task.mutable_progress()->set_reported_at_ms(100000);
  task.mutable_progress()->set_left_ms(-1);
  EXPECT_EQ(ProgressText(task, 100000), "57% 312/545");  // no estimate yet
  task.mutable_progress()->set_left_ms(245000);
  EXPECT_EQ(ProgressText(task, 100000), "57% 312/545 ~4m05s left");
  EXPECT_EQ(ProgressText(task, 160000), "57% 312/545 ~3m05s left");  // a minute later
  EXPECT_EQ(ProgressText(task, 900000), "57% 312/545 ~0s left");     // later than foreseen
  task.mutable_progress()->set_total(100);  // make's percentages
  task.mutable_progress()->set_done(42);
  EXPECT_EQ(ProgressText(task, 100000), "42% ~4m05s left");
  task.set_state(v1::TASK_STATE_SUCCEEDED);
  EXPECT_EQ(ProgressText(task, 100000), "");
}

TEST(LiveBuildViewTest, RedrawsAreCoalescedAndTickCatchesUp) {
  std::ostringstream out;
  LiveBuildView view(out, /*terminal=*/true);
  view.Snapshot(Build(5, 0, 0), 1000);
  const size_t after_snapshot = out.str().size();
  view.Update(Task(0, v1::TASK_STATE_RUNNING), 1050);  // within kRedrawMs: not drawn yet
  EXPECT_EQ(out.str().size(), after_snapshot);
  view.Tick(1100);
  EXPECT_EQ(out.str().size(), after_snapshot);
  view.Tick(1000 + LiveBuildView::kRedrawMs);
  EXPECT_GT(out.str().size(), after_snapshot);
  EXPECT_THAT(out.str().substr(after_snapshot), ::testing::HasSubstr("running"));
}

TEST(LiveBuildViewTest, PlainOutputPrintsEveryStateChangeAtOnce) {
  std::ostringstream out;
  LiveBuildView view(out, /*terminal=*/false);
  view.Snapshot(Build(2, 0, 0), 0);
  view.Update(Task(0, v1::TASK_STATE_RUNNING), 1);
  view.Update(Task(0, v1::TASK_STATE_RUNNING), 2);  // no change: no line
  view.Update(Task(0, v1::TASK_STATE_SUCCEEDED), 3);
  EXPECT_EQ(out.str(), "task t1 demo : succeeded\ntask t0 demo : queued\ntask t0 demo : running\n"
                       "task t0 demo : succeeded\n");
}

TEST(LiveBuildViewTest, ABuildIsSettledWhenWhatIsLeftWaitsForAnAgentNoneConnectedIs) {
  std::ostringstream out;
  LiveBuildView view(out, /*terminal=*/false);
  view.Snapshot(Build(2, 0, 0), 0);  // t1 succeeded, t0 queued
  EXPECT_FALSE(view.Settled());
  v1::TaskInfo built = Task(0, v1::TASK_STATE_BUILT);
  built.set_waiting_reason("waiting: every agent that can run it is busy");
  view.Update(built, 1);
  EXPECT_FALSE(view.Settled());  // a GPU agent is connected: its test will come
  built.set_waiting_reason("waiting: no connected agent can run it (needs a GPU)");
  view.Update(built, 2);
  EXPECT_TRUE(view.Settled());
  EXPECT_EQ(view.awaiting_test(), 1u);
  EXPECT_EQ(view.unfinished(), 1u);
  view.Finish(3);
  EXPECT_THAT(out.str(), ::testing::HasSubstr("build b1 stopped, nothing more can run here: 1 succeeded, 0 failed or "
                                              "cancelled, 1 wheel build(s) awaiting a GPU test\n"
                                              "  t0 demo : built, waiting for a GPU to test: waiting: no connected "
                                              "agent can run it (needs a GPU)\n"));
  // A build that allows untested wheels is not settled by them: its coordinator publishes them.
  v1::BuildInfo allowing = Build(2, 0, 0);  // t1 succeeded, t0 queued
  allowing.set_allow_untested(true);
  LiveBuildView other(out, false);
  other.Snapshot(allowing, 0);
  other.Update(built, 1);
  EXPECT_FALSE(other.Settled());
  v1::TaskInfo published = Task(0, v1::TASK_STATE_SUCCEEDED);
  published.set_untested(true);
  other.Update(published, 2);
  EXPECT_TRUE(other.Settled());
  std::ostringstream summary;
  LiveBuildView third(summary, false);
  third.Snapshot(allowing, 0);
  third.Update(published, 1);
  third.Finish(2);
  EXPECT_THAT(summary.str(), ::testing::HasSubstr("task t0 demo : succeeded (untested)\n"));
  EXPECT_THAT(summary.str(), ::testing::HasSubstr("finished: 2 succeeded (1 untested: no GPU ran their smoke test)"));
}

}  // namespace
}  // namespace cwb

namespace cwb {
namespace {

TEST(TextTableTest, ColoursStatesOnlyWhenAskedAndKeepsColumnsAligned) {
  TextTable table({"ID", "STATE", "NOTE"});
  table.AddRow({"a", "succeeded", "x"});
  table.AddRow({"bb", "failed", "y"});
  table.ColourStates(1, true);
  std::ostringstream coloured;
  table.Print(coloured);
  EXPECT_EQ(coloured.str(),
            "ID  STATE      NOTE\n"
            "a   \x1b[32msucceeded\x1b[0m  x\n"
            "bb  \x1b[31mfailed\x1b[0m     y\n");
  table.ColourStates(1, false);
  std::ostringstream plain;
  table.Print(plain);
  EXPECT_EQ(plain.str().find('\x1b'), std::string::npos);
}

TEST(TextTableTest, FitWidthShrinksTheWidestNamedColumnFirstAndKeepsTheOthersWhole) {
  TextTable table({"ID", "NAME", "STATE", "WHERE"});
  table.AddRow({"0123456789abcdef", "a-rather-long-project-name", "succeeded", "agent-17"});
  table.ColourStates(2, true);
  table.FitWidth(50, {1, 3});
  std::ostringstream out;
  table.Print(out);
  EXPECT_EQ(out.str(),
            "ID                NAME         STATE      WHERE\n"
            "0123456789abcdef  a-rather-l~  \x1b[32msucceeded\x1b[0m  agent-17\n");
  table.FitWidth(30, {1, 3});  // past what shrinking gives: cut at the edge, the colour reset
  std::ostringstream narrow;
  table.Print(narrow);
  EXPECT_EQ(narrow.str(),
            "ID                NAME  STATE \n"
            "0123456789abcdef  a-r~  \x1b[32msuccee\x1b[0m\n");
}

TEST(TextTableTest, NoColorAndDumbTerminalsTurnColourOff) {
  ::unsetenv("NO_COLOR");
  ::setenv("TERM", "xterm-256color", 1);
  EXPECT_TRUE(UseColour(true));
  EXPECT_FALSE(UseColour(false));  // not a terminal
  ::setenv("NO_COLOR", "1", 1);
  EXPECT_FALSE(UseColour(true));
  ::setenv("NO_COLOR", "", 1);  // empty: as if unset (no-color.org)
  EXPECT_TRUE(UseColour(true));
  ::setenv("TERM", "dumb", 1);
  EXPECT_FALSE(UseColour(true));
  ::unsetenv("NO_COLOR");
  ::unsetenv("TERM");
}

}  // namespace
}  // namespace cwb
