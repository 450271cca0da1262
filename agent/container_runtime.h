// One interface for where the agent runs builds: the container engines (docker, podman) and the
// host itself (no container), chosen by MakeContainerRuntime. The build pipeline talks only to
// this; unit tests use a fake.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace cwb {

class Cancellation;

// Which GPUs a container gets.
struct GpuRequest {
  enum class Kind { kNone, kAll, kDevices };
  Kind kind = Kind::kNone;
  std::vector<std::string> devices;  // indices or UUIDs, with kDevices

  static GpuRequest None() { return {}; }
  static GpuRequest All() { return {Kind::kAll, {}}; }
  static GpuRequest Devices(std::vector<std::string> ids) { return {Kind::kDevices, std::move(ids)}; }
};

struct Mount {
  std::filesystem::path host_path;
  std::string container_path;
  bool read_only = false;
};

struct ImageBuildRequest {
  std::string tag;
  std::filesystem::path dockerfile;   // the rendered Dockerfile
  std::filesystem::path context_dir;  // build context (the agent uses an empty directory)
  std::vector<std::pair<std::string, std::string>> labels;
  // The engine's stderr lines, each whole; empty: they go with stdout's to BuildImage's on_line.
  std::function<void(std::string_view line)> on_stderr_line;
};

// The cgroup a run goes into (AttemptCgroup, made by the caller): the engine's --cgroup-parent, or,
// for a run on the host, the cgroup.procs files its first process writes itself into before it
// runs the command.
struct CgroupPlacement {
  std::string parent;  // "/cwb/<agent>/<attempt>"; empty: where the engine puts it
  std::vector<std::filesystem::path> join_files;
};

struct ContainerRunRequest {
  std::string name;   // unique per attempt; used to stop and remove it
  std::string image;
  std::vector<std::string> command;
  std::vector<std::pair<std::string, std::string>> env;
  // Passed as `-e NAME` with the value in the engine process's environment, so it never appears
  // in an argv (ps, logs).
  std::vector<std::pair<std::string, std::string>> secret_env;
  std::vector<Mount> mounts;
  std::string workdir;
  GpuRequest gpus;
  std::vector<std::pair<std::string, std::string>> labels;
  // What runs, as exit descriptions name it: "build" ("the build command exited with status 2"),
  // "test" (the smoke test).
  std::string subject = "build";
  CgroupPlacement cgroup;
  // The run's stderr lines (the build's and the engine's), each whole; empty: they go with
  // stdout's to RunContainer's on_line.
  std::function<void(std::string_view line)> on_stderr_line;
};

// How a container run ended.
struct ContainerExit {
  int exit_code = -1;      // the container's (or the engine's: 125, 126, 127) exit status
  bool cancelled = false;  // stopped because the cancellation fired
  // What the exit code means, e.g. "the build command exited with status 2" or
  // "the container engine could not start the container (exit 125)".
  std::string description;
};

class ContainerRuntime {
 public:
  using LineCallback = std::function<void(std::string_view line)>;

  virtual ~ContainerRuntime() = default;

  virtual std::string name() const = 0;  // "docker", "podman" or "host"

  // False for a runtime that runs builds without images (host): ImageExists and BuildImage are
  // then never called, and the image's pip_packages go with the build's dependencies.
  virtual bool uses_images() const { return true; }

  // Whether RunContainer honours ContainerRunRequest.cgroup (so the caller can measure the run).
  virtual bool places_in_cgroups() const { return false; }

  // Whether an image with this tag exists locally.
  virtual absl::StatusOr<bool> ImageExists(const std::string& tag) = 0;

  // Builds and tags an image; each output line goes to `on_line`. Fails with the engine's
  // status (and Cancelled when `cancel` fired).
  virtual absl::Status BuildImage(const ImageBuildRequest& request, const LineCallback& on_line,
                                  Cancellation* cancel) = 0;

  // Runs a container attached until it exits, streaming its output to `on_line`. When `cancel`
  // fires, the container gets SIGTERM, then SIGKILL after `stop_grace`. The container is removed
  // before this returns, however it ended.
  virtual absl::StatusOr<ContainerExit> RunContainer(const ContainerRunRequest& request,
                                                     const LineCallback& on_line,
                                                     Cancellation* cancel,
                                                     std::chrono::seconds stop_grace) = 0;

  // What the image `tag` records of what its base gives the build (kBaseImageFactsPath in
  // image_check.h; the host runtime: its Python's), as "key=value" lines; empty when the image
  // records nothing (a Dockerfile template without cwb's step).
  virtual absl::StatusOr<std::string> BaseImageFacts(const std::string& tag) = 0;

  // Removes a container if it exists (used to clean up after a crash). Idempotent.
  virtual absl::Status RemoveContainer(const std::string& name) = 0;

  // How a process outside the agent (its watchdog) stops the run `name` once the agent is gone:
  // the command that removes the container, or, for a runtime without containers, the run's name
  // to kill its processes by (`host_run`).
  struct Stopper {
    std::vector<std::string> command;
    std::string host_run;
  };
  virtual Stopper StopperFor(const std::string& name) const = 0;

  // Names of the containers, running or not, carrying label key=value.
  virtual absl::StatusOr<std::vector<std::string>> ListContainers(const std::string& key,
                                                                  const std::string& value) = 0;
};

}  // namespace cwb
