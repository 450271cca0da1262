// Names and properties of cwb.v1.TaskState, shared by the coordinator and the CLI.
#pragma once

#include <string>

#include "cwb/v1/state.pb.h"

namespace cwb {

// SUCCEEDED, FAILED and CANCELLED.
bool IsTerminal(v1::TaskState state);
// QUEUED or BUILT: waiting for an agent to take its next step.
bool IsWaiting(v1::TaskState state);
// "queued", "running", ...
const char* StateName(v1::TaskState state);
// As views show a task's state: "built, waiting for a GPU to test" for BUILT, "succeeded
// (untested)" for wheels published without their smoke test, else StateName.
std::string StateLabel(const v1::TaskInfo& task);

// The waiting reason of a task no connected agent can run (the coordinator's, then why not).
inline constexpr char kNoAgentCanRunIt[] = "waiting: no connected agent can run it";
// Whether the task waits for an agent none of those connected is (it says so).
bool NoConnectedAgentCanRun(const v1::TaskInfo& task);

}  // namespace cwb
