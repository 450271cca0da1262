#include "agent/host_runtime.h"

#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "common/base/atomic_file.h"
#include "common/base/cancellation.h"

namespace cwb {
namespace {

namespace fs = std::filesystem;

// Prints what ParseHostPythonProbe reads. The venv base is the interpreter under base_prefix
// (outside every venv) when it exists, else sys._base_executable.
constexpr char kProbeScript[] = R"py(
import os, site, sys
v = "%d.%d" % sys.version_info[:2]
print("executable=" + sys.executable)
base = os.path.join(sys.base_prefix, "bin", "python" + v)
if not os.path.exists(base):
    base = getattr(sys, "_base_executable", sys.executable)
print("base_executable=" + base)
print("version=" + v)
for p in site.getsitepackages():
    print("site=" + p)
try:
    import torch
    print("torch=" + torch.__version__)
    print("torch_cuda=" + (torch.version.cuda or ""))
except Exception:
    pass
)py";

constexpr char kRunEnvName[] = "CWB_HOST_RUN";

absl::Status ValidRunName(const std::string& name) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
      name.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("invalid run name '", name, "'"));
  }
  return absl::OkStatus();
}

std::string EnvValue(const std::vector<std::pair<std::string, std::string>>& env,
                     std::string_view name) {
  for (const auto& [key, value] : env) {
    if (key == name) return value;
  }
  return "";
}

}  // namespace

void KillHostRun(const std::string& run_name) {
  for (int pid : HostRunProcesses(run_name)) ::kill(pid, SIGKILL);
}

std::vector<int> HostRunProcesses(const std::string& run_name) {
  const std::string entry = absl::StrCat(kRunEnvName, "=", run_name);
  std::vector<int> pids;
  std::error_code error;
  for (const fs::directory_entry& proc : fs::directory_iterator("/proc", error)) {
    pid_t pid = 0;
    if (!absl::SimpleAtoi(proc.path().filename().string(), &pid) || pid == ::getpid()) continue;
    std::ifstream in(proc.path() / "environ", std::ios::binary);
    std::string variable;
    while (std::getline(in, variable, '\0')) {
      if (variable == entry) {
        pids.push_back(pid);
        break;
      }
    }
  }
  return pids;
}

absl::StatusOr<HostPython> ParseHostPythonProbe(std::string_view text) {
  HostPython python;
  for (absl::string_view line : absl::StrSplit(absl::string_view(text.data(), text.size()), '\n')) {
    const size_t eq = line.find('=');
    if (eq == absl::string_view::npos) continue;
    const absl::string_view key = line.substr(0, eq);
    const std::string value(line.substr(eq + 1));
    if (key == "executable") python.executable = value;
    else if (key == "base_executable") python.base_executable = value;
    else if (key == "version") python.version = value;
    else if (key == "site") python.site_packages.push_back(value);
    else if (key == "torch") python.torch_version = value;
    else if (key == "torch_cuda") python.torch_cuda = value;
  }
  if (python.version.empty() || python.executable.empty() || python.base_executable.empty() ||
      python.site_packages.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the Python probe printed no version, executable or site-packages: ",
                     std::string(text)));
  }
  return python;
}

absl::StatusOr<HostPython> ProbeHostPython(ProcessRunner& runner, const std::string& python) {
  absl::StatusOr<CapturedRun> run = RunAndCapture(runner, {{python, "-c", kProbeScript}});
  if (!run.ok()) return run.status();
  if (!run->exit.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot probe ", python, " (", run->exit.Describe(), "): ", run->output));
  }
  absl::StatusOr<HostPython> parsed = ParseHostPythonProbe(run->output);
  if (!parsed.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(python, ": ", parsed.status().message()));
  }
  return parsed;
}

std::string HostPathFor(const std::vector<Mount>& mounts, const std::string& value) {
  const Mount* best = nullptr;
  for (const Mount& mount : mounts) {
    const std::string& prefix = mount.container_path;
    const bool inside = value == prefix || (value.starts_with(prefix) && value.size() > prefix.size() &&
                                            value[prefix.size()] == '/');
    if (inside && (best == nullptr || prefix.size() > best->container_path.size())) best = &mount;
  }
  if (best == nullptr) return value;
  return best->host_path.string() + value.substr(best->container_path.size());
}

