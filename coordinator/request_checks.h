// What the coordinator checks of the requests it is sent, before anything else reads them: sizes
// first (counts, and every string's length, so no pattern runs on unbounded text), then each
// field's form. A build a client submits is checked as the config parser checks the config it
// came from, each Dockerfile against its content hash and each task's id against its spec; an
// agent's registration by the bounds of what an agent is. A hostile client or agent that skips
// `cwb` gets INVALID_ARGUMENT naming the field, never a crash.
#pragma once

#include <cstddef>

#include "absl/status/status.h"
#include "common/config/planner.h"
#include "cwb/v1/agent.pb.h"
#include "cwb/v1/client.pb.h"

namespace cwb {

struct PlanLimits {
  size_t max_tasks = kMaxTasksPerBuild;  // tasks in one build
  size_t max_text = 4096;               // a name, version, URL, ref, package, label or reason
  size_t max_command = 64 << 10;        // a build, repair or test command, an env value
  size_t max_dockerfile = 1 << 20;      // one rendered Dockerfile
  size_t max_list = 1000;               // entries of one list (dependencies, env, packages, axes)
};

// OK, or INVALID_ARGUMENT saying what is wrong and where ("plan.tasks[3].source.repo_url: ...").
// A plan needs at least one task; ids are unique; each task's image names one of the request's
// Dockerfiles (its spec carries none itself).
absl::Status CheckSubmission(const v1::SubmitBuildRequest& request, const PlanLimits& limits = {});

// OK, or INVALID_ARGUMENT naming the field: an agent id of letters, digits, '.', '_' and '-' (at
// most 128), at most 1024 slots and 64 GPUs, labels as in a config, and every string bounded.
absl::Status CheckRegistration(const v1::Register& hello);

}  // namespace cwb
