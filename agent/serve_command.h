// `cwb-agent serve`: connect to a coordinator and build what it assigns until stopped.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "agent/build_pipeline.h"
#include "agent/gpu_probe.h"
#include "agent/runtime_factory.h"
#include "common/rpc/auth.h"
#include "common/base/cancellation.h"
#include "cwb/v1/state.pb.h"

namespace cwb {

struct ServeOptions {
  std::string coordinator = "127.0.0.1:7600";
  std::string agent_id;  // empty: kept in <work_dir>/agent-id
  std::vector<std::string> labels;
  int slots = 0;          // a cap on tasks at once; 0: as cores and memory allow (the cores, or the GPU slots)
  int gpus_per_task = 0;  // N > 0: each GPU task gets N GPUs of its own; 0: tasks share all GPUs
  RuntimeOptions runtime;
  PipelineOptions pipeline;
  std::string nvidia_smi = "nvidia-smi";
  std::string token_file;  // else $CWB_AGENT_TOKEN
  std::string token;       // the token itself (in-process callers: `cwb build`); then neither is read
  std::vector<std::string> secret_env;  // names of this process's env vars builds may ask for
  ClientTlsOptions tls;
  std::string metrics_listen;  // host:port serving /metrics (plain HTTP); empty: off
};

// Removes the workspaces, artifacts and alive files of attempts an earlier run of the agent left
// in `work_dir` (it holds none of them), saying how many on `out`.
void RemoveAbandonedWork(const std::filesystem::path& work_dir, std::ostream& out);

int ServeCommand(ServeOptions options, Cancellation& stop, std::ostream& out, std::ostream& err);

// The cgroups this agent's builds run in (below /cwb/<agent_id>), made now with what an earlier run
// left removed; nullopt (said on `out`) when it cannot make them.
std::optional<CgroupSettings> MeasuringCgroups(const std::string& agent_id, std::ostream& out);

// What the agent reports about itself. `slots` 0 means the greater of its cores and GPU slots.
v1::AgentCapabilities MakeCapabilities(const GpuInventory& gpus, const HostResources& host,
                                       const std::vector<std::string>& labels, int slots,
                                       int gpu_slots, const std::string& runtime,
                                       const std::optional<HostPython>& host_python);

}  // namespace cwb