absl::StatusOr<std::unique_ptr<HostRuntime>> HostRuntime::Create(HostRuntimeOptions options,
                                                                 ProcessRunner& runner) {
  if (options.runs_dir.empty() || !options.runs_dir.is_absolute()) {
    return absl::InvalidArgumentError("the host runtime needs an absolute directory for its runs");
  }
  absl::StatusOr<HostPython> python = ProbeHostPython(runner, options.python);
  if (!python.ok()) return python.status();
  return std::unique_ptr<HostRuntime>(new HostRuntime(std::move(options), runner, *std::move(python)));
}

absl::Status HostRuntime::BuildImage(const ImageBuildRequest& request, const LineCallback& on_line,
                                     Cancellation* cancel) {
  return absl::UnimplementedError("the host runtime builds without images");
}

absl::Status HostRuntime::PrepareRun(const fs::path& dir, const LineCallback& on_line,
                                     Cancellation* cancel) {
  std::error_code error;
  fs::create_directories(dir / "tmp", error);
  if (error) {
    return absl::ResourceExhaustedError(
        absl::StrCat("cannot create ", (dir / "tmp").string(), ": ", error.message()));
  }
  const fs::path venv = dir / "venv";
  on_line(absl::StrCat("cwb: virtual environment from ", python_.base_executable, " seeing the packages of ",
                       python_.executable));
  absl::StatusOr<ProcessExit> made =
      runner_.Run({{python_.base_executable, "-m", "venv", "--without-pip", venv.string()}}, on_line, cancel);
  if (!made.ok()) return made.status();
  if (!made->ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot create a virtual environment with ", python_.base_executable, " (", made->Describe(), ")"));
  }
  // The chosen Python's packages come after the venv's own, so what a build installs wins.
  std::string pth = "import site";
  for (const std::string& path : python_.site_packages) {
    absl::StrAppend(&pth, "; site.addsitedir(", "'", absl::StrReplaceAll(path, {{"\\", "\\\\"}, {"'", "\\'"}}), "')");
  }
  const fs::path site_packages = venv / "lib" / ("python" + python_.version) / "site-packages";
  fs::create_directories(site_packages, error);
  fs::create_directories(venv / "bin", error);
  if (absl::Status s = WriteFileAtomically(site_packages / "cwb-host-packages.pth", pth + "\n"); !s.ok()) {
    return s;
  }
  // Inside venv/bin: Python finds its pyvenv.cfg next to the path it was started by, so a link
  // anywhere else would run the base interpreter outside the venv.
  fs::create_symlink("python", venv / "bin" / "cwb-python", error);
  if (error) return absl::InternalError(absl::StrCat("cannot link cwb-python: ", error.message()));
  return absl::OkStatus();
}

