// The `host` runtime: builds run on the agent's host itself, for hosts where no container engine
// can run (a GPU machine without docker or podman). Each build gets a directory of its own under
// `runs_dir` holding a fresh virtual environment that sees a chosen Python's packages (so a
// preinstalled torch is used) and whatever the build installs on top, without changing that
// Python. Mount sources stand in for container paths: a value that names a path inside a mount
// (the command, the working directory, environment values) is rewritten to the mount's host path.
//
// UNSAFE for untrusted configs: a build runs as the agent's user with the host's files in reach.
//
// Layout:  <runs_dir>/<run name>/
//            |-- labels       the run's labels, one key=value per line (ListContainers)
//            |-- venv/        python -m venv --without-pip; a .pth adds the chosen Python's
//            |                site-packages (site.addsitedir, so their own .pth files work too);
//            |                venv/bin (with cwb-python -> python) leads the build's PATH
//            `-- tmp/         TMPDIR of the build
// Every process of a run carries CWB_HOST_RUN=<run name> in its environment, which is how
// RemoveContainer finds what a crashed agent left running. Thread-safe.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/container_runtime.h"
#include "common/process/process_runner.h"

namespace cwb {

// What the chosen interpreter is, as it reports itself.
struct HostPython {
  std::string executable;        // sys.executable
  std::string base_executable;   // the interpreter a new venv is made from (outside any venv)
  std::string version;           // "3.12"
  std::vector<std::string> site_packages;
  std::string torch_version;     // torch.__version__, "" without torch
  std::string torch_cuda;        // torch.version.cuda, "" for a CPU-only torch or none
};

// Parses the probe's "key=value" lines (see host_runtime.cc). InvalidArgument when the version,
// the executables or the site-packages are missing.
absl::StatusOr<HostPython> ParseHostPythonProbe(std::string_view text);

// Runs `python` to learn the above.
absl::StatusOr<HostPython> ProbeHostPython(ProcessRunner& runner, const std::string& python);

// The processes of a run: those whose environment holds CWB_HOST_RUN=<run_name> (from /proc).
std::vector<int> HostRunProcesses(const std::string& run_name);
// SIGKILL to every process of the run (HostRunProcesses).
void KillHostRun(const std::string& run_name);

// `value` with a leading container path of one of `mounts` replaced by that mount's host path
// (the longest matching container path wins); other values are returned unchanged.
std::string HostPathFor(const std::vector<Mount>& mounts, const std::string& value);

struct HostRuntimeOptions {
  std::string python = "python3";  // the interpreter whose packages builds see
  std::filesystem::path runs_dir;  // one directory per run (absolute)
};

class HostRuntime final : public ContainerRuntime {
 public:
  // Probes `options.python` once.
  static absl::StatusOr<std::unique_ptr<HostRuntime>> Create(HostRuntimeOptions options,
                                                             ProcessRunner& runner);

  const HostPython& python() const { return python_; }

  std::string name() const override { return "host"; }
  bool uses_images() const override { return false; }
  bool places_in_cgroups() const override { return true; }
  absl::StatusOr<bool> ImageExists(const std::string& tag) override { return true; }
  absl::Status BuildImage(const ImageBuildRequest& request, const LineCallback& on_line,
                          Cancellation* cancel) override;
  // Fails with FailedPrecondition when the task's CWB_PYTHON_VERSION is not this Python's.
  // GPUs: CUDA_VISIBLE_DEVICES lists the requested devices, is empty for none, unset for all.
  absl::StatusOr<ContainerExit> RunContainer(const ContainerRunRequest& request,
                                             const LineCallback& on_line, Cancellation* cancel,
                                             std::chrono::seconds stop_grace) override;
  // Kills every process of the run (SIGKILL) and removes its directory.
  // Its Python's, probed at Create (the host has no image): the same check as an image's.
  absl::StatusOr<std::string> BaseImageFacts(const std::string& tag) override;
  absl::Status RemoveContainer(const std::string& name) override;
  Stopper StopperFor(const std::string& name) const override { return {{}, name}; }
  absl::StatusOr<std::vector<std::string>> ListContainers(const std::string& key,
                                                          const std::string& value) override;

 private:
  HostRuntime(HostRuntimeOptions options, ProcessRunner& runner, HostPython python)
      : options_(std::move(options)), runner_(runner), python_(std::move(python)) {}

  // Makes the run's venv (with cwb-python) and tmp; the venv's site-packages gets the .pth.
  absl::Status PrepareRun(const std::filesystem::path& dir, const LineCallback& on_line,
                          Cancellation* cancel);

  const HostRuntimeOptions options_;
  ProcessRunner& runner_;
  const HostPython python_;
};

}  // namespace cwb
