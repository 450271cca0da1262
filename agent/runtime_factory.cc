#include "agent/runtime_factory.h"

#include "absl/strings/str_cat.h"
#include "agent/cli_container_runtime.h"

namespace cwb {

absl::Status CheckRuntimeName(const std::string& name) {
  if (name == "host" || name == "docker" || name == "podman") return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("unknown runtime '", name, "' (expected podman, docker or host)"));
}

absl::StatusOr<AgentRuntime> MakeContainerRuntime(const RuntimeOptions& options,
                                                  const std::filesystem::path& work_dir,
                                                  ProcessRunner& runner) {
  AgentRuntime result;
  if (options.name == "host") {
    absl::StatusOr<std::unique_ptr<HostRuntime>> host = HostRuntime::Create(
        {options.host_python, std::filesystem::absolute(work_dir).lexically_normal() / "host-runs"}, runner);
    if (!host.ok()) return host.status();
    result.host_python = (*host)->python();
    result.runtime = *std::move(host);
    return result;
  }
  if (absl::Status s = CheckRuntimeName(options.name); !s.ok()) return s;
  absl::StatusOr<EngineKind> kind = ParseEngineKind(options.name);
  if (!kind.ok()) return kind.status();
  EngineOptions engine = options.engine;
  engine.kind = *kind;
  result.runtime = std::make_unique<CliContainerRuntime>(engine, runner);
  return result;
}

}  // namespace cwb
