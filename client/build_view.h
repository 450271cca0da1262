// How a build is shown: task rows (state, agent, elapsed), the progress bar, and the live view
// that redraws in place on a terminal and prints one plain line per change otherwise.
#pragma once

#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "cwb/v1/state.pb.h"

namespace cwb {

// "3.10/12.1/2.3.0" plus extra axes.
std::string AxesLabel(const v1::TaskSpec& spec);
// "1m05s", "12s"; "-" when the task has not started.
std::string Elapsed(const v1::TaskInfo& task, int64_t now_ms);
// "[#########-----------] 9/20"
std::string ProgressBar(uint32_t done, uint32_t total, int width = 30);
// The task table of `cwb status BUILD`.
void PrintTaskTable(const v1::BuildInfo& build, int64_t now_ms, std::ostream& out);

// Follows a build's events and renders them.
class LiveBuildView {
 public:
  LiveBuildView(std::ostream& out, bool terminal) : out_(out), terminal_(terminal) {}

  void Snapshot(const v1::BuildInfo& build, int64_t now_ms);
  void Update(const v1::TaskInfo& task, int64_t now_ms);
  // Final summary line; returns the counts.
  void Finish(int64_t now_ms);

  uint32_t succeeded() const;
  uint32_t failed() const;  // failed or cancelled

 private:
  void Redraw(int64_t now_ms);
  void PrintLine(const v1::TaskInfo& task);  // the plain (non-terminal) form

  std::ostream& out_;
  const bool terminal_;
  std::string build_id_;
  std::vector<std::string> order_;
  std::map<std::string, v1::TaskInfo> tasks_;
  int drawn_lines_ = 0;
};

}  // namespace cwb
