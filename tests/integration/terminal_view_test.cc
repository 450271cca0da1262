// `cwb submit --watch` in a real terminal: tmux runs the CLI against a real cluster (coordinator,
// agents building in podman) at 80 and at 200 columns, and the screen is read back as a person
// would see it: the live view's header is drawn once, no line wraps, task ids stay whole, and a
// short window shows what fits with a count of the rest.
#include <unistd.h>

#include <regex>
#include <set>
#include <thread>

#include "tests/integration/cluster_fixture.h"

namespace cwb::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kProject[] = "a-project-with-a-rather-long-name";

class TerminalViewTest : public ClusterTest {
 protected:
  void TearDown() override {
    if (!socket_.empty()) RunAndCapture(runner_, {{"tmux", "-L", socket_, "kill-server"}}).IgnoreError();
    ClusterTest::TearDown();
  }

  // 2 torch versions x 6 long variant names: 12 tasks with wide names.
  std::string WriteWideConfig() {
    const std::filesystem::path path = dir_ / "wide.yaml";
    std::ofstream(path) << absl::StrCat(
        "build_matrix:\n"
        "  python_version: [3.11]\n"
        "  cuda_version: [cpu]\n"
        "  pytorch_version: [2.4.0, 2.5.0]\n"
        "  variant: [alongvariantname1, alongvariantname2, alongvariantname3,\n"
        "            alongvariantname4, alongvariantname5, alongvariantname6]\n"
        "local_version: true\n"
        "projects:\n"
        "  - name: ", kProject, "\n"
        "    repo_url: ", pure_.string(), "\n"
        "    build_command: |\n"
        "      sleep 2\n"
        "      pip wheel . --no-deps --no-build-isolation -w \"$CWB_OUT\"\n"
        "pytorch_base_images:\n"
        "  \"2.4.0\": {cpu: ", kBaseImage, "}\n"
        "  \"2.5.0\": {cpu: ", kBaseImage, "}\n");
    return path.string();
  }

  // Starts `cwb submit CONFIG --watch` in a tmux window of the given size.
  void StartWatchInTmux(int columns, int rows, const std::string& config) {
    socket_ = absl::StrCat("cwb-test-", ::getpid(), "-", columns);
    std::string command;
    for (const std::string& arg : Cli({"submit", config, "--watch"})) absl::StrAppend(&command, "'", arg, "' ");
    absl::StrAppend(&command, "; echo cwb-exit=$?; sleep 600");
    MustRun({"tmux", "-L", socket_, "-f", "/dev/null", "new-session", "-d", "-x", std::to_string(columns),
             "-y", std::to_string(rows), "-s", "view", "env", "TERM=tmux-256color", "sh", "-c", command});
  }

  // The window as a person sees it: with `history`, everything that scrolled off as well; lines
  // the terminal wrapped are joined back (-J), so a line that did not fit shows as longer.
  std::vector<std::string> Screen(bool history = false) {
    std::vector<std::string> argv = {"tmux", "-L", socket_, "capture-pane", "-p", "-J", "-t", "view"};
    if (history) argv.insert(argv.end(), {"-S", "-"});
    const std::string text = MustRun(argv);
    std::vector<std::string> lines = absl::StrSplit(text, '\n');
    while (!lines.empty() && lines.back().find_first_not_of(' ') == std::string::npos) lines.pop_back();
    return lines;
  }

