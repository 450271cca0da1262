// A plan as it travels in SubmitBuild: every task's spec with each distinct rendered Dockerfile
// taken out into the request's table (a matrix of ten thousand tasks on one image sends that
// Dockerfile once), and no path of the client's machine.
#pragma once

#include <string>

#include "common/config/planner.h"
#include "cwb/v1/client.pb.h"

namespace cwb {

v1::SubmitBuildRequest MakeSubmission(const BuildPlan& plan, const std::string& config_name, bool no_cache);

}  // namespace cwb
