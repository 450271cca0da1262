#include "agent/container_argv.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace cwb {

std::string EngineBinary(const EngineOptions& options) {
  if (!options.binary.empty()) return options.binary;
  return options.kind == EngineKind::kDocker ? "docker" : "podman";
}

std::vector<std::string> ImageExistsArgv(const EngineOptions& options, const std::string& tag) {
  if (options.kind == EngineKind::kPodman) return {EngineBinary(options), "image", "exists", tag};
  return {EngineBinary(options), "image", "inspect", "--format", "{{.Id}}", tag};
}

std::vector<std::string> BuildImageArgv(const EngineOptions& options,
                                        const ImageBuildRequest& request) {
  std::vector<std::string> argv = {EngineBinary(options), "build", "--tag", request.tag, "--file",
                                   request.dockerfile.string()};
  for (const auto& [key, value] : request.labels) {
    argv.push_back("--label");
    argv.push_back(absl::StrCat(key, "=", value));
  }
  if (!options.network.empty()) {
    argv.push_back("--network");
    argv.push_back(options.network);
  }
  argv.insert(argv.end(), options.extra_build_args.begin(), options.extra_build_args.end());
  argv.push_back(request.context_dir.string());
  return argv;
}

std::vector<std::string> GpuArgs(EngineKind kind, const GpuRequest& gpus) {
  switch (gpus.kind) {
    case GpuRequest::Kind::kNone:
      return {};
    case GpuRequest::Kind::kAll:
      if (kind == EngineKind::kDocker) return {"--gpus", "all"};
      return {"--device", "nvidia.com/gpu=all"};
    case GpuRequest::Kind::kDevices: {
      if (gpus.devices.empty()) return {};
      if (kind == EngineKind::kDocker) {
        // docker's --gpus value is CSV; the quotes keep "device=0,1" one field.
        return {"--gpus", absl::StrCat("\"device=", absl::StrJoin(gpus.devices, ","), "\"")};
      }
      std::vector<std::string> args;
      for (const std::string& device : gpus.devices) {
        args.push_back("--device");
        args.push_back(absl::StrCat("nvidia.com/gpu=", device));
      }
      return args;
    }
  }
  return {};
}

std::vector<std::string> RunArgv(const EngineOptions& options, const ContainerRunRequest& request) {
  std::vector<std::string> argv = {EngineBinary(options)};
  // podman's --cgroup-parent is a path only with the cgroupfs manager (a slice name with systemd's).
  if (!request.cgroup.parent.empty() && options.kind == EngineKind::kPodman) {
    argv.insert(argv.end(), {"--cgroup-manager", "cgroupfs"});
  }
  argv.insert(argv.end(), {"run", "--name", request.name});
  if (options.init) argv.push_back("--init");
  if (!request.cgroup.parent.empty()) argv.insert(argv.end(), {"--cgroup-parent", request.cgroup.parent});
  if (!options.network.empty()) {
    argv.push_back("--network");
    argv.push_back(options.network);
  }
  if (!request.workdir.empty()) {
    argv.push_back("--workdir");
    argv.push_back(request.workdir);
  }
  for (const auto& [name, value] : request.env) {
    argv.push_back("-e");
    argv.push_back(absl::StrCat(name, "=", value));
  }
  for (const auto& [name, value] : request.secret_env) {
    argv.push_back("-e");
    argv.push_back(name);  // the value comes from the engine process's environment
  }
  for (const Mount& mount : request.mounts) {
    argv.push_back("-v");
    argv.push_back(absl::StrCat(mount.host_path.string(), ":", mount.container_path,
                                mount.read_only ? ":ro" : ""));
  }
  for (const auto& [key, value] : request.labels) {
    argv.push_back("--label");
    argv.push_back(absl::StrCat(key, "=", value));
  }
  const std::vector<std::string> gpu = GpuArgs(options.kind, request.gpus);
  argv.insert(argv.end(), gpu.begin(), gpu.end());
  argv.insert(argv.end(), options.extra_run_args.begin(), options.extra_run_args.end());
  argv.push_back(request.image);
  argv.insert(argv.end(), request.command.begin(), request.command.end());
  return argv;
}

std::vector<std::string> StopArgv(const EngineOptions& options, const std::string& name,
                                  int grace_seconds) {
  return {EngineBinary(options), "stop", "--time", std::to_string(grace_seconds), name};
}

std::vector<std::string> RemoveArgv(const EngineOptions& options, const std::string& name) {
  // podman's rm --force first waits out a stop timeout (10 s); removal means kill now.
  if (options.kind == EngineKind::kPodman) return {EngineBinary(options), "rm", "--force", "--time", "0", name};
  return {EngineBinary(options), "rm", "--force", name};
}

std::vector<std::string> ReadImageFileArgv(const EngineOptions& options, const std::string& image,
                                           const std::string& path) {
  return {EngineBinary(options), "run", "--rm", "--network", "none", "--entrypoint", "cat", image, path};
}

std::vector<std::string> ListArgv(const EngineOptions& options, const std::string& key,
                                  const std::string& value) {
  return {EngineBinary(options), "ps", "--all", "--filter", absl::StrCat("label=", key, "=", value),
          "--format", "{{.Names}}"};
}

std::string DescribeRunExit(int exit_code, const std::string& subject) {
  switch (exit_code) {
    case 0:
      return absl::StrCat("the ", subject, " exited successfully");
    case 125:
      return "the container engine could not run the container (exit 125)";
    case 126:
      return "the container's command could not be invoked (exit 126)";
    case 127:
      return "the container's command was not found (exit 127)";
    default:
      break;
  }
  if (exit_code > 128 && exit_code < 160) {
    return absl::StrCat("the ", subject, " was killed by signal ", exit_code - 128, " (exit ", exit_code,
                        ")");
  }
  return absl::StrCat("the ", subject, " command exited with status ", exit_code);
}

}  // namespace cwb
