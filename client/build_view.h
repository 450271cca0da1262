// How a build is shown: task rows (state, agent, elapsed), the progress bar, and the live view
// that redraws in place on a terminal and prints one plain line per change otherwise.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <ostream>
#include <string>
#include <vector>

#include "client/terminal_text.h"
#include "cwb/v1/state.pb.h"

namespace cwb {

// "3.10/12.1/2.3.0" plus extra axes.
std::string AxesLabel(const v1::TaskSpec& spec);
// "1m05s", "12s"; "-" when the task has not started.
std::string Elapsed(const v1::TaskInfo& task, int64_t now_ms);
// "1m05s", "12s", "2h03m".
std::string FormatSeconds(int64_t seconds);
// A running task's build progress: "57% 312/545 ~4m05s left" (the estimate counted down from
// when it was reported); "" without one.
std::string ProgressText(const v1::TaskInfo& task, int64_t now_ms);
// "[#########-----------] 9/20"
std::string ProgressBar(uint32_t done, uint32_t total, int width = 30);
// The task table of `cwb status BUILD`.
void PrintTaskTable(const v1::BuildInfo& build, int64_t now_ms, std::ostream& out, bool colour = false);

// Follows a build's events and renders them. On a terminal it redraws a table in place, at most
// every kRedrawMs (Tick catches up and keeps elapsed times moving), showing at most kMaxRows
// tasks: running ones first, then failed, queued and succeeded, and a count of the rest; a build
// of ten thousand tasks stays readable and cheap to follow. Every redraw fits the terminal's
// size as `terminal_size` gives it then (a resized window is followed): no line is wider than
// the terminal, so none wraps and the cursor goes back exactly over what was drawn, and no more
// rows than its height allows. Otherwise it prints one line per state change. Thread-safe (a
// ticker thread may call Tick).
class LiveBuildView {
 public:
  static constexpr int kMaxRows = 40;
  static constexpr int64_t kRedrawMs = 200;
  // Lines besides the task rows: the header, "... and N more", the progress bar, and the
  // terminal's last line where the cursor waits.
  static constexpr int kOtherLines = 4;

  LiveBuildView(std::ostream& out, bool terminal,
                std::function<TerminalSize()> terminal_size = [] { return TerminalSize{}; })
      : out_(out), terminal_(terminal), terminal_size_(std::move(terminal_size)) {}

  void Snapshot(const v1::BuildInfo& build, int64_t now_ms);
  void Update(const v1::TaskInfo& task, int64_t now_ms);
  // Redraws if something changed since the last draw, or a second has passed.
  void Tick(int64_t now_ms);
  // The summary: a line of counts, then each failed or cancelled task with its message (the
  // cause of a failure) and, below, where its whole log is (`log_of(task_id)`; none if empty), and
  // each task still waiting (a settled build) with why.
  void Finish(int64_t now_ms, const std::function<std::string(const std::string& task_id)>& log_of = {});

  uint32_t succeeded() const;
  uint32_t failed() const;  // failed or cancelled
  uint32_t awaiting_test() const;  // built, waiting for a GPU to test
  uint32_t unfinished() const;     // not terminal
  // Nothing more will happen without another agent: every task is terminal, or waits for an agent
  // none of those connected is (a smoke test needing a GPU on a machine without one).
  bool Settled() const;

 private:
  void RedrawLocked(int64_t now_ms);
  void PrintLine(const v1::TaskInfo& task);  // the plain (non-terminal) form
  uint32_t Count(const std::function<bool(const v1::TaskInfo&)>& which) const;

  std::ostream& out_;
  bool allow_untested_ = false;  // the build's: its coordinator publishes built wheels no GPU can test
  const bool terminal_;
  const std::function<TerminalSize()> terminal_size_;
  mutable std::mutex mutex_;
  std::string build_id_;
  std::vector<std::string> order_;
  std::map<std::string, v1::TaskInfo> tasks_;
  int drawn_lines_ = 0;
  int64_t drawn_at_ms_ = 0;
  bool changed_ = false;  // since the last draw
};

}  // namespace cwb