absl::StatusOr<ContainerExit> HostRuntime::RunContainer(const ContainerRunRequest& request,
                                                        const LineCallback& on_line,
                                                        Cancellation* cancel,
                                                        std::chrono::seconds stop_grace) {
  if (absl::Status s = ValidRunName(request.name); !s.ok()) return s;
  const std::string wanted = EnvValue(request.env, "CWB_PYTHON_VERSION");
  if (!wanted.empty() && wanted != python_.version) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the task needs Python ", wanted, "; the host runtime's ", python_.executable, " is ",
        python_.version));
  }
  (void)RemoveContainer(request.name);  // a leftover from a crashed attempt
  const fs::path dir = options_.runs_dir / request.name;
  std::string labels;
  for (const auto& [key, value] : request.labels) absl::StrAppend(&labels, key, "=", value, "\n");
  if (absl::Status s = WriteFileAtomically(dir / "labels", labels); !s.ok()) return s;
  if (absl::Status s = PrepareRun(dir, on_line, cancel); !s.ok()) {
    (void)RemoveContainer(request.name);
    return s;
  }

  ProcessSpec spec;
  if (!request.cgroup.join_files.empty()) {
    // The first process joins the attempt's cgroup, then becomes the build: every process of the
    // build starts inside it.
    spec.argv = {"/bin/sh", "-c",
                 "while [ \"$1\" != -- ]; do echo $$ > \"$1\" || exit 125; shift; done; shift; exec \"$@\"",
                 "cwb-join-cgroup"};
    for (const fs::path& file : request.cgroup.join_files) spec.argv.push_back(file.string());
    spec.argv.push_back("--");
  }
  for (const std::string& arg : request.command) spec.argv.push_back(HostPathFor(request.mounts, arg));
  spec.cwd = HostPathFor(request.mounts, request.workdir);
  for (const auto& [key, value] : request.env) spec.env.emplace_back(key, HostPathFor(request.mounts, value));
  for (const auto& entry : request.secret_env) spec.env.push_back(entry);
  const char* path = std::getenv("PATH");
  spec.env.emplace_back("PATH", absl::StrCat((dir / "venv" / "bin").string(), ":",
                                             path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin"));
  spec.env.emplace_back("VIRTUAL_ENV", (dir / "venv").string());
  spec.env.emplace_back("TMPDIR", (dir / "tmp").string());
  spec.env.emplace_back("PYTHONNOUSERSITE", "1");
  spec.env.emplace_back(kRunEnvName, request.name);
  switch (request.gpus.kind) {
    case GpuRequest::Kind::kNone: spec.env.emplace_back("CUDA_VISIBLE_DEVICES", ""); break;
    case GpuRequest::Kind::kDevices:
      spec.env.emplace_back("CUDA_VISIBLE_DEVICES", absl::StrJoin(request.gpus.devices, ","));
      break;
    case GpuRequest::Kind::kAll: break;
  }
  spec.kill_grace = stop_grace;
  spec.on_stderr_line = request.on_stderr_line;
  spec.after_exit = [name = request.name] { KillHostRun(name); };
  Cancellation::Subscription announce;
  if (cancel != nullptr) {
    announce = cancel->Subscribe([&] {
      on_line(absl::StrCat("cwb: stopping the build (SIGTERM, SIGKILL after ", stop_grace.count(),
                           "s): ", cancel->reason()));
    });
  }
  absl::StatusOr<ProcessExit> exit = runner_.Run(spec, on_line, cancel);
  announce.Reset();
  absl::Status removed = RemoveContainer(request.name);  // and whatever the build left running
  if (!exit.ok()) return exit.status();

  ContainerExit result;
  result.exit_code = exit->signal != 0 ? 128 + exit->signal : exit->exit_code;
  result.cancelled = exit->cancelled || (cancel != nullptr && cancel->cancelled());
  if (result.cancelled) {
    result.description = absl::StrCat("cancelled: ", cancel != nullptr ? cancel->reason() : "stopped");
  } else if (exit->signal != 0) {
    result.description = absl::StrCat("the ", request.subject, " was killed by signal ", exit->signal);
  } else {
    result.description = result.exit_code == 0
                             ? absl::StrCat("the ", request.subject, " exited successfully")
                             : absl::StrCat("the ", request.subject, " command exited with status ", result.exit_code);
  }
  if (!removed.ok()) absl::StrAppend(&result.description, "; ", removed.message());
  return result;
}

absl::StatusOr<std::string> HostRuntime::BaseImageFacts(const std::string&) {
  return absl::StrCat("python=", python_.version, "\nexecutable=", python_.executable, "\ntorch=", python_.torch_version,
                      "\ntorch_cuda=", python_.torch_cuda, "\n");
}

absl::Status HostRuntime::RemoveContainer(const std::string& name) {
  if (absl::Status s = ValidRunName(name); !s.ok()) return s;
  KillHostRun(name);
  std::error_code error;
  fs::remove_all(options_.runs_dir / name, error);
  if (error) {
    return absl::InternalError(absl::StrCat("cannot remove ", (options_.runs_dir / name).string(), ": ",
                                            error.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> HostRuntime::ListContainers(const std::string& key,
                                                                     const std::string& value) {
  std::vector<std::string> names;
  std::error_code error;
  const std::string wanted = absl::StrCat(key, "=", value);
  for (const fs::directory_entry& run : fs::directory_iterator(options_.runs_dir, error)) {
    std::ifstream in(run.path() / "labels");
    std::string line;
    while (std::getline(in, line)) {
      if (line == wanted) {
        names.push_back(run.path().filename().string());
        break;
      }
    }
  }
  std::sort(names.begin(), names.end());
  return names;  // a missing runs_dir simply has no runs
}

}  // namespace cwb
