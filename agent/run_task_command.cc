#include "agent/run_task_command.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "agent/serve_command.h"
#include "agent/watchdog_command.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/config/validate.h"
#include "common/process/boost_process_runner.h"
#include "agent/gpu_allocator.h"
#include "agent/gpu_probe.h"
#include "common/base/atomic_file.h"
#include "common/rpc/task_proto.h"
#include "common/config/wheelhouse.h"

namespace cwb {
namespace {

namespace fs = std::filesystem;

absl::StatusOr<v1::TaskSpec> LoadTask(const std::string& file, const std::string& task_id) {
  std::ifstream in(file);
  if (!in) return absl::NotFoundError(absl::StrCat(file, ": cannot read file"));
  std::stringstream text;
  text << in.rdbuf();
  v1::TaskSpec spec;
  if (FromJson(text.str(), &spec).ok() && !spec.id().empty()) return spec;
  v1::BuildPlan plan;
  if (absl::Status s = FromJson(text.str(), &plan); !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(file, ": neither a TaskSpec nor a BuildPlan: ", s.message()));
  }
  std::vector<const v1::TaskSpec*> matches;
  for (const v1::TaskSpec& task : plan.tasks()) {
    if (task_id.empty() ? plan.tasks_size() == 1 : task.id().starts_with(task_id)) {
      matches.push_back(&task);
    }
  }
  if (matches.size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        file, ": ", plan.tasks_size(), " tasks in the plan; ",
        task_id.empty() ? "choose one with --task ID" : absl::StrCat(matches.size(), " match --task ", task_id)));
  }
  return *matches.front();
}

}  // namespace

absl::Status PrepareLocalBuild(const RuntimeOptions& runtime, const std::vector<std::string>& secret_names,
                               PipelineOptions* pipeline) {
  if (absl::Status s = CheckRuntimeName(runtime.name); !s.ok()) return s;
  for (const std::string& name : secret_names) {
    // The config's rule for a secret's name (never one of cwb's own CWB_ variables).
    if (ValidationError error = ValidateSecretName(name)) {
      return absl::InvalidArgumentError(absl::StrCat("--secret-env ", name, ": ", *error));
    }
    const char* value = std::getenv(name.c_str());
    if (value == nullptr || *value == '\0') {
      return absl::InvalidArgumentError(absl::StrCat("--secret-env ", name, ": not set in this environment"));
    }
    pipeline->secrets[name] = value;
  }
  if (pipeline->host.memory_bytes == 0) {
    absl::StatusOr<HostResources> host = LimitHostResources(ProbeHostResources(), pipeline->limits);
    if (!host.ok()) return host.status();
    pipeline->host = *host;
  }
  if (pipeline->watchdog_command.empty()) pipeline->watchdog_command = {SelfExecutable()};
  if (pipeline->audit_tool.empty()) pipeline->audit_tool = DefaultAuditTool();
  return absl::OkStatus();
}

GpuRequest ParseGpuFlag(const std::string& value) {
  if (value == "all") return GpuRequest::All();
  if (value == "none" || value.empty()) return GpuRequest::None();
  return GpuRequest::Devices(absl::StrSplit(value, ',', absl::SkipEmpty()));
}

