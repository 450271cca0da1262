// What the coordinator checks of a build a client submits, before anything else reads it: sizes
// first (the number of tasks and Dockerfiles, every string's length, so no pattern runs on
// unbounded text), then every field as the config parser checks the config it came from, then
// each Dockerfile against its content hash and each task's id against its spec. A hostile client
// that skips `cwb` gets INVALID_ARGUMENT naming the field, never a crash.
#pragma once

#include <cstddef>

#include "absl/status/status.h"
#include "cwb/v1/client.pb.h"

namespace cwb {

struct PlanLimits {
  size_t max_tasks = 100000;            // tasks in one build
  size_t max_text = 4096;               // a name, version, URL, ref, package, label or reason
  size_t max_command = 64 << 10;        // a build, repair or test command, an env value
  size_t max_dockerfile = 1 << 20;      // one rendered Dockerfile
  size_t max_list = 1000;               // entries of one list (dependencies, env, packages, axes)
};

// OK, or INVALID_ARGUMENT saying what is wrong and where ("plan.tasks[3].source.repo_url: ...").
// A plan needs at least one task; ids are unique; each task's image names one of the request's
// Dockerfiles (its spec carries none itself).
absl::Status CheckSubmission(const v1::SubmitBuildRequest& request, const PlanLimits& limits = {});

}  // namespace cwb
