#include "client/build_view.h"

#include <stdlib.h>

#include <sstream>

#include "absl/strings/str_cat.h"
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
  LiveBuildView view(out, /*terminal=*/true);
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
