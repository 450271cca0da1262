// ContainerRuntime for docker and podman: runs their CLIs through a ProcessRunner with argv from
// container_argv.h. Thread-safe if the runner is.
#pragma once

#include "agent/container_argv.h"
#include "agent/container_runtime.h"
#include "common/process/process_runner.h"

namespace cwb {

class CliContainerRuntime final : public ContainerRuntime {
 public:
  CliContainerRuntime(EngineOptions options, ProcessRunner& runner)
      : options_(std::move(options)), runner_(runner) {}

  std::string name() const override { return EngineBinary(options_); }
  // podman takes a cgroup path with its cgroupfs manager, which RunArgv asks for; docker's takes
  // one only with its cgroupfs driver (a slice name with systemd's), so docker runs are not placed.
  bool places_in_cgroups() const override { return options_.kind == EngineKind::kPodman; }
  absl::StatusOr<bool> ImageExists(const std::string& tag) override;
  absl::Status BuildImage(const ImageBuildRequest& request, const LineCallback& on_line,
                          Cancellation* cancel) override;
  absl::StatusOr<ContainerExit> RunContainer(const ContainerRunRequest& request,
                                             const LineCallback& on_line, Cancellation* cancel,
                                             std::chrono::seconds stop_grace) override;
  absl::StatusOr<std::string> BaseImageFacts(const std::string& tag) override;
  absl::Status RemoveContainer(const std::string& name) override;
  Stopper StopperFor(const std::string& name) const override { return {RemoveArgv(options_, name), ""}; }
  absl::StatusOr<std::vector<std::string>> ListContainers(const std::string& key,
                                                          const std::string& value) override;

 private:
  EngineOptions options_;
  ProcessRunner& runner_;
};

// "docker" or "podman" (anything else is InvalidArgument).
absl::StatusOr<EngineKind> ParseEngineKind(const std::string& name);

}  // namespace cwb
