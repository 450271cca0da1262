// Names and properties of cwb.v1.TaskState, shared by the coordinator and the CLI.
#pragma once

#include "cwb/v1/state.pb.h"

namespace cwb {

// SUCCEEDED, FAILED and CANCELLED.
bool IsTerminal(v1::TaskState state);
// QUEUED or BUILT: waiting for an agent to take its next step.
bool IsWaiting(v1::TaskState state);
// "queued", "running", ...
const char* StateName(v1::TaskState state);

}  // namespace cwb
