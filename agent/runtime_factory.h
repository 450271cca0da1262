// Chooses where an agent runs its builds, from the operator's flags: a container engine (podman,
// docker) or the host itself. Used by `cwb-agent serve`, `cwb-agent run-task` and `cwb build`.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "agent/container_argv.h"
#include "agent/container_runtime.h"
#include "agent/host_runtime.h"
#include "common/process/process_runner.h"

namespace cwb {

struct RuntimeOptions {
  std::string name = "podman";          // podman, docker or host
  EngineOptions engine;                 // podman and docker
  std::string host_python = "python3";  // host: the interpreter whose packages builds see
};

struct AgentRuntime {
  std::unique_ptr<ContainerRuntime> runtime;
  std::optional<HostPython> host_python;  // set for the host runtime
};

// InvalidArgument for an unknown name. The host runtime keeps its runs under
// <work_dir>/host-runs and fails here when its Python cannot be probed.
absl::StatusOr<AgentRuntime> MakeContainerRuntime(const RuntimeOptions& options,
                                                  const std::filesystem::path& work_dir,
                                                  ProcessRunner& runner);

// InvalidArgument unless `name` is podman, docker or host.
absl::Status CheckRuntimeName(const std::string& name);

}  // namespace cwb
