#include "client/build_view.h"

#include <algorithm>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/table.h"
#include "common/rpc/task_state.h"

namespace cwb {

std::string AxesLabel(const v1::TaskSpec& spec) {
  std::string label;
  for (const v1::AxisValue& axis : spec.axes()) {
    absl::StrAppend(&label, label.empty() ? "" : "/", axis.value());
  }
  return label;
}

std::string Elapsed(const v1::TaskInfo& task, int64_t now_ms) {
  if (task.started_at_ms() == 0) return "-";
  const int64_t end = task.finished_at_ms() != 0 ? task.finished_at_ms() : now_ms;
  return FormatSeconds(std::max<int64_t>(0, (end - task.started_at_ms()) / 1000));
}

std::string ProgressText(const v1::TaskInfo& task, int64_t now_ms) {
  const v1::BuildProgress& progress = task.progress();
  if (task.state() != v1::TASK_STATE_RUNNING || progress.total() == 0) return "";
  std::string text = absl::StrCat(progress.done() * 100 / progress.total(), "%");
  if (progress.total() != 100) absl::StrAppend(&text, " ", progress.done(), "/", progress.total());
  if (progress.left_ms() >= 0) {
    const int64_t left = std::max<int64_t>(0, progress.left_ms() - std::max<int64_t>(0, now_ms - progress.reported_at_ms()));
    absl::StrAppend(&text, " ~", FormatSeconds(left / 1000), " left");
  }
  return text;
}

std::string FormatSeconds(int64_t seconds) {
  if (seconds < 60) return absl::StrCat(seconds, "s");
  if (seconds < 3600) return absl::StrFormat("%dm%02ds", seconds / 60, seconds % 60);
  return absl::StrFormat("%dh%02dm", seconds / 3600, (seconds % 3600) / 60);
}

std::string ProgressBar(uint32_t done, uint32_t total, int width) {
  const int filled = total == 0 ? width : static_cast<int>(static_cast<uint64_t>(done) * width / total);
  return absl::StrCat("[", std::string(filled, '#'), std::string(width - filled, '-'), "] ", done,
                      "/", total);
}

void PrintTaskTable(const v1::BuildInfo& build, int64_t now_ms, std::ostream& out, bool colour) {
  TextTable table({"TASK", "PROJECT", "TARGET", "STATE", "AGENT", "ELAPSED", "PROGRESS", "MESSAGE"});
  table.ColourStates(3, colour);
  for (const v1::TaskInfo& task : build.tasks()) {
    table.AddRow({task.spec().id(), task.spec().project(), AxesLabel(task.spec()),
                  StateLabel(task), task.agent_id(), Elapsed(task, now_ms), ProgressText(task, now_ms),
                  task.waiting_reason().empty() ? task.message() : task.waiting_reason()});
  }
  table.Print(out);
  out << "build " << build.build_id() << ": " << build.succeeded() << " succeeded";
  if (build.untested() > 0) out << " (" << build.untested() << " untested)";
  out << ", " << build.failed() << " failed, " << build.cancelled() << " cancelled, ";
  if (build.awaiting_test() > 0) out << build.awaiting_test() << " built and waiting for a GPU to test, ";
  out << build.total() << " total" << (build.finished() ? "" : " (running)") << '\n';
}

void LiveBuildView::Snapshot(const v1::BuildInfo& build, int64_t now_ms) {
  std::lock_guard lock(mutex_);
  build_id_ = build.build_id();
  allow_untested_ = build.allow_untested();
  order_.clear();
  tasks_.clear();
  for (const v1::TaskInfo& task : build.tasks()) {
    order_.push_back(task.spec().id());
    tasks_[task.spec().id()] = task;
    if (!terminal_) PrintLine(task);
  }
  if (terminal_) RedrawLocked(now_ms);
  out_ << std::flush;
}

void LiveBuildView::PrintLine(const v1::TaskInfo& task) {
  out_ << "task " << task.spec().id() << " " << task.spec().project() << " "
       << AxesLabel(task.spec()) << ": " << StateLabel(task);
  if (!task.agent_id().empty()) out_ << " on " << task.agent_id();
  if (!task.message().empty()) out_ << " (" << task.message() << ")";
  out_ << '\n';
}

void LiveBuildView::Update(const v1::TaskInfo& task, int64_t now_ms) {
  std::lock_guard lock(mutex_);
  auto it = tasks_.find(task.spec().id());
  const bool state_changed = it == tasks_.end() || it->second.state() != task.state();
  tasks_[task.spec().id()] = task;
  if (terminal_) {
    changed_ = true;
    if (now_ms - drawn_at_ms_ >= kRedrawMs) RedrawLocked(now_ms);
    return;
  }
  if (!state_changed) return;  // plain output: one line per state change
  PrintLine(task);
  out_ << std::flush;
}

void LiveBuildView::Tick(int64_t now_ms) {
  std::lock_guard lock(mutex_);
  if (!terminal_ || drawn_lines_ == 0) return;
  if ((changed_ && now_ms - drawn_at_ms_ >= kRedrawMs) || now_ms - drawn_at_ms_ >= 1000) RedrawLocked(now_ms);
}

void LiveBuildView::RedrawLocked(int64_t now_ms) {
  // Which tasks get a row: all of a small build; of a large one, running tasks first, then
  // failed, queued and succeeded ones, in matrix order within each.
  const TerminalSize size = terminal_size_();
  const size_t columns = static_cast<size_t>(std::max(size.columns - 1, 20));  // never the last column
  const size_t max_rows = static_cast<size_t>(std::clamp(size.rows - kOtherLines, 1, kMaxRows));
  std::vector<const v1::TaskInfo*> shown;
  std::map<v1::TaskState, uint32_t> hidden;
  uint32_t done = 0;
  for (const std::string& id : order_) done += IsTerminal(tasks_.at(id).state());
  if (order_.size() <= max_rows) {
    for (const std::string& id : order_) shown.push_back(&tasks_.at(id));
  } else {
    auto rank = [](v1::TaskState state) {
      switch (state) {
        case v1::TASK_STATE_RUNNING:
        case v1::TASK_STATE_ASSIGNED: return 0;
        case v1::TASK_STATE_FAILED:
        case v1::TASK_STATE_CANCELLED: return 1;
        case v1::TASK_STATE_QUEUED:
        case v1::TASK_STATE_BUILT: return 2;
        default: return 3;
      }
    };
    for (int wanted = 0; wanted < 4; ++wanted) {
      for (const std::string& id : order_) {
        const v1::TaskInfo& task = tasks_.at(id);
        if (rank(task.state()) != wanted) continue;
        if (shown.size() < max_rows) {
          shown.push_back(&task);
        } else {
          ++hidden[task.state()];
        }
      }
    }
  }
  if (drawn_lines_ > 0) out_ << "\x1b[" << drawn_lines_ << "F";  // back to the first line
  TextTable table({"TASK", "PROJECT", "TARGET", "STATE", "AGENT", "ELAPSED", "PROGRESS"});
  table.ColourStates(3, UseColour(terminal_));
  table.FitWidth(columns, {2, 1, 4, 6});  // target, project, agent, progress; the id and state stay whole
  for (const v1::TaskInfo* task : shown) {
    table.AddRow({task->spec().id(), task->spec().project(), AxesLabel(task->spec()), StateLabel(*task),
                  task->agent_id(), Elapsed(*task, now_ms), ProgressText(*task, now_ms)});
  }
  std::ostringstream text;
  table.Print(text);
  if (!hidden.empty()) {
    uint32_t more = 0;
    std::string counts;
    for (const auto& [state, n] : hidden) {
      more += n;
      absl::StrAppend(&counts, counts.empty() ? "" : ", ", n, " ", StateName(state));
    }
    text << CutToColumns(absl::StrCat("... and ", more, " more (", counts, ")"), columns) << '\n';
  }
  const int bar_width = static_cast<int>(std::min<size_t>(30, columns > 30 ? columns - 30 : 1));
  text << CutToColumns(ProgressBar(done, static_cast<uint32_t>(order_.size()), bar_width), columns) << '\n';
  std::string rendered = text.str();
  const int previous_lines = drawn_lines_;
  drawn_lines_ = 0;
  size_t start = 0;
  for (size_t end; (end = rendered.find('\n', start)) != std::string::npos; start = end + 1) {
    out_ << "\x1b[2K" << rendered.substr(start, end - start) << '\n';
    ++drawn_lines_;
  }
  // A shorter table than the last leaves its old lines below: clear them.
  for (int i = drawn_lines_; i < previous_lines; ++i) out_ << "\x1b[2K\n";
  if (previous_lines > drawn_lines_) out_ << "\x1b[" << previous_lines - drawn_lines_ << "F";
  out_ << std::flush;
  drawn_at_ms_ = now_ms;
  changed_ = false;
}

uint32_t LiveBuildView::succeeded() const {
  std::lock_guard lock(mutex_);
  uint32_t n = 0;
  for (const auto& [id, task] : tasks_) n += task.state() == v1::TASK_STATE_SUCCEEDED;
  return n;
}

uint32_t LiveBuildView::failed() const {
  std::lock_guard lock(mutex_);
  uint32_t n = 0;
  for (const auto& [id, task] : tasks_) {
    n += task.state() == v1::TASK_STATE_FAILED || task.state() == v1::TASK_STATE_CANCELLED;
  }
  return n;
}

bool LiveBuildView::Settled() const {
  std::lock_guard lock(mutex_);
  if (order_.empty()) return false;
  return std::all_of(tasks_.begin(), tasks_.end(), [this](const auto& entry) {
    const v1::TaskInfo& task = entry.second;
    // A build allowing untested wheels has its coordinator publish them: not settled yet.
    if (task.state() == v1::TASK_STATE_BUILT && allow_untested_) return false;
    return IsTerminal(task.state()) || NoConnectedAgentCanRun(task);
  });
}

uint32_t LiveBuildView::Count(const std::function<bool(const v1::TaskInfo&)>& which) const {
  std::lock_guard lock(mutex_);
  uint32_t n = 0;
  for (const auto& [id, task] : tasks_) n += which(task) ? 1 : 0;
  return n;
}

uint32_t LiveBuildView::awaiting_test() const {
  return Count([](const v1::TaskInfo& task) { return task.state() == v1::TASK_STATE_BUILT; });
}

uint32_t LiveBuildView::unfinished() const {
  return Count([](const v1::TaskInfo& task) { return !IsTerminal(task.state()); });
}

void LiveBuildView::Finish(int64_t now_ms, const std::function<std::string(const std::string&)>& log_of) {
  const uint32_t succeeded_tasks = succeeded(), failed_tasks = failed(), awaiting = awaiting_test(),
                 left = unfinished();
  const uint32_t untested =
      Count([](const v1::TaskInfo& task) { return task.state() == v1::TASK_STATE_SUCCEEDED && task.untested(); });
  std::lock_guard lock(mutex_);
  if (terminal_) RedrawLocked(now_ms);
  out_ << "build " << build_id_ << (left == 0 ? " finished: " : " stopped, nothing more can run here: ")
       << succeeded_tasks << " succeeded";
  if (untested > 0) out_ << " (" << untested << " untested: no GPU ran their smoke test)";
  out_ << ", " << failed_tasks << " failed or cancelled";
  if (awaiting > 0) out_ << ", " << awaiting << " wheel build(s) awaiting a GPU test";
  if (left > awaiting) out_ << ", " << left - awaiting << " waiting for an agent that can build them";
  out_ << '\n';
  for (const std::string& id : order_) {
    const v1::TaskInfo& task = tasks_.at(id);
    if (task.state() == v1::TASK_STATE_FAILED || task.state() == v1::TASK_STATE_CANCELLED) {
      out_ << "  " << id << " " << task.spec().project() << " " << AxesLabel(task.spec()) << ": "
           << StateName(task.state()) << ": " << task.message() << '\n';
      if (log_of && task.state() == v1::TASK_STATE_FAILED) out_ << "    log: " << log_of(id) << '\n';
    } else if (!IsTerminal(task.state())) {
      out_ << "  " << id << " " << task.spec().project() << " " << AxesLabel(task.spec()) << ": " << StateLabel(task)
           << ": " << task.waiting_reason() << '\n';
    }
  }
  if (awaiting > 0) {
    out_ << "  their wheels are held back, unpublished: connect an agent with a GPU to test them, or build with "
            "--allow-untested (allow_untested: true) to publish them untested\n";
  }
}

}  // namespace cwb
