#include "agent/serve_command.h"

#include <unistd.h>

#include "agent/agent_daemon.h"
#include "agent/attempt_runner.h"
#include "agent/agent_paths.h"
#include "agent/grpc_coordinator_link.h"
#include "common/process/boost_process_runner.h"
#include "common/web/http_server.h"
#include "common/web/server_log.h"
#include "agent/gpu_allocator.h"
#include "agent/run_task_command.h"

namespace cwb {

v1::AgentCapabilities MakeCapabilities(const GpuInventory& gpus, const HostResources& host,
                                       const std::vector<std::string>& labels, int slots,
                                       int gpu_slots, const std::string& runtime,
                                       const std::optional<HostPython>& host_python) {
  v1::AgentCapabilities caps;
  char name[256] = {};
  ::gethostname(name, sizeof(name) - 1);
  caps.set_hostname(name);
  for (const std::string& label : labels) caps.add_labels(label);
  // By default the coordinator's packing by cores and memory decides how many run at once.
  caps.set_slots(static_cast<uint32_t>(std::max(1, slots > 0 ? slots : std::max(host.cpu_cores, gpu_slots))));
  caps.set_gpu_slots(static_cast<uint32_t>(std::max(0, gpu_slots)));
  caps.set_runtime(runtime);
  if (host_python.has_value()) {
    v1::HostToolchain* toolchain = caps.mutable_host_toolchain();
    toolchain->set_python(host_python->executable);
    toolchain->set_python_version(host_python->version);
    toolchain->set_torch_version(host_python->torch_version);
    toolchain->set_torch_cuda_version(host_python->torch_cuda);
  }
  for (const GpuInfo& gpu : gpus.gpus) {
    v1::GpuDevice* device = caps.add_gpus();
    device->set_index(gpu.index);
    device->set_uuid(gpu.uuid);
    device->set_name(gpu.name);
    device->set_memory_bytes(gpu.memory_bytes);
    device->set_compute_capability(gpu.compute_capability);
  }
  caps.set_driver_version(gpus.driver_version);
  caps.set_driver_cuda_version(gpus.cuda_version);
  caps.set_cpu_cores(static_cast<uint32_t>(host.cpu_cores));
  caps.set_memory_bytes(host.memory_bytes);
  caps.set_version(CWB_VERSION_STRING);
  return caps;
}

void RemoveAbandonedWork(const std::filesystem::path& work_dir, std::ostream& out) {
  // This agent holds no attempt yet: every workspace, artifact directory and alive file left by an
  // earlier run of it belongs to an attempt the coordinator has given up on.
  int removed = 0;
  std::error_code error;
  for (const std::filesystem::path& area :
       {paths::WorkspacesDir(work_dir), paths::ArtifactsDir(work_dir), paths::AliveDir(work_dir)}) {
    for (auto it = std::filesystem::directory_iterator(area, error); !error && it != std::filesystem::directory_iterator();
         it.increment(error)) {
      std::error_code ignored;
      removed += std::filesystem::remove_all(it->path(), ignored) > 0;
    }
    error.clear();
  }
  if (removed > 0) {
    LogEvent(out, "info", absl::StrCat("cwb-agent: removed ", removed, " workspace(s) of attempts an earlier run left"));
  }
}

std::optional<CgroupSettings> MeasuringCgroups(const std::string& agent_id, std::ostream& out) {
  CgroupSettings settings;
  absl::StatusOr<AttemptCgroup::Version> version = AttemptCgroup::Detect(settings.fs_root);
  absl::StatusOr<int> removed = absl::NotFoundError("");
  if (version.ok()) {
    settings.version = *version;
    settings.agent_path = absl::StrCat("/cwb/", agent_id);
    removed = PrepareAgentCgroup(settings.fs_root, settings.version, settings.agent_path);
  } else {
    removed = version.status();
  }
  if (!removed.ok()) {
    LogEvent(out, "warning",
             absl::StrCat("cwb-agent: builds are not measured nor held to --memory (no cgroup of their own: ",
                          removed.status().message(), "); the coordinator places them by its defaults"));
    return std::nullopt;
  }
  LogEvent(out, "info",
           absl::StrCat("cwb-agent: each build runs in a cgroup below ", settings.agent_path, " (cgroup ",
                        settings.version == AttemptCgroup::Version::kV1 ? "v1" : "v2", ")",
                        *removed > 0 ? absl::StrCat("; removed ", *removed, " left by an earlier run") : ""));
  return settings;
}

int ServeCommand(ServeOptions options, Cancellation& stop, std::ostream& out, std::ostream& err) {
  if (absl::Status s = PrepareLocalBuild(options.runtime, options.secret_env, &options.pipeline);
      !s.ok()) {
    LogEvent(err, "error", std::string(s.message()));
    return 2;
  }
  BoostProcessRunner runner;
  absl::StatusOr<GpuInventory> gpus = ProbeGpus(runner, options.nvidia_smi);
  if (!gpus.ok()) {
    LogEvent(err, "warning", absl::StrCat("cwb-agent: GPU probe failed, serving cpu tasks only: ", gpus.status().message()));
    gpus = GpuInventory{};
  }
  absl::StatusOr<AgentRuntime> made = MakeContainerRuntime(options.runtime, options.pipeline.work_dir, runner);
  if (!made.ok()) {
    LogEvent(err, "error", absl::StrCat("cwb-agent: ", made.status().message()));
    return 2;
  }
  ContainerRuntime& runtime = *made->runtime;
  GpuAllocator allocator(gpus->gpus, options.gpus_per_task);
  AgentDaemonOptions daemon;
  daemon.agent_id = options.agent_id.empty() ? LoadOrCreateAgentId(options.pipeline.work_dir)
                                             : options.agent_id;
  // Containers left by an earlier run of this agent (it crashed or was killed) belong to
  // attempts the coordinator has given up on: remove them before taking new work.
  options.pipeline.container_labels.emplace_back("cwb.agent", daemon.agent_id);
  if (auto orphans = runtime.ListContainers("cwb.agent", daemon.agent_id); orphans.ok()) {
    for (const std::string& name : *orphans) {
      LogEvent(out, "info", absl::StrCat("cwb-agent: removing container ", name, " left by an earlier run"),
               {{"container", name}});
      (void)runtime.RemoveContainer(name);
    }
  }
  RemoveAbandonedWork(options.pipeline.work_dir, out);
  if (runtime.places_in_cgroups()) options.pipeline.cgroups = MeasuringCgroups(daemon.agent_id, out);
  MetricsRegistry metrics;
  options.pipeline.metrics = &metrics;
  daemon.metrics = &metrics;
  BuildPipeline pipeline(runtime, runner, SystemClock::Get(), options.pipeline);
  metrics.Gauge("cwb_agent_attempts_running", "Attempts running now", [&pipeline] {
    return std::vector<std::pair<MetricLabels, double>>{{{}, static_cast<double>(pipeline.running())}};
  });
  std::unique_ptr<HttpServer> metrics_server;
  if (!options.metrics_listen.empty()) {
    absl::StatusOr<std::unique_ptr<HttpServer>> started =
        HttpServer::Start(options.metrics_listen, [&metrics](const HttpRequest& request) {
          if (request.path != "/metrics") return HttpResponse::Text(404, "only /metrics is served here\n");
          HttpResponse response;
          response.content_type = "text/plain; version=0.0.4; charset=utf-8";
          response.body = metrics.Render();
          return response;
        }, 1);
    if (!started.ok()) {
      LogEvent(err, "error", absl::StrCat("cwb-agent: ", started.status().message()));
      return 2;
    }
    metrics_server = *std::move(started);
  }
  absl::StatusOr<std::string> token =
      options.token.empty() ? ReadSecret(options.token_file, "CWB_AGENT_TOKEN") : options.token;
  if (!token.ok()) {
    LogEvent(err, "error", absl::StrCat("cwb-agent: ", token.status().message()));
    return 2;
  }
  // No build may inherit a token from this process's environment (host-runtime builds inherit it).
  ForgetTokenVariables();
  daemon.builds_on_host_network = runtime.name() == "host" || options.runtime.engine.network == "host";
  absl::StatusOr<std::unique_ptr<CoordinatorLink>> link =
      MakeGrpcCoordinatorLink({options.coordinator, *token, options.tls});
  if (!link.ok()) {
    LogEvent(err, "error", absl::StrCat("cwb-agent: ", link.status().message()));
    return 2;
  }
  daemon.capabilities = MakeCapabilities(*gpus, options.pipeline.host, options.labels, options.slots,
                                         allocator.gpu_slots(), options.runtime.name, made->host_python);
  daemon.capabilities.set_max_jobs(static_cast<uint32_t>(std::max(0, options.pipeline.max_jobs)));
  daemon.capabilities.set_measures_builds(options.pipeline.cgroups.has_value());
  std::string serving = absl::StrCat("cwb-agent ", daemon.agent_id, " serving ", options.coordinator, " with ",
                                     daemon.capabilities.slots(), " slot(s), ", daemon.capabilities.cpu_cores(),
                                     " core(s), ", daemon.capabilities.memory_bytes() >> 20, " MiB, ",
                                     gpus->gpus.size(), " GPU(s)");
  if (allocator.gpu_slots() > 0) absl::StrAppend(&serving, " (", options.gpus_per_task, " per GPU task)");
  absl::StrAppend(&serving, ", runtime ", runtime.name());
  if (made->host_python.has_value()) {
    absl::StrAppend(&serving, " (", made->host_python->executable, ", Python ", made->host_python->version,
                    made->host_python->torch_version.empty() ? "" : ", torch " + made->host_python->torch_version, ")");
  }
  LogEvent(out, "info", serving,
           {{"agent_id", daemon.agent_id}, {"coordinator", options.coordinator},
            {"slots", absl::StrCat(daemon.capabilities.slots())}, {"gpus", absl::StrCat(gpus->gpus.size())},
            {"runtime", runtime.name()}});
  if (metrics_server) {
    LogEvent(out, "info", absl::StrCat("cwb-agent metrics on ", metrics_server->address()),
             {{"metrics_address", metrics_server->address()}});
  }
  AgentDaemon agent(daemon, **link, MakePipelineRunner(pipeline, allocator, SystemClock::Get()), SystemClock::Get());
  const absl::Status refused = agent.Run(stop);
  if (const std::optional<CgroupSettings>& cgroups = options.pipeline.cgroups) {
    (void)AttemptCgroup(cgroups->fs_root, cgroups->version, cgroups->agent_path).Remove();  // empty once stopped
  }
  if (!refused.ok()) {
    LogEvent(err, "error",
             absl::StrCat("cwb-agent: the coordinator at ", options.coordinator, " refused this agent: ", refused.message(),
                          absl::IsUnauthenticated(refused) ? " (check --token-file or CWB_AGENT_TOKEN)" : ""));
    return 2;
  }
  return 0;
}

}  // namespace cwb