  // Follows the window until the CLI exits, checking every screen on the way; returns the whole
  // history at the end.
  std::vector<std::string> FollowUntilExit(size_t columns, int rows) {
    const auto deadline = std::chrono::steady_clock::now() + seconds(240);
    int screens = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      const std::vector<std::string> screen = Screen();
      ++screens;
      int headers = 0;
      for (const std::string& line : screen) {
        // The summary after the view is printed once, scrolls and may wrap; the view may not.
        if (line.starts_with("build ") && line.find(" finished: ") != std::string::npos) break;
        EXPECT_LE(line.size(), columns) << "a line wrapped:\n" << absl::StrJoin(screen, "\n");
        headers += line.starts_with("TASK ");
      }
      EXPECT_LE(headers, 1) << absl::StrJoin(screen, "\n");
      EXPECT_LE(screen.size(), static_cast<size_t>(rows));
      if (absl::StrJoin(screen, "\n").find("cwb-exit=") != std::string::npos) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(150));
    }
    EXPECT_GT(screens, 3) << "the build ended before the view could be watched";
    return Screen(/*history=*/true);
  }

  // Every word that looks like a task id (16 hex digits at the start of a row) is one of `ids`,
  // whole; returns how many rows named one.
  static int CheckTaskIds(const std::vector<std::string>& lines, const std::set<std::string>& ids) {
    const std::regex row("^([0-9a-f]{6,})\\s");
    int rows = 0;
    for (const std::string& line : lines) {
      std::smatch match;
      if (!std::regex_search(line, match, row)) continue;
      ++rows;
      EXPECT_TRUE(ids.contains(match[1].str())) << "a mangled task id: " << line;
    }
    return rows;
  }

  std::set<std::string> TaskIds() {
    auto [code, output] = RunCli({"plan", dir_.string() + "/wide.yaml", "--json"});
    EXPECT_EQ(code, 0) << output;
    std::set<std::string> ids;
    const std::regex id("\"id\":\\s*\"([0-9a-f]{16})\"");
    for (std::sregex_iterator it(output.begin(), output.end(), id), end; it != end; ++it) ids.insert((*it)[1]);
    EXPECT_EQ(ids.size(), 12u) << output;
    return ids;
  }

  BoostProcessRunner runner_;
  std::string socket_;
};

TEST_F(TerminalViewTest, At80ColumnsTheViewFitsTheWindowAndKeepsItsHeaderOnce) {
  StartCoordinator();
  StartAgents(2);
  const std::string config = WriteWideConfig();
  const std::set<std::string> ids = TaskIds();
  StartWatchInTmux(80, 12, config);
  const std::vector<std::string> history = FollowUntilExit(80, 12);
  const std::string text = absl::StrJoin(history, "\n");
  int headers = 0;
  for (const std::string& line : history) headers += line.starts_with("TASK ");
  EXPECT_EQ(headers, 1) << text;  // redrawn in place, never left behind
  EXPECT_THAT(text, HasSubstr("cwb-exit=0"));
  EXPECT_THAT(text, HasSubstr("12 succeeded, 0 failed"));
  // 12 rows do not fit 12 lines: 8 rows and a count of the rest.
  EXPECT_THAT(text, HasSubstr("... and 4 more (4 succeeded)"));
  EXPECT_EQ(CheckTaskIds(history, ids), 8) << text;
  EXPECT_THAT(text, HasSubstr("~")) << "long names are cut visibly";
}

TEST_F(TerminalViewTest, At200ColumnsEveryTaskShowsWhole) {
  StartCoordinator();
  StartAgents(2);
  const std::string config = WriteWideConfig();
  const std::set<std::string> ids = TaskIds();
  StartWatchInTmux(200, 50, config);
  const std::vector<std::string> history = FollowUntilExit(200, 50);
  const std::string text = absl::StrJoin(history, "\n");
  EXPECT_THAT(text, HasSubstr("cwb-exit=0"));
  EXPECT_EQ(CheckTaskIds(history, ids), 12) << text;
  for (const std::string& line : history) {
    if (!std::regex_search(line, std::regex("^[0-9a-f]{16}\\s"))) continue;
    EXPECT_THAT(line, HasSubstr(kProject));
    EXPECT_THAT(line, HasSubstr("3.11/cpu/2."));
    EXPECT_THAT(line, HasSubstr("/alongvariantname"));
    EXPECT_THAT(line, ::testing::Not(HasSubstr("~")));
  }
}

}  // namespace
}  // namespace cwb::testing
