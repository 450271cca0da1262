// The argv of every container-engine command the agent runs, built by pure functions so each can
// be checked in a unit test. Values go in as separate argv elements; nothing passes through a
// shell. Engine commands (docker and podman take the same form unless noted):
//   <bin> image inspect --format {{.Id}} TAG     image exists? exit 0 yes, 1 no (docker)
//   <bin> image exists TAG                       image exists? exit 0 yes, 1 no (podman)
//   <bin> build --tag T --file F [--label k=v].. [--network N] CONTEXT
//   <bin> [--cgroup-manager cgroupfs] run --name N [--init] [--cgroup-parent P] [--network N] [--workdir W] [-e K=V].. [-v H:C[:ro]].. [--label k=v]..
//         [GPU flags] [extra args].. IMAGE CMD..
//   <bin> stop --time SECONDS NAME               SIGTERM, then SIGKILL after SECONDS
//   <bin> rm --force [--time 0] NAME             (--time 0: podman, kill without waiting)
//   <bin> ps --all --filter label=K=V --format {{.Names}}
//   <bin> run --rm --network none --entrypoint cat IMAGE PATH    a file of an image (its facts)
// (--cgroup-manager with a cgroup parent, podman only.)
// GPU flags: docker `--gpus all` or `--gpus "device=0,1"`; podman (CDI)
// `--device nvidia.com/gpu=all` or one `--device nvidia.com/gpu=ID` per device.
#pragma once

#include <string>
#include <vector>

#include "agent/container_runtime.h"

namespace cwb {

enum class EngineKind { kDocker, kPodman };

// Engine settings an agent operator chooses.
struct EngineOptions {
  EngineKind kind = EngineKind::kPodman;
  std::string binary;                   // empty: "docker" or "podman"
  std::string network;                  // empty: the engine's default
  std::vector<std::string> extra_run_args;  // appended to every `run` before the image
  std::vector<std::string> extra_build_args;
  // Run an init process as PID 1 (catatonit for podman, tini for docker) so the build's shell
  // receives SIGTERM instead of ignoring it as PID 1 would, and zombies are reaped.
  bool init = true;
};

std::string EngineBinary(const EngineOptions& options);

std::vector<std::string> ImageExistsArgv(const EngineOptions& options, const std::string& tag);
std::vector<std::string> BuildImageArgv(const EngineOptions& options,
                                        const ImageBuildRequest& request);
std::vector<std::string> GpuArgs(EngineKind kind, const GpuRequest& gpus);
std::vector<std::string> RunArgv(const EngineOptions& options, const ContainerRunRequest& request);
std::vector<std::string> StopArgv(const EngineOptions& options, const std::string& name,
                                  int grace_seconds);
std::vector<std::string> RemoveArgv(const EngineOptions& options, const std::string& name);
std::vector<std::string> ReadImageFileArgv(const EngineOptions& options, const std::string& image,
                                           const std::string& path);
std::vector<std::string> ListArgv(const EngineOptions& options, const std::string& key,
                                  const std::string& value);

// What an exit status of `run` means: 125 the engine failed, 126 the command could not be
// invoked, 127 the command was not found, 128+N killed by signal N, else the command's status
// ("the <subject> command exited with status 2").
std::string DescribeRunExit(int exit_code, const std::string& subject = "build");

}  // namespace cwb
