// `cwb-agent serve`: connect to a coordinator and build what it assigns until stopped.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "agent/build_pipeline.h"
#include "agent/container_argv.h"
#include "agent/gpu_probe.h"
#include "common/auth.h"
#include "common/cancellation.h"
#include "cwb/v1/state.pb.h"

namespace cwb {

struct ServeOptions {
  std::string coordinator = "127.0.0.1:7600";
  std::string agent_id;  // empty: kept in <work_dir>/agent-id
  std::vector<std::string> labels;
  int slots = 1;
  std::string runtime = "podman";
  EngineOptions engine;
  PipelineOptions pipeline;
  std::string nvidia_smi = "nvidia-smi";
  std::string token_file;  // else $CWB_AGENT_TOKEN
  std::vector<std::string> secret_env;  // names of this process's env vars builds may ask for
  ClientTlsOptions tls;
};

int ServeCommand(ServeOptions options, Cancellation& stop, std::ostream& out, std::ostream& err);

// What the agent reports about itself.
v1::AgentCapabilities MakeCapabilities(const GpuInventory& gpus, const HostResources& host,
                                       const std::vector<std::string>& labels, int slots);

}  // namespace cwb