int RunTaskCommand(RunTaskOptions options, Cancellation& cancel, std::ostream& out,
                   std::ostream& err) {
  absl::StatusOr<v1::TaskSpec> spec = LoadTask(options.task_file, options.task_id);
  if (!spec.ok()) {
    err << spec.status().message() << '\n';
    return 2;
  }
  if (absl::Status s = PrepareLocalBuild(options.runtime, options.secret_env, &options.pipeline);
      !s.ok()) {
    err << s.message() << '\n';
    return 2;
  }

  BoostProcessRunner runner;
  absl::StatusOr<AgentRuntime> runtime =
      MakeContainerRuntime(options.runtime, options.pipeline.work_dir, runner);
  if (!runtime.ok()) {
    err << runtime.status().message() << '\n';
    return 2;
  }
  GpuRequest gpus = ParseGpuFlag(options.gpus);
  std::string arch_list;
  if (gpus.kind != GpuRequest::Kind::kNone) {
    // Only pass GPUs through when the host has them; the default arch list is theirs.
    absl::StatusOr<GpuInventory> inventory = ProbeGpus(runner);
    if (!inventory.ok() || inventory->gpus.empty()) {
      gpus = GpuRequest::None();
    } else {
      std::vector<GpuInfo> given;
      for (const GpuInfo& gpu : inventory->gpus) {
        const bool listed = std::find(gpus.devices.begin(), gpus.devices.end(),
                                      std::to_string(gpu.index)) != gpus.devices.end();
        if (gpus.kind == GpuRequest::Kind::kAll || listed) given.push_back(gpu);
      }
      arch_list = CudaArchList(given);
    }
  }
  if (runtime->runtime->places_in_cgroups()) {
    options.pipeline.cgroups = MeasuringCgroups(absl::StrCat("run-task-", ::getpid()), err);
  }
  BuildPipeline pipeline(*runtime->runtime, runner, SystemClock::Get(), options.pipeline);
  std::mutex out_mutex;
  TaskRun run{&*spec, "local", gpus,
              [&](const LogLine& line) {
                std::lock_guard lock(out_mutex);
                out << FormatTimestamp(line.time) << " [" << line.source << "] " << line.text << '\n';
              },
              &cancel, arch_list};
  TaskResult result = pipeline.Run(run);
  if (options.pipeline.cgroups.has_value()) {
    (void)AttemptCgroup(options.pipeline.cgroups->fs_root, options.pipeline.cgroups->version,
                        options.pipeline.cgroups->agent_path)
        .Remove();
  }

  const AxisValues axes = AxesFromProto(*spec);
  for (const BuiltWheel& wheel : result.wheels) {
    // The pipeline only collects valid wheel names.
    const WheelName name = ParseWheelFilename(wheel.filename).value();
    const fs::path destination =
        WheelhouseDir(options.output_dir, AxisOrEmpty(axes, kPythonAxis),
                      AxisOrEmpty(axes, kCudaAxis), name.platform_tag) /
        wheel.filename;
    const fs::path temp = TempPathFor(destination);
    std::error_code error;
    fs::create_directories(destination.parent_path(), error);
    fs::copy_file(wheel.path, temp, fs::copy_options::overwrite_existing, error);
    absl::Status committed =
        error ? absl::InternalError(error.message()) : CommitTempFile(temp, destination);
    if (!committed.ok()) {
      err << "cannot write " << destination.string() << ": " << committed.message() << '\n';
      return 1;
    }
    out << "wheel " << destination.string() << " sha256=" << wheel.sha256 << '\n';
  }
  out << "task " << spec->id() << " " << OutcomeName(result.outcome) << ": " << result.message
      << " (log: " << result.log_path.string() << ")\n";
  return result.outcome == TaskOutcome::kSucceeded ? 0 : 1;
}

int ProbeCommand(const ProbeOptions& options, std::ostream& out, std::ostream& err) {
  BoostProcessRunner runner;
  absl::StatusOr<GpuInventory> inventory = ProbeGpus(runner, options.nvidia_smi);
  if (!inventory.ok()) {
    err << inventory.status().message() << '\n';
    return 1;
  }
  const HostResources host = ProbeHostResources();
  if (options.json) {
    out << "{\"cpu_cores\": " << host.cpu_cores << ", \"memory_bytes\": " << host.memory_bytes
        << ", \"default_max_jobs\": " << DefaultMaxJobs(host) << ", \"driver_version\": \""
        << inventory->driver_version << "\", \"cuda_version\": \"" << inventory->cuda_version
        << "\", \"gpus\": [";
    for (size_t i = 0; i < inventory->gpus.size(); ++i) {
      const GpuInfo& gpu = inventory->gpus[i];
      out << (i ? ", " : "") << "{\"index\": " << gpu.index << ", \"uuid\": \"" << gpu.uuid
          << "\", \"name\": \"" << gpu.name << "\", \"memory_bytes\": " << gpu.memory_bytes
          << ", \"compute_capability\": \"" << gpu.compute_capability << "\"}";
    }
    out << "]}\n";
    return 0;
  }
  out << "cpu cores: " << host.cpu_cores << "\nmemory: " << (host.memory_bytes >> 20)
      << " MiB\ndefault MAX_JOBS: " << DefaultMaxJobs(host) << '\n';
  if (inventory->gpus.empty()) {
    out << "gpus: none (cpu tasks only)\n";
    return 0;
  }
  out << "driver: " << inventory->driver_version << " (CUDA " << inventory->cuda_version << ")\n";
  for (const GpuInfo& gpu : inventory->gpus) {
    out << "gpu " << gpu.index << ": " << gpu.name << ", " << (gpu.memory_bytes >> 20) << " MiB"
        << (gpu.compute_capability.empty() ? "" : ", sm " + gpu.compute_capability) << ", "
        << gpu.uuid << '\n';
  }
  return 0;
}

}  // namespace cwb
