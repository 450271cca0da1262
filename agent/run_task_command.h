// `cwb-agent run-task TASK.json`: builds one task on this host with no coordinator, for debugging
// a recipe. `cwb-agent probe`: prints what the agent would report about this host.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "agent/build_pipeline.h"
#include "agent/runtime_factory.h"

namespace cwb {

struct RunTaskOptions {
  std::string task_file;     // a TaskSpec, or a BuildPlan (`cwb plan --json`) with task_id
  std::string task_id;       // which task of a plan; may be a unique prefix
  RuntimeOptions runtime;
  PipelineOptions pipeline;
  std::string gpus = "all";  // "all", "none" or a comma-separated list of device ids
  std::vector<std::string> secret_env;  // names of this process's env vars builds may ask for
  std::string output_dir = ".";  // wheels go to <output_dir>/wheelhouse/py<V>/cuda<V>/<platform>/
};

// Returns the exit status: 0 built, 1 failed/cancelled, 2 usage error. `cancel` stops the build.
int RunTaskCommand(RunTaskOptions options, Cancellation& cancel, std::ostream& out,
                   std::ostream& err);

struct ProbeOptions {
  bool json = false;
  std::string nvidia_smi = "nvidia-smi";
};
int ProbeCommand(const ProbeOptions& options, std::ostream& out, std::ostream& err);

// Shared by run-task and serve: checks the runtime's name, probes the host's resources when the
// options do not give them, and reads the values of the secrets named by --secret-env from this
// process's environment. InvalidArgument names an unknown runtime, a secret that is not set, or
// one whose name a config could not give (ValidateSecretName: never one of cwb's CWB_ variables).
absl::Status PrepareLocalBuild(const RuntimeOptions& runtime, const std::vector<std::string>& secret_names,
                               PipelineOptions* pipeline);

// Parses --gpus: "all", "none" or "0,1".
GpuRequest ParseGpuFlag(const std::string& value);

}  // namespace cwb
