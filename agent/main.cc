// cwb-agent: builds tasks in containers on a GPU host. Subcommands live in *_command.cc.
#include <iostream>

#include "agent/run_task_command.h"
#include "agent/serve_command.h"
#include "agent/watchdog_command.h"
#include "common/base/command_line.h"
#include "common/web/server_log.h"

namespace {

// Seconds as typed on the command line, applied to PipelineOptions after parsing.
struct BuildTimes {
  int time_limit_s = 0;
  int stop_grace_s = 30;

  void ApplyTo(cwb::PipelineOptions& pipeline) const {
    pipeline.time_limit = std::chrono::seconds(time_limit_s);
    pipeline.stop_grace = std::chrono::seconds(stop_grace_s);
  }
};

// The flags of every subcommand that builds tasks on this host (run-task and serve).
void AddBuildFlags(CLI::App* command, cwb::RuntimeOptions& runtime, cwb::PipelineOptions& pipeline,
                   std::vector<std::string>& secret_env, BuildTimes& times) {
  cwb::EngineOptions& engine = runtime.engine;
  command->add_option("--runtime", runtime.name,
                      "Where builds run: podman, docker, or host (no container; UNSAFE for "
                      "untrusted configs)")
      ->capture_default_str();
  command->add_option("--host-python", runtime.host_python,
                      "With --runtime host: the Python whose packages (torch) builds see")
      ->capture_default_str();
  command->add_option("--runtime-binary", engine.binary, "Path of the engine's CLI");
  command->add_option("--network", engine.network, "Network mode for builds (e.g. host)");
  command->add_option("--run-arg", engine.extra_run_args, "Extra argument for `run` (repeatable)");
  command->add_flag("--no-init", [&engine](int64_t) { engine.init = false; },
                    "Do not run an init process as PID 1");
  command->add_option("--work-dir", pipeline.work_dir, "Agent work directory")->required();
  command->add_flag("--keep-failed", pipeline.keep_failed_workspace, "Keep the workspace of a failed build");
  command->add_option("--time-limit", times.time_limit_s, "Seconds a build may run (0: none)");
  command->add_option("--stop-grace", times.stop_grace_s, "Seconds between SIGTERM and SIGKILL")
      ->capture_default_str();
  command->add_option("--max-jobs", pipeline.max_jobs,
                      "MAX_JOBS of a target's first build here (0: from cores and memory); later builds keep "
                      "what the coordinator learnt");
  command->add_option("--cores", pipeline.limits.cores, "Cores builds may use (default: all this process may use)");
  command->add_option("--memory", pipeline.limits.memory,
                      "Memory builds may use, e.g. 64G (default: all); each build's cgroup is limited to it");
  command->add_option("--secret-env", secret_env,
                      "An environment variable builds may receive as a secret_env (repeatable)");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"cwb-agent: builds CUDA wheel tasks in docker or podman containers, or on the host"};
  app.set_version_flag("--version", std::string("cwb-agent ") + CWB_VERSION);
  app.require_subcommand(1);

  cwb::RunTaskOptions run;
  BuildTimes run_times;
  CLI::App* run_cmd = app.add_subcommand(
      "run-task", "Build one task here, without a coordinator (for debugging a recipe)\n"
                  "  example: cwb plan --json c.yaml > plan.json && cwb-agent run-task plan.json --task 3f2a");
  run_cmd->add_option("task", run.task_file, "TaskSpec JSON, or a plan from `cwb plan --json`")->required();
  run_cmd->add_option("--task", run.task_id, "Task id (or unique prefix) when the file is a plan");
  run_cmd->add_option("-o,--output", run.output_dir, "Output directory: wheels go to DIR/wheelhouse/py<VER>/cuda<VER>/<platform>/")->capture_default_str();
  run_cmd->add_option("--gpus", run.gpus, "GPUs: all, none, or ids like 0,1")->capture_default_str();
  AddBuildFlags(run_cmd, run.runtime, run.pipeline, run.secret_env, run_times);

  cwb::ProbeOptions probe;
  CLI::App* probe_cmd = app.add_subcommand("probe", "Print this host's GPUs, driver and resources\n"
                                                    "  example: cwb-agent probe --json");
  probe_cmd->add_flag("--json", probe.json, "Print JSON");
  probe_cmd->add_option("--nvidia-smi", probe.nvidia_smi, "nvidia-smi binary")->capture_default_str();

  cwb::ServeOptions serve;
  BuildTimes serve_times;
  CLI::App* serve_cmd = app.add_subcommand(
      "serve", "Connect to a coordinator and build the tasks it assigns\n"
               "  example: cwb-agent serve --coordinator 127.0.0.1:7600 --work-dir /var/lib/cwb-agent --slots 2\n"
               "  example: cwb-agent serve --work-dir /var/lib/cwb-agent --gpus-per-task 1   # a slot per GPU");
  serve_cmd->add_option("--coordinator", serve.coordinator, "Coordinator host:port")->capture_default_str();
  serve_cmd->add_option("--agent-id", serve.agent_id, "Identity (default: kept in WORK_DIR/agent-id)");
  serve_cmd->add_option("--label", serve.labels, "A label tasks may require (repeatable)");
  serve_cmd->add_option("--slots", serve.slots,
                        "A cap on tasks run at once (default: as many as the coordinator fits in cores and memory)");
  serve_cmd->add_option("--gpus-per-task", serve.gpus_per_task,
                        "GPUs each GPU task gets to itself (0: every task sees all GPUs)")
      ->capture_default_str();
  serve_cmd->add_option("--nvidia-smi", serve.nvidia_smi, "nvidia-smi binary")->capture_default_str();
  AddBuildFlags(serve_cmd, serve.runtime, serve.pipeline, serve.secret_env, serve_times);
  serve_cmd->add_option("--token-file", serve.token_file, "File holding the agent token (else $CWB_AGENT_TOKEN)");
  serve_cmd->add_option("--metrics-listen", serve.metrics_listen,
                        "host:port serving Prometheus metrics at /metrics (plain HTTP; off if empty)");
  serve_cmd->add_option("--tls-ca", serve.tls.ca_file, "PEM CA of the coordinator's certificate (enables TLS)");
  serve_cmd->add_option("--tls-cert", serve.tls.cert_file, "PEM client certificate (mutual TLS)");
  serve_cmd->add_option("--tls-key", serve.tls.key_file, "PEM private key of --tls-cert");
  std::string log_format = "text";
  serve_cmd->add_option("--log-format", log_format, "text, or json: one JSON object per line for log collectors")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();

  cwb::WatchdogFlags watchdog;
  CLI::App* watchdog_cmd = cwb::AddWatchdogCommand(app, watchdog);

  if (std::optional<int> exit = cwb::ParseCommandLine(app, argc, argv)) return *exit;
  if (watchdog_cmd->parsed()) return cwb::RunWatchdogCommand(watchdog);
  cwb::ConfigureProcess();
  if (run_cmd->parsed()) {
    run_times.ApplyTo(run.pipeline);
    cwb::Cancellation cancel;
    cwb::CancelOnSignals(cancel);
    return cwb::RunTaskCommand(run, cancel, std::cout, std::cerr);
  }
  if (probe_cmd->parsed()) return cwb::ProbeCommand(probe, std::cout, std::cerr);
  if (serve_cmd->parsed()) {
    cwb::SetLogFormat(log_format, "cwb-agent");
    serve_times.ApplyTo(serve.pipeline);
    cwb::Cancellation stop;
    cwb::CancelOnSignals(stop);
    return cwb::ServeCommand(serve, stop, std::cout, std::cerr);
  }
  return 2;
}
