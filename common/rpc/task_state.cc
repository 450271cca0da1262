#include "common/rpc/task_state.h"

namespace cwb {

bool IsTerminal(v1::TaskState state) {
  return state == v1::TASK_STATE_SUCCEEDED || state == v1::TASK_STATE_FAILED ||
         state == v1::TASK_STATE_CANCELLED;
}

bool IsWaiting(v1::TaskState state) { return state == v1::TASK_STATE_QUEUED || state == v1::TASK_STATE_BUILT; }

const char* StateName(v1::TaskState state) {
  switch (state) {
    case v1::TASK_STATE_QUEUED: return "queued";
    case v1::TASK_STATE_ASSIGNED: return "assigned";
    case v1::TASK_STATE_RUNNING: return "running";
    case v1::TASK_STATE_SUCCEEDED: return "succeeded";
    case v1::TASK_STATE_FAILED: return "failed";
    case v1::TASK_STATE_CANCELLED: return "cancelled";
    case v1::TASK_STATE_BUILT: return "built";
    default: return "unknown";
  }
}

std::string StateLabel(const v1::TaskInfo& task) {
  if (task.state() == v1::TASK_STATE_BUILT) return "built, waiting for a GPU to test";
  if (task.state() == v1::TASK_STATE_SUCCEEDED && task.untested()) return "succeeded (untested)";
  return StateName(task.state());
}

bool NoConnectedAgentCanRun(const v1::TaskInfo& task) {
  return IsWaiting(task.state()) && task.waiting_reason().starts_with(kNoAgentCanRunIt);
}

}  // namespace cwb
